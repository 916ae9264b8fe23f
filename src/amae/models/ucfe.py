"""UCFE: user-based collaborative filtering whose votes are weighted by emotional context.

**Reconstruction** (the paper names UCFE as a baseline but gives no formula, docs/design.md section 6.3):

* user similarity ``s(u, v)``: cosine of the binary training rows, only the ``k = 50`` most similar
  users of each user kept (self excluded);
* emotion vectors come from the DUTIR lexicon features of the posts (``text_h``): the 21 minor
  classes (``emo21_*``) when the lexicon file was given at extraction, else the 7 major classes
  (``emo7_*``). The target user's vector ``e_u(t)`` is the mean over the posts in ``[t - 24h, t)``,
  or the user's training-period mean when that window is empty (the paper's padding);
* a neighbour's vector for track ``m``, ``e_vm``, is its contextual vector at the time it played
  ``m``; when it played ``m`` several times, the mean of those vectors **[choice]**;
* ``score(u, m, t) = sum_{v in N_k(u), v played m} s(u, v) * (f + (1 - f) * cos(e_u(t), e_vm))``.
  The floor ``f`` (``emotion_floor``, default 0.1) **[choice]** keeps a vote alive when either
  vector is all zeros (no emotion words), so UCFE degrades to plain user-based CF instead of
  scoring everything 0; with ``f = 0`` it is the pure emotion-weighted vote.

Because the weight is linear in the target's unit emotion vector, the score splits into
``f * (S_k R)[u, m] + (1 - f) * sum_e e_u(t)[e] * (S_k R_e)[u, m]`` where ``R_e`` holds the
neighbours' unit emotion vectors per (user, track) pair. Sampled evaluation needs those products
only at each case's ~100 candidates: every (case, neighbour, candidate) triple is one look-up of
the (neighbour, track) pair, so its cost does not grow with the catalogue. Full ranking, where the
candidates are the catalogue, takes one sparse product per chunk of cases instead. Neither loops
over candidates, cases or neighbours.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file

from amae.content.emotion import EmotionContent
from amae.content.store import DEFAULT_WINDOW_SECONDS
from amae.data.io import DataError, atomic_path, read_json, write_json
from amae.models.base import Recommender, TrainData, as_2d, register

_INT64_MIN = np.iinfo(np.int64).min
#: one (case, neighbour, candidate) look-up costs about this many cells of the dense path's
#: (tracks x channels) row per case: 20k tracks x 22 channels, 50 neighbours, 4,096 cases took
#: 0.85 s (look-ups) vs 5.1 s (dense) at 100 candidates, 6.7 vs 9.2 s at 1,000, 18 vs 8 s at 2,000
LOOKUP_COST = 8


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; all-zero rows stay zero (their cosine with anything is 0)."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x, dtype=np.float32), where=norm > 0).astype(np.float32)


def top_k_cosine(rows: sp.csr_matrix, k: int, budget_bytes: int = 256 * 2**20) -> sp.csr_matrix:
    """Cosine of the binary user rows, keeping each user's ``k`` most similar other users.

    Computed one block of users at a time (a dense block x n_users slab), so memory stays bounded;
    ties in the top-k go to the lower user index (stable, hence deterministic).
    """
    n = rows.shape[0]
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    normed = sp.diags(inv) @ rows
    normed_t = normed.T.tocsr()
    k = max(0, min(k, n - 1))
    chunk = max(1, budget_bytes // (8 * max(n, 1)))
    out_rows, out_cols, out_vals = [], [], []
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        block = np.asarray((normed[a:b] @ normed_t).todense(), dtype=np.float64)
        block[np.arange(b - a), np.arange(a, b)] = -np.inf  # no self-votes
        if k == 0:
            continue
        part = np.argpartition(-block, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(block, part, axis=1)
        order = np.lexsort((part, -vals), axis=1)
        part = np.take_along_axis(part, order, axis=1)
        vals = np.take_along_axis(vals, order, axis=1)
        keep = vals > 0
        out_rows.append(np.repeat(np.arange(a, b), k)[keep.ravel()])
        out_cols.append(part[keep])
        out_vals.append(vals[keep])
    if not out_rows:
        return sp.csr_matrix((n, n), dtype=np.float32)
    return sp.csr_matrix((np.concatenate(out_vals).astype(np.float32),
                          (np.concatenate(out_rows), np.concatenate(out_cols))), shape=(n, n))


@register
class UCFE(Recommender):
    """User-based CF with emotion-weighted neighbour votes (a reconstruction; see module doc)."""

    name = "ucfe"
    content_kind: ClassVar[str | None] = "emotions"
    search_space: ClassVar[dict[str, tuple]] = {"k": ("int", 5, 200, True), "emotion_floor": ("float", 0.0, 1.0, False)}
    default_params: ClassVar[dict[str, Any]] = {"k": 50, "window": DEFAULT_WINDOW_SECONDS,
                                                "emotion_floor": 0.1, "score_budget_mb": 256}

    def __init__(self, **params: Any) -> None:
        merged = {**self.default_params, **params}
        super().__init__(**merged)
        floor = float(merged["emotion_floor"])
        if not 0.0 <= floor <= 1.0:
            raise ValueError(f"ucfe: emotion_floor must lie in [0, 1], got {floor}")

    def fit(self, data: TrainData) -> UCFE:
        content = data.content
        if not isinstance(content, EmotionContent):
            raise DataError("ucfe: TrainData.content must be an EmotionContent (the 'emotions' user content)")
        self.content = content
        self.n_users, self.n_items = data.n_users, data.n_items
        users = np.asarray(data.users, np.int64)
        items = np.asarray(data.items, np.int64)
        # one entry per (user, track) pair; the neighbour's emotion when it played it, averaged
        keys, inverse = np.unique(users * self.n_items + items, return_inverse=True)
        emo = unit_rows(content.at(users, data.times, int(self.params["window"])))
        pair_emo = np.zeros((keys.shape[0], emo.shape[1]), dtype=np.float64)
        np.add.at(pair_emo, inverse, emo)
        self.pair_user = (keys // self.n_items).astype(np.int64)
        self.pair_item = (keys % self.n_items).astype(np.int64)
        self.pair_emotion = unit_rows(pair_emo.astype(np.float32))
        self._index()
        return self

    def _index(self) -> None:
        """Rebuild the look-up structures from the saved pairs (in fit and after load)."""
        n_pairs = self.pair_user.shape[0]
        binary = sp.csr_matrix((np.ones(n_pairs, np.float32), (self.pair_user, self.pair_item)),
                               shape=(self.n_users, self.n_items))
        self.neighbours = top_k_cosine(binary, int(self.params["k"]))
        self.neighbours.sort_indices()
        self.n_channels = self.pair_emotion.shape[1] + 1
        # (user, track) -> 1 + the pair's row in pair_emotion; 0 (absent) for tracks it never played
        self.pair_index = sp.csr_matrix((np.arange(1, n_pairs + 1, dtype=np.int64), (self.pair_user, self.pair_item)),
                                        shape=(self.n_users, self.n_items))
        self.pair_index.sum_duplicates()  # canonical: sorted indices, so look-ups bisect each row
        self._votes: sp.csr_matrix | None = None

    @property
    def votes(self) -> sp.csr_matrix:
        """Channel 0: plain vote; channels 1..E: the neighbour's unit emotion vector, laid out as
        column ``item * (E + 1) + channel`` so one product yields every channel of every item.
        Only full ranking needs it, so it is built on first use."""
        if self._votes is None:
            n_pairs, n_ch = self.pair_user.shape[0], self.n_channels
            values = np.concatenate([np.ones((n_pairs, 1), np.float32), self.pair_emotion], axis=1)
            cols = self.pair_item[:, None] * n_ch + np.arange(n_ch)[None, :]
            rows = np.repeat(self.pair_user, n_ch)
            votes = sp.csr_matrix((values.ravel(), (rows, cols.ravel())), shape=(self.n_users, self.n_items * n_ch))
            votes.eliminate_zeros()
            self._votes = votes
        return self._votes

    def score(self, users: np.ndarray, items: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        if not hasattr(self, "pair_index"):
            raise RuntimeError("ucfe: score() before fit() or load()")
        users, items = as_2d(users, items)
        if times is None:
            raise ValueError("ucfe: score() needs the case times (the emotional context is time-dependent)")
        times = np.asarray(times, np.int64)
        floor = float(self.params["emotion_floor"])
        n = users.shape[0]
        out = np.zeros(items.shape, dtype=np.float32)
        if n == 0:
            return out
        target = unit_rows(self.content.at(users, times, int(self.params["window"])))
        weights = np.concatenate([np.full((n, 1), floor, np.float32), (1.0 - floor) * target], axis=1)
        n_neighbours = int(np.diff(self.neighbours.indptr).max(initial=0))
        if items.shape[1] * n_neighbours * LOOKUP_COST <= self.n_items * self.n_channels:
            self._score_candidates(users, items, weights, n_neighbours, out)
        else:
            self._score_dense(users, items, weights, out)
        return out

    def _score_candidates(self, users: np.ndarray, items: np.ndarray, weights: np.ndarray, n_neighbours: int,
                          out: np.ndarray) -> None:
        """Scores at the candidates only: each case's neighbours (padded to the most any user has)
        against each candidate, one sparse look-up of the (neighbour, track) pair per triple."""
        n, k = items.shape
        nb = self.neighbours
        per_case = max(n_neighbours * k, 1) * 48  # bytes of the look-up arrays per case
        chunk = max(1, int(self.params["score_budget_mb"]) * 2**20 // per_case)
        slot = np.arange(max(n_neighbours, 1))
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            cu = users[a:b]
            lo, lens = nb.indptr[cu], np.diff(nb.indptr)[cu]
            # (c, K) neighbours and similarities; padding points at neighbour 0 with similarity 0
            has = slot[None, :] < lens[:, None]
            at = np.where(has, lo[:, None] + slot[None, :], 0)
            who = np.where(has, nb.indices[at] if len(nb.indices) else 0, 0)
            sim = np.where(has, nb.data[at] if len(nb.data) else 0.0, 0.0)
            rows = np.broadcast_to(who[:, :, None], (b - a, len(slot), k))
            cols = np.broadcast_to(items[a:b, None, :], rows.shape)
            keep = np.broadcast_to(has[:, :, None], rows.shape)
            found = np.zeros(rows.shape, dtype=np.int64)
            if keep.any():
                found[keep] = np.asarray(self.pair_index[rows[keep], cols[keep]]).ravel()
            case, s, j = np.nonzero(found)
            pair = found[case, s, j] - 1
            w = weights[a + case]
            vote = w[:, 0].astype(np.float64) + np.einsum("he,he->h", self.pair_emotion[pair], w[:, 1:],
                                                         dtype=np.float64)
            cell = case * k + j
            out[a:b] = np.bincount(cell, weights=sim[case, s] * vote, minlength=(b - a) * k).reshape(b - a, k)

    def _score_dense(self, users: np.ndarray, items: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:
        """Every track's channels per unique user of a chunk, then a gather: right for full ranking."""
        n, n_ch = users.shape[0], self.n_channels
        per_case = self.n_items * n_ch * 4
        chunk = max(1, int(self.params["score_budget_mb"]) * 2**20 // per_case)
        votes = self.votes
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            uniq, inv = np.unique(users[a:b], return_inverse=True)
            channels = np.asarray((self.neighbours[uniq] @ votes).todense(), dtype=np.float32)
            channels = channels.reshape(len(uniq), self.n_items, n_ch)[inv]  # (c, items, E + 1)
            picked = np.take_along_axis(channels, items[a:b, :, None], axis=1)  # (c, k, E + 1)
            out[a:b] = np.einsum("ckd,cd->ck", picked, weights[a:b])

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        c = self.content
        arrays = {"pair_user": self.pair_user, "pair_item": self.pair_item, "pair_emotion": self.pair_emotion,
                  "post_user": c.post_user, "post_time": c.post_time,
                  "post_emotion": np.ascontiguousarray(c.post_emotion, dtype=np.float32),
                  "global_until": c.global_until}
        with atomic_path(folder / "weights.safetensors") as tmp:
            save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))
        write_json(folder / "model.json", {"name": self.name, "params": self.params, "n_users": self.n_users,
                                           "n_items": self.n_items, "emotion_names": c.names})

    @classmethod
    def load(cls, folder: Path) -> UCFE:
        folder = Path(folder)
        meta = read_json(folder / "model.json")
        arrays = load_file(str(folder / "weights.safetensors"))
        model = cls(**meta["params"])
        model.n_users, model.n_items = int(meta["n_users"]), int(meta["n_items"])
        model.content = EmotionContent(arrays["post_user"], arrays["post_time"], arrays["post_emotion"],
                                       arrays["global_until"], list(meta["emotion_names"]))
        model.pair_user, model.pair_item = arrays["pair_user"], arrays["pair_item"]
        model.pair_emotion = arrays["pair_emotion"]
        model._index()
        return model
