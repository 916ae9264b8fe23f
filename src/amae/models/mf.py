"""MF as the paper uses it: "degraded GMF", y = sigmoid(p_u . q_m)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from amae.models.base import LEARNING_SPACE, TrainData, register
from amae.models.repeat import RepeatTerm, repeat_logits
from amae.models.torch_base import TorchRecommender

#: up to this many embedding weights (users + items, times d) a dense table with fused Adam steps
#: faster than a sparse one with LazyAdam; past it the dense step, which updates every weight, loses
#: fast. Measured (``benchmarks/mf_tables.py``, batch 512): dense 1.23x at 32k weights (d = 16) and
#: 1.10x at 128k (d = 64); 0.93x at 128k (d = 16), 0.72x at 512k (d = 64) and 0.12x at 2M (d = 16).
#: Dense Adam also moves rows a batch does not touch, and on lastfm (70k weights) it lost 0.007
#: HR@10 over 3 seeds, so the default stays sparse and ``sparse="auto"`` is an option.
DENSE_MAX_WEIGHTS = 100_000


def use_sparse(sparse: bool | str, n_rows: int, dim: int) -> bool:
    """``sparse`` is True, False or "auto" (sparse only past :data:`DENSE_MAX_WEIGHTS` weights)."""
    if sparse == "auto":
        return n_rows * dim > DENSE_MAX_WEIGHTS
    return bool(sparse)


class MFModule(nn.Module):
    """``p_u`` and ``q_m`` tables: MF itself, and the MF backbone of MF+AMAE (whose ``q_m`` is longer,
    ``item_dim`` = d(|M|+1), to meet the content codes).

    Where ``p_u`` and ``q_m`` have the same width (MF) they are the two halves of one table (users,
    then items), looked up together: a step then builds one sparse gradient and runs one lazy Adam
    update instead of two, which took MF on lastfm from 0.85x to 0.93x the samples/s of a plain
    dense-embedding loop (``benchmarks/throughput.py``). The initial rows are the same draws as
    two tables'. MF+AMAE's widths differ, so it keeps two tables.
    """

    def __init__(self, n_users: int, n_items: int, dim: int, init_std: float, sparse: bool = True,
                 item_dim: int | None = None, repeat: RepeatTerm | None = None) -> None:
        super().__init__()
        self.repeat = repeat
        self.n_users = int(n_users)
        self.shared = item_dim is None or int(item_dim) == int(dim)
        if self.shared:
            self.table = nn.Embedding(n_users + n_items, dim, sparse=sparse)
            nn.init.normal_(self.table.weight, 0.0, init_std)
        else:
            self.user = nn.Embedding(n_users, dim, sparse=sparse)
            self.item = nn.Embedding(n_items, int(item_dim), sparse=sparse)
            nn.init.normal_(self.user.weight, 0.0, init_std)
            nn.init.normal_(self.item.weight, 0.0, init_std)

    @property
    def user_weights(self) -> torch.Tensor:
        """The (n_users, d) ``p`` rows (a view of the weights)."""
        return self.table.weight[: self.n_users] if self.shared else self.user.weight

    @property
    def item_weights(self) -> torch.Tensor:
        """The (n_items, dq) ``q`` rows (a view of the weights)."""
        return self.table.weight[self.n_users :] if self.shared else self.item.weight

    # -- the backbone interface (AMAE) ---------------------------------------------------------
    def users(self, u: torch.Tensor) -> torch.Tensor:
        return self.table(u) if self.shared else self.user(u)

    def items(self, i: torch.Tensor) -> torch.Tensor:
        return self.table(i + self.n_users) if self.shared else self.item(i)

    def pair(self, u: torch.Tensor, i: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.shared:
            both = self.table(torch.cat([u, i + self.n_users]))
            p, q = both[: len(u)], both[len(u) :]
        else:
            p, q = self.user(u), self.item(i)
        self._rows = (u, i, p, q) if self.training else None  # the penalty of the same rows follows
        return p, q

    def logits(self, u: torch.Tensor, i: torch.Tensor, record: torch.Tensor | None = None) -> torch.Tensor:
        # The training step asks for the penalty of the same rows next: pair() keeps the lookups.
        p, q = self.pair(u, i)
        return (p * q).sum(-1)

    def penalty(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        rows = getattr(self, "_rows", None)
        if rows is not None and rows[0] is u and rows[1] is i:
            p, q = rows[2], rows[3]
        else:
            p, q = self.users(u), self.items(i)
        self._rows = None
        return (p.pow(2).sum(-1) + q.pow(2).sum(-1)).mean()

    def grouped(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``p`` (n, d) of n users and ``q`` (n, g, dq) of g items each (a record's positive and its
        negatives), and the penalty :meth:`penalty` gives the n * g rows: ``p_u`` is the same for
        a record's rows, so MF+AMAE works per record, not per row."""
        p, q = self.users(users), self.items(items)
        return p, q, p.pow(2).sum(-1).mean() + q.pow(2).sum(-1).mean()

    def score_block(self, users: torch.Tensor, items: torch.Tensor, times: Any = None) -> torch.Tensor:
        scores = torch.einsum("nd,nkd->nk", self.users(users), self.items(items))
        return scores + repeat_logits(self.repeat, users[:, None], items)

    def score_shared(self, users: torch.Tensor, items: torch.Tensor, times: Any = None) -> torch.Tensor:
        """(n, k) scores of the same k items for every user: one (n, d) x (d, k) product."""
        return self.users(users) @ self.items(items).T + repeat_logits(self.repeat, users[:, None], items[None, :])


@register
class MF(TorchRecommender):
    name = "mf"
    version = 3  # 2: users and items in one table; 3: the re-listening term (repeat)
    default_params = {"dim": 16, "init_std": 0.01, "lr": 0.003, "sparse": True, "repeat": True}
    search_space: ClassVar[dict[str, tuple]] = dict(LEARNING_SPACE)

    def build(self, data: TrainData) -> nn.Module:
        repeat = RepeatTerm.of(data.users, data.items, data.n_items) if self.params["repeat"] else None
        self._sizes = {"n_users": data.n_users, "n_items": data.n_items, "repeat_pairs": RepeatTerm.size(repeat)}
        return self._make(repeat)

    def extra_state(self) -> dict[str, Any]:
        return self._sizes

    def rebuild(self, state: dict[str, Any]) -> nn.Module:
        self._sizes = {"repeat_pairs": 0, **state}
        return self._make(RepeatTerm.placeholder(self._sizes["repeat_pairs"], state["n_items"]))

    def _make(self, repeat: RepeatTerm | None) -> nn.Module:
        state = self._sizes
        sparse = use_sparse(self.params["sparse"], state["n_users"] + state["n_items"], int(self.params["dim"]))
        return MFModule(state["n_users"], state["n_items"], self.params["dim"], self.params["init_std"], sparse,
                        repeat=repeat)
