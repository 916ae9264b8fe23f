"""Seed aggregation and bootstrap intervals of metric differences.

:func:`hierarchical_bootstrap` is the one the reports use: a difference between two methods
varies with the training seed *and* with the test cases, so each resample first draws seeds
(with replacement; method seed k stays paired with reference seed k), then test cases within each
drawn seed (the same cases for both methods). With one seed only the second level exists and the
interval covers test-case noise alone; reports say so.
"""

from __future__ import annotations

import numpy as np


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


def hierarchical_bootstrap(a: np.ndarray, b: np.ndarray, n_boot: int = 1000, seed: int = 0,
                           level: float = 0.95, max_block: int = 20_000_000) -> tuple[float, float, float]:
    """Mean difference ``a - b`` and its two-level bootstrap interval; ``a``, ``b``: (seeds, cases).

    Row s of ``a`` and of ``b`` come from the same training seed and the same test cases. Each of
    the ``n_boot`` resamples draws S seeds with replacement, then, for each drawn seed, n cases with
    replacement, and averages the paired differences. Resamples are drawn in blocks of at most
    ``max_block`` indices, so memory stays bounded whatever the number of test cases.
    """
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"hierarchical bootstrap needs equal, non-empty (seeds, cases) arrays: {a.shape} vs {b.shape}")
    diff = a - b
    n_seeds, n_cases = diff.shape
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot, dtype=np.float64)
    block = max(1, max_block // max(n_seeds * n_cases, 1))
    for start in range(0, n_boot, block):
        m = min(block, n_boot - start)
        seeds = rng.integers(0, n_seeds, (m, n_seeds, 1))
        cases = rng.integers(0, n_cases, (m, n_seeds, n_cases))
        means[start:start + m] = diff[seeds, cases].mean(axis=(1, 2))
    tail = (1 - level) / 2
    return float(diff.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))
