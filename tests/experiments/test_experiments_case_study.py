"""The Fig. 3 means checked against a brute-force loop over listens and posts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from amae.data.io import DataError
from amae.data.workspace import ingest, load_workspace
from amae.experiments.case_study import case_study
from amae.experiments.runs import load_split
from amae.features.extract import load_group
from amae.protocol.split import split_interactions


@pytest.fixture()
def workspace(tiny_world: Path, fake_features: Callable, tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ds = ingest(tiny_world, ws)
    split_interactions(ds.interactions, ds.n_items, seed=0, n_negatives=20).save(ws / "split")
    fake_features(ws, len(ds.posts), seed=3)
    return ws


def test_case_means_match_brute_force(workspace: Path, tmp_path: Path) -> None:
    ds, split = load_workspace(workspace), load_split(workspace)
    track = str(ds.items.decode(np.asarray([ds.interactions["item_idx"].mode()[0]]))[0])
    res = case_study(workspace, ds, split, tmp_path / "out", tracks=[track])
    assert (tmp_path / "out" / "case_study.png").exists() and (tmp_path / "out" / "case_study.json").exists()

    inter, posts = ds.interactions, ds.posts.sort_values("post_idx")
    fit = np.zeros(len(inter), bool)
    fit[np.concatenate([split.fit_rows, split.valid_rows])] = True
    x, meta = load_group(workspace / "features", "text_h")
    col = meta["names"].index("emo7_happiness")
    ti = ds.items.encode([track])[0]
    listens = inter[inter["item_idx"] == ti]
    glob, ctx = [], []
    for u in sorted(listens["user_idx"].unique()):
        cutoff = inter["timestamp"][fit & (inter["user_idx"] == u)].max() + 1
        mine = (posts["user_idx"] == u) & (posts["timestamp"] < cutoff)
        if mine.any():
            glob.append(x[mine.to_numpy(), col].mean())
    for u, t in zip(listens["user_idx"], listens["timestamp"], strict=True):
        win = ((posts["user_idx"] == u) & (posts["timestamp"] >= t - 86400) & (posts["timestamp"] < t)).to_numpy()
        if win.any():
            ctx.append(x[win, col].mean())
    got = res["features"]["emo7_happiness"]["tracks"][0]
    assert got["global"] == pytest.approx(np.mean(glob), rel=1e-5)
    assert got["contextual"] == pytest.approx(np.mean(ctx), rel=1e-5)
    assert got["n_listens_with_context"] == len(ctx) and got["n_listens"] == len(listens)
    assert res["features"]["color_cold_area"]["posts"] == "posts with media only"


def test_unknown_track_is_a_clear_error(workspace: Path, tmp_path: Path) -> None:
    ds, split = load_workspace(workspace), load_split(workspace)
    with pytest.raises(DataError, match="no-such-track"):
        case_study(workspace, ds, split, tmp_path, tracks=["no-such-track"])
