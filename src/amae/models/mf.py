"""MF as the paper uses it: "degraded GMF", y = sigmoid(p_u . q_m)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from amae.models.base import LEARNING_SPACE, TrainData, register
from amae.models.torch_base import TorchRecommender


class MFModule(nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int, init_std: float) -> None:
        super().__init__()
        self.user = nn.Embedding(n_users, dim, sparse=True)
        self.item = nn.Embedding(n_items, dim, sparse=True)
        nn.init.normal_(self.user.weight, 0.0, init_std)
        nn.init.normal_(self.item.weight, 0.0, init_std)

    def logits(self, u: torch.Tensor, i: torch.Tensor, record: torch.Tensor | None = None) -> torch.Tensor:
        return (self.user(u) * self.item(i)).sum(-1)

    def penalty(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        return (self.user(u).pow(2).sum(-1) + self.item(i).pow(2).sum(-1)).mean()

    def score_block(self, users: torch.Tensor, items: torch.Tensor, times: Any = None) -> torch.Tensor:
        return torch.einsum("nd,nkd->nk", self.user(users), self.item(items))


@register
class MF(TorchRecommender):
    name = "mf"
    default_params = {"dim": 16, "init_std": 0.01, "lr": 0.003}
    search_space: ClassVar[dict[str, tuple]] = dict(LEARNING_SPACE)

    def build(self, data: TrainData) -> nn.Module:
        self._sizes = {"n_users": data.n_users, "n_items": data.n_items}
        return self.rebuild(self._sizes)

    def extra_state(self) -> dict[str, Any]:
        return self._sizes

    def rebuild(self, state: dict[str, Any]) -> nn.Module:
        self._sizes = dict(state)
        return MFModule(state["n_users"], state["n_items"], self.params["dim"], self.params["init_std"])
