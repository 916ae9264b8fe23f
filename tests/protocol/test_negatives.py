"""The fixed-negative sampler: allowed items only, no repeats, seeded, uniform, on both of its paths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chisquare

from amae.data.io import DataError
from amae.protocol import negatives as neg
from amae.protocol.negatives import sample_negatives


def random_world(n_users: int = 300, n_items: int = 2_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Interactions of light and heavy users, with repeated pairs; user 0 played nearly everything."""
    rng = np.random.default_rng(seed)
    per_user = rng.integers(0, 200, n_users)
    u = np.repeat(np.arange(n_users), per_user)
    i = rng.integers(0, n_items, len(u))
    heavy = np.arange(n_items - 150)  # user 0: 150 allowed items, under the rejection threshold
    return np.r_[u, np.zeros(len(heavy), np.int64), u[:50]], np.r_[i, heavy, i[:50]]


def assert_valid(negs: np.ndarray, users: np.ndarray, inter: tuple[np.ndarray, np.ndarray], n_items: int,
                 k: int) -> None:
    assert negs.shape == (len(users), k) and negs.dtype == (np.int32 if n_items < 2**31 else np.int64)
    assert ((negs >= 0) & (negs < n_items)).all()
    srt = np.sort(negs, axis=1)
    assert not (srt[:, 1:] == srt[:, :-1]).any(), "an item repeats within a case"
    seen = np.unique(inter[0].astype(np.int64) * n_items + inter[1])
    assert not np.isin(users[:, None] * n_items + negs, seen).any(), "an interacted item was drawn"


def test_never_interacted_never_repeated_on_both_paths() -> None:
    inter = random_world()
    users = np.random.default_rng(1).integers(0, 300, 5_000)
    users[:20] = 0  # the near-full user goes through the key sampler
    negs = sample_negatives(users, 2_000, inter, 99, seed=4)
    assert_valid(negs, users, inter, 2_000, 99)


def test_same_seed_same_draw_other_seed_another() -> None:
    inter = random_world()
    users = np.random.default_rng(2).integers(0, 300, 2_000)
    a = sample_negatives(users, 2_000, inter, 50, seed=7)
    assert np.array_equal(a, sample_negatives(users, 2_000, inter, 50, seed=7))
    b = sample_negatives(users, 2_000, inter, 50, seed=8)
    assert (a != b).mean() > 0.9


def test_many_chunks_and_redraw_rounds_stay_valid_and_seeded(monkeypatch: pytest.MonkeyPatch) -> None:
    # A tiny chunk budget gives one case per chunk; allowed shares just over the threshold make
    # the first round fall short often, so later rounds (and their repeat checks) are exercised.
    monkeypatch.setattr(neg, "REJECTION_CELLS", 1)
    monkeypatch.setattr(neg, "OVERDRAW", 0.5)
    n_items, k = 60, 25
    rng = np.random.default_rng(3)
    u = np.repeat(np.arange(40), 25)
    i = np.concatenate([rng.choice(n_items, 25, replace=False) for _ in range(40)])
    users = rng.integers(0, 40, 300)
    negs = sample_negatives(users, n_items, (u, i), k, seed=1)
    assert_valid(negs, users, (u, i), n_items, k)
    assert np.array_equal(negs, sample_negatives(users, n_items, (u, i), k, seed=1))


@pytest.mark.parametrize("overdraw, extra", [(neg.OVERDRAW, neg.EXTRA_DRAWS), (0.01, 1)])
def test_draws_are_uniform_without_replacement(monkeypatch: pytest.MonkeyPatch, overdraw: float,
                                               extra: int) -> None:
    # 18 allowed items of 20, 3 per case: the rejection path. Every allowed item equally often,
    # and every ordered pair (first, second) equally often: uniform over ordered draws. The second
    # setting draws 2 items per round, so most cases fill up over several rounds.
    monkeypatch.setattr(neg, "OVERDRAW", overdraw)
    monkeypatch.setattr(neg, "EXTRA_DRAWS", extra)
    n_items, k, n = 20, 3, 60_000
    users = np.zeros(n, np.int64)
    negs = sample_negatives(users, n_items, (np.array([0, 0]), np.array([4, 11])), k, seed=0)
    counts = np.bincount(negs.ravel(), minlength=n_items)
    assert counts[4] == counts[11] == 0
    allowed = np.setdiff1d(np.arange(n_items), [4, 11])
    assert chisquare(counts[allowed]).pvalue > 1e-3
    assert chisquare(np.bincount(negs[:, 0], minlength=n_items)[allowed]).pvalue > 1e-3
    pairs = np.bincount(negs[:, 0] * n_items + negs[:, 1], minlength=n_items**2).reshape(n_items, n_items)
    sub = pairs[np.ix_(allowed, allowed)]
    off = sub[~np.eye(len(allowed), dtype=bool)]
    assert np.diag(sub).sum() == 0 and chisquare(off).pvalue > 1e-3


def test_near_full_user_falls_back_to_key_sampler(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[np.ndarray] = []
    exact = neg._sample_keys

    def spy(users: np.ndarray, *args: object) -> np.ndarray:
        calls.append(users.copy())
        return exact(users, *args)

    monkeypatch.setattr(neg, "_sample_keys", spy)
    n_items, k = 50, 4
    # user 1 played 45 of 50 items (5 allowed < 2 k), user 2 played 30 (20 allowed < half of 50)
    inter = (np.r_[np.full(45, 1), np.full(30, 2), [0]], np.r_[np.arange(45), np.arange(30), [0]])
    users = np.r_[np.full(20_000, 1), np.full(50, 2), np.zeros(50, np.int64)]
    negs = sample_negatives(users, n_items, inter, k, seed=0)
    assert_valid(negs, users, inter, n_items, k)
    assert len(calls) == 1 and sorted(set(calls[0].tolist())) == [1, 2]
    counts = np.bincount(negs[:20_000].ravel(), minlength=n_items)
    assert counts[:45].sum() == 0 and chisquare(counts[45:]).pvalue > 1e-3


def test_too_few_allowed_items_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="fewer than 5 items"):
        sample_negatives(np.array([0, 1]), 8, (np.r_[np.zeros(4, np.int64)], np.arange(4)), 5, seed=0)


def test_empty_requests() -> None:
    inter = (np.array([0]), np.array([1]))
    assert sample_negatives(np.zeros(0, np.int64), 10, inter, 3, seed=0).shape == (0, 3)
    assert sample_negatives(np.array([0, 2]), 10, inter, 0, seed=0).shape == (2, 0)
    # a user with no interactions at all, and no interactions anywhere
    negs = sample_negatives(np.array([5, 5]), 10, (np.zeros(0, np.int64), np.zeros(0, np.int64)), 3, seed=0)
    assert_valid(negs, np.array([5, 5]), (np.zeros(0, np.int64), np.zeros(0, np.int64)), 10, 3)
