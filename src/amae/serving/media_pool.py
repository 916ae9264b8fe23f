"""Media decoding and long-text featurising for served requests in separate, low-priority processes.

Decoding and the CNN are the heavy part of a request with images, tokenising and lexicon scoring
(VADER is quadratic in a post's words) the heavy part of one with long texts. In the server's own
threads they would hold the GIL and the cores the cheap requests need; here they run in worker
processes at a lower scheduling priority (``nice``), bound to the server's life
(:mod:`amae.compute.lifeline`), so a request full of images or text costs its own latency, not
everyone else's. A worker keeps one extractor per config, so the CNN and Word2Vec load once.
:class:`TaskPool` (text) also enforces the time budget: a task still running at its deadline is
killed with its worker (a new one starts on the next use), so no post can overrun a request's budget.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pandas as pd

#: added to the worker's niceness: cheap requests in the server process go first
NICENESS = 10
_EXTRACTORS: dict[tuple[str, str], Any] = {}
_TEXT_EXTRACTORS: dict[str, Any] = {}


def _start(parent_pid: int) -> None:
    from amae.compute.lifeline import bind_to_parent

    bind_to_parent(parent_pid)
    try:
        os.nice(NICENESS)
    except OSError:  # not permitted here: the worker simply runs at normal priority
        pass


def _extract(root: str, config: dict, frame: pd.DataFrame) -> Any:
    import torch

    from amae.features.visual import VisualBatchExtractor
    from amae.features.visual.config import VisualFeatureConfig

    torch.set_num_threads(1)
    key = (root, repr(sorted(config.items())))
    if key not in _EXTRACTORS:
        _EXTRACTORS[key] = VisualBatchExtractor(Path(root), VisualFeatureConfig(**config))
    return _EXTRACTORS[key](frame)


class MediaPool:
    """One worker process for visual features of request posts (started on first use)."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def extract(self, extractor: Any, frame: pd.DataFrame, timeout: float | None = None) -> Any:
        from dataclasses import asdict

        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"), initializer=_start,
                                             initargs=(os.getpid(),))
        future = self._pool.submit(_extract, str(extractor.dataset_root), asdict(extractor.config), frame)
        return future.result(timeout=timeout)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def extract_text(extractor: Any, frame: pd.DataFrame | None) -> Any:
    """Text features of ``frame`` with (a copy of) ``extractor``, kept per model folder and config;
    ``frame=None`` only loads it (a warm-up)."""
    key = repr((str(extractor.model_dir), sorted(extractor.config.to_dict().items())))
    if key not in _TEXT_EXTRACTORS:
        _TEXT_EXTRACTORS[key] = extractor
        extractor.feature_names  # noqa: B018 - loads the lexicons and the Word2Vec model now
    return None if frame is None else _TEXT_EXTRACTORS[key](frame)


def _serve(conn: Any, parent_pid: int, warmup: tuple | None) -> None:
    """The :class:`TaskPool` worker: run ``warmup``, then ``(fn, args)`` tasks from ``conn`` one at a time."""
    _start(parent_pid)
    if warmup is not None:
        warmup[0](*warmup[1])
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):  # the server closed the pipe: end
            return
        try:
            conn.send((True, fn(*args)))
        except Exception as exc:  # noqa: BLE001 - handed back to the caller as its error
            conn.send((False, f"{type(exc).__name__}: {exc}"))


class TaskPool:
    """One low-priority worker process; a task past its timeout is killed with the worker.

    ``run`` returns the task's result, or None when the timeout passed first (waiting for a task of
    another thread included): the worker is then killed and a new one started (with the warm-up, so it
    is ready for the next request), so no task can outlive its request's budget. Thread-safe; one
    task runs at a time.
    """

    def __init__(self) -> None:
        self._proc: Any = None
        self._conn: Any = None
        self._warmup: tuple | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> None:
        if self._proc is None or not self._proc.is_alive():
            ctx = get_context("spawn")
            mine, theirs = ctx.Pipe()
            self._proc = ctx.Process(target=_serve, args=(theirs, os.getpid(), self._warmup), daemon=True,
                                     name="amae-text-worker")
            self._proc.start()
            theirs.close()
            self._conn = mine

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(1)
            self._conn.close()
            self._proc = self._conn = None

    def _restart(self) -> None:
        with self._lock:
            self._ensure()

    def warm(self, fn: Any, *args: Any) -> None:
        """Start the worker now; it runs ``fn(*args)`` first (e.g. loads a model), and again after each restart."""
        with self._lock:
            self._warmup = (fn, args)
            self._ensure()

    def run(self, fn: Any, *args: Any, timeout: float) -> Any:
        start = time.monotonic()
        if not self._lock.acquire(timeout=max(timeout, 0.0)):
            return None
        try:
            self._ensure()
            self._conn.send((fn, args))
            left = timeout - (time.monotonic() - start)
            if not self._conn.poll(max(left, 0.0)):
                self._kill()
                threading.Thread(target=self._restart, daemon=True).start()  # the next request finds it warm
                return None
            ok, value = self._conn.recv()
        except (EOFError, OSError):  # the worker died (killed from outside, out of memory)
            self._kill()
            return None
        finally:
            self._lock.release()
        if not ok:
            raise RuntimeError(f"text worker: {value}")
        return value

    def close(self) -> None:
        with self._lock:
            self._kill()
