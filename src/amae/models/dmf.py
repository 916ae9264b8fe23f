"""DMF (Xue et al. 2017) as a backbone: towers over the training interaction matrix.

The user tower reads the user's row of the training matrix (items -> 64 -> d), the item tower the
item's column (users -> 64 -> d). The first layer is an EmbeddingBag over the non-zero indices, i.e.
a sparse product, so the dense matrix is never built. ReLU between layers, linear last layer, and
``sigmoid(p . q)`` [choice]; ``score="cosine"`` gives the original cosine similarity.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from amae.data.ranges import build_csr
from amae.models.base import LEARNING_SPACE, TrainData, register
from amae.models.repeat import RepeatTerm, repeat_logits
from amae.models.torch_base import TorchRecommender


def csr(rows: np.ndarray, cols: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Binary CSR (indptr, indices) of unique (row, col) pairs (:func:`amae.data.ranges.build_csr`)."""
    return build_csr(rows, cols, n_rows)


def placeholder_csr(n_rows: int, nnz: int) -> tuple[np.ndarray, np.ndarray]:
    """A CSR of the saved shapes, to build a tower before its buffers are loaded from the weights file."""
    return np.zeros(n_rows + 1, np.int64), np.zeros(nnz, np.int64)


class SparseTower(nn.Module):
    """Rows of a binary sparse matrix -> hidden layers; the first layer is an EmbeddingBag."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, n_cols: int, hidden: list[int],
                 init_std: float) -> None:
        super().__init__()
        self.register_buffer("indptr", torch.as_tensor(indptr, dtype=torch.long))
        self.register_buffer("indices", torch.as_tensor(indices, dtype=torch.long))
        self.n_cols = n_cols
        self._keys: torch.Tensor | None = None  # sorted row * n_cols + col, built on first use
        self._keys_of: tuple[torch.device, int, int] | None = None  # the indices buffer (and version) they come from
        self._all: torch.Tensor | None = None  # every row's output while evaluating (see all_rows)
        self.first = nn.EmbeddingBag(n_cols, hidden[0], mode="sum")
        self.bias = nn.Parameter(torch.zeros(hidden[0]))
        layers: list[nn.Module] = []
        for a, b in zip(hidden[:-1], hidden[1:], strict=True):
            layers += [nn.ReLU(), nn.Linear(a, b)]
        self.rest = nn.Sequential(*layers)
        nn.init.normal_(self.first.weight, 0.0, init_std)
        for m in self.rest:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def all_rows(self) -> torch.Tensor:
        """Outputs for every row, computed once per evaluation (the weights cannot change outside
        training): a scoring batch of 4,096 cases x 100 candidates touches most of the catalogue, so
        recomputing the tower per batch cost the whole tower per batch."""
        if self._all is None:
            with torch.no_grad():
                self._all = self(torch.arange(len(self.indptr) - 1, device=self.indptr.device))
        return self._all

    def train(self, mode: bool = True) -> SparseTower:
        self._all = None  # weights may change (training, a restored best epoch): recompute on next use
        return super().train(mode)

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> SparseTower:
        self._all = None  # moved to another device or dtype
        return super()._apply(fn, *args, **kwargs)

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        self._all = None
        super()._load_from_state_dict(*args, **kwargs)

    # The first layer stays dense: one batch's rows touch most of the catalogue, and a sparse
    # gradient with one entry per lookup cost 10x more to coalesce than a dense Adam step.
    def forward(self, rows: torch.Tensor, hide: torch.Tensor | None = None) -> torch.Tensor:
        """Tower outputs for ``rows``; ``hide`` (one column per row, -1 for none) is left out of
        that row's input, so a training pair cannot be read off its own input."""
        uniq, inverse = torch.unique(rows, return_inverse=True)
        lo, hi = self.indptr[uniq], self.indptr[uniq + 1]
        lens = hi - lo
        offsets = torch.cumsum(lens, 0) - lens
        total = int(lens.sum())
        gather = torch.repeat_interleave(lo - offsets, lens) + torch.arange(total, device=rows.device)
        sums = self.first(self.indices[gather], offsets)
        if hide is None:
            # 1/sqrt(row length) keeps heavy users and popular items on the same scale as light ones.
            return self.rest(sums * lens.clamp(min=1).float().rsqrt()[:, None] + self.bias)[inverse]
        counts = lens[inverse]
        # A row is never emptied: an empty row is what an item nobody has played looks like at test
        # time, and hiding the only entry taught the model that such items are positives.
        hidden_mask = ((hide >= 0) & (counts > 1)).float()
        sums = sums[inverse] - hidden_mask[:, None] * self.first.weight[hide.clamp(min=0)]
        counts = counts.float() - hidden_mask
        return self.rest(sums * counts.clamp(min=1).rsqrt()[:, None] + self.bias)

    def contains(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """Whether each (row, col) is a non-zero of the matrix (rows' indices are sorted)."""
        source = (self.indices.device, self.indices.data_ptr(), self.indices._version)
        if self._keys is None or self._keys_of != source:
            row_of = torch.repeat_interleave(torch.arange(len(self.indptr) - 1, device=rows.device),
                                             self.indptr.diff())
            self._keys, self._keys_of = row_of * self.n_cols + self.indices, source
        probe = rows * self.n_cols + cols
        at = torch.searchsorted(self._keys, probe).clamp(max=max(len(self._keys) - 1, 0))
        return (self._keys[at] == probe) if len(self._keys) else torch.zeros_like(probe, dtype=torch.bool)


def encode_pairs(user_tower: SparseTower, item_tower: SparseTower, u: torch.Tensor, i: torch.Tensor,
                 hide_known: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Tower outputs for (user, item) pairs. With ``hide_known``, a pair of the training matrix is
    left out of its own user's row and item's column: otherwise training can read the answer off
    the input, while at test time the held-out item is in neither (lastfm HR@10 0.881 -> 0.889)."""
    if not hide_known:
        return user_tower(u), item_tower(i)
    known = user_tower.contains(u, i)
    return user_tower(u, torch.where(known, i, -1)), item_tower(i, torch.where(known, u, -1))


class DMFModule(nn.Module):
    """DMF's two towers: DMF itself, and the DMF backbone of DMF+AMAE (whose item tower ends in
    ``item_hidden[-1]`` = d(|M|+1) units to meet the content codes)."""

    def __init__(self, user_csr: tuple[np.ndarray, np.ndarray], item_csr: tuple[np.ndarray, np.ndarray],
                 n_users: int, n_items: int, hidden: list[int], init_std: float, cosine: bool,
                 hide_target: bool = True, item_hidden: list[int] | None = None, score_hidden: bool = True,
                 repeat: RepeatTerm | None = None) -> None:
        super().__init__()
        self.repeat = repeat
        self.hide_target = hide_target
        self.score_hidden = score_hidden
        self.user_tower = SparseTower(*user_csr, n_items, hidden, init_std)
        self.item_tower = SparseTower(*item_csr, n_users, item_hidden or hidden, init_std)
        self.cosine = cosine

    # -- the backbone interface (AMAE) ---------------------------------------------------------
    def users(self, u: torch.Tensor) -> torch.Tensor:
        return self.user_tower(u)

    def items(self, i: torch.Tensor) -> torch.Tensor:
        if not self.training:  # evaluation: the item tower once for the whole catalogue
            return self.item_tower.all_rows()[i]
        return self.item_tower(i.reshape(-1)).reshape(*i.shape, -1)

    def pair(self, u: torch.Tensor, i: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``p_u`` and ``q_i`` of training pairs, each pair hidden from its own towers' inputs."""
        return encode_pairs(self.user_tower, self.item_tower, u, i, self.training and self.hide_target)

    def _combine(self, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        if self.cosine:
            p = nn.functional.normalize(p, dim=-1)
            q = nn.functional.normalize(q, dim=-1)
            return 5.0 * (p * q).sum(-1)
        return (p * q).sum(-1)

    def logits(self, u: torch.Tensor, i: torch.Tensor, record: torch.Tensor | None = None) -> torch.Tensor:
        return self._combine(*self.pair(u, i))

    def penalty(self, u: torch.Tensor, i: torch.Tensor) -> float:
        """No per-row term: the towers' L2 is weight decay (:meth:`decayed_parameters`)."""
        return 0.0

    def decayed_parameters(self) -> list[nn.Parameter]:
        """The tower layers after the first, L2-penalised as Adam's weight decay
        (``PointwiseStage.decayed``); the first layer's scale is tied to the outputs through the
        1/sqrt(length) weighting."""
        return [p for n, p in self.named_parameters()
                if "first" not in n and not n.startswith("repeat.") and p.requires_grad]

    def score_block(self, users: torch.Tensor, items: torch.Tensor, times: Any = None) -> torch.Tensor:
        logits = self._combine(self.users(users)[:, None, :], self.items(items))
        known = self.known_cells(users, items)
        if known is not None:
            rows, cols = known
            logits[rows, cols] = self._combine(*self.hidden_pair(users[rows], items[rows, cols]))
        return logits + repeat_logits(self.repeat, users[:, None], items)

    def hidden_pair(self, u: torch.Tensor, i: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``p_u`` and ``q_i`` with the pair left out of its own towers' inputs, as training sees it."""
        return encode_pairs(self.user_tower, self.item_tower, u, i, True)

    def known_cells(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(case, candidate) cells to score with their pair hidden (``score_hidden``), or None.

        They are the cells whose pair is in the training matrix (re-listens).

        Training saw such a pair only with itself hidden from its own towers (``hide_target``); scored
        with it visible, a re-listen meets a configuration training only ever showed beside
        *negatives*, and was scored far below the user's unplayed tracks. Scoring it as it was
        trained keeps the towers' one user vector for every other cell.
        """
        if not (self.hide_target and self.score_hidden):
            return None
        flat = self.user_tower.contains(users[:, None].expand_as(items).reshape(-1), items.reshape(-1))
        if not bool(flat.any()):
            return None
        return flat.reshape(items.shape).nonzero(as_tuple=True)


@register
class DMF(TorchRecommender):
    name = "dmf"
    version = 4  # 2: the towers' L2 as weight decay; 3: a training pair scored hidden; 4: the re-listening term
    default_params = {"dim": 16, "hidden": 64, "init_std": 0.01, "cosine": False, "hide_target": True,
                      "score_hidden": True, "repeat": True}
    search_space: ClassVar[dict[str, tuple]] = {**LEARNING_SPACE, "hidden": ("categorical", [32, 64, 128])}

    def build(self, data: TrainData) -> nn.Module:
        self._repeat = RepeatTerm.of(data.users, data.items, data.n_items) if self.params["repeat"] else None
        self._sizes = {"n_users": data.n_users, "n_items": data.n_items, "repeat_pairs": RepeatTerm.size(self._repeat)}
        self._user_csr = csr(data.users, data.items, data.n_users)
        self._item_csr = csr(data.items, data.users, data.n_items)
        return self._make()

    def _make(self) -> nn.Module:
        hidden = [self.params["hidden"], self.params["dim"]]
        return DMFModule(self._user_csr, self._item_csr, self._sizes["n_users"], self._sizes["n_items"],
                         hidden, self.params["init_std"], self.params["cosine"], self.params["hide_target"],
                         score_hidden=self.params["score_hidden"], repeat=self._repeat)

    def extra_state(self) -> dict[str, Any]:
        return {**self._sizes, "user_nnz": int(len(self._user_csr[1])), "item_nnz": int(len(self._item_csr[1]))}

    def rebuild(self, state: dict[str, Any]) -> nn.Module:
        # Shapes come from JSON; the CSR buffers themselves are restored from the weights file.
        self._sizes = {"n_users": state["n_users"], "n_items": state["n_items"],
                       "repeat_pairs": int(state.get("repeat_pairs", 0))}
        self._user_csr = placeholder_csr(state["n_users"], state["user_nnz"])
        self._item_csr = placeholder_csr(state["n_items"], state["item_nnz"])
        self._repeat = RepeatTerm.placeholder(self._sizes["repeat_pairs"], state["n_items"])
        return self._make()
