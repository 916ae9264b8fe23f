"""Uniform negatives without replacement from the items a user never interacted with.

Two exact samplers, chosen per case:

* **rejection** (almost every case): draw items uniformly from the whole catalogue, drop the ones
  the user interacted with and repeats within the case, keep the first ``k`` survivors in draw
  order. Filtering an i.i.d. uniform stream this way is exactly sequential sampling without
  replacement from the allowed items, and it costs about ``k`` draws per case instead of one random
  key per catalogue item (200k cases x 30k items was 6e9 keys);
* **keys** (users who interacted with much of the catalogue, where most draws would be rejected):
  one uniform key per allowed item and the ``k`` smallest, which costs ``n_items`` per case but
  does not depend on how few items are left.
"""

from __future__ import annotations

import numpy as np

from amae.data.io import DataError
from amae.data.ranges import expand_ranges

MAX_CELLS = 20_000_000  # cases x items per chunk of the key sampler: bounds its key matrix to ~160 MB
#: cases x (k + draws) per chunk of the rejection sampler: its int64 working arrays stay ~32 MB each
REJECTION_CELLS = 4_000_000
#: a case is drawn by rejection when its user may get at least this share of the catalogue (so at
#: most ~1 / share draws per accepted item) and at least ``2 k`` items (so repeats stay rare)
MIN_ALLOWED_SHARE = 0.5
#: draws per round beyond the expected need: most cases finish in the first round, the rest redraw
OVERDRAW, EXTRA_DRAWS = 1.15, 8


def sample_negatives(users: np.ndarray, n_items: int, interacted: tuple[np.ndarray, np.ndarray],
                     k: int, seed: int) -> np.ndarray:
    """(n, k) negatives per case, uniform without replacement over the items its user never touched.

    Row ``j`` lists its ``k`` distinct items in the (random) order they were drawn. The same seed
    and inputs give the same array. Raises DataError when a user has fewer than ``k`` allowed items.
    """
    rng = np.random.default_rng(seed)
    users = np.asarray(users, dtype=np.int64)
    n = len(users)
    # int32 where the catalogue allows: 3.5M test cases x 99 negatives are 1.4 GB instead of 2.8
    out = np.empty((n, k), dtype=np.int32 if n_items < 2**31 else np.int64)
    if n == 0 or k == 0:
        return out
    inter_u = np.asarray(interacted[0], dtype=np.int64)
    inter_i = np.asarray(interacted[1], dtype=np.int64)
    n_users = int(max(users.max(), inter_u.max() if len(inter_u) else 0)) + 1
    # sorted keys user * n_items + item: membership is one searchsorted, and they are grouped by user
    # (sort + neighbour compare: np.unique's hash path took 7 s for 7.5M keys, this 0.4 s)
    forbidden = np.sort(inter_u * n_items + inter_i)
    forbidden = forbidden[np.r_[True, forbidden[1:] != forbidden[:-1]]] if len(forbidden) else forbidden
    allowed = n_items - np.bincount(forbidden // n_items, minlength=n_users)
    if (allowed[users] < k).any():
        bad = np.unique(users[allowed[users] < k])
        raise DataError(f"{len(bad)} user(s) have fewer than {k} items they never interacted with "
                         f"(e.g. user index {bad[0]}); use fewer negatives ([split] n_negatives)")
    case_allowed = allowed[users]
    by_rejection = (case_allowed >= 2 * k) & (case_allowed >= MIN_ALLOWED_SHARE * n_items)
    fast = np.flatnonzero(by_rejection)
    if len(fast):
        out[fast] = _sample_rejection(users[fast], case_allowed[fast], n_items, forbidden, k, rng)
    slow = np.flatnonzero(~by_rejection)
    if len(slow):
        out[slow] = _sample_keys(users[slow], n_items, forbidden, k, rng)
    return out


def _sample_rejection(users: np.ndarray, allowed: np.ndarray, n_items: int, forbidden: np.ndarray,
                      k: int, rng: np.random.Generator) -> np.ndarray:
    """Rejection sampling, vectorised over a chunk of cases; only cases still short draw again.

    Cases go by user, so a chunk's membership probes are nearly sorted and fall in one slice of
    ``forbidden`` (searchsorted several times faster than on probes in case order).
    """
    n = len(users)
    out = np.empty((n, k), dtype=np.int64)
    order = np.argsort(users, kind="stable")
    widest = int(np.ceil(k * n_items / allowed.min() * OVERDRAW)) + EXTRA_DRAWS
    chunk = max(1, REJECTION_CELLS // (k + widest))
    for a in range(0, n, chunk):
        rows = order[a:a + chunk]
        # the chunk's users are a contiguous range: only their slice of the keys is searched
        lo, hi = np.searchsorted(forbidden, [users[rows[0]] * n_items, (users[rows[-1]] + 1) * n_items])
        out[rows] = _reject_chunk(users[rows], allowed[rows], n_items, forbidden[lo:hi], k, rng)
    return out


def _reject_chunk(users: np.ndarray, allowed: np.ndarray, n_items: int, forbidden: np.ndarray,
                  k: int, rng: np.random.Generator) -> np.ndarray:
    """One chunk by rounds: every case still short draws about what it lacks, and keeps its first
    new, allowed draws; ``forbidden`` may be just the chunk's users' slice of the keys."""
    c = len(users)
    sentinel = n_items  # an unfilled slot: never an item
    got = np.full((c, k), sentinel, dtype=np.int64)
    have = np.zeros(c, dtype=np.int64)
    active = np.arange(c)
    last = max(len(forbidden) - 1, 0)
    while len(active):
        need = k - have[active]
        width = int(np.ceil((need * n_items / allowed[active]).max() * OVERDRAW)) + EXTRA_DRAWS
        draws = rng.integers(0, n_items, size=(len(active), width), dtype=np.int64)
        # What a case already holds goes in front of its new draws (after the first round).
        held = 0 if (have[active] == 0).all() else k
        row = np.concatenate([got[active], draws], axis=1) if held else draws
        # Sorting value * 2**bits + column per row puts the earliest copy of each value first: a
        # value is new where it differs from its sorted predecessor, and the sorted values make the
        # membership probes ascending. (Shifts, not // and %: int64 division was a third of the time.)
        bits = int(row.shape[1] - 1).bit_length()
        enc = np.sort((row << bits) | np.arange(row.shape[1]), axis=1)
        val = enc >> bits
        good = np.ones(enc.shape, dtype=bool)
        good[:, 1:] = val[:, 1:] != val[:, :-1]
        good &= val != sentinel
        if len(forbidden):
            probe = users[active, None] * n_items + val
            good &= forbidden[np.minimum(np.searchsorted(forbidden, probe), last)] != probe
        ok = np.empty_like(good)
        np.put_along_axis(ok, enc & ((1 << bits) - 1), good, axis=1)
        ok = ok[:, held:]  # accepted new draws, in draw order
        rank = np.cumsum(ok, axis=1)
        take = ok & (rank <= need[:, None])
        # flat destination of every draw (boolean masks, not nonzero + 2-D fancy indexing: 4x faster)
        dest = (active * k + have[active] - 1)[:, None] + rank
        got.reshape(-1)[dest[take]] = draws[take]
        have[active] += take.sum(axis=1)
        active = active[have[active] < k]
    return got


def _sample_keys(users: np.ndarray, n_items: int, forbidden: np.ndarray, k: int,
                 rng: np.random.Generator) -> np.ndarray:
    """The k smallest of uniform random keys over allowed items, in key order.

    Giving every forbidden item an infinite key and taking the k smallest with argpartition is
    exactly uniform sampling without replacement, and vectorised over cases; its cost is one key
    per catalogue item, hence only for users with few allowed items.
    """
    n = len(users)
    out = np.empty((n, k), dtype=np.int64)
    su, si = forbidden // n_items, forbidden % n_items
    chunk = max(1, MAX_CELLS // max(n_items, 1))
    for start in range(0, n, chunk):
        cu = users[start:start + chunk]
        keys = rng.random((len(cu), n_items))
        idx, rows = expand_ranges(np.searchsorted(su, cu, side="left"), np.searchsorted(su, cu, side="right"))
        keys[rows, si[idx]] = np.inf
        part = np.argpartition(keys, k - 1, axis=1)[:, :k]
        # Sort the chosen k by key so the order is part of the seeded draw, not of argpartition.
        chosen_keys = np.take_along_axis(keys, part, axis=1)
        out[start:start + len(cu)] = np.take_along_axis(part, np.argsort(chosen_keys, axis=1), axis=1)
    return out
