"""Tests for amae.features.aggregate and amae.features.standardize."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amae.features.aggregate import DEFAULT_WINDOW_SECONDS, aggregate, training_cutoffs
from amae.features.standardize import Standardizer

DAY = DEFAULT_WINDOW_SECONDS


def _naive(post_user, post_time, feats, inter_user, inter_time, n_users, global_until, window):
    """Pure-Python reference: literal reading of docs/design.md sections 5.1-5.2."""
    dim = feats.shape[1]
    glob = np.zeros((n_users, dim))
    has = np.zeros(n_users, bool)
    for u in range(n_users):
        cut = (
            None
            if global_until is None
            else (global_until if np.ndim(global_until) == 0 else global_until[u])
        )
        rows = [i for i in range(len(post_user)) if post_user[i] == u and (cut is None or post_time[i] < cut)]
        if rows:
            glob[u] = np.mean([feats[i].astype(np.float64) for i in rows], axis=0)
            has[u] = True
    ctx = np.zeros((len(inter_user), dim))
    empty = np.zeros(len(inter_user), bool)
    counts = np.zeros(len(inter_user), int)
    for j, (u, t) in enumerate(zip(inter_user, inter_time, strict=True)):
        rows = [i for i in range(len(post_user)) if post_user[i] == u and t - window <= post_time[i] < t]
        counts[j] = len(rows)
        if rows:
            ctx[j] = np.mean([feats[i].astype(np.float64) for i in rows], axis=0)
        else:
            ctx[j] = glob[u]
            empty[j] = True
    return glob, has, ctx, empty, counts


def _one_hot_world():
    """User 0 posts at t=0, 100, 200, 300 with features = one-hot of the post index."""
    post_user = np.array([0, 0, 0, 0])
    post_time = np.array([0, 100, 200, 300])
    feats = np.eye(4, dtype=np.float32)
    return post_user, post_time, feats


def test_window_excludes_post_at_t_and_includes_post_at_t_minus_window():
    post_user, post_time, feats = _one_hot_world()
    # Window 100 at t=200: [100, 200) -> only the post at 100; the post at 200 (== t) is excluded.
    agg = aggregate(
        post_user, post_time, feats, np.array([0]), np.array([200]), 1, global_until=None, window=100
    )
    np.testing.assert_array_equal(agg.contextual[0], [0, 1, 0, 0])
    assert agg.n_context_posts[0] == 1
    assert not agg.context_empty[0]
    # Window 200: at t=200 it is [0, 200) (post at 0 = t - window included); at t=300, [100, 300).
    agg = aggregate(
        post_user, post_time, feats, np.array([0, 0]), np.array([200, 300]), 1, global_until=None, window=200
    )
    np.testing.assert_allclose(agg.contextual[0], [0.5, 0.5, 0, 0])  # [0, 200): posts 0 and 100
    np.testing.assert_allclose(agg.contextual[1], [0, 0.5, 0.5, 0])  # [100, 300): 100 and 200


def test_post_after_interaction_never_leaks():
    post_user, post_time, feats = _one_hot_world()
    agg = aggregate(
        post_user, post_time, feats, np.array([0]), np.array([150]), 1, global_until=None, window=10**6
    )
    # All posts before 150 are 0 and 100; the ones at 200 and 300 must not appear.
    np.testing.assert_allclose(agg.contextual[0], [0.5, 0.5, 0, 0])


def test_empty_window_pads_with_global_and_sets_flag():
    post_user = np.array([0, 0, 1])
    post_time = np.array([10, 20, 5])
    feats = np.array([[1.0, 0.0], [3.0, 2.0], [7.0, 7.0]], np.float32)
    inter_user = np.array([0, 1, 2, 0])
    inter_time = np.array([10_000, 6, 50, 21])
    agg = aggregate(post_user, post_time, feats, inter_user, inter_time, 3, global_until=None, window=100)
    np.testing.assert_allclose(agg.global_, [[2.0, 1.0], [7.0, 7.0], [0.0, 0.0]])
    np.testing.assert_array_equal(agg.user_has_posts, [True, True, False])
    np.testing.assert_array_equal(agg.context_empty, [True, False, True, False])
    np.testing.assert_array_equal(agg.n_context_posts, [0, 1, 0, 2])
    np.testing.assert_allclose(agg.contextual[0], agg.global_[0])  # padded with user 0's global
    np.testing.assert_allclose(agg.contextual[2], [0.0, 0.0])  # user without posts: zeros
    assert agg.contextual.dtype == np.float32 and agg.global_.dtype == np.float32


def test_empty_windows_of_different_users_are_not_merged():
    # User 1 has no posts, so its empty range sits at the same sorted position as the end of
    # user 0's run; each must still be padded with its own user's global vector.
    post_user = np.array([0, 2])
    post_time = np.array([0, 0])
    feats = np.array([[1.0], [5.0]], np.float32)
    agg = aggregate(
        post_user,
        post_time,
        feats,
        np.array([0, 1, 2]),
        np.array([10**6] * 3),
        3,
        global_until=None,
        window=10,
    )
    np.testing.assert_allclose(agg.contextual[:, 0], [1.0, 0.0, 5.0])


def test_global_default_cutoff_ignores_posts_after_training_period():
    post_user = np.array([0, 0, 0, 1])
    post_time = np.array([100, 200, 900, 50])
    feats = np.array([[1.0], [3.0], [100.0], [4.0]], np.float32)
    inter_user = np.array([0, 0, 0, 1])
    inter_time = np.array([150, 250, 1000, 60])
    is_train = np.array([True, True, False, False])
    cut = training_cutoffs(inter_user, inter_time, is_train, 2)
    assert cut[0] == 251
    agg = aggregate(post_user, post_time, feats, inter_user, inter_time, 2, global_until=cut, window=10)
    assert agg.global_[0, 0] == pytest.approx(2.0)  # the post at 900 (test period) is ignored
    assert not agg.user_has_posts[1]  # user 1 has no training interaction -> no training period
    # The paper's reading uses every post.
    agg_all = aggregate(post_user, post_time, feats, inter_user, inter_time, 2, global_until=None, window=10)
    assert agg_all.global_[0, 0] == pytest.approx(104.0 / 3)
    # The padded contextual vector of the test interaction uses the leakage-safe global.
    assert agg.context_empty[2] and agg.contextual[2, 0] == pytest.approx(2.0)


def test_scalar_global_until():
    post_user, post_time, feats = _one_hot_world()
    agg = aggregate(post_user, post_time, feats, np.array([0]), np.array([0]), 1, global_until=200, window=5)
    np.testing.assert_allclose(agg.global_[0], [0.5, 0.5, 0, 0])


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    n_users=st.integers(1, 5),
    n_posts=st.integers(0, 30),
    n_inter=st.integers(0, 25),
    dim=st.integers(1, 4),
    window=st.integers(1, 40),
    mode=st.sampled_from(["none", "scalar", "per_user"]),
)
def test_matches_naive_reference(data, n_users, n_posts, n_inter, dim, window, mode):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    post_user = rng.integers(0, n_users, n_posts)
    post_time = rng.integers(0, 60, n_posts)  # small range -> many ties and exact boundary hits
    feats = rng.normal(size=(n_posts, dim)).astype(np.float32)
    inter_user = rng.integers(0, n_users, n_inter)
    inter_time = rng.integers(0, 70, n_inter)
    until = {"none": None, "scalar": int(rng.integers(0, 70)), "per_user": rng.integers(0, 70, n_users)}[mode]
    block = data.draw(st.sampled_from([8, 64, 10**9]))  # 1 column per pass up to all at once
    chunk = data.draw(st.sampled_from([1, 3, 1 << 18]))
    workers = data.draw(st.sampled_from([1, 2]))
    agg = aggregate(
        post_user,
        post_time,
        feats,
        inter_user,
        inter_time,
        n_users,
        global_until=until,
        window=window,
        max_block_bytes=block,
        row_chunk=chunk,
        workers=workers,
    )
    glob, has, ctx, empty, counts = _naive(
        post_user, post_time, feats, inter_user, inter_time, n_users, until, window
    )
    np.testing.assert_allclose(agg.global_, glob, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(agg.user_has_posts, has)
    np.testing.assert_allclose(agg.contextual, ctx, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(agg.context_empty, empty)
    np.testing.assert_array_equal(agg.n_context_posts, counts)


def test_float16_memmap_input(tmp_path: Path):
    rng = np.random.default_rng(3)
    n_posts, dim, n_users = 500, 6, 20
    post_user = rng.integers(0, n_users, n_posts)
    post_time = rng.integers(0, 10 * DAY, n_posts)
    mm = np.memmap(tmp_path / "feats.f16", dtype=np.float16, mode="w+", shape=(n_posts, dim))
    mm[:] = rng.normal(size=(n_posts, dim))
    mm.flush()
    feats = np.memmap(tmp_path / "feats.f16", dtype=np.float16, mode="r", shape=(n_posts, dim))
    inter_user = rng.integers(0, n_users, 300)
    inter_time = rng.integers(0, 11 * DAY, 300)
    out = np.lib.format.open_memmap(tmp_path / "ctx.npy", mode="w+", dtype=np.float32, shape=(300, dim))
    agg = aggregate(
        post_user,
        post_time,
        feats,
        inter_user,
        inter_time,
        n_users,
        global_until=None,
        max_block_bytes=4096,
        out_contextual=out,
    )
    assert agg.contextual is out
    glob, _, ctx, empty, _ = _naive(
        post_user, post_time, np.asarray(feats), inter_user, inter_time, n_users, None, DAY
    )
    np.testing.assert_allclose(agg.global_, glob, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "ctx.npy"), ctx, rtol=1e-5, atol=1e-5)
    assert empty.any() and (~empty).any()  # both branches exercised


def test_presorted_input_uses_same_results():
    rng = np.random.default_rng(5)
    post_user = np.sort(rng.integers(0, 4, 50))
    post_time = np.zeros(50, np.int64)
    for u in range(4):  # make (user, time) sorted so the identity fast path is taken
        m = post_user == u
        post_time[m] = np.sort(rng.integers(0, 100, m.sum()))
    feats = rng.normal(size=(50, 3)).astype(np.float32)
    perm = rng.permutation(50)
    iu, it = rng.integers(0, 4, 40), rng.integers(0, 120, 40)
    a = aggregate(post_user, post_time, feats, iu, it, 4, global_until=None, window=30)
    b = aggregate(post_user[perm], post_time[perm], feats[perm], iu, it, 4, global_until=None, window=30)
    np.testing.assert_allclose(a.contextual, b.contextual, rtol=1e-6)
    np.testing.assert_allclose(a.global_, b.global_, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"post_user": np.array([0, 5])}, "post_user: 1 entries outside"),
        ({"inter_user": np.array([-1])}, "inter_user: 1 entries outside"),
        ({"post_time": np.array([0])}, "n_posts=2"),
        ({"post_features": np.zeros((2, 2), np.int32)}, "float"),
        ({"window": 0}, "window"),
        ({"global_until": np.array([1, 2, 3])}, "global_until"),
        ({"post_time": np.array([0.5, 1.0])}, "post_time must hold integers"),
    ],
)
def test_bad_input_gives_clear_error(kwargs, match):
    args = {
        "post_user": np.array([0, 1]),
        "post_time": np.array([0, 1]),
        "post_features": np.zeros((2, 2), np.float32),
        "inter_user": np.array([0]),
        "inter_time": np.array([5]),
        "n_users": 2,
        "global_until": None,
        "window": 10,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        aggregate(**args)


# --- Standardizer -------------------------------------------------------------------------------


def test_standardizer_fits_on_training_rows_only():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [1000.0, -7.0]], np.float32)
    train = np.array([True, True, False])
    s = Standardizer().fit(x, train)
    np.testing.assert_allclose(s.mean, [2.0, 5.0])
    np.testing.assert_allclose(s.std, [1.0, 1.0])  # column 1 is constant on training rows -> std 1
    z = s.transform(x)
    np.testing.assert_allclose(z, [[-1.0, 0.0], [1.0, 0.0], [998.0, -12.0]])
    assert z.dtype == np.float32
    assert s.n_fit == 2


def test_standardizer_matches_numpy_and_roundtrips(tmp_path: Path):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(1000, 5)) * [1, 10, 100, 0.01, 1] + 1e4).astype(np.float32)
    idx = rng.choice(1000, 600, replace=False)
    s = Standardizer().fit(x, idx, chunk=97)
    ref = x[idx].astype(np.float64)
    np.testing.assert_allclose(s.mean, ref.mean(0), rtol=1e-10)
    np.testing.assert_allclose(s.std, ref.std(0), rtol=1e-6)
    s.save(tmp_path / "std.json")
    json.loads((tmp_path / "std.json").read_text())  # plain JSON, no pickle
    s2 = Standardizer.load(tmp_path / "std.json")
    np.testing.assert_array_equal(s2.transform(x), s.transform(x))
    assert Standardizer.from_dict(s.to_dict()).n_fit == 600


def test_standardizer_errors(tmp_path: Path):
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardizer().transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="no rows"):
        Standardizer().fit(np.zeros((3, 2)), np.zeros(3, bool))
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="bad.json"):
        Standardizer.load(bad)
