"""DMF (Xue et al. 2017) as a backbone: towers over the training interaction matrix.

The user tower reads the user's row of the training matrix (items -> 64 -> d), the item tower the
item's column (users -> 64 -> d). The first layer is an EmbeddingBag over the non-zero indices, i.e.
a sparse product, so the dense matrix is never built. ReLU between layers, linear last layer, and
``sigmoid(p . q)`` [choice]; ``score="cosine"`` gives the original cosine similarity.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from amae.models.base import TrainData, register
from amae.models.torch_base import TorchRecommender


def csr(rows: np.ndarray, cols: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Binary CSR (indptr, indices) of unique (row, col) pairs."""
    keys = np.unique(rows.astype(np.int64) * (cols.max() + 1 if len(cols) else 1) + cols.astype(np.int64))
    width = cols.max() + 1 if len(cols) else 1
    r, c = keys // width, keys % width
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n_rows), out=indptr[1:])
    return indptr, c.astype(np.int64)


class SparseTower(nn.Module):
    """Rows of a binary sparse matrix -> hidden layers; the first layer is an EmbeddingBag."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, n_cols: int, hidden: list[int],
                 init_std: float) -> None:
        super().__init__()
        self.register_buffer("indptr", torch.as_tensor(indptr, dtype=torch.long))
        self.register_buffer("indices", torch.as_tensor(indices, dtype=torch.long))
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

    # The first layer stays dense: one batch's rows touch most of the catalogue, and a sparse
    # gradient with one entry per lookup cost 10x more to coalesce than a dense Adam step.
    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        lo, hi = self.indptr[rows], self.indptr[rows + 1]
        lens = hi - lo
        offsets = torch.cumsum(lens, 0) - lens
        total = int(lens.sum())
        gather = torch.repeat_interleave(lo - offsets, lens) + torch.arange(total, device=rows.device)
        flat = self.indices[gather]
        # 1/sqrt(row length) keeps heavy users and popular items on the same scale as light ones.
        weights = torch.repeat_interleave(lens.clamp(min=1).float().rsqrt(), lens)
        h = self.first(flat, offsets, per_sample_weights=weights) + self.bias
        return self.rest(h)


class DMFModule(nn.Module):
    def __init__(self, user_csr: tuple[np.ndarray, np.ndarray], item_csr: tuple[np.ndarray, np.ndarray],
                 n_users: int, n_items: int, hidden: list[int], init_std: float, cosine: bool) -> None:
        super().__init__()
        self.user_tower = SparseTower(*user_csr, n_items, hidden, init_std)
        self.item_tower = SparseTower(*item_csr, n_users, hidden, init_std)
        self.cosine = cosine

    def _combine(self, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        if self.cosine:
            p = nn.functional.normalize(p, dim=-1)
            q = nn.functional.normalize(q, dim=-1)
            return 5.0 * (p * q).sum(-1)
        return (p * q).sum(-1)

    def logits(self, u: torch.Tensor, i: torch.Tensor, record: torch.Tensor | None = None) -> torch.Tensor:
        uu, ui = torch.unique(u, return_inverse=True)
        iu, ii = torch.unique(i, return_inverse=True)
        return self._combine(self.user_tower(uu)[ui], self.item_tower(iu)[ii])

    def penalty(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        # Weights of the tower layers after the first; the first layer's scale is tied to the
        # outputs through the 1/sqrt(length) weighting.
        rest = [p for n, p in self.named_parameters() if "first" not in n]
        return sum(p.pow(2).sum() for p in rest) / max(len(u), 1)

    def score_block(self, users: torch.Tensor, items: torch.Tensor, times: Any = None) -> torch.Tensor:
        uu, ui = torch.unique(users, return_inverse=True)
        iu, ii = torch.unique(items.reshape(-1), return_inverse=True)
        p = self.user_tower(uu)[ui]
        q = self.item_tower(iu)[ii].reshape(*items.shape, -1)
        return self._combine(p[:, None, :], q)


@register
class DMF(TorchRecommender):
    name = "dmf"
    default_params = {"dim": 16, "hidden": 64, "init_std": 0.01, "cosine": False}

    def build(self, data: TrainData) -> nn.Module:
        self._sizes = {"n_users": data.n_users, "n_items": data.n_items}
        self._user_csr = csr(data.users, data.items, data.n_users)
        self._item_csr = csr(data.items, data.users, data.n_items)
        return self._make()

    def _make(self) -> nn.Module:
        hidden = [self.params["hidden"], self.params["dim"]]
        return DMFModule(self._user_csr, self._item_csr, self._sizes["n_users"], self._sizes["n_items"],
                         hidden, self.params["init_std"], self.params["cosine"])

    def extra_state(self) -> dict[str, Any]:
        return {**self._sizes, "user_nnz": int(len(self._user_csr[1])), "item_nnz": int(len(self._item_csr[1]))}

    def rebuild(self, state: dict[str, Any]) -> nn.Module:
        # Shapes come from JSON; the CSR buffers themselves are restored from the weights file.
        self._sizes = {"n_users": state["n_users"], "n_items": state["n_items"]}
        self._user_csr = (np.zeros(state["n_users"] + 1, np.int64), np.zeros(state["user_nnz"], np.int64))
        self._item_csr = (np.zeros(state["n_items"] + 1, np.int64), np.zeros(state["item_nnz"], np.int64))
        return self._make()
