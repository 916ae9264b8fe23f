"""A tiny trained workspace shared by the serving tests (built once per session: ~15 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from amae.data.workspace import load_workspace
from amae.experiments.runs import load_split, run_cell
from tests_helpers import text_workspace

FAST = {"epochs": 2, "stage1_epochs": 1, "progress": False}


@pytest.fixture(scope="session")
def serving_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Workspace with text features and trained ``mf`` and ``mf+amae`` (seed 0)."""
    ws = text_workspace(tmp_path_factory.mktemp("serving"), n_users=30, n_days=10)
    dataset, split = load_workspace(ws), load_split(ws)
    for name in ("mf", "mf+amae"):
        run_cell(ws, dataset, split, name, 0, dict(FAST))
    return ws
