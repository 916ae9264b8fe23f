"""Dask plugins for :mod:`amae.features.lifeline` (kept apart so pool workers never import Dask)."""

from __future__ import annotations

from distributed.diagnostics.plugin import NannyPlugin, WorkerPlugin

from amae.features.lifeline import bind_to_parent


class NannyLifeline(NannyPlugin):
    """Each nanny of a LocalCluster amae started dies with the amae process."""

    name = "amae-lifeline-nanny"

    def __init__(self, parent_pid: int) -> None:
        self.parent_pid = parent_pid

    def setup(self, nanny: object) -> None:
        bind_to_parent(self.parent_pid)


class WorkerLifeline(WorkerPlugin):
    """Each worker too (its direct parent is its nanny; the watchdog follows the amae process)."""

    name = "amae-lifeline-worker"

    def __init__(self, parent_pid: int) -> None:
        self.parent_pid = parent_pid

    def setup(self, worker: object) -> None:
        bind_to_parent(self.parent_pid)
