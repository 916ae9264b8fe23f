"""run_tasks: results in task order on every engine; the lifeline never binds the amae process itself."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from amae.compute.lifeline import bind_to_parent
from amae.compute.tasks import available_cores, check_engine, run_tasks


def square_after(value: int) -> tuple[int, int]:
    """A task whose duration runs against its order (the first finishes last), and the worker's pid."""
    import time

    time.sleep(0.05 * (4 - value))
    return value * value, os.getpid()


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_results_come_back_in_task_order(n_jobs: int) -> None:
    seen: list[int] = []
    out = run_tasks(square_after, [(v,) for v in range(4)], n_jobs=n_jobs, on_result=lambda i, _: seen.append(i))
    assert [value for value, _ in out] == [0, 1, 4, 9]
    assert sorted(seen) == [0, 1, 2, 3]
    pids = {pid for _, pid in out}
    assert (pids == {os.getpid()}) == (n_jobs == 1)  # one job runs here; more run in spawned workers


def test_bad_work_options_are_refused() -> None:
    with pytest.raises(ValueError, match="--jobs must be 1 or more"):
        check_engine(0, "local")
    with pytest.raises(ValueError, match="--engine must be local or dask"):
        check_engine(1, "spark")
    assert available_cores() >= 1


def test_the_lifeline_never_binds_the_process_that_started_the_work() -> None:
    """A LocalCluster's nannies live in the amae process: binding it to its own parent killed a
    detached (nohup) run, whose parent is init, as soon as Dask started."""
    before = signal.getsignal(signal.SIGINT)
    bind_to_parent(os.getpid())
    assert "amae-lifeline" not in {t.name for t in threading.enumerate()}
    assert signal.getsignal(signal.SIGINT) is before
