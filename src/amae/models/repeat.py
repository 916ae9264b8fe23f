"""A learned re-listening term: ``w * log(1 + plays(u, i))``, beside a backbone's score [choice].

Why: music listening is mostly re-listening, and a backbone that has to *memorise* re-listens in
its factors (MF) or towers (DMF) learns them late. Early stopping on all validation cases then runs
on into memorisation and loses the tracks the user has not played yet, while stopping on new pairs
throws the re-listens away (README, "Training"). Repeat-aware recommenders split the two (Anderson
et al. 2014, "Dynamics of repeat consumption"; RepeatNet, Ren et al. 2019); here one learned
weight on the user's play count of the track carries the re-listens, so the factors are left to
what the user has not played.

The count of a training pair leaves the scored listen itself out (``plays - 1``), as DMF's towers
leave a training pair out of their inputs: a track played once in training looks, while
training, like a track never played, and at test time a track played ``c`` times reads ``c``
(every one of them before it). On data without repeats every training count would be 0 and the
weight would get no gradient, so no term is built (:meth:`RepeatTerm.of`): the numbers are the
backbone's.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class RepeatTerm(nn.Module):
    """``weight * log1p(plays)`` of (user, item) pairs; ``plays`` from the fitting data."""

    #: the weight is ``SCALE * raw``: Adam moves a parameter about ``lr`` a step whatever its gradient,
    #: and a training listen with earlier plays of its pair is always a positive (negatives are never
    #: played), so the weight only ever climbs; unscaled it reached about 2 by the stopping epoch on
    #: a re-listening world, too little to lift a re-listen past the user's unplayed tracks
    SCALE = 300.0

    def __init__(self, users: np.ndarray, items: np.ndarray, n_items: int) -> None:
        super().__init__()
        keys, plays = np.unique(np.asarray(users, np.int64) * int(n_items) + np.asarray(items, np.int64),
                                return_counts=True)
        self.n_items = int(n_items)
        self.register_buffer("keys", torch.as_tensor(keys, dtype=torch.long))
        self.register_buffer("plays", torch.as_tensor(plays, dtype=torch.float32))
        self.weight = nn.Parameter(torch.zeros(()))

    @classmethod
    def of(cls, users: np.ndarray, items: np.ndarray, n_items: int) -> RepeatTerm | None:
        """The term of the fitting data, or None where no pair is played twice: every training count
        would be 0, the weight would stay 0, and the term would only cost time."""
        term = cls(users, items, n_items)
        return term if bool((term.plays > 1).any()) else None

    @classmethod
    def placeholder(cls, n_pairs: int, n_items: int) -> RepeatTerm | None:
        """A term of the saved shape (None for 0 pairs: none was built), its buffers then loaded
        from the weights file."""
        if n_pairs == 0:
            return None
        return cls(np.zeros(n_pairs, np.int64), np.arange(n_pairs, dtype=np.int64), n_items)

    @staticmethod
    def size(term: RepeatTerm | None) -> int:
        """The pairs a saved model's state records (0: no term)."""
        return 0 if term is None else len(term.keys)

    def counts(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Training plays of each (user, item); 0 for a pair never played. Shapes broadcast."""
        probe = users * self.n_items + items
        if len(self.keys) == 0:
            return torch.zeros(probe.shape, device=probe.device)
        at = torch.searchsorted(self.keys, probe.reshape(-1)).clamp(max=len(self.keys) - 1).reshape(probe.shape)
        return torch.where(self.keys[at] == probe, self.plays[at], 0.0)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """The term for (user, item) pairs; in training mode the scored listen is left out of its count."""
        plays = self.counts(users, items)
        if self.training:
            plays = (plays - 1.0).clamp(min=0.0)
        return self.SCALE * self.weight * torch.log1p(plays)


def repeat_logits(repeat: RepeatTerm | None, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor | float:
    """The term of (user, item) pairs (shapes broadcast), 0 without a term: what every backbone's
    scoring adds to its own logits."""
    return 0.0 if repeat is None else repeat(users, items)


def repeat_loss(repeat: RepeatTerm | None, logits: torch.Tensor, users: torch.Tensor, items: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor | float:
    """The term's own BCE, on the backbone's *detached* logits plus the term (0 without a term).

    The backbone keeps its own loss, unchanged: fitted jointly, the term explained every repeated
    training pair and the factors stopped learning from them (new pairs 0.157 against 0.165 on the
    re-listening world, DMF, each stopped at its best epoch). ``users`` broadcast against ``items``.
    """
    if repeat is None:
        return 0.0
    return F.binary_cross_entropy_with_logits(logits.detach() + repeat(users, items), labels)
