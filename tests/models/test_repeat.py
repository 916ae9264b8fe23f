"""The re-listening term: counts that leave the scored listen out in training, a weight learned beside
the backbone, nothing changed on data without repeats, and a saved model that scores the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from amae.models import REGISTRY
from amae.models.base import TrainData
from amae.models.repeat import RepeatTerm
from amae.training import fit

N_USERS, N_ITEMS = 20, 40


def test_counts_leave_the_scored_listen_out_in_training_only() -> None:
    term = RepeatTerm(np.array([0, 0, 0, 1, 2]), np.array([3, 3, 5, 3, 7]), N_ITEMS)
    with torch.no_grad():
        term.weight.fill_(1.0 / term.SCALE)
    users, items = torch.tensor([0, 0, 1, 1, 2]), torch.tensor([3, 5, 3, 5, 7])
    np.testing.assert_array_equal(term.counts(users, items).numpy(), [2, 1, 1, 0, 1])
    term.eval()
    np.testing.assert_allclose(term(users, items).detach().numpy(), np.log1p([2, 1, 1, 0, 1]), rtol=1e-6)
    term.train()
    np.testing.assert_allclose(term(users, items).detach().numpy(), np.log1p([1, 0, 0, 0, 0]), rtol=1e-6)
    # Shapes broadcast, as (n, 1) users against (n, k) candidates.
    block = term.counts(torch.tensor([[0], [1]]), torch.tensor([[3, 5, 9], [3, 5, 9]]))
    assert block.tolist() == [[2, 1, 0], [1, 0, 0]]


def _data(repeats: bool, seed: int = 0) -> TrainData:
    """Each user plays 6 tracks of their own; with ``repeats`` each of them 4 times over the period."""
    rng = np.random.default_rng(seed)
    own = np.stack([rng.choice(N_ITEMS, 6, replace=False) for _ in range(N_USERS)])
    users = np.repeat(np.arange(N_USERS), 6)
    items = own.reshape(-1)
    if repeats:
        users, items = np.tile(users, 4), np.tile(items, 4)
    order = rng.permutation(len(users))
    return TrainData(N_USERS, N_ITEMS, users[order], items[order], np.arange(len(users), dtype=np.int64), seed=seed)


def _fit(name: str, data: TrainData, **params: object) -> object:
    return fit(REGISTRY[name](epochs=15, lr=0.01, progress=False, **params), data)


@pytest.mark.parametrize("name", ["mf", "dmf"])
def test_without_repeats_the_term_changes_nothing(name: str) -> None:
    data = _data(repeats=False)
    users, items = np.arange(N_USERS), np.tile(np.arange(N_ITEMS), (N_USERS, 1))
    plain, with_term = _fit(name, data).score(users, items), _fit(name, data, repeat=True)
    np.testing.assert_array_equal(with_term.score(users, items), plain)
    assert with_term.module.repeat is None  # no pair played twice: no term is built


@pytest.mark.parametrize("name", ["mf", "dmf"])
def test_played_tracks_rank_above_unplayed_ones_and_survive_a_reload(name: str, tmp_path: Path) -> None:
    data = _data(repeats=True)
    model = _fit(name, data, repeat=True)
    assert float(model.module.repeat.weight.detach()) * RepeatTerm.SCALE > 1.0
    users, items = np.arange(N_USERS), np.tile(np.arange(N_ITEMS), (N_USERS, 1))
    scores = model.score(users, items)
    played = np.zeros((N_USERS, N_ITEMS), dtype=bool)
    played[data.users, data.items] = True
    # Every user's lowest played track is above their highest unplayed one.
    assert (np.where(played, scores, np.inf).min(1) > np.where(played, -np.inf, scores).max(1)).all()
    model.save(tmp_path)
    np.testing.assert_array_equal(REGISTRY[name].load(tmp_path).score(users, items), scores)
