"""Half-open index ranges ``[lo, hi)``: the one idiom behind every "rows of each case" gather.

Posts of a contextual window, a user's interactions in a CSR matrix, the played items of a batch
of cases: each is a range into a sorted array, and a batch of them is gathered with one
vectorised expansion instead of a Python loop over cases.
"""

from __future__ import annotations

import numpy as np


def expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated ``arange(lo[j], hi[j])`` over j, and the range ``j`` each element came from.

    Empty ranges contribute nothing. Both outputs are int64 and have ``sum(hi - lo)`` entries.
    """
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.asarray(hi, dtype=np.int64)
    lens = np.maximum(hi - lo, 0)
    total = int(lens.sum())
    owner = np.repeat(np.arange(len(lo), dtype=np.int64), lens)
    if total == 0:
        return np.zeros(0, np.int64), owner
    starts = np.cumsum(lens) - lens  # where each range begins in the output
    index = np.arange(total, dtype=np.int64) - starts[owner] + lo[owner]
    return index, owner


def csr_offsets(sorted_keys: np.ndarray, n_rows: int) -> np.ndarray:
    """``(n_rows + 1,)`` offsets of each row's run in an array sorted by row (``indptr`` of a CSR)."""
    return np.searchsorted(np.asarray(sorted_keys), np.arange(n_rows + 1), side="left").astype(np.int64)


def build_csr(rows: np.ndarray, cols: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr, indices)`` of the binary matrix with an entry at each distinct ``(rows[j], cols[j])``.

    Repeated pairs count once and each row's columns come out sorted, so the result does not depend
    on the input order.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    width = int(cols.max()) + 1 if len(cols) else 1
    keys = np.unique(rows * width + cols)
    return csr_offsets(keys // width, n_rows), keys % width


def window_counts(post_user: np.ndarray, post_time: np.ndarray, users: np.ndarray, times: np.ndarray,
                  window: int) -> np.ndarray:
    """Posts of ``users[i]`` with ``times[i] - window <= time < times[i]``, for every i."""
    post_user = np.asarray(post_user, np.int64)
    post_time = np.asarray(post_time, np.int64)
    users = np.asarray(users, np.int64)
    times = np.asarray(times, np.int64)
    if len(post_user) == 0 or len(users) == 0:
        return np.zeros(len(users), dtype=np.int64)
    lo_t = min(int(post_time.min()), int(times.min()) - window)
    span = max(int(post_time.max()), int(times.max())) - lo_t + 1
    keys = np.sort(post_user * span + (post_time - lo_t))
    hi = np.searchsorted(keys, users * span + (times - lo_t), side="left")
    lo = np.searchsorted(keys, users * span + (times - window - lo_t), side="left")
    return hi - lo
