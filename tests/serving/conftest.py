"""A tiny trained workspace shared by the serving tests (built once per session: ~15 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from amae.data.synthetic import WorldConfig, generate_world
from amae.data.workspace import ingest, load_workspace
from amae.experiments.runs import load_split, run_cell
from amae.features.pipeline import extract_features
from amae.protocol.split import split_interactions

FAST = {"epochs": 2, "stage1_epochs": 1, "progress": False}


@pytest.fixture(scope="session")
def serving_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Workspace with text features and trained ``mf`` and ``mf+amae`` (seed 0)."""
    root = tmp_path_factory.mktemp("serving")
    generate_world(root / "world", WorldConfig(n_users=30, n_days=10, image_share=0.0, n_videos=0))
    ws = root / "ws"
    dataset = ingest(root / "world", ws)
    split_interactions(dataset.interactions, dataset.n_items, seed=0).save(ws / "split")
    extract_features(ws, "text", {}, n_jobs=1, progress=False)
    dataset, split = load_workspace(ws), load_split(ws)
    for name in ("mf", "mf+amae"):
        run_cell(ws, dataset, split, name, 0, dict(FAST))
    return ws
