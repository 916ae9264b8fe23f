"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from amae.data.workspace import load_workspace
from amae.experiments.runs import load_split, run_cell
from tests_helpers import text_workspace


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public test data folder: ``$AMAE_SHARED_DATA`` or ``<repo>/../shared/data``; fails if missing."""
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    path = Path(os.environ.get("AMAE_SHARED_DATA", default))
    if not path.is_dir():
        pytest.fail(f"shared test data not found at {path}; set AMAE_SHARED_DATA")
    return path.resolve()


SERVING_FAST = {"epochs": 2, "stage1_epochs": 1, "progress": False}


@pytest.fixture(scope="session")
def serving_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Workspace with text features and trained ``mf`` and ``mf+amae`` (seed 0)."""
    ws = text_workspace(tmp_path_factory.mktemp("serving"), n_users=30, n_days=10)
    dataset, split = load_workspace(ws), load_split(ws)
    from amae.models import REGISTRY
    from amae.models.base import known_params

    for name in ("mf", "mf+amae"):  # each model gets the settings it takes (MF has no stage 1)
        known = known_params(REGISTRY[name])
        run_cell(ws, dataset, split, name, 0, {k: v for k, v in SERVING_FAST.items() if k in known})
    return ws
