"""Cells as tasks any worker process can run (:mod:`amae.compute.tasks`).

A task names its workspace and what to fit; the worker loads the workspace's data and split once
per process (keyed by their fingerprints, so a changed workspace is loaded again) and runs exactly
what the sequential code runs: :func:`amae.experiments.runs.run_cell` for a cell (and, in
:mod:`amae.experiments.tuning`, one fit and its validation score for a trial). Each cell is seeded
and trains on one intra-op thread, so its numbers do not depend on the process, the number of
workers or the engine. A cell's failure comes back as
one line (and, for an error that is not the data's, the traceback for ``results.json``), so one
failing cell never stops the others.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amae.data.contract import Dataset
from amae.data.io import DataError
from amae.data.provenance import upstream
from amae.experiments.runs import run_cell
from amae.protocol.split import Split, split_digest


@dataclass(frozen=True)
class Workers:
    """Where cells and trials run: ``n_jobs`` processes of ``engine`` (``local`` or ``dask``)."""

    n_jobs: int = 1
    engine: str = "local"
    address: str | None = None

    def describe(self) -> str:
        where = f"Dask at {self.address}" if self.address else ("a Dask LocalCluster" if self.engine == "dask"
                                                                else "local processes")
        return "this process" if self.n_jobs == 1 and self.engine == "local" else f"{self.n_jobs} workers ({where})"


@dataclass(frozen=True)
class CellTask:
    """One (model, parameters, seed) cell of a workspace, as :func:`run_cell_task` runs it."""

    workspace: str
    model: str
    seed: int
    params: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    label: str | None = None
    settings: Any = None  # saved beside the cell as config.toml (``amae train``)


_LOADED: dict[tuple[str, str | None, str | None], tuple[Dataset, Split]] = {}
#: workspaces a worker keeps loaded at once (a benchmark may alternate between two)
KEEP_LOADED = 2


def _key(workspace: Path) -> tuple[str, str | None, str | None]:
    ws = Path(workspace)
    return str(ws.resolve()), upstream(ws / "data"), split_digest(ws / "split")


def _keep(key: tuple[str, str | None, str | None], value: tuple[Dataset, Split]) -> tuple[Dataset, Split]:
    """Cache ``value``, dropping other versions of its workspace and the oldest past :data:`KEEP_LOADED`."""
    for old in [k for k in _LOADED if k[0] == key[0] and k != key]:
        del _LOADED[old]
    _LOADED.pop(key, None)
    _LOADED[key] = value
    while len(_LOADED) > KEEP_LOADED:
        del _LOADED[next(iter(_LOADED))]
    return value


def remember(workspace: Path, dataset: Dataset, split: Split) -> None:
    """Let tasks run in this process reuse the data and split the caller already holds."""
    _keep(_key(workspace), (dataset, split))


def loaded(workspace: Path) -> tuple[Dataset, Split]:
    """The workspace's data and split, read once per process and fingerprint."""
    from amae.data.workspace import load_workspace
    from amae.protocol.stored import load_split

    key = _key(workspace)
    if key in _LOADED:
        return _LOADED[key]
    return _keep(key, (load_workspace(Path(workspace)), load_split(Path(workspace))))


def failure(exc: Exception) -> dict[str, Any]:
    """A task's error as one line; the traceback too when it is a bug rather than the data's problem."""
    data = isinstance(exc, DataError)
    return {"error": str(exc) if data else f"{type(exc).__name__}: {exc}",
            "traceback": None if data else traceback.format_exc(limit=5)}


def run_cell_task(task: CellTask) -> dict[str, Any]:
    """Train (or reuse) one cell here: ``{"metrics", "seconds"}`` or ``{"error", "traceback", "seconds"}``."""
    t0 = time.perf_counter()
    try:
        dataset, split = loaded(Path(task.workspace))
        metrics = run_cell(Path(task.workspace), dataset, split, task.model, task.seed, dict(task.params),
                           task.device, label=task.label, settings=task.settings)
    except Exception as exc:  # noqa: BLE001 - a failing cell is reported, the others run
        return {**failure(exc), "seconds": time.perf_counter() - t0}
    return {"metrics": metrics, "seconds": time.perf_counter() - t0}
