"""Dask plugins that bind a LocalCluster's nannies and workers to the amae process (see
:mod:`amae.compute.lifeline`); kept apart so pool workers never import Dask."""

from __future__ import annotations

from distributed.diagnostics.plugin import NannyPlugin, WorkerPlugin

from amae.compute.lifeline import bind_to_parent


class _Bound:
    """``setup`` binds the process the plugin runs in to the amae process."""

    def __init__(self, parent_pid: int) -> None:
        self.parent_pid = parent_pid

    def setup(self, *_: object, **__: object) -> None:  # called as setup(nanny=...) or setup(worker=...)
        bind_to_parent(self.parent_pid)


class NannyLifeline(_Bound, NannyPlugin):
    """Each nanny of a LocalCluster amae started dies with the amae process."""

    name = "amae-lifeline-nanny"


class WorkerLifeline(_Bound, WorkerPlugin):
    """Each worker too (its direct parent is its nanny; the watchdog follows the amae process)."""

    name = "amae-lifeline-worker"


def register_dask_lifeline(client: object, parent_pid: int) -> None:
    """Bind every worker and nanny of ``client``'s cluster to ``parent_pid`` (a LocalCluster we started)."""
    client.register_plugin(NannyLifeline(parent_pid))  # type: ignore[attr-defined]
    client.register_plugin(WorkerLifeline(parent_pid))  # type: ignore[attr-defined]
