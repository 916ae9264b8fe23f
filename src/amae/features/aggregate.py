"""Global and contextual aggregation of per-post feature vectors (docs/design.md sections 5.1-5.2).

For one modality the paper uses two user representations built from post vectors:

* the **global** vector ``x_u^g``: the mean over the user's posts in the training period
  (leakage-safe default) or over all posts (``global_until=None``, the paper's reading);
* the **contextual** vector ``x_ut^c``: the mean over the user's posts with
  ``t - window <= time < t``; when that window is empty the global vector is used instead (the
  paper's padding) and ``context_empty`` is set.

Why it is built this way: at the paper's scale (45M posts, 17.8M interactions) anything that
loops in Python over posts or interactions is far too slow, and a float64 prefix-sum matrix over
all posts and all dimensions does not fit in memory. So posts are sorted once by (user, time),
each interaction becomes a half-open range ``[lo, hi)`` of sorted posts found by two binary
searches on a composite integer key, identical ranges are reduced with ``np.unique``, and the sums
are taken from float64 prefix sums built one *column block* at a time, so peak memory is bounded
by ``max_block_bytes`` plus the outputs, whatever the feature dimension. The feature matrix may be
an ``np.memmap`` in float16 or float32; only the rows of the current block are read and upcast.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from amae.protocol.split import period_end, training_until

__all__ = [
    "DEFAULT_WINDOW_SECONDS",
    "Aggregated",
    "aggregate",
    "training_cutoffs",
]

#: The paper's contextual window: the 24 hours before the interaction.
DEFAULT_WINDOW_SECONDS = 24 * 3600

_INT64_MIN = np.iinfo(np.int64).min
_INT64_MAX = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Aggregated:
    """Aggregated features for one modality.

    Attributes:
        global_: ``(n_users, D)`` float32, mean of each user's posts before the global cutoff;
            zeros for a user with no such post.
        contextual: ``(n_inter, D)`` float32, mean of the user's posts in ``[t - window, t)``, or
            the user's global vector when that window is empty.
        context_empty: ``(n_inter,)`` bool, True where the contextual window held no post and the
            global vector was substituted.
        n_context_posts: ``(n_inter,)`` int32, number of posts averaged into ``contextual``.
        user_has_posts: ``(n_users,)`` bool, False where ``global_`` is zeros for lack of posts.
        n_global_posts: ``(n_users,)`` int32, number of posts averaged into ``global_``.
    """

    global_: np.ndarray
    contextual: np.ndarray
    context_empty: np.ndarray
    n_context_posts: np.ndarray
    user_has_posts: np.ndarray
    n_global_posts: np.ndarray


def training_cutoffs(
    inter_user: np.ndarray, inter_time: np.ndarray, is_train: np.ndarray, n_users: int
) -> np.ndarray:
    """Per-user ``global_until`` marking the end of each user's training period.

    The cutoff is one second after the user's last training interaction, so posts up to and
    including that second count as "training period" and nothing later does (this keeps test-period
    posts out of the global vector). Users without a training interaction get ``INT64_MIN``: no post
    qualifies and their global vector is zeros with ``user_has_posts`` False.
    """
    inter_user = _as_int64(inter_user, "inter_user")
    inter_time = _as_int64(inter_time, "inter_time")
    is_train = np.asarray(is_train, dtype=bool)
    if not (inter_user.shape == inter_time.shape == is_train.shape):
        raise ValueError(
            f"inter_user, inter_time and is_train must have the same length, got "
            f"{inter_user.shape}, {inter_time.shape}, {is_train.shape}"
        )
    _check_users(inter_user, n_users, "inter_user")
    return training_until(period_end(inter_user[is_train], inter_time[is_train], n_users))


def aggregate(
    post_user: np.ndarray,
    post_time: np.ndarray,
    post_features: np.ndarray,
    inter_user: np.ndarray,
    inter_time: np.ndarray,
    n_users: int,
    *,
    global_until: np.ndarray | int | None,
    window: int = DEFAULT_WINDOW_SECONDS,
    max_block_bytes: int = 256 * 2**20,
    row_chunk: int = 1 << 18,
    workers: int = 1,
    out_contextual: np.ndarray | None = None,
) -> Aggregated:
    """Compute global and contextual mean vectors for one modality.

    Args:
        post_user: ``(n_posts,)`` dense user index of each post, in ``[0, n_users)``.
        post_time: ``(n_posts,)`` unix seconds of each post.
        post_features: ``(n_posts, D)`` float16/float32/float64 features (may be an ``np.memmap``).
        inter_user: ``(n_inter,)`` dense user index of each interaction.
        inter_time: ``(n_inter,)`` unix seconds of each interaction.
        n_users: number of users (rows of the global matrix).
        global_until: posts with ``time < global_until`` form the global vector. A per-user
            ``(n_users,)`` int array (see :func:`training_cutoffs`), a scalar for everybody, or
            ``None`` for all posts (the paper's ``--global-window all``). It is required on
            purpose: the leakage-safe choice depends on the split, which only the caller knows.
        window: contextual window length in seconds; the window is ``[t - window, t)``, so a post
            exactly at ``t - window`` is included and a post at ``t`` is not.
        max_block_bytes: budget for the float64 prefix-sum block; sets how many feature columns
            are processed per pass (at least one).
        row_chunk: rows read and upcast at once while building prefix sums, and interactions
            written at once, to bound temporaries.
        workers: threads working on different column blocks at once (each with its share of
            ``max_block_bytes``); 1 keeps everything in the calling thread.
        out_contextual: optional preallocated ``(n_inter, D)`` float32 array (e.g. a memmap) to
            write the contextual matrix into, so it need not live in RAM.

    Returns:
        An :class:`Aggregated` with float32 matrices.
    """
    post_user, post_time, inter_user, inter_time, n_users, window = _checked_inputs(
        post_user, post_time, post_features, inter_user, inter_time, n_users, window, out_contextual
    )
    n_posts = post_features.shape[0]
    index = _PostIndex(post_user, post_time, n_users)
    g_lo, g_hi = _global_ranges(index, n_users, global_until)
    n_global = (g_hi - g_lo).astype(np.int32)
    windows = _context_windows(index, inter_user, inter_time, window, n_posts)

    global_, contextual = _means_by_column_block(
        post_features, index, g_lo, g_hi, windows, inter_user, n_users, out_contextual,
        max_block_bytes=max_block_bytes, row_chunk=row_chunk, workers=workers,
    )
    return Aggregated(global_=global_, contextual=contextual, context_empty=windows.empty,
                      n_context_posts=windows.n_ctx, user_has_posts=n_global > 0, n_global_posts=n_global)


def _checked_inputs(
    post_user: np.ndarray,
    post_time: np.ndarray,
    post_features: np.ndarray,
    inter_user: np.ndarray,
    inter_time: np.ndarray,
    n_users: int,
    window: int,
    out_contextual: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Validate :func:`aggregate`'s inputs up front and return them as int64 arrays and ints.

    Everything that can be checked before the (expensive) sort is checked here, so a bad call
    fails in milliseconds with a message naming the argument instead of deep inside the block
    loop or, worse, after writing part of a memmapped ``out_contextual``. The order of the checks
    is part of the behaviour: the first failing one names the error.
    """
    post_user = _as_int64(post_user, "post_user")
    post_time = _as_int64(post_time, "post_time")
    inter_user = _as_int64(inter_user, "inter_user")
    inter_time = _as_int64(inter_time, "inter_time")
    n_users = int(n_users)
    if n_users < 0:
        raise ValueError(f"n_users must be >= 0, got {n_users}")
    if post_features.ndim != 2:
        raise ValueError(f"post_features must be 2-D (n_posts, D), got shape {post_features.shape}")
    if not np.issubdtype(post_features.dtype, np.floating):
        raise ValueError(f"post_features must be a float array, got dtype {post_features.dtype}")
    n_posts, dim = post_features.shape
    if post_user.shape != (n_posts,) or post_time.shape != (n_posts,):
        raise ValueError(
            f"post_user {post_user.shape} and post_time {post_time.shape} must both have "
            f"n_posts={n_posts} entries to match post_features"
        )
    if inter_user.shape != inter_time.shape:
        raise ValueError(
            f"inter_user {inter_user.shape} and inter_time {inter_time.shape} must have the same length"
        )
    if int(window) <= 0:
        raise ValueError(f"window must be a positive number of seconds, got {window}")
    window = int(window)
    _check_users(post_user, n_users, "post_user")
    _check_users(inter_user, n_users, "inter_user")
    n_inter = inter_user.shape[0]
    if out_contextual is not None and (
        out_contextual.shape != (n_inter, dim) or out_contextual.dtype != np.float32
    ):
        raise ValueError(
            f"out_contextual must be float32 of shape {(n_inter, dim)}, got "
            f"{out_contextual.dtype} {out_contextual.shape}"
        )
    return post_user, post_time, inter_user, inter_time, n_users, window


def _global_ranges(
    index: _PostIndex, n_users: int, global_until: np.ndarray | int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Ranges ``[g_lo, g_hi)`` of sorted posts forming each user's global vector.

    Every user's posts are one contiguous run of the sorted posts, so the global range starts at
    the user's run and ends at the first post with ``time >= global_until`` (one binary search per
    user), or at the end of the run when ``global_until`` is None (all posts, the paper's reading).
    """
    users = np.arange(n_users, dtype=np.int64)
    g_lo = index.offsets[:-1]
    if global_until is None:
        return g_lo, index.offsets[1:]
    until = np.asarray(global_until)
    if until.ndim == 0:
        until = np.full(n_users, int(until), dtype=np.int64)
    elif until.shape != (n_users,):
        raise ValueError(
            f"global_until must be a scalar or have n_users={n_users} entries, got {until.shape}"
        )
    return g_lo, index.position(users, _as_int64(until, "global_until"))


@dataclass(frozen=True)
class _ContextWindows:
    """Where each interaction's contextual vector comes from.

    Attributes:
        n_ctx: ``(n_inter,)`` int32 number of posts in ``[t - window, t)``.
        empty: ``(n_inter,)`` bool, True where that window holds no post.
        nonempty_rows / empty_rows: interaction indices with / without posts in their window.
        inv: for each of ``nonempty_rows``, its index into the distinct windows ``w_lo, w_hi``.
        w_lo, w_hi: the distinct non-empty ranges ``[w_lo, w_hi)`` of sorted posts.
    """

    n_ctx: np.ndarray
    empty: np.ndarray
    nonempty_rows: np.ndarray
    empty_rows: np.ndarray
    inv: np.ndarray
    w_lo: np.ndarray
    w_hi: np.ndarray


def _context_windows(
    index: _PostIndex, inter_user: np.ndarray, inter_time: np.ndarray, window: int, n_posts: int
) -> _ContextWindows:
    """Contextual ranges per interaction, with identical non-empty ranges reduced to one.

    Interactions of one user close in time (a listening session) often cover exactly the same
    posts, so their means are equal; each distinct range is averaged once and scattered back
    through ``inv``. Empty windows are kept apart: they take the
    user's global vector instead (the paper's padding).
    """
    lo_t = np.maximum(inter_time, _INT64_MIN + window) - window  # saturate instead of wrapping
    c_lo = index.position(inter_user, lo_t)
    c_hi = index.position(inter_user, inter_time)
    n_ctx = (c_hi - c_lo).astype(np.int32)
    empty = n_ctx == 0
    nonempty_rows = np.flatnonzero(~empty)
    empty_rows = np.flatnonzero(empty)
    # A non-empty range of sorted posts belongs to exactly one user, so (lo, hi) identifies it.
    # (Empty ranges of different users can coincide, which is why they are handled apart.)
    pair = c_lo[nonempty_rows] * np.int64(n_posts + 1) + c_hi[nonempty_rows]
    uniq_pair, inv = np.unique(pair, return_inverse=True)
    return _ContextWindows(
        n_ctx=n_ctx,
        empty=empty,
        nonempty_rows=nonempty_rows,
        empty_rows=empty_rows,
        inv=inv,
        w_lo=uniq_pair // np.int64(n_posts + 1),
        w_hi=uniq_pair % np.int64(n_posts + 1),
    )


def _means_by_column_block(
    post_features: np.ndarray,
    index: _PostIndex,
    g_lo: np.ndarray,
    g_hi: np.ndarray,
    windows: _ContextWindows,
    inter_user: np.ndarray,
    n_users: int,
    out_contextual: np.ndarray | None,
    *,
    max_block_bytes: int,
    row_chunk: int,
    workers: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Allocate the float32 outputs and fill them one column block at a time.

    The block width is what keeps peak memory at ``max_block_bytes`` whatever the feature
    dimension: a float64 prefix-sum block has ``n_posts + 1`` rows, and each of the ``workers``
    threads holds one, so the budget is divided between them (at least one column per block).
    """
    n_posts, dim = post_features.shape
    global_ = np.zeros((n_users, dim), dtype=np.float32)
    if out_contextual is not None:
        contextual = out_contextual
    else:
        contextual = np.empty((inter_user.shape[0], dim), np.float32)
    workers = max(1, int(workers))
    block = max(1, min(dim, int(max_block_bytes) // (8 * (n_posts + 1) * workers)))
    row_chunk = max(1, int(row_chunk))

    def run_block(c0: int) -> None:
        _fill_column_block(
            post_features, index, g_lo, g_hi, windows, inter_user, global_, contextual,
            c0, min(dim, c0 + block), row_chunk,
        )

    _run_column_blocks(run_block, range(0, dim, block), workers)
    return global_, contextual


def _fill_column_block(
    post_features: np.ndarray,
    index: _PostIndex,
    g_lo: np.ndarray,
    g_hi: np.ndarray,
    windows: _ContextWindows,
    inter_user: np.ndarray,
    global_: np.ndarray,
    contextual: np.ndarray,
    c0: int,
    c1: int,
    row_chunk: int,
) -> None:
    """Write columns ``[c0, c1)`` of ``global_`` and ``contextual`` from one prefix-sum block.

    Working one column block at a time is what bounds memory: only this block's float64 prefix
    sums exist at once. The global columns are written before the contextual ones because empty
    windows copy the user's global vector.
    """
    prefix = _prefix_sums(post_features, index.order, index.is_identity, c0, c1, row_chunk)
    global_[:, c0:c1] = _range_means(prefix, g_lo, g_hi, row_chunk)
    win_means = _range_means(prefix, windows.w_lo, windows.w_hi, row_chunk)
    del prefix
    nonempty_rows, inv = windows.nonempty_rows, windows.inv
    for a in range(0, nonempty_rows.shape[0], row_chunk):
        rows = nonempty_rows[a : a + row_chunk]
        contextual[rows, c0:c1] = win_means[inv[a : a + row_chunk]]
    del win_means
    empty_rows = windows.empty_rows
    for a in range(0, empty_rows.shape[0], row_chunk):
        rows = empty_rows[a : a + row_chunk]
        contextual[rows, c0:c1] = global_[inter_user[rows], c0:c1]


def _run_column_blocks(run_block: Callable[[int], None], starts: range, workers: int) -> None:
    """Run ``run_block(c0)`` for every block start, in ``workers`` threads when more than one.

    Column blocks are independent and write disjoint columns, so they may run in threads (NumPy
    releases the GIL in the gathers, cumsums and arithmetic that dominate here). ``result()``
    re-raises a worker's exception in the caller.
    """
    if workers == 1 or len(starts) == 1:
        for c0 in starts:
            run_block(c0)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(run_block, c0) for c0 in starts]:
                future.result()


class _PostIndex:
    """Posts sorted by (user, time) with a composite int64 key for binary search.

    The key is ``user * M + rank(time)`` where ``rank`` indexes the sorted distinct post times and
    ``M = n_distinct + 1``. Ranking keeps the key from overflowing whatever the time span, and a
    query time ``q`` maps to ``searchsorted(distinct, q, 'left')``, so "post key >= query key" holds
    exactly when the post is by a later user, or by the same user at a time ``>= q``.
    """

    def __init__(self, post_user: np.ndarray, post_time: np.ndarray, n_users: int) -> None:
        self.times = np.unique(post_time)
        self.m = np.int64(self.times.shape[0] + 1)
        if n_users > 0 and n_users > _INT64_MAX // int(self.m):
            raise ValueError(
                f"too many users ({n_users}) x distinct post times ({int(self.m)}) for int64 keys"
            )
        rank = np.searchsorted(self.times, post_time, side="left")
        key = post_user * self.m + rank
        self.order = np.argsort(key, kind="stable")
        self.is_identity = bool(np.array_equal(self.order, np.arange(self.order.shape[0])))
        self.keys = key[self.order]
        starts = np.arange(n_users + 1, dtype=np.int64) * self.m
        self.offsets = np.searchsorted(self.keys, starts, side="left")

    def position(self, user: np.ndarray, time: np.ndarray) -> np.ndarray:
        """Index of the first sorted post of ``user`` with time ``>= time`` (end of user's run if none)."""
        query = user * self.m + np.searchsorted(self.times, time, side="left")
        return np.searchsorted(self.keys, query, side="left")


def _prefix_sums(
    features: np.ndarray, order: np.ndarray, identity: bool, c0: int, c1: int, row_chunk: int
) -> np.ndarray:
    """float64 prefix sums over sorted rows for columns ``[c0, c1)``; row 0 is zeros."""
    n = order.shape[0]
    prefix = np.empty((n + 1, c1 - c0), dtype=np.float64)
    prefix[0] = 0.0
    for a in range(0, n, row_chunk):
        b = min(n, a + row_chunk)
        rows = features[a:b, c0:c1] if identity else features[order[a:b], c0:c1]
        dst = prefix[a + 1 : b + 1]
        dst[...] = rows  # upcast to float64 in place
        _cumsum_rows_inplace(dst)
        dst += prefix[a]
    return prefix


def _cumsum_rows_inplace(x: np.ndarray, block: int = 1024) -> None:
    """In-place cumulative sum down the rows of a C-contiguous 2-D array.

    ``np.cumsum(axis=0)`` on a row-major array walks each column with a large stride and is about
    twice as slow as this: cumsum inside ``block``-row tiles (viewed as 3-D), then add the running
    totals of the previous tiles. The result is the same sum order up to float64 rounding.
    """
    n, c = x.shape
    k = n // block
    if k:
        tiles = x[: k * block].reshape(k, block, c)
        np.cumsum(tiles, axis=1, out=tiles)
        carry = np.cumsum(tiles[:, -1, :], axis=0)
        tiles[1:] += carry[:-1, None, :]
    if k * block < n:
        rest = x[k * block :]
        np.cumsum(rest, axis=0, out=rest)
        if k:
            rest += x[k * block - 1]


def _range_means(prefix: np.ndarray, lo: np.ndarray, hi: np.ndarray, chunk: int) -> np.ndarray:
    """Means of sorted rows ``[lo, hi)`` as float32; zeros for empty ranges."""
    out = np.zeros((lo.shape[0], prefix.shape[1]), dtype=np.float32)
    for a in range(0, lo.shape[0], chunk):
        l_, h_ = lo[a : a + chunk], hi[a : a + chunk]
        count = (h_ - l_).astype(np.float64)
        sums = prefix[h_] - prefix[l_]
        sums /= np.maximum(count, 1.0)[:, None]
        out[a : a + chunk] = sums
    return out


def _as_int64(values: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind not in "iub" and arr.size:
        raise ValueError(f"{name} must hold integers (unix seconds / dense indices), got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _check_users(users: np.ndarray, n_users: int, name: str) -> None:
    if users.size == 0:
        return
    bad = np.flatnonzero((users < 0) | (users >= n_users))
    if bad.size:
        raise ValueError(
            f"{name}: {bad.size} entries outside [0, n_users={n_users}), e.g. row {int(bad[0])} = "
            f"{int(users[bad[0]])}"
        )
