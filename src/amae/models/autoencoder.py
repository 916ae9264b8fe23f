"""The per-modality deep autoencoder and the cross-modal loss of AMAE (docs/design.md section 6.4, Eq. 2-8).

Encoder ``x -> 32 -> 16``, decoder ``16 -> 32 -> x``; ReLU on hidden layers, identity on the code
and the reconstruction [choice]. With ReLU on the code every dot product ``z^A . z^B`` is >= 0, so
``sigmoid`` of it is >= 0.5 and the negative term of Eq. 5 cannot push pairs apart; ``literal_relu``
keeps the paper's reading (ReLU on the code and the output) for comparison.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Autoencoder(nn.Module):
    """One modality's autoencoder; it encodes both the global and the contextual input."""

    def __init__(self, in_dim: int, hidden: int = 32, latent: int = 16, decoder: bool = True,
                 literal_relu: bool = False) -> None:
        super().__init__()
        enc: list[nn.Module] = [nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, latent)]
        if literal_relu:
            enc.append(nn.ReLU())
        self.encoder = nn.Sequential(*enc)
        self.decoder: nn.Module | None = None
        if decoder:
            dec: list[nn.Module] = [nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, in_dim)]
            if literal_relu:
                dec.append(nn.ReLU())
            self.decoder = nn.Sequential(*dec)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def encode_rows(self, *xs: torch.Tensor) -> torch.Tensor:
        """The codes of the rows of several inputs, stacked in order: the same as
        ``self(torch.cat(xs))``, but the first layer meets each input where it is, so wide inputs
        (1,305 dims in the demo world) are not copied into one matrix first."""
        first, rest = self.encoder[0], self.encoder[1:]
        return rest(torch.cat([first(x) for x in xs]) if len(xs) > 1 else first(xs[0]))

    def reconstruction_loss(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Mean squared error per input dimension (Eq. 4), so wide and narrow modalities weigh alike."""
        if self.decoder is None:
            raise RuntimeError("this autoencoder has no decoder (no_reconstruction ablation)")
        return F.mse_loss(self.decoder(z), x)

    def l2(self) -> torch.Tensor:
        return sum(p.pow(2).sum() for p in self.parameters() if p.requires_grad)  # type: ignore[return-value]


@torch.no_grad()
def hardest_negatives(za: torch.Tensor, zb: torch.Tensor, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row i: ``argmin_j za_i . zb_j`` over rows of *other* users, chosen without gradient.

    Returns ``(index (b,), valid (b,) bool)``; ``valid`` is False for a row whose batch holds only
    its own user's rows (no negative exists).
    """
    dots = za @ zb.T
    same = users[:, None] == users[None, :]
    dots = dots.masked_fill(same, float("inf"))
    index = dots.argmin(dim=1)
    valid = ~same.all(dim=1)
    return index, valid


def cross_modal_loss(za: torch.Tensor, zb: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
    """Eq. 5-8 for one ordered pair (A, B): align a user's codes, push the most-negative pair apart.

    ``softplus(-x) = -log sigmoid(x)``, so the positive term is ``-log sigma(z_i^A . z_i^B)`` and the
    negative term ``-log sigma(-z_i^A . z_j*^B)``. Means over the batch.
    """
    pos = F.softplus(-(za * zb).sum(-1)).mean()
    index, valid = hardest_negatives(za, zb, users)
    if not bool(valid.any()):
        return pos
    neg = F.softplus((za[valid] * zb[index[valid]]).sum(-1)).mean()
    return pos + neg
