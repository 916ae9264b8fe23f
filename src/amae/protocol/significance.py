"""Seed aggregation, intervals of metric differences and what a design can detect.

:func:`paired_stats` is what the reports use. A difference between two methods varies with the
training seed *and* with the test cases (method seed k is paired with reference seed k on the same
cases), so its standard error has both parts::

    SE² = var_s(m_s) / S + var_c(d̄_c) / n

where ``m_s`` is seed s's mean difference over the n cases and ``d̄_c`` is case c's difference
averaged over the S seeds. The interval is Student's t with Welch-Satterthwaite degrees of
freedom, so with three seeds it is as wide as three seeds deserve (a bootstrap that resamples
three seeds sees at most ten distinct means; by calculation its interval is about 2.7 times
narrower than t with 2 degrees of freedom, 1.96·sqrt(2/3) against 4.30 standard errors).
With one seed only the case part exists and the interval covers test-case noise only; reports
say so. The same standard error gives the **minimum detectable
effect** (MDE): the true difference the design calls significant with probability ``power``,
``(t_{1-α/2} + t_power) · SE``. ``tests/protocol/test_significance.py`` checks the coverage and
the power on planted variance. :func:`paired_bootstrap` (cases only) is kept for one-seed checks.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

LEVEL = 0.95
POWER = 0.80
#: most seeds a verdict ever suggests
MAX_SEEDS = 50


def mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n_boot: int = 1000, seed: int = 0,
                     level: float = 0.95) -> tuple[float, float, float]:
    """Mean difference ``a - b`` over cases and its bootstrap interval (cases resampled jointly)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError("paired bootstrap needs per-case values for the same cases")
    diff = a - b
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diff), (n_boot, len(diff)))
    means = diff[idx].mean(axis=1)
    tail = (1 - level) / 2
    return float(diff.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def paired_stats(a: np.ndarray, b: np.ndarray, level: float = LEVEL, power: float = POWER) -> dict[str, float]:
    """Mean difference of (seeds, cases) arrays ``a - b``, its t interval and what it could detect.

    Row s of ``a`` and ``b``: the same training seed, the same test cases. Returns ``mean``,
    ``low``, ``high``, ``se``, ``df``, ``mde`` and the two variance parts per unit
    (``seed_var``: of a seed's mean difference; ``case_var``: of a case's seed-averaged difference)
    with ``n_seeds`` and ``n_cases``, from which :func:`seeds_for` projects other designs.
    """
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired stats need equal, non-empty (seeds, cases) arrays: {a.shape} vs {b.shape}")
    diff = a - b
    n_seeds, n_cases = diff.shape
    seed_var = float(diff.mean(axis=1).var(ddof=1)) if n_seeds > 1 else 0.0
    case_var = float(diff.mean(axis=0).var(ddof=1)) if n_cases > 1 else 0.0
    out = {"mean": float(diff.mean()), "seed_var": seed_var, "case_var": case_var,
           "n_seeds": float(n_seeds), "n_cases": float(n_cases)}
    se, df = _se_df(seed_var, case_var, n_seeds, n_cases)
    q = stats.t.ppf(0.5 + level / 2, df) if df > 0 else math.inf
    out.update(se=se, df=df, low=out["mean"] - q * se, high=out["mean"] + q * se,
               mde=detectable(se, df, level, power))
    return out


def _se_df(seed_var: float, case_var: float, n_seeds: int, n_cases: int) -> tuple[float, float]:
    """Standard error and Welch-Satterthwaite degrees of freedom of the two-part variance."""
    a, b = seed_var / max(n_seeds, 1), case_var / max(n_cases, 1)
    se2 = a + b
    if se2 <= 0:
        return 0.0, float(max(n_cases - 1, 1))
    parts = (a * a / (n_seeds - 1) if n_seeds > 1 else 0.0) + (b * b / (n_cases - 1) if n_cases > 1 else 0.0)
    df = se2 * se2 / parts if parts > 0 else float(max(n_cases - 1, 1))
    return math.sqrt(se2), float(df)


def detectable(se: float, df: float, level: float = LEVEL, power: float = POWER) -> float:
    """The true difference a test at ``level`` detects with probability ``power``."""
    if df <= 0:
        return math.inf
    return float((stats.t.ppf(0.5 + level / 2, df) + stats.t.ppf(power, df)) * se)


def seeds_for(st: dict[str, float], effect: float, level: float = LEVEL, power: float = POWER) -> int | None:
    """Fewest seeds whose MDE is at most ``effect`` (variances as measured); None when more seeds
    cannot get there (the test cases' own noise is larger) or it would take over :data:`MAX_SEEDS`."""
    n_cases = int(st["n_cases"])
    for seeds in range(max(int(st["n_seeds"]), 2), MAX_SEEDS + 1):
        se, df = _se_df(st["seed_var"], st["case_var"], seeds, n_cases)
        if detectable(se, df, level, power) <= effect:
            return seeds
    return None
