"""The global and contextual means of the content store as models read them (ContextEncoder), and its
standardiser (docs/design.md sections 5.1-5.3), checked against a literal reading of the design."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amae.content.posts import DEFAULT_WINDOW_SECONDS, ContextEncoder, global_cutoffs
from amae.content.standardize import Standardizer
from amae.content.store import ModalityPosts, write_modality
from amae.protocol.split import period_end

DAY = DEFAULT_WINDOW_SECONDS


def _naive(post_user, post_time, feats, inter_user, inter_time, n_users, until, window):  # noqa: ANN001, ANN202
    """Pure-Python reference: global means before ``until[u]`` (all posts when None), contextual means
    over ``[t - window, t)`` padded with the global vector (zeros for a user without posts)."""
    dim = feats.shape[1]
    glob = np.zeros((n_users, dim))
    has = np.zeros(n_users, bool)
    for u in range(n_users):
        rows = [i for i in range(len(post_user)) if post_user[i] == u and (until is None or post_time[i] < until[u])]
        if rows:
            glob[u] = np.mean([feats[i].astype(np.float64) for i in rows], axis=0)
            has[u] = True
    ctx = np.zeros((len(inter_user), dim))
    empty = np.zeros(len(inter_user), bool)
    for j, (u, t) in enumerate(zip(inter_user, inter_time, strict=True)):
        rows = [i for i in range(len(post_user)) if post_user[i] == u and t - window <= post_time[i] < t]
        if rows:
            ctx[j] = np.mean([feats[i].astype(np.float64) for i in rows], axis=0)
        else:
            ctx[j], empty[j] = glob[u], True
    return glob, has, ctx, empty


def _encoder(post_user, post_time, feats, n_users, until, window):  # noqa: ANN001, ANN202
    return ContextEncoder({"m": ModalityPosts.from_posts(post_user, post_time, feats)}, n_users, until, window)


def test_empty_window_pads_with_the_users_own_global_vector() -> None:
    post_user, post_time = np.array([0, 0, 1, 3]), np.array([10, 20, 5, 0])
    feats = np.array([[1.0, 0.0], [3.0, 2.0], [7.0, 7.0], [5.0, 5.0]], np.float32)
    enc = _encoder(post_user, post_time, feats, 4, None, 100)
    np.testing.assert_allclose(enc.raw_global["m"], [[2.0, 1.0], [7.0, 7.0], [0.0, 0.0], [5.0, 5.0]])
    # user 2 has no posts: its empty range sits where user 1's run ends and user 3's begins, and
    # must still be padded with its own (zero) global vector, not a neighbour's
    ctx, empty = enc.raw_contextual("m", np.array([0, 1, 2, 0, 3]), np.array([10_000, 6, 50, 21, 10**6]))
    np.testing.assert_array_equal(empty, [True, False, True, False, True])
    np.testing.assert_allclose(ctx, [[2.0, 1.0], [7.0, 7.0], [0.0, 0.0], [2.0, 1.0], [5.0, 5.0]])
    assert ctx.dtype == np.float32
    assert enc.context_counts(0, 21) == {"m": 2}


def test_global_vectors_stop_at_the_training_cutoff() -> None:
    post_user, post_time = np.array([0, 0, 0, 1]), np.array([100, 200, 900, 50])
    feats = np.array([[1.0], [3.0], [100.0], [4.0]], np.float32)
    inter_user, inter_time = np.array([0, 0, 0, 1]), np.array([150, 250, 1000, 60])
    is_train = np.array([True, True, False, False])
    until = global_cutoffs(period_end(inter_user[is_train], inter_time[is_train], 2), "train")
    assert until[0] == 251
    enc = _encoder(post_user, post_time, feats, 2, until, 10)
    assert enc.raw_global["m"][0, 0] == pytest.approx(2.0)  # the post at 900 (test period) is ignored
    assert enc.raw_global["m"][1, 0] == 0.0  # no training record -> no training period -> no global vector
    # the padded contextual vector of the test listen uses the leakage-safe global vector
    ctx, empty = enc.raw_contextual("m", inter_user, inter_time)
    assert empty[2] and ctx[2, 0] == pytest.approx(2.0)
    assert global_cutoffs(until, "all") is None  # the paper's reading: every post
    assert _encoder(post_user, post_time, feats, 2, None, 10).raw_global["m"][0, 0] == pytest.approx(104.0 / 3)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n_users=st.integers(1, 5), n_posts=st.integers(0, 30), n_inter=st.integers(0, 25),
       dim=st.integers(1, 4), window=st.integers(1, 40), per_user=st.booleans())
def test_matches_naive_reference(data, n_users, n_posts, n_inter, dim, window, per_user) -> None:  # noqa: ANN001
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    post_user, post_time = rng.integers(0, n_users, n_posts), rng.integers(0, 60, n_posts)  # ties, boundary hits
    feats = rng.normal(size=(n_posts, dim)).astype(np.float32)
    inter_user, inter_time = rng.integers(0, n_users, n_inter), rng.integers(0, 70, n_inter)
    until = rng.integers(0, 70, n_users) if per_user else None
    enc = _encoder(post_user, post_time, feats, n_users, until, window)
    ctx, empty = enc.raw_contextual("m", inter_user, inter_time)
    glob, has, want_ctx, want_empty = _naive(post_user, post_time, feats, inter_user, inter_time, n_users, until,
                                             window)
    np.testing.assert_allclose(enc.raw_global["m"], glob, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(enc.posts["m"].user_means(n_users, until)[1] > 0, has)
    np.testing.assert_allclose(ctx, want_ctx, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(empty, want_empty)


def test_a_float16_memory_mapped_store(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n_posts, dim, n_users = 500, 6, 20
    post_user, post_time = rng.integers(0, n_users, n_posts), rng.integers(0, 10 * DAY, n_posts)
    feats = rng.normal(size=(n_posts, dim)).astype(np.float32)
    store = write_modality(tmp_path, "m", post_user, post_time, [feats], np.arange(n_posts), dtype="float16")
    assert isinstance(store.features, np.memmap) and store.features.dtype == np.float16
    enc = ContextEncoder({"m": store}, n_users, None)
    inter_user, inter_time = rng.integers(0, n_users, 300), rng.integers(0, 11 * DAY, 300)
    ctx, empty = enc.raw_contextual("m", inter_user, inter_time)
    as_stored = feats.astype(np.float16).astype(np.float32)
    glob, _, want_ctx, want_empty = _naive(post_user, post_time, as_stored, inter_user, inter_time, n_users, None, DAY)
    np.testing.assert_allclose(enc.raw_global["m"], glob, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ctx, want_ctx, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(empty, want_empty)
    assert empty.any() and (~empty).any()  # both branches exercised


# --- Standardizer (section 5.3) ---------------------------------------------------------------------


def test_standardizer_fits_on_training_rows_only() -> None:
    x = np.array([[1.0, 5.0], [3.0, 5.0], [1000.0, -7.0]], np.float32)
    train = np.array([True, True, False])
    s = Standardizer().fit(x, train)
    np.testing.assert_allclose(s.mean, [2.0, 5.0])
    np.testing.assert_allclose(s.std, [1.0, 1.0])  # column 1 is constant on training rows -> std 1
    z = s.transform(x)
    np.testing.assert_allclose(z, [[-1.0, 0.0], [1.0, 0.0], [998.0, -12.0]])
    assert z.dtype == np.float32
    assert s.n_fit == 2


def test_standardizer_matches_numpy_and_roundtrips(tmp_path: Path) -> None:
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


def test_standardizer_errors(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardizer().transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="no rows"):
        Standardizer().fit(np.zeros((3, 2)), np.zeros(3, bool))
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="bad.json"):
        Standardizer.load(bad)
