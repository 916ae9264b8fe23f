"""Common plumbing for PyTorch recommenders: the stages they declare for the shared loops, batched
scoring, and checkpoints as safetensors + JSON (no pickle anywhere).

A torch model is trained with ``amae.training.fit(model, data)``: the loops live in
``amae.training`` and the model supplies ``setup`` (checks, no loops), ``build`` (its module) and
``stages`` (what to train, with which loss and parameters; see :mod:`amae.models.stages`)."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from amae.data.io import atomic_path, read_json, write_json
from amae.models.base import Recommender, TrainData, as_2d
from amae.models.repeat import repeat_loss
from amae.models.stages import PointwiseStage, Stage, StepFn, TrainConfig


def shares_candidates(items: np.ndarray) -> bool:
    """True when every row of an (n, k) item block is the same row (a broadcast view, as full ranking
    and serving pass it): then the item side is computed once for all rows."""
    return items.ndim == 2 and items.shape[0] > 1 and items.strides[0] == 0


TRAIN_FIELDS = {f.name for f in fields(TrainConfig)}
TRAIN_DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}


class TorchRecommender(Recommender):
    """Subclasses implement ``build(data)`` -> nn.Module with ``logits(users, items, record)`` and
    ``score_block(users (n,), items (n, k), times)`` -> (n, k) tensor; ``penalty(...)`` (the per-row L2) and
    optionally ``decayed_parameters()`` (dense weights whose L2 is weight decay)."""

    default_params: dict[str, Any] = {}
    score_is_logit = True  # every torch model here ends in sigmoid(logit) (Eq. 13, BCE)
    train_defaults = TRAIN_DEFAULTS  # epochs, lr, l2, batch_size, ... (amae.training.trainer.TrainConfig)

    def __init__(self, **params: Any) -> None:
        merged = {**self.default_params, **params}
        super().__init__(**merged)
        self.train_config = TrainConfig(**{k: v for k, v in merged.items() if k in TRAIN_FIELDS})
        self.module: torch.nn.Module | None = None
        self.device = torch.device("cpu")
        self.meta: dict[str, Any] = {}

    # -- subclass hooks -------------------------------------------------------------------
    def setup(self, data: TrainData) -> None:
        """Check (and keep) what the model needs from ``data`` before its module is built."""

    def build(self, data: TrainData) -> torch.nn.Module:
        raise NotImplementedError

    def stages(self, data: TrainData) -> list[Stage]:
        """What ``amae.training.fit`` runs, in order, once ``self.module`` is built: by default the
        pointwise stage with BCE + ``l2 * module.penalty`` and, where the module has
        ``decayed_parameters``, those weights' L2 as weight decay."""
        return [PointwiseStage(self.pointwise_step(), decayed=getattr(self.module, "decayed_parameters", None))]

    def pointwise_step(self) -> StepFn:
        """BCE on the module's logits plus its L2 penalty: the loss every pointwise model shares."""
        module = self.module
        assert module is not None
        l2 = self.train_config.l2

        def step(record: torch.Tensor, u: torch.Tensor, i: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            logits = module.logits(u, i, record)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
            loss = loss + repeat_loss(getattr(module, "repeat", None), logits, u, i, y)
            return loss + l2 * module.penalty(u, i)

        return step

    def extra_state(self) -> dict[str, Any]:
        """JSON-serialisable facts the module needs to be rebuilt on load (sizes, flags)."""
        return {}

    def rebuild(self, state: dict[str, Any]) -> torch.nn.Module:
        raise NotImplementedError

    # -- interface ------------------------------------------------------------------------
    def fit(self, data: TrainData) -> TorchRecommender:
        raise TypeError(f"{self.name} is trained by the shared loops: use amae.training.fit(model, data)")

    @torch.inference_mode()
    def score(self, users: np.ndarray, items: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        if self.module is None:
            raise RuntimeError(f"{self.name}: score() before fit() or load()")
        users, items = as_2d(users, items)
        self.module.eval()
        if shares_candidates(items) and hasattr(self.module, "score_shared"):
            # Every row scores the same items (full ranking, serving): the item side once, one matmul.
            out = self.module.score_shared(torch.tensor(users, device=self.device),
                                           torch.tensor(items[0], device=self.device), times)
            return out.float().cpu().numpy()
        # torch.tensor copies: item blocks are often read-only broadcast views (full ranking).
        out = self.module.score_block(torch.tensor(users, device=self.device),
                                      torch.tensor(items, device=self.device), times)
        return out.float().cpu().numpy()

    def save(self, folder: Path) -> None:
        assert self.module is not None
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.module.state_dict().items()}
        with atomic_path(folder / "weights.safetensors") as tmp:
            save_file(state, str(tmp))
        write_json(folder / "model.json", {"name": self.name, "version": self.version, "params": self.params,
                                           "train_config": asdict(self.train_config),
                                           "state": self.extra_state(), "history": self.history,
                                           "fit_outcome": self.fit_outcome})

    @classmethod
    def load(cls, folder: Path) -> TorchRecommender:
        folder = Path(folder)
        meta = read_json(folder / "model.json")
        saved = int(meta.get("version", 1))
        if saved != cls.version:
            raise ValueError(f"saved by {cls.name} version {saved}, and this amae's {cls.name} is version "
                             f"{cls.version} (other weights layout or numbers): train it again")
        model = cls(**meta["params"])
        model.module = model.rebuild(meta["state"])
        model.module.load_state_dict(load_file(str(folder / "weights.safetensors")))
        model.module.eval()
        model.history = meta.get("history", [])
        model.fit_outcome = meta.get("fit_outcome")
        return model
