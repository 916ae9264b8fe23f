"""Split, fixed negatives, pessimistic ranks and the metrics with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amae.data.adapters.ncf import load_ncf
from amae.protocol.given import given_split
from amae.protocol.metrics import evaluate, full_ranks, pessimistic_rank, summarise
from amae.protocol.negatives import sample_negatives
from amae.protocol.significance import paired_bootstrap
from amae.protocol.split import EvalCases, Split, split_interactions


def toy_interactions(n_users: int = 20, per_user: int = 30, n_items: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    return pd.DataFrame({"user_idx": users, "item_idx": rng.integers(0, n_items, len(users)),
                         "timestamp": rng.integers(0, 10_000, len(users))})


def test_temporal_split_is_per_user_chronological(tmp_path: Path) -> None:
    inter = toy_interactions()
    sp = split_interactions(inter, 200, seed=3)
    t = inter["timestamp"].to_numpy()
    u = inter["user_idx"].to_numpy()
    train = np.r_[sp.fit_rows, sp.valid_rows]
    for user in range(20):
        tr, te = t[train][u[train] == user], t[sp.test_rows][u[sp.test_rows] == user]
        assert len(te) == 6 and tr.max() <= te.min()
        va = t[sp.valid_rows][u[sp.valid_rows] == user]
        fit = t[sp.fit_rows][u[sp.fit_rows] == user]
        assert len(va) >= 1 and fit.max() <= va.min()  # validation is the tail of training
    sp.save(tmp_path)
    again = Split.load(tmp_path)
    assert np.array_equal(again.test.negatives, sp.test.negatives)
    assert again.info == sp.info


def test_negatives_never_interacted_unique_and_seeded() -> None:
    inter = toy_interactions()
    sp = split_interactions(inter, 200, seed=1)
    negs = sp.test.negatives
    assert negs.shape == (len(sp.test_rows), 99)
    assert all(len(set(r)) == 99 for r in negs)
    seen = set(zip(inter["user_idx"], inter["item_idx"], strict=True))
    assert not any((u, i) in seen for u, row in zip(sp.test.users, negs, strict=True) for i in row)
    again = split_interactions(inter, 200, seed=1)
    assert np.array_equal(again.test.negatives, negs)
    other = split_interactions(inter, 200, seed=2)
    assert not np.array_equal(other.test.negatives, negs)


def test_random_split_seeded() -> None:
    inter = toy_interactions()
    a = split_interactions(inter, 200, method="random", seed=5)
    b = split_interactions(inter, 200, method="random", seed=5)
    assert np.array_equal(a.test_rows, b.test_rows)
    assert 0.1 < len(a.test_rows) / len(inter) < 0.3


def test_negative_sampling_is_uniform() -> None:
    users = np.zeros(20_000, dtype=np.int64)
    negs = sample_negatives(users, 10, (np.array([0]), np.array([3])), 2, seed=0)
    counts = np.bincount(negs.ravel(), minlength=10)
    assert counts[3] == 0
    share = counts[np.arange(10) != 3] / counts.sum()
    assert np.allclose(share, 1 / 9, atol=0.01)


def test_pessimistic_ties_and_metrics() -> None:
    scores = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 2.0]])
    ranks = pessimistic_rank(scores)
    assert ranks.tolist() == [1, 2, 3]
    m = summarise(ranks, k=2)
    assert m["HR@2"] == pytest.approx(2 / 3)
    assert m["NDCG@2"] == pytest.approx((1 + 1 / np.log2(3)) / 3)
    assert m["MRR"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)


def test_constant_model_ranks_last() -> None:
    cases = EvalCases(np.zeros(3, np.int64), np.array([1, 2, 3]), np.zeros(3, np.int64),
                      np.tile(np.arange(10, 109), (3, 1)), np.ones(3, bool))
    res = evaluate(lambda u, i, t: np.zeros(i.shape), cases)
    assert res["sampled"]["HR@10"] == 0.0  # every tie counts against the positive


def test_full_ranking_excludes_training_items() -> None:
    # Items 0..4; user 0 trained on items 0 and 1, which score highest; positive is item 2.
    cases = EvalCases(np.array([0]), np.array([2]), np.array([0]), np.zeros((1, 1), np.int64), np.array([True]))
    table = np.array([5.0, 4.0, 3.0, 2.0, 3.0])
    ranks = full_ranks(lambda u, i, t: table[i], cases, 5, (np.array([0, 0]), np.array([0, 1])))
    assert ranks.tolist() == [2]  # item 4 ties the positive; items 0 and 1 are excluded


def test_paired_bootstrap_contains_true_difference() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(2000) < 0.6
    b = rng.random(2000) < 0.5
    mean, lo, hi = paired_bootstrap(a.astype(float), b.astype(float), n_boot=500, seed=1)
    assert lo < mean < hi and lo < 0.1 < hi + 0.05


def test_ncf_adapter_uses_given_negatives(shared_data: Path) -> None:
    data = load_ncf(shared_data / "deepcf" / "lastfm")
    split = given_split(data)
    test = split.test
    assert len(test) == 1741 and test.negatives.shape == (1741, 99)
    assert data.dropped_duplicate_negatives == 86
    assert ((test.negatives == test.items[:, None]).sum()) == 0
    assert (test.negatives < 0).sum() == 86
    # the validation record of each user is held out of the fitting rows
    assert len(np.intersect1d(split.fit_rows, split.valid_rows)) == 0
    first = (shared_data / "deepcf" / "lastfm.test.negative").read_text().splitlines()[0].split("\t")
    given = [int(x) for x in first[1:] if int(x) != test.items[0]]
    assert test.negatives[0, : len(given)].tolist() == given
