"""Fixtures for the experiment tests: a tiny synthetic world and fake post features."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amae.data.synthetic import WorldConfig, generate_world


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("world") / "world"
    generate_world(root, WorldConfig(n_users=20, n_items=60, n_days=10, image_share=0.1, n_videos=0, image_size=16))
    return root



def _fake_features(workspace: Path, n_posts: int, seed: int = 0) -> None:
    """Feature files as ``amae features`` writes them, with random values (no extraction cost)."""
    rng = np.random.default_rng(seed)
    specs = {"text": ("text_h", ["emo7_happiness", "pron_first_singular", "topic_home", "macro_chars", "other"]),
             "visual": ("visual_h", ["color_cold_area", "face_count"])}
    for modality, (group, names) in specs.items():
        d = workspace / "features" / modality
        d.mkdir(parents=True, exist_ok=True)
        np.save(d / f"{group}.npy", rng.random((n_posts, len(names)), dtype=np.float32))
        (d / f"{group}.json").write_text(json.dumps({"names": names, "metadata": {}, "dim": len(names)}))
        (d / "report.json").write_text(json.dumps({"modality": modality, "n_posts": n_posts, "failures": 3,
                                                   "failures_by_reason": {"decode": 3}, "groups": {group: len(names)},
                                                   "seconds": 0.1}))
    flags = pd.DataFrame({"post_idx": np.arange(n_posts), "visual_none": rng.random(n_posts) < 0.5})
    flags.to_parquet(workspace / "features" / "visual" / "flags.parquet")




@pytest.fixture(scope="session")
def fake_features() -> Callable[..., None]:
    """``fake_features(workspace, n_posts, seed=0)``: feature files as ``amae features`` writes them."""
    return _fake_features
