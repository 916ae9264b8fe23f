"""Uniform negatives without replacement from the items a user never interacted with."""

from __future__ import annotations

import numpy as np

from amae.data.io import DataError

MAX_CELLS = 20_000_000  # cases x items per chunk: bounds the random-key matrix to ~160 MB


def sample_negatives(users: np.ndarray, n_items: int, interacted: tuple[np.ndarray, np.ndarray],
                     k: int, seed: int) -> np.ndarray:
    """(n, k) negatives per case: the k smallest of uniform random keys over allowed items.

    Giving every forbidden item an infinite key and taking the k smallest with argpartition is
    exactly uniform sampling without replacement, and vectorised over cases.
    """
    rng = np.random.default_rng(seed)
    users = np.asarray(users, dtype=np.int64)
    n = len(users)
    out = np.empty((n, k), dtype=np.int64)
    if n == 0:
        return out
    inter_u = np.asarray(interacted[0], dtype=np.int64)
    inter_i = np.asarray(interacted[1], dtype=np.int64)
    n_users = int(max(users.max(), inter_u.max() if len(inter_u) else 0)) + 1
    allowed = n_items - np.bincount(np.unique(inter_u * n_items + inter_i) // n_items, minlength=n_users)
    if (allowed[users] < k).any():
        bad = np.unique(users[allowed[users] < k])
        raise DataError(f"{len(bad)} user(s) have fewer than {k} items they never interacted with "
                         f"(e.g. user index {bad[0]}); use fewer negatives ([split] n_negatives)")
    order = np.argsort(inter_u, kind="stable")
    su, si = inter_u[order], inter_i[order]
    chunk = max(1, MAX_CELLS // max(n_items, 1))
    for start in range(0, n, chunk):
        cu = users[start:start + chunk]
        keys = rng.random((len(cu), n_items))
        lo = np.searchsorted(su, cu, side="left")
        hi = np.searchsorted(su, cu, side="right")
        lens = hi - lo
        rows = np.repeat(np.arange(len(cu)), lens)
        idx = np.repeat(lo - np.cumsum(np.r_[0, lens[:-1]]), lens) + np.arange(lens.sum())
        keys[rows, si[idx]] = np.inf
        part = np.argpartition(keys, k - 1, axis=1)[:, :k]
        # Sort the chosen k by key so the order is part of the seeded draw, not of argpartition.
        chosen_keys = np.take_along_axis(keys, part, axis=1)
        out[start:start + len(cu)] = np.take_along_axis(part, np.argsort(chosen_keys, axis=1), axis=1)
    return out
