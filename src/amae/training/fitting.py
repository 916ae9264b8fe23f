"""``fit(model, data)``: the one way every registered model is trained.

Closed-form models (ItemPop, UCFE) fit themselves; a torch model is seeded, put on its device,
checked (``setup``), built (``build``) and then trained stage by stage with the shared loops
(:func:`amae.training.trainer.fit_minibatch`, :func:`amae.training.trainer.fit_pointwise`) on
what its ``stages`` declare. The model never loops itself.
"""

from __future__ import annotations

from typing import Any, TypeVar

import scipy.sparse as sp
import torch

from amae.models.base import Recommender, TrainData
from amae.models.sdae import SDAEResult, sdae_stage
from amae.models.stages import MinibatchStage, PointwiseStage, Stage
from amae.models.torch_base import TorchRecommender
from amae.training.trainer import fit_minibatch, fit_pointwise, resolve_device, seed_everything

M = TypeVar("M", bound=Recommender)


def fit(model: M, data: TrainData) -> M:
    """Train ``model`` on ``data`` in place and return it (same seed, same numbers)."""
    if not isinstance(model, TorchRecommender):
        model.fit(data)
        return model
    seed_everything(data.seed)
    model.device = resolve_device(data.device)
    model.setup(data)
    model.module = model.build(data).to(model.device)
    for stage in model.stages(data):
        run_stage(model, stage, data)
    model.module.eval()
    return model


def run_stage(model: TorchRecommender, stage: Stage, data: TrainData) -> None:
    """One declared stage with the shared loop of its kind."""
    if isinstance(stage, MinibatchStage):
        history = fit_minibatch(stage, model.device)
        if stage.finish is not None:
            stage.finish(history)
        return
    if not isinstance(stage, PointwiseStage):
        raise TypeError(f"{model.name}: unknown training stage {type(stage).__name__}")
    if stage.start is not None:
        stage.start()
    assert model.module is not None
    params = stage.params() if stage.params is not None else None
    decayed = stage.decayed() if stage.decayed is not None else []
    model.history, outcome = fit_pointwise(model.module, stage.step, model.score, data.users, data.items,
                                           data.n_items, data.valid, model.train_config, data.seed, model.device,
                                           label=model.name, params=params, decayed=decayed)
    model.fit_outcome = outcome.to_dict()
    if stage.finish is not None:
        stage.finish()


def fit_sdae(x: sp.csr_matrix, **kwargs: Any) -> SDAEResult:
    """Train a stand-alone SDAE (:func:`amae.models.sdae.sdae_stage`) and return it with its codes."""
    out: list[SDAEResult] = []
    stage = sdae_stage(x, **kwargs, finish=out.append)
    history = fit_minibatch(stage, torch.device("cpu"))
    assert stage.finish is not None
    stage.finish(history)
    return out[0]
