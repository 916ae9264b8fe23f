"""Attention over a user's global and contextual codes (docs/design.md section 6.4, Eq. 10-12).

``beta^* = w^T relu(W [z^*, p_u, q_m] + b) + b'`` with hidden size d, softmax over the contexts.
The weights depend on the item, so for a (n, k) candidate block ``W`` is applied in parts: the
``[z, p]`` part once per case and the ``q`` part once per candidate, never building (n, k, 2d+dq).
"""

from __future__ import annotations

import torch
from torch import nn


class ContextAttention(nn.Module):
    """Softmax weights over a list of codes, conditioned on the user and the item."""

    def __init__(self, latent: int, user_dim: int, item_dim: int, hidden: int) -> None:
        super().__init__()
        self.latent, self.user_dim, self.item_dim = latent, user_dim, item_dim
        self.proj = nn.Linear(latent + user_dim + item_dim, hidden)
        self.out = nn.Linear(hidden, 1)
        for m in (self.proj, self.out):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    def item_part(self, q: torch.Tensor) -> torch.Tensor:
        """The item's share ``W_q q + b`` of the hidden layer: item-only, so an evaluation computes it
        once per catalogue item and gathers it (see ``AMAEModule.item_side``)."""
        return q @ self.proj.weight[:, self.latent + self.user_dim :].T + self.proj.bias

    def forward(self, codes: list[torch.Tensor] | torch.Tensor, p: torch.Tensor, q: torch.Tensor,
                item_part: torch.Tensor | None = None) -> torch.Tensor:
        """``codes``: (n, C, d) (or C tensors (n, d)); ``p`` (n, du); ``q`` (n, k, dq) -> weights (n, k, C).

        All contexts at once: a handful of kernels per call whatever C, which is what a training
        step of small batches spends its time on. ``item_part`` (n, k, h), when given, is
        :meth:`item_part` of ``q`` computed beforehand.
        """
        z = torch.stack(list(codes), dim=1) if isinstance(codes, list | tuple) else codes
        w = self.proj.weight
        a, b = self.latent, self.latent + self.user_dim
        items = self.item_part(q) if item_part is None else item_part  # (n, k, h)
        case_part = z @ w[:, :a].T + (p @ w[:, a:b].T)[:, None, :]  # (n, C, h)
        hidden = torch.relu(items[:, :, None, :] + case_part[:, None, :, :])  # (n, k, C, h)
        return torch.softmax(self.out(hidden).squeeze(-1), dim=-1)
