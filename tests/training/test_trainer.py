"""Training: negatives avoid positives, the same seed gives the same numbers, early stopping works."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from amae.models import REGISTRY, TrainData
from amae.protocol.split import split_interactions
from amae.training import fit
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
    rows = sp.fit_rows
    data = TrainData(n_users, n_items, inter["user_idx"].to_numpy()[rows], inter["item_idx"].to_numpy()[rows],
                     inter["timestamp"].to_numpy()[rows], valid=sp.valid, rows=rows, seed=seed)
    model = fit(REGISTRY[name](epochs=3, progress=False), data)
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


class _EpochProbe(torch.nn.Module):
    """A module whose only weight counts the epochs it was trained for (one step per epoch)."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch = torch.nn.Parameter(torch.zeros(()))

    def step(self, *_: torch.Tensor) -> torch.Tensor:
        # loss whose gradient moves ``epoch`` by exactly +1 per SGD step with lr 1 (set below)
        return -self.epoch


def _fit_probe(curve: list[float], **cfg: int) -> tuple[_EpochProbe, list[dict], Any]:
    """Train the probe against a scripted validation curve: epoch e scores ``curve[e-1]``."""
    from amae.protocol.split import EvalCases
    from amae.training import trainer

    probe = _EpochProbe()
    valid = EvalCases(np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64),
                      np.ones((1, 9), np.int64), np.zeros(1, bool))

    def score(users: np.ndarray, items: np.ndarray, times: np.ndarray) -> np.ndarray:
        epoch = int(round(float(probe.epoch.detach())))
        rank = curve[epoch - 1]  # the positive's rank among 10 at this epoch
        out = np.zeros(items.shape)
        out[:, 0] = 10 - rank  # rank r: r - 1 negatives above the positive
        out[:, 1:] = np.arange(9, 0, -1)[None, :] - 0.5
        return out

    def sgd(module: torch.nn.Module, lr: float, *args: Any) -> list[torch.optim.Optimizer]:
        return [torch.optim.SGD(module.parameters(), lr=1.0)]

    config = trainer.TrainConfig(**{"batch_size": 10**6, "progress": False, **cfg})
    orig = trainer.make_optimisers
    trainer.make_optimisers = sgd
    try:
        history, outcome = trainer.fit_pointwise(probe, probe.step, score, np.zeros(1, np.int64),
                                                 np.zeros(1, np.int64), 20, valid, config, 0,
                                                 torch.device("cpu"))
    finally:
        trainer.make_optimisers = orig
    return probe, history, outcome


def test_early_peak_then_higher_climb_is_not_kept() -> None:
    """Validation peaks at epoch 1, dips, then climbs above it at epoch 9: the epoch-9 weights win."""
    curve = [2, 6, 7, 7, 6, 5, 4, 3, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    probe, history, outcome = _fit_probe(curve, epochs=len(curve), patience=4, min_epochs=6)
    assert outcome.best_epoch == 9
    assert float(probe.epoch.detach()) == 9.0  # the restored weights are the epoch-9 ones
    assert outcome.stop_reason in ("converged", "patience") and outcome.epochs_run == 13
    assert not outcome.warnings
    # Without a minimum the old rule (patience 4 from the epoch-1 peak) kept near-initial weights.
    probe, _, early = _fit_probe(curve, epochs=len(curve), patience=4, min_epochs=0)
    assert early.best_epoch == 1 and float(probe.epoch.detach()) == 1.0
    assert any("first" in w for w in early.warnings)


def test_stop_reasons() -> None:
    rising = list(range(10, 0, -1))  # improves every epoch until the cap
    _, _, cap = _fit_probe(rising, epochs=10, patience=3, min_epochs=2)
    assert cap.stop_reason == "cap" and cap.best_epoch == 10 and any("cap" in w for w in cap.warnings)
    falling = [1, 1, 1, 1, 3, 5, 7, 9, 9, 9, 9, 9]  # peaks, then gets clearly worse
    _, _, fell = _fit_probe(falling, epochs=len(falling), patience=3, min_epochs=4)
    assert fell.stop_reason == "patience" and fell.epochs_run == 7
    flat = [3, 2, 1] + [1] * 20  # reaches a plateau and stays there
    _, _, plateau = _fit_probe(flat, epochs=len(flat), patience=3, min_epochs=4)
    assert plateau.stop_reason == "converged" and plateau.best_epoch == 3


def _cases(n_new: int, n_old: int) -> Any:
    from amae.protocol.split import EvalCases

    n = n_new + n_old
    return EvalCases(np.arange(n), np.arange(n), np.arange(n), np.ones((n, 3), np.int64),
                     np.arange(n) < n_new)


def test_stopping_reads_new_pairs_unless_too_few() -> None:
    from amae.training.trainer import MIN_STOP_CASES, stopping_cases

    chosen, view = stopping_cases(_cases(MIN_STOP_CASES, 30), "new_pairs")
    assert view == "new_pairs" and len(chosen) == MIN_STOP_CASES and chosen.new_pair.all()
    chosen, view = stopping_cases(_cases(MIN_STOP_CASES - 1, 30), "new_pairs")
    assert view == "all" and len(chosen) == MIN_STOP_CASES + 29
    chosen, view = stopping_cases(_cases(MIN_STOP_CASES, 30), "all")
    assert view == "all" and len(chosen) == MIN_STOP_CASES + 30
    assert stopping_cases(None, "new_pairs") == (None, "all")


def test_fit_stops_on_the_chosen_view() -> None:
    """The recorded best validation NDCG@10 is the restored model's NDCG@10 on the cases it stopped on."""
    from amae.protocol.metrics import sampled_ranks, summarise

    inter, n_users, n_items = toy_world_interactions()
    sp = split_interactions(inter, n_items, seed=0)
    rows = sp.fit_rows
    data = TrainData(n_users, n_items, inter["user_idx"].to_numpy()[rows], inter["item_idx"].to_numpy()[rows],
                     inter["timestamp"].to_numpy()[rows], valid=sp.valid, rows=rows, seed=0)
    assert sp.valid.new_pair.sum() >= 50 and not sp.valid.new_pair.all()
    for stop_on, cases in (("new_pairs", sp.valid.subset(sp.valid.new_pair)), ("all", sp.valid)):
        model = fit(REGISTRY["mf"](epochs=3, min_epochs=1, stop_on=stop_on, progress=False), data)
        assert model.fit_outcome["stopped_on"] == stop_on
        got = summarise(sampled_ranks(model.score, cases))["NDCG@10"]
        assert got == pytest.approx(model.fit_outcome["best_valid_NDCG@10"], abs=1e-6)


def test_unknown_stop_view_is_refused() -> None:
    from amae.models.base import check_params

    with pytest.raises(ValueError, match="stop_on must be one of new_pairs, all"):
        REGISTRY["mf"](stop_on="sideways")
    assert "one of new_pairs, all" in check_params(REGISTRY["mf"], {"stop_on": "sideways"})[0]
