"""Training: negatives avoid positives, the same seed gives the same numbers, early stopping works."""

from __future__ import annotations

import numpy as np

from amae.models import REGISTRY, TrainData
from amae.protocol.split import split_interactions
from amae.training.samplers import pointwise_epoch, sample_training_negatives
from tests_helpers import toy_world_interactions


def test_training_negatives_are_not_positives() -> None:
    users = np.repeat(np.arange(50), 20)
    items = np.random.default_rng(0).integers(0, 30, len(users))
    keys = np.unique(users * 30 + items)
    neg = sample_training_negatives(users, 30, keys, 3, np.random.default_rng(1))
    assert not np.isin(users[:, None] * 30 + neg, keys).any()
    record, u, i, y = pointwise_epoch(users, items, 30, keys, 3, np.random.default_rng(2))
    assert len(record) == 4 * len(users) and y.sum() == len(users)
    assert np.array_equal(u, users[record])  # a negative shares its positive's (user, time) record


def _fit(name: str, seed: int) -> tuple[np.ndarray, list]:
    inter, n_users, n_items = toy_world_interactions()
    sp = split_interactions(inter, n_items, seed=0)
    rows = sp.train_rows
    data = TrainData(n_users, n_items, inter["user_idx"].to_numpy()[rows], inter["item_idx"].to_numpy()[rows],
                     inter["timestamp"].to_numpy()[rows], valid=sp.valid, rows=rows, seed=seed)
    model = REGISTRY[name](epochs=3, progress=False).fit(data)
    return model.score(sp.test.users[:50], sp.test.candidates()[:50]), model.history


def test_same_seed_same_numbers() -> None:
    for name in ("mf", "dmf"):
        a, ha = _fit(name, 7)
        b, hb = _fit(name, 7)
        c, _ = _fit(name, 8)
        assert np.array_equal(a, b)
        assert [h["loss"] for h in ha] == [h["loss"] for h in hb]
        assert not np.array_equal(a, c)


def test_validation_metric_recorded_and_loss_falls() -> None:
    _, hist = _fit("mf", 0)
    assert all("valid_NDCG@10" in h for h in hist)
    assert hist[-1]["loss"] < hist[0]["loss"]
