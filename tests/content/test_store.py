"""The content store: sorted posts read by range, streaming writes, the optional fixed PCA."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from amae.content.store import (
    FixedPCA,
    ModalityPosts,
    NpyWriter,
    Projected,
    gather_rows,
    read_rows,
    write_modality,
)


def _posts(seed: int = 0, n: int = 400, users: int = 7, dim: int = 5) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, users, n), rng.integers(0, 10_000, n), rng.normal(size=(n, dim)).astype(np.float32))


def test_window_means_match_a_brute_force_mean() -> None:
    user, time, feats = _posts()
    store = ModalityPosts.from_posts(user, time, feats)
    rng = np.random.default_rng(1)
    qu, qt = rng.integers(0, 8, 300), rng.integers(-100, 11_000, 300)  # user 7 has no posts
    lo, hi = store.window(qu, qt, 500)
    got = store.range_means(lo, hi)
    for k in range(len(qu)):
        mask = (user == qu[k]) & (time >= qt[k] - 500) & (time < qt[k])
        want = feats[mask].mean(axis=0) if mask.any() else np.zeros(feats.shape[1])
        np.testing.assert_allclose(got[k], want, atol=1e-5)
        assert hi[k] - lo[k] == mask.sum()


def test_window_holds_t_minus_window_not_t_and_never_a_later_post() -> None:
    """The window is ``[t - window, t)``: a post exactly at ``t - window`` counts, one at ``t`` does not."""
    store = ModalityPosts.from_posts(np.zeros(4, np.int64), np.array([0, 100, 200, 300]), np.eye(4, dtype=np.float32))
    lo, hi = store.window(np.array([0]), np.array([200]), 100)
    np.testing.assert_allclose(store.range_means(lo, hi), [[0, 1, 0, 0]])  # [100, 200): not the post at 200
    lo, hi = store.window(np.array([0, 0, 0]), np.array([200, 300, 150]), 200)  # [0, 200), [100, 300), [-50, 150)
    np.testing.assert_allclose(store.range_means(lo, hi), [[0.5, 0.5, 0, 0], [0, 0.5, 0.5, 0], [0.5, 0.5, 0, 0]])
    lo, hi = store.window(np.array([0]), np.array([150]), 10**6)  # posts at 200 and 300 are after t=150
    np.testing.assert_allclose(store.range_means(lo, hi), [[0.5, 0.5, 0, 0]])
    assert (hi - lo).tolist() == [2]


def test_user_means_respect_each_users_cutoff() -> None:
    user, time, feats = _posts(2)
    store = ModalityPosts.from_posts(user, time, feats)
    until = np.array([5_000, 0, 10_001, 7_000, 1, 9_999, 3_000, 0])
    means, counts = store.user_means(8, until)
    for u in range(8):
        mask = (user == u) & (time < until[u])
        assert counts[u] == mask.sum()
        np.testing.assert_allclose(means[u], feats[mask].mean(axis=0) if mask.any() else 0.0, atol=1e-5)


def test_a_request_copy_holds_only_its_window_plus_the_request() -> None:
    user, time, feats = _posts(3)
    store = ModalityPosts.from_posts(user, time, feats)
    extra_t, extra_f = np.array([9_990, 9_995]), np.ones((2, 5), np.float32)
    mine = store.for_user(2, extra_t, extra_f, since=9_000, until=10_000)
    stored = ((user == 2) & (time >= 9_000) & (time < 10_000)).sum()
    assert mine.n_posts == stored + 2 and set(mine.user.tolist()) <= {2}
    assert np.all(np.diff(mine.keys) >= 0)  # still sorted, so windows are binary searches
    lo, hi = mine.window(np.array([2]), np.array([10_000]), 1_000)
    assert hi[0] - lo[0] == stored + 2


def test_written_store_is_sorted_and_read_back_without_mapping(tmp_path: Path) -> None:
    user, time, feats = _posts(4)
    block = np.lib.format.open_memmap(tmp_path / "g.npy", mode="w+", dtype=np.float32, shape=feats.shape)
    block[:] = feats
    block.flush()
    mapped = np.load(tmp_path / "g.npy", mmap_mode="r")
    rows = np.arange(0, len(user), 2)  # a subset, as for posts lacking a modality
    out = write_modality(tmp_path, "text", user[rows], time[rows], [mapped], rows, dtype="float16")
    order = np.argsort((user[rows] << 33) | time[rows], kind="stable")
    np.testing.assert_allclose(np.asarray(out.features, np.float32), feats[rows][order], atol=2e-3)
    assert out.features.dtype == np.float16
    np.testing.assert_array_equal(read_rows(mapped, 10, 20), feats[10:20])
    np.testing.assert_array_equal(gather_rows(mapped, np.array([7, 3, 9])), feats[[7, 3, 9]])
    w = NpyWriter(tmp_path / "w.npy", "float32", (4, 2))
    w.write(2, np.ones((2, 2)))
    w.write(0, np.zeros((2, 2)))
    w.close()
    np.testing.assert_array_equal(np.load(tmp_path / "w.npy"), [[0, 0], [0, 0], [1, 1], [1, 1]])


def test_noise_control_keeps_the_moments_not_the_values(tmp_path: Path) -> None:
    user, time, feats = _posts(5, n=3_000)
    feats = feats * np.array([1, 2, 3, 4, 5], np.float32) + 10
    real = write_modality(tmp_path, "a", user, time, [feats], np.arange(len(user)))
    sub = tmp_path / "n"
    sub.mkdir()
    noise = write_modality(sub, "a", user, time, [feats], np.arange(len(user)), noise_seed=3)
    r, n = np.asarray(real.features), np.asarray(noise.features)
    np.testing.assert_allclose(n.mean(0), r.mean(0), atol=0.3)
    np.testing.assert_allclose(n.std(0), r.std(0), rtol=0.1)
    assert abs(np.corrcoef(n[:, 0], r[:, 0])[0, 1]) < 0.1


def test_fixed_pca_is_fitted_on_the_given_rows_only() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2_000, 6)) * np.array([5, 3, 1, 0.1, 0.1, 0.1])
    later = np.arange(1_000, 2_000)
    x[later, 5] += rng.normal(size=1_000) * 50  # a direction only the held-out rows have
    x = x.astype(np.float32)
    pca = FixedPCA.fit(x, np.arange(1_000), k=2)
    assert pca.explained > 0.95
    top = np.abs(pca.components).argmax(axis=1)
    np.testing.assert_array_equal(top, [0, 1])  # the training rows' leading directions, not dimension 5
    again = FixedPCA.fit(x, np.arange(1_000), k=2)
    np.testing.assert_array_equal(pca.components, again.components)  # deterministic signs
    view = Projected(x, pca)
    assert view.shape == (2_000, 2)
    np.testing.assert_allclose(view[np.array([4, 1])], pca.transform(x[[4, 1]]), atol=1e-6)
    np.testing.assert_allclose(view[0:3], pca.transform(x[:3]), atol=1e-6)
    with pytest.raises(ValueError):
        ModalityPosts(np.zeros(3, np.int64), np.zeros((2, 2), np.float32))
