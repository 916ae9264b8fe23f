"""What a model asks the training loops to run: its stages, declared here, run by ``amae.training``.

Why the split (docs/design.md sections 6.1 and 11): a model knows its module, its losses and which parameters each
stage moves; how epochs, batches, optimisers, early stopping and seeds are handled is the same for
every model and lives once, in ``amae.training``. So a model returns a list of stages from
``TorchRecommender.stages`` and never loops itself:

* :class:`MinibatchStage`: epochs of shuffled minibatches over ``n_rows`` rows minimising a loss
  (AMAE's stage 1, the SDAE of MF_S/PMF_S);
* :class:`PointwiseStage`: BCE over positives and sampled negatives with early stopping on
  validation NDCG@10 (every collaborative and content model's main stage).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

#: what ``TrainConfig.stop_on`` may name
STOP_VIEWS = ("new_pairs", "all")


@dataclass
class TrainConfig:
    """The pointwise stage's budget and sampling (model parameters of the same names set it)."""

    epochs: int = 100
    batch_size: int = 512
    lr: float = 1e-3
    l2: float = 1e-6
    n_negatives: int = 3
    #: 10 for every model [choice]: validation NDCG@10 climbs by about 0.001 an epoch under noise of
    #: about 0.005, so a patience of 6 stopped runs of one model anywhere from epoch 17 to 53 and
    #: made seeds disagree more than content and noise differ (README, "Training")
    patience: int = 10
    #: patience is not counted before this epoch (clamped to ``epochs``)
    min_epochs: int = 10
    #: which validation cases early stopping reads [choice]: "all" or "new_pairs", the primary view's
    #: cases (a (user, track) pair absent from the fitting data; all of them when there are fewer
    #: than ``MIN_STOP_CASES``). A model learns new pairs before it memorises re-listens, so on
    #: re-listening data one stopping epoch cannot serve both views; "all" keeps the data's own mix
    #: (README, "Training", has the measured trade-off)
    stop_on: str = "all"
    #: batches of whole records (a positive beside its negatives; see ``pointwise_epoch``)
    group_records: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if self.stop_on not in STOP_VIEWS:
            raise ValueError(f"stop_on must be one of {', '.join(STOP_VIEWS)}, got {self.stop_on!r}")


#: step(record, users, items, labels) -> loss tensor (already including regularisation)
StepFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class MinibatchStage:
    """``epochs`` passes over ``n_rows`` rows in seeded random batches, each minimising ``loss(rows)``.

    ``loss`` gets the batch's row indices (int64 NumPy) and returns the batch loss; ``params`` are
    the only parameters the stage moves (Adam, ``lr``, ``weight_decay``); ``module`` is put in
    training mode for the stage and evaluation mode after; ``finish`` receives the per-epoch history.
    """

    name: str
    module: nn.Module
    n_rows: int
    loss: Callable[[np.ndarray], torch.Tensor]
    params: list[nn.Parameter]
    epochs: int
    lr: float
    batch_size: int
    seed: int
    weight_decay: float = 0.0
    finish: Callable[[list[dict]], None] | None = None


@dataclass
class PointwiseStage:
    """The model's main stage: ``step`` on batches of positives and sampled negatives.

    ``params`` (called when the stage starts, after ``start``) lists what the optimiser moves
    (None: every parameter that requires a gradient); ``finish`` runs after the best weights are
    restored.

    ``decayed`` (called after ``start`` too) lists dense weights whose L2 penalty
    ``l2 * sum(w ** 2) / batch_size`` is not in ``step``'s loss but is Adam's weight decay
    ``2 * l2 / batch_size``: the same gradient, added inside the fused optimiser kernel, instead of
    a pow, a sum and their backward per weight tensor in every step (0.4 ms of MF+AMAE's 8 ms).
    """

    step: StepFn
    params: Callable[[], list[nn.Parameter]] | None = None
    decayed: Callable[[], list[nn.Parameter]] | None = None
    start: Callable[[], None] | None = None
    finish: Callable[[], None] | None = None


Stage = MinibatchStage | PointwiseStage
