"""Ranks and top-K metrics with pessimistic ties, sampled and full-ranking (docs/design.md section 7).

Scoring is batched: models score a (cases x candidates) matrix per chunk, never one case at a time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from amae.data.ranges import expand_ranges
from amae.protocol.split import EvalCases

ScoreFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
K = 10


def pessimistic_rank(scores: np.ndarray) -> np.ndarray:
    """Rank of column 0 among each row: 1 + (others strictly higher) + (others tying)."""
    pos = scores[:, :1]
    others = scores[:, 1:]
    return 1 + (others >= pos).sum(axis=1)


def hit_ndcg(ranks: np.ndarray, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    hit = (ranks <= k).astype(np.float64)
    ndcg = np.where(ranks <= k, 1.0 / np.log2(ranks + 1.0), 0.0)
    return hit, ndcg


def summarise(ranks: np.ndarray, k: int = K) -> dict[str, float]:
    if len(ranks) == 0:
        return {f"HR@{k}": float("nan"), f"NDCG@{k}": float("nan"), "MRR": float("nan"), "n": 0}
    hit, ndcg = hit_ndcg(ranks, k)
    return {f"HR@{k}": float(hit.mean()), f"NDCG@{k}": float(ndcg.mean()),
            "MRR": float((1.0 / ranks).mean()), "n": int(len(ranks))}


#: (case, candidate) cells per scoring block, chosen by measurement: a block's gathered item vectors
#: must stay cache-sized. MF (d = 64) on lastfm: sampled 4,096-case blocks 72k cases/s, 1,024-case
#: blocks 301k; full ranking with 8M-cell blocks 2.0k cases/s, 125k-cell blocks 12.8k. Content models
#: (whose cost is the context) were unchanged (11.6k vs 10.9k cases/s on the demo world). Ranks do
#: not depend on the block size.
BLOCK_CELLS = 100_000
#: scores per full-ranking block: larger than BLOCK_CELLS because the shared catalogue is scored
#: by one matrix product per block, not gathered per case
FULL_BLOCK_CELLS = 1 << 22


def sampled_ranks(score_fn: ScoreFn, cases: EvalCases, batch_size: int | None = None) -> np.ndarray:
    """Rank of each positive among its fixed negatives, scored in (batch x 100) blocks.

    Each block's candidates are assembled as it is scored, so millions of cases never hold a
    second (n, 100) matrix beside their negatives.
    """
    width = 1 + cases.negatives.shape[1]
    batch_size = batch_size or max(1, BLOCK_CELLS // width)
    ranks = np.empty(len(cases), dtype=np.int64)
    for s in range(0, len(cases), batch_size):
        sl = slice(s, s + batch_size)
        cand = np.concatenate([cases.items[sl, None], cases.negatives[sl]], axis=1)
        padded = cand < 0  # adapters pad dropped negatives with -1 (e.g. NCF files with duplicates)
        block = np.where(padded, 0, cand)
        scores = np.asarray(score_fn(cases.users[sl], block, cases.times[sl]), dtype=np.float64)
        scores[padded] = -np.inf
        ranks[sl] = pessimistic_rank(scores)
    return ranks


def full_ranks(score_fn: ScoreFn, cases: EvalCases, n_items: int,
               train_pairs: tuple[np.ndarray, np.ndarray], max_cells: int = FULL_BLOCK_CELLS) -> np.ndarray:
    """Rank of each positive among all items not in the user's training history (ties pessimistic).

    Every case's items are the whole catalogue, passed as one broadcast row, so models score them
    with the item side computed once per block (see ``TorchRecommender.score``); blocks hold
    ``max_cells`` scores (about 32 MB of float64 at the default).
    """
    train_u = np.asarray(train_pairs[0], dtype=np.int64)
    train_i = np.asarray(train_pairs[1], dtype=np.int64)
    order = np.argsort(train_u, kind="stable")
    su, si = train_u[order], train_i[order]
    all_items = np.arange(n_items, dtype=np.int64)
    batch = max(1, max_cells // max(n_items, 1))
    ranks = np.empty(len(cases), dtype=np.int64)
    for s in range(0, len(cases), batch):
        sl = slice(s, s + batch)
        users, pos = cases.users[sl], cases.items[sl]
        m = len(users)
        scores = np.asarray(score_fn(users, np.broadcast_to(all_items, (m, n_items)), cases.times[sl]),
                            dtype=np.float64).copy()
        pos_score = scores[np.arange(m), pos]
        idx, rows = expand_ranges(np.searchsorted(su, users, "left"), np.searchsorted(su, users, "right"))
        scores[rows, si[idx]] = -np.inf
        scores[np.arange(m), pos] = -np.inf  # the positive is not its own competitor
        ranks[sl] = 1 + (scores >= pos_score[:, None]).sum(axis=1)
    return ranks


def evaluate(score_fn: ScoreFn, cases: EvalCases, n_items: int | None = None,
             train_pairs: tuple[np.ndarray, np.ndarray] | None = None, k: int = K) -> dict:
    """Sampled metrics (and full-ranking ones when ``n_items``/``train_pairs`` are given), each
    also on the new-pairs-only view. Keys name the protocol of every number."""
    out: dict = {}
    ranks = sampled_ranks(score_fn, cases)
    out["sampled"] = summarise(ranks, k)
    out["sampled_new_pairs"] = summarise(ranks[cases.new_pair], k)
    out["_sampled_ranks"] = ranks
    if n_items is not None and train_pairs is not None:
        franks = full_ranks(score_fn, cases, n_items, train_pairs)
        out["full"] = summarise(franks, k)
        out["full_new_pairs"] = summarise(franks[cases.new_pair], k)
        out["_full_ranks"] = franks
    return out
