"""Run independent tasks here, in spawned worker processes, or on a Dask cluster; same results.

A task is a module-level function and its arguments (both picklable). Results come back in the
order the tasks were given, whatever order they finish in, so a caller's output never depends on
the number of workers or the engine. ``on_result`` is called as each one finishes (a progress bar,
a log line). An error in a task stops the others and is raised here; so is Ctrl-C, after the
workers were stopped. Every worker started here is bound to this process
(:mod:`amae.compute.lifeline`): ``kill -9`` of amae leaves none behind.

Workers are *spawned*, not forked: a fork would copy a parent's torch threads and locks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any

ENGINES = ("local", "dask")
OnResult = Callable[[int, Any], None]


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and ``taskset`` narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_engine(n_jobs: int, engine: str) -> None:
    """Refuse a worker count below 1 or an unknown engine (ValueError, one line naming the option)."""
    if n_jobs < 1:
        raise ValueError(f"--jobs must be 1 or more worker processes, got {n_jobs}")
    if engine not in ENGINES:
        raise ValueError(f"--engine must be {' or '.join(ENGINES)}, got '{engine}'")


def run_tasks(fn: Callable[..., Any], args: Sequence[tuple], *, n_jobs: int = 1, engine: str = "local",
              address: str | None = None, on_result: OnResult | None = None) -> list[Any]:
    """``[fn(*a) for a in args]``, spread over ``n_jobs`` workers of ``engine``; results in ``args`` order.

    ``local`` with one job (or one task) runs in this process; ``local`` with more spawns a
    process pool; ``dask`` submits to the scheduler at ``address``, or to a LocalCluster of
    ``n_jobs`` single-threaded worker processes on 127.0.0.1 started (and closed) here.
    """
    check_engine(n_jobs, engine)
    results: list[Any] = [None] * len(args)

    def done(i: int, value: Any) -> None:
        results[i] = value
        if on_result is not None:
            on_result(i, value)

    if engine == "dask":
        _run_dask(fn, args, n_jobs, address, done)
    elif n_jobs == 1 or len(args) <= 1:
        for i, a in enumerate(args):
            done(i, fn(*a))
    else:
        _run_pool(fn, args, min(n_jobs, len(args)), done)
    return results


def _run_pool(fn: Callable[..., Any], args: Sequence[tuple], n_jobs: int, done: OnResult) -> None:
    from amae.compute.lifeline import bind_to_parent

    with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn"), initializer=bind_to_parent,
                             initargs=(os.getpid(),)) as pool:
        futures: dict[Future, int] = {pool.submit(fn, *a): i for i, a in enumerate(args)}
        try:
            for fut in as_completed(futures):
                done(futures[fut], fut.result())
        except BaseException:
            for fut in futures:
                fut.cancel()
            _terminate(pool)
            raise


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now (Ctrl-C, an error): queued tasks are dropped, running ones killed."""
    procs = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=5)


def _run_dask(fn: Callable[..., Any], args: Sequence[tuple], n_jobs: int, address: str | None,
              done: OnResult) -> None:
    import dask
    from dask.distributed import Client, LocalCluster
    from dask.distributed import as_completed as dask_completed

    cluster = None
    if address is None:
        # The worker's statistical profiler samples every thread's stack every 10 ms, under the GIL
        # these tasks (many small kernels driven from Python) need; amae's workers run without it.
        with dask.config.set({"distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(n_workers=n_jobs, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                   processes=True)
    client = Client(address or cluster)
    if cluster is not None:
        from amae.compute.dask_lifeline import register_dask_lifeline

        register_dask_lifeline(client, os.getpid())
    try:
        futures = {client.submit(fn, *a, pure=False): i for i, a in enumerate(args)}
        for fut in dask_completed(list(futures)):
            done(futures[fut], fut.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
