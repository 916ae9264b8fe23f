"""`amae world --like`: a world with a workspace's shape, and the generator's re-listening."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amae.data.contract import load_dataset
from amae.data.io import DataError
from amae.data.synthetic import WorldConfig, generate_world
from amae.data.world_like import like_config, measure_shape, relisten_share, window_coverage

SMALL = {"n_users": 40, "n_items": 120, "n_days": 30, "n_videos": 0, "image_size": 16}


def test_relisten_replays_earlier_listens_of_the_same_user(tmp_path: Path) -> None:
    generate_world(tmp_path / "w", WorldConfig(**SMALL, relisten=0.6, image_share=0.0, seed=2))
    inter = pd.read_parquet(tmp_path / "w" / "interactions.parquet").sort_values(["user_id", "timestamp"])
    again = inter.duplicated(["user_id", "item_id"]).mean()
    generate_world(tmp_path / "v", WorldConfig(**SMALL, image_share=0.0, seed=2))
    fresh = pd.read_parquet(tmp_path / "v" / "interactions.parquet").sort_values(["user_id", "timestamp"])
    base = fresh.duplicated(["user_id", "item_id"]).mean()
    # at least the copied share re-plays (a fresh choice may re-play too, less often: fewer distinct tracks)
    assert 0.6 <= again <= 0.6 + 0.4 * base and again > base + 0.15


def test_a_world_like_another_has_its_shape(tmp_path: Path) -> None:
    generate_world(tmp_path / "src", WorldConfig(**SMALL, relisten=0.5, posts_per_day=0.5, image_share=0.3, seed=1))
    shape = measure_shape(load_dataset(tmp_path / "src"))
    cfg = like_config(shape, effect=1.0, seed=7)
    assert (cfg.n_users, cfg.n_items, cfg.mood_strength) == (40, shape["tracks"], 1.0)
    generate_world(tmp_path / "copy", cfg)
    copied = measure_shape(load_dataset(tmp_path / "copy"))
    assert copied["users"] == shape["users"] and copied["days"] == pytest.approx(shape["days"], abs=1)
    for key, tol in (("listens per user-day", 0.15), ("listens with a post in the 24 h before", 0.05),
                     ("posts with media", 0.05), ("re-listens", 0.06)):
        assert copied[key] == pytest.approx(shape[key], abs=tol * max(1.0, shape[key])), key


def test_shape_measures() -> None:
    u = np.array([0, 0, 0, 1, 1])
    i = np.array([5, 5, 6, 5, 7])
    t = np.array([10, 20, 30, 10, 20])
    assert relisten_share(u, i, t) == pytest.approx(1 / 5)
    # user 0 posted at 15 (covers its listens at 20 and 30 within 20 s), user 1 never
    assert window_coverage(u, t, np.array([0]), np.array([15]), window=20) == pytest.approx(2 / 5)


def test_like_needs_posts(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    pd.DataFrame({"user_id": ["a", "b"], "item_id": ["x", "y"], "timestamp": [1, 2]}).to_csv(
        folder / "interactions.csv", index=False)
    with pytest.raises(DataError, match="no posts"):
        measure_shape(load_dataset(folder))
