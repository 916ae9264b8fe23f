"""Media decoding for served requests in a separate, low-priority process.

Decoding and the CNN are the heavy part of a request with images. In the server's own threads they
would hold the GIL and the cores the cheap requests need; here they run in one worker process at a
lower scheduling priority (``nice``), bound to the server's life (:mod:`amae.features.lifeline`),
so a request full of images costs its own latency, not everyone else's. The worker keeps one
extractor per (media root, config), so the CNN loads once.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pandas as pd

#: added to the worker's niceness: cheap requests in the server process go first
NICENESS = 10
_EXTRACTORS: dict[tuple[str, str], Any] = {}


def _start(parent_pid: int) -> None:
    from amae.features.lifeline import bind_to_parent

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
