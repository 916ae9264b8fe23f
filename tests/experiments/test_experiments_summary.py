"""Seed summaries and paired differences against MF, from saved ranks; the verdict's words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from amae.experiments.summary import differences_vs_reference, seed_summary


def _cell(root: Path, name: str, seed: int, sampled: np.ndarray, full: np.ndarray | None = None) -> Path:
    d = root / f"{name}-seed{seed}"
    d.mkdir(parents=True)
    np.save(d / "sampled_ranks.npy", np.asarray(sampled, dtype=np.int64))
    if full is not None:
        np.save(d / "full_ranks.npy", np.asarray(full, dtype=np.int64))
    return d


def test_differences_pair_same_seed_and_same_case(tmp_path: Path) -> None:
    n = 200
    good, bad = np.ones(n), np.full(n, 50)
    # The reference is good at seed 0 and bad at seed 1; the method likewise. Paired by seed, the
    # difference is exactly zero; any mispairing (seed 0 with seed 1) would give +-1 per case.
    ref = {0: _cell(tmp_path, "mf", 0, good), 1: _cell(tmp_path, "mf", 1, bad)}
    meth = {0: _cell(tmp_path, "x", 0, good), 1: _cell(tmp_path, "x", 1, bad)}
    out = differences_vs_reference(meth, ref)
    assert out["sampled"]["HR@10"] == [0.0, 0.0, 0.0]
    assert out["sampled"]["n_pairs"][0] == n and out["sampled"]["n_seeds"][0] == 2
    assert "full" not in out  # no full-ranking ranks saved


def test_difference_and_interval(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 400
    ref_ranks = rng.integers(1, 30, n)
    meth_ranks = np.where(np.arange(n) < 100, 1, ref_ranks)  # a quarter of the cases become hits
    new_pair = np.arange(n) % 2 == 0
    ref = {0: _cell(tmp_path, "mf", 0, ref_ranks, ref_ranks)}
    meth = {0: _cell(tmp_path, "x", 0, meth_ranks, meth_ranks), 5: _cell(tmp_path, "x", 5, meth_ranks)}
    out = differences_vs_reference(meth, ref, new_pair=new_pair)
    expected = float(((meth_ranks <= 10).astype(float) - (ref_ranks <= 10)).mean())
    mean, lo, hi = out["sampled"]["HR@10"]
    assert mean == pytest.approx(expected)
    assert 0 < lo < mean < hi
    assert out["sampled"]["n_pairs"][0] == n  # seed 5 has no MF partner: left out
    sel = new_pair
    exp_new = float(((meth_ranks[sel] <= 10).astype(float) - (ref_ranks[sel] <= 10)).mean())
    assert out["full_new_pairs"]["HR@10"][0] == pytest.approx(exp_new)


def test_differences_reject_different_cases(tmp_path: Path) -> None:
    ref = {0: _cell(tmp_path, "mf", 0, np.ones(10))}
    meth = {0: _cell(tmp_path, "x", 0, np.ones(11))}
    with pytest.raises(ValueError, match="different test cases"):
        differences_vs_reference(meth, ref)


def test_seed_summary_mean_std_and_nan_views() -> None:
    cells = [{"sampled": {"HR@10": 0.5, "NDCG@10": 0.2, "MRR": 0.1, "n": 10},
              "sampled_new_pairs": {"HR@10": float("nan"), "n": 0}},
             {"sampled": {"HR@10": 0.7, "NDCG@10": 0.4, "MRR": 0.3, "n": 10},
              "sampled_new_pairs": {"HR@10": float("nan"), "n": 0}}]
    s = seed_summary(cells)
    assert s["sampled"]["HR@10"][0] == pytest.approx(0.6)
    assert s["sampled"]["HR@10"][1] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert "sampled_new_pairs" not in s  # a view without cases is left out, not NaN


def test_interval_includes_seed_variance(tmp_path: Path) -> None:
    """Seeds that disagree widen the interval beyond what pooling their cases would give."""
    from amae.protocol.significance import paired_bootstrap

    rng = np.random.default_rng(1)
    n = 600
    ref = {s: _cell(tmp_path, "mf", s, rng.integers(1, 30, n)) for s in range(4)}
    # the method helps a lot on two seeds and hurts on the other two: the average effect is small
    meth = {s: _cell(tmp_path, "x", s, np.where(rng.random(n) < (0.3 if s % 2 else -0.0), 1,
                                               rng.integers(1 if s % 2 else 8, 40, n))) for s in range(4)}
    out = differences_vs_reference(meth, ref)
    mean, lo, hi = out["sampled"]["HR@10"]
    a = np.concatenate([(np.load(meth[s] / "sampled_ranks.npy") <= 10) for s in range(4)]).astype(float)
    b = np.concatenate([(np.load(ref[s] / "sampled_ranks.npy") <= 10) for s in range(4)]).astype(float)
    _, plo, phi = paired_bootstrap(a, b)
    assert (hi - lo) > 1.5 * (phi - plo)


def _row(mf: tuple[float, float, float], noise: tuple[float, float, float] | None, mde: float = 0.01,
         control_mf: float | None = 0.0) -> dict:
    """A content row as the runner hands it to the verdict: (mean, low, high) differences and MDE."""
    def st(m: tuple[float, float, float]) -> dict:
        st = {"mean": m[0], "low": m[1], "high": m[2], "mde": mde, "n_seeds": 3.0, "n_cases": 2000.0,
              "seed_var": (mde / 4) ** 2 * 3, "case_var": 0.01}
        return {"stats": {"full_new_pairs": {"NDCG@10": st}}}
    r: dict = {"vs_mf": st(mf), "controls": {"noise": {"vs_mf_mean": control_mf}}}
    if noise is not None:
        r["vs_noise"] = st(noise)
    return r


def test_verdict_calls_a_gain_a_gain_only_against_its_noise_control() -> None:
    from amae.experiments.verdict import verdict

    assert verdict(_row((0.05, 0.02, 0.08), (0.03, 0.01, 0.05)), 0.5).startswith("content gain")
    # beats MF by as much as its noise control does: capacity, not content
    v = verdict(_row((0.05, 0.02, 0.08), (0.0, -0.02, 0.02), control_mf=0.05), 0.5)
    assert v.startswith("no content gain detected") and "noise control does as well" in v
    # the noise control does not beat MF: the words must not say it does
    v = verdict(_row((0.05, 0.02, 0.08), (0.03, -0.01, 0.07), control_mf=0.0), 0.5)
    assert "does as well" not in v and "more than its noise control" in v
    assert verdict(_row((0.0, -0.02, 0.02), (0.03, 0.01, 0.05)), 0.5) == "beats its noise control, not MF"
    assert verdict(_row((-0.05, -0.08, -0.02), (-0.03, -0.05, -0.01)), 0.5) == "below its noise control"
    assert verdict(_row((0.0, -0.02, 0.02), None), 0.5) == "no noise control: not judged"


def test_verdict_states_what_it_could_have_detected() -> None:
    from amae.experiments.verdict import verdict

    # MDE 0.01 <= a tenth of 0.5: a "no" that would have seen an effect of 0.01
    v = verdict(_row((0.0, -0.02, 0.02), (0.0, -0.005, 0.005), mde=0.01), 0.5)
    assert v.startswith("no content gain detected: an effect of 0.0100 or more would have been seen")
    # MDE 0.06 > 0.05: inconclusive, and the seeds that would make it conclusive
    v = verdict(_row((0.0, -0.02, 0.02), (0.01, -0.02, 0.04), mde=0.06), 0.5)
    assert v.startswith("inconclusive: effects below 0.0600 cannot be seen with 3 seed(s)") and "--seeds" in v


def test_an_inconclusive_verdict_on_real_data_names_the_world_like_it() -> None:
    from amae.experiments.summarising import point_to_like

    tables = {"II": {"rows": [{"verdict": "inconclusive: effects below 0.06 ..."}, {"verdict": "content gain: ..."}]}}
    point_to_like(tables, Path("my_ws"))
    first, second = tables["II"]["rows"]
    assert "amae world W --like my_ws" in first["verdict"] and "--like" not in second["verdict"]
