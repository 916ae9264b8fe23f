"""The Fig. 3 means checked against a brute-force loop over listens and posts, and against the content store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amae.content.posts import DEFAULT_WINDOW_SECONDS, ContextEncoder, load_posts
from amae.data.io import DataError
from amae.data.workspace import ingest, load_workspace
from amae.experiments.case_study import _chosen_listens, _store_means, case_study
from amae.experiments.runs import load_split
from amae.features.extract import load_group
from amae.protocol.split import split_interactions, training_until


@pytest.fixture()
def workspace(tiny_world: Path, fake_features: Callable, tmp_path: Path) -> Path:
    """The tiny world with fake features, a fifth of its posts flagged as empty text and one broken
    ``text_h`` row: the posts the store leaves out of the text modality, so the means must too."""
    ws = tmp_path / "ws"
    ds = ingest(tiny_world, ws)
    split_interactions(ds.interactions, ds.n_items, seed=0, n_negatives=20).save(ws / "split")
    fake_features(ws, len(ds.posts), seed=3)
    rng = np.random.default_rng(4)
    pd.DataFrame({"post_idx": np.arange(len(ds.posts)), "text_empty": rng.random(len(ds.posts)) < 0.2}
                 ).to_parquet(ws / "features" / "text" / "flags.parquet")
    x = np.load(ws / "features" / "text" / "text_h.npy")
    x[7, 2] = np.nan
    np.save(ws / "features" / "text" / "text_h.npy", x)
    return ws


def _text_posts(ws: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Posts by post_idx, and which of them carry text (not flagged empty, a finite ``text_h`` row)."""
    posts = load_workspace(ws).posts.sort_values("post_idx")
    x, _ = load_group(ws / "features", "text_h")
    flags = pd.read_parquet(ws / "features" / "text" / "flags.parquet").set_index("post_idx")["text_empty"]
    has_text = ~flags.reindex(posts["post_idx"]).to_numpy(bool) & np.isfinite(x).all(axis=1)
    return posts, has_text


def test_case_means_match_brute_force(workspace: Path, tmp_path: Path) -> None:
    ds, split = load_workspace(workspace), load_split(workspace)
    track = str(ds.items.decode(np.asarray([ds.interactions["item_idx"].mode()[0]]))[0])
    res = case_study(workspace, ds, split, tmp_path / "out", tracks=[track])
    assert (tmp_path / "out" / "case_study.png").exists() and (tmp_path / "out" / "case_study.json").exists()

    inter = ds.interactions
    posts, has_text = _text_posts(workspace)
    fit = np.zeros(len(inter), bool)
    fit[np.concatenate([split.fit_rows, split.valid_rows])] = True
    x, meta = load_group(workspace / "features", "text_h")
    col = meta["names"].index("emo7_happiness")
    ti = ds.items.encode([track])[0]
    listens = inter[inter["item_idx"] == ti]
    glob, ctx = [], []
    for u in sorted(listens["user_idx"].unique()):
        cutoff = inter["timestamp"][fit & (inter["user_idx"] == u)].max() + 1
        mine = ((posts["user_idx"] == u) & (posts["timestamp"] < cutoff)).to_numpy() & has_text
        if mine.any():
            glob.append(x[mine, col].mean())
    for u, t in zip(listens["user_idx"], listens["timestamp"], strict=True):
        win = ((posts["user_idx"] == u) & (posts["timestamp"] >= t - 86400) & (posts["timestamp"] < t)).to_numpy()
        win = win & has_text
        if win.any():
            ctx.append(x[win, col].mean())
    got = res["features"]["emo7_happiness"]["tracks"][0]
    assert got["global"] == pytest.approx(np.mean(glob), rel=1e-5)
    assert got["contextual"] == pytest.approx(np.mean(ctx), rel=1e-5)
    assert got["n_listens_with_context"] == len(ctx) and got["n_listens"] == len(listens)
    assert res["features"]["color_cold_area"]["posts"] == "posts with media only"
    assert res["features"]["emo7_happiness"]["posts"] == "posts with text only"


def test_per_listen_means_are_the_content_stores(workspace: Path) -> None:
    """Every listen's contextual mean (and every user's global mean) the case study averages is the
    content store's, and both equal a plain loop over the posts that carry text."""
    ds, split = load_workspace(workspace), load_split(workspace)
    items = np.unique(ds.interactions["item_idx"].to_numpy(np.int64))[:12]
    listens = _chosen_listens(ds, split, items)
    x, meta = load_group(workspace / "features", "text_h")
    cols = [meta["names"].index(n) for n in ("emo7_happiness", "macro_chars")]
    means = _store_means(workspace, "text_h", cols, listens, ds.n_users, DEFAULT_WINDOW_SECONDS)

    until = training_until(split.train_end, ds.n_users)
    store = load_posts(workspace, {"text": ["text_h"]})  # the store training and serving read
    encoder = ContextEncoder(store, ds.n_users, until)
    stored, stored_empty = encoder.raw_contextual("text", listens.user, listens.time)
    np.testing.assert_array_equal(means.empty, stored_empty)
    np.testing.assert_allclose(means.contextual, stored[:, cols], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(means.global_, encoder.raw_global["text"][:, cols], rtol=1e-6, atol=1e-7)

    posts, has_text = _text_posts(workspace)
    p_user, p_time = posts["user_idx"].to_numpy(np.int64), posts["timestamp"].to_numpy(np.int64)
    for j, (u, t) in enumerate(zip(listens.user, listens.time, strict=True)):
        win = (p_user == u) & (p_time >= t - DEFAULT_WINDOW_SECONDS) & (p_time < t) & has_text
        before = (p_user == u) & (p_time < until[u]) & has_text
        assert means.has_posts[u] == before.any()
        want = x[win][:, cols].astype(np.float64).mean(axis=0) if win.any() else \
            (x[before][:, cols].astype(np.float64).mean(axis=0) if before.any() else np.zeros(len(cols)))
        assert means.empty[j] == (not win.any())
        np.testing.assert_allclose(means.contextual[j], want, rtol=1e-5, atol=1e-6)
    assert means.empty.any() and (~means.empty).any()  # both the window and the padding are exercised
    assert 7 not in np.flatnonzero(has_text) and (~has_text).sum() > 5  # the left-out posts exist


def test_unknown_track_is_a_clear_error(workspace: Path, tmp_path: Path) -> None:
    ds, split = load_workspace(workspace), load_split(workspace)
    with pytest.raises(DataError, match="no-such-track"):
        case_study(workspace, ds, split, tmp_path, tracks=["no-such-track"])
