"""The interval and the minimum detectable effect hold what they promise, on planted variance."""

from __future__ import annotations

import numpy as np
import pytest

from amae.protocol.significance import detectable, paired_stats, seeds_for

SEEDS, CASES = 3, 400
SEED_SD, CASE_SD, NOISE_SD = 0.02, 0.3, 0.2


def _experiment(rng: np.random.Generator, effect: float) -> tuple[np.ndarray, np.ndarray]:
    """(seeds, cases) per-case metrics of a method and its reference: the true difference is
    ``effect``; each training seed shifts it, each test case has its own difficulty (shared by the
    seeds, as the test set is) and every (seed, case) its own noise."""
    ref = rng.random((SEEDS, CASES))
    seed_shift = rng.normal(0, SEED_SD, (SEEDS, 1))
    case_shift = rng.normal(0, CASE_SD, (1, CASES))
    noise = rng.normal(0, NOISE_SD, (SEEDS, CASES))
    return ref + effect + seed_shift + case_shift + noise, ref


def _runs(effect: float, n: int = 300, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [paired_stats(*_experiment(rng, effect)) for _ in range(n)]


def test_interval_covers_the_true_difference_and_rarely_calls_noise_a_gain() -> None:
    runs = _runs(0.0)
    false_gain = np.mean([r["low"] > 0 for r in runs])
    covered = np.mean([r["low"] <= 0 <= r["high"] for r in runs])
    assert false_gain <= 0.05  # one-sided 2.5% nominal
    assert covered >= 0.92


def test_an_effect_of_the_stated_mde_is_detected_four_times_in_five() -> None:
    mde = float(np.mean([r["mde"] for r in _runs(0.0, seed=1)]))
    detected = np.mean([r["low"] > 0 for r in _runs(mde, seed=2)])
    assert 0.68 <= detected <= 0.93, detected
    # and half of it mostly goes unseen: the statement is not vacuous
    assert np.mean([r["low"] > 0 for r in _runs(mde / 2, seed=3)]) < 0.5


def test_seed_variance_widens_the_interval() -> None:
    rng = np.random.default_rng(4)
    a, b = _experiment(rng, 0.05)
    calm = paired_stats(a, b)
    a2 = a + np.array([[0.1], [-0.1], [0.0]])  # seeds that disagree
    wild = paired_stats(a2, b)
    assert wild["high"] - wild["low"] > 3 * (calm["high"] - calm["low"])
    assert wild["mde"] > calm["mde"] and wild["df"] < calm["df"]


def test_seeds_for_projects_the_design() -> None:
    st = {"seed_var": 0.01, "case_var": 0.0, "n_seeds": 3.0, "n_cases": 1000.0}
    need = seeds_for(st, 0.1)
    se = np.sqrt(0.01 / need)
    assert detectable(se, need - 1) <= 0.1 < detectable(np.sqrt(0.01 / (need - 1)), need - 2)
    # when the test cases alone are too noisy, no number of seeds is promised
    assert seeds_for({"seed_var": 0.0, "case_var": 1.0, "n_seeds": 3.0, "n_cases": 100.0}, 0.01) is None


def test_paired_stats_refuses_mismatched_arrays() -> None:
    with pytest.raises(ValueError, match="equal"):
        paired_stats(np.zeros((2, 3)), np.zeros((2, 4)))
