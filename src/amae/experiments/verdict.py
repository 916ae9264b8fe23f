"""What a content row may claim and what it could have seen: the verdict's words.

The numbers come from :func:`amae.protocol.significance.paired_stats` (a t interval whose
standard error holds the seed-to-seed and the case-to-case variance, and the minimum detectable
effect, MDE, of the same design). A "no" is then either "no gain detected, and a gain of MDE or
more would have been seen" or "inconclusive", with the seeds that would make it conclusive.
"""

from __future__ import annotations

from typing import Any

from amae.protocol.significance import MAX_SEEDS, seeds_for

#: the metric every content verdict is read on, fixed before any run [choice]: NDCG@10 with full
#: ranking (not reordered by negative sampling, Krichene & Rendle 2020) on **new pairs**, i.e.
#: discovery. A re-listen is ranked against unplayed tracks only, so on it any model that
#: remembers plays scores near 1 whatever the posts say: the all-pairs figure mostly measures
#: memorisation, which posts cannot change and which varies with training length (on the demo
#: world the all-pairs difference between MF+AMAE and its noise control varied twice as much over
#: seeds, and the noise control gained +0.047 over MF on all pairs from capacity alone, -0.004 on
#: new pairs). The all-pairs difference stands beside it.
VERDICT_METRIC = ("full_new_pairs", "NDCG@10")
#: shown beside the verdict: the same difference on every test pair, re-listens included
ALL_PAIRS_METRIC = ("full", "NDCG@10")
#: the smallest gain worth detecting, relative to MF on the verdict metric [choice]: a tenth of
#: MF's NDCG@10, about the relative gain the paper reports for its full model
MIN_EFFECT_SHARE = 0.10


def _get(row: dict[str, Any], key: str, view: tuple[str, str]) -> dict[str, float] | None:
    return ((row.get(key) or {}).get("stats") or {}).get(view[0], {}).get(view[1])


def _num(x: float) -> str:
    return f"{x:+.4f}" if abs(x) < 1e6 else "∞"


def verdict(row: dict[str, Any], reference_value: float | None, metric: tuple[str, str] = VERDICT_METRIC) -> str:
    """The words a content row earns on ``metric``, with its power (``reference_value``: MF's mean).

    A gain is called a gain only when the row beats its noise control and MF. A row that beats MF
    while its noise control also beats MF by a comparable amount is told that its gain over MF is
    capacity or schedule, not content. A "no" says what it could have detected.
    """
    noise, mf = _get(row, "vs_noise", metric), _get(row, "vs_mf", metric)
    if noise is None:
        return "no noise control: not judged"
    if noise["low"] > 0 and mf is not None and mf["low"] > 0:
        return (f"content gain: {_num(noise['mean'])} over its noise control "
                f"[{_num(noise['low'])}, {_num(noise['high'])}]")
    if noise["low"] > 0:
        return "beats its noise control, not MF"
    if noise["high"] < 0:
        return "below its noise control"
    return _no_gain(row, noise, mf, reference_value)


def _no_gain(row: dict[str, Any], noise: dict[str, float], mf: dict[str, float] | None,
             reference_value: float | None) -> str:
    """"no content gain detected" with what would have been seen, or "inconclusive" with the seeds."""
    mde = noise["mde"]
    wanted = MIN_EFFECT_SHARE * reference_value if reference_value and reference_value > 0 else None
    n = int(noise["n_seeds"])
    if wanted is not None and mde > wanted:
        more = seeds_for(noise, wanted)
        cases_only = seeds_for({**noise, "seed_var": 0.0}, wanted)
        advice = (f"run --seeds {more}" if more is not None
                  else "more seeds alone cannot get there (the test cases' own noise is larger)" if cases_only is None
                  else f"it would take more than {MAX_SEEDS} seeds: the training runs disagree too much")
        text = (f"inconclusive: effects below {mde:.4f} cannot be seen with {n} seed(s) "
                f"(the smallest effect of interest is {wanted:.4f}); {advice}")
    else:
        text = f"no content gain detected: an effect of {mde:.4f} or more would have been seen"
    control_mf = (row.get("controls", {}).get("noise") or {}).get("vs_mf_mean")
    if mf is not None and mf["low"] > 0 and control_mf is not None and control_mf >= 0.5 * mf["mean"]:
        text += (f"; it beats MF by {mf['mean']:+.4f}, but its noise control does as well ({control_mf:+.4f}): "
                 "capacity or schedule, not content")
    elif mf is not None and mf["low"] > 0:
        text += f"; it beats MF by {mf['mean']:+.4f}, more than its noise control does, but not significantly"
    return text
