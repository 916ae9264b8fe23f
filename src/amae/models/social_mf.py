"""MF_S and PMF_S: matrix factorisation with a user's social text as side information.

**Reconstruction** (the paper names both baselines but gives no formulas, docs/design.md section 6.3).
Each user's bag of words over their training-period posts is coded by a stacked denoising
autoencoder (``amae.models.sdae``), trained first, seeded; its code ``c_u`` is then fixed (a
buffer, not a parameter). A learned linear map ``W`` (no bias) takes it to the latent space.

* **MF_S**: ``y = sigmoid([p_u, W c_u] . q_m)`` with ``q_m`` of size ``2d``: the text half of the
  user vector lets users with no overlapping plays, but similar posts, share preferences.
* **PMF_S**: ``y = sigmoid(p_u . q_m)`` with the prior penalty ``lambda_U ||p_u - W c_u||^2``
  (``lambda_u``, default 0.01: 0.1 held ``p_u`` so close to the text that plays were underused on
  the synthetic world; the PMF reading of a Gaussian prior on ``p_u`` centred on the text), added
  to BCE + L2. Users with no fit record are never in a batch, so after training their ``p_u`` is set to the prior mean
  ``W c_u`` **[choice]** (the usual cold-start rule of such models).

Codes are standardised per dimension over the users before ``W`` sees them **[choice]**, so
``W``'s scale does not depend on the SDAE's. Both are trained with the shared ``fit_pointwise``
(Adam, sampled negatives, early stopping on validation NDCG@10).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from amae.content.words import BagOfWords
from amae.data.io import DataError
from amae.models.base import LEARNING_SPACE, TrainData, register
from amae.models.repeat import RepeatTerm, repeat_logits, repeat_loss
from amae.models.sdae import SDAEResult, sdae_inputs, sdae_stage
from amae.models.stages import PointwiseStage, Stage
from amae.models.torch_base import TorchRecommender


def standardise(codes: np.ndarray) -> np.ndarray:
    mean = codes.mean(axis=0, keepdims=True)
    std = codes.std(axis=0, keepdims=True)
    return ((codes - mean) / np.where(std > 1e-8, std, 1.0)).astype(np.float32)


class SocialMFModule(nn.Module):
    """User and item tables, the fixed codes and ``W``; ``concat`` picks MF_S over PMF_S."""

    def __init__(self, n_users: int, n_items: int, dim: int, code_dim: int, init_std: float, concat: bool,
                 repeat: RepeatTerm | None = None) -> None:
        super().__init__()
        self.concat = concat
        self.repeat = repeat
        self.user = nn.Embedding(n_users, dim, sparse=True)
        self.item = nn.Embedding(n_items, 2 * dim if concat else dim, sparse=True)
        self.proj = nn.Linear(code_dim, dim, bias=False)
        nn.init.normal_(self.user.weight, 0.0, init_std)
        nn.init.normal_(self.item.weight, 0.0, init_std)
        self.register_buffer("codes", torch.zeros(n_users, code_dim))

    def text(self, u: torch.Tensor) -> torch.Tensor:
        return self.proj(self.codes[u])

    def user_vector(self, u: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.user(u), self.text(u)], dim=-1) if self.concat else self.user(u)

    def logits(self, u: torch.Tensor, i: torch.Tensor, record: torch.Tensor | None = None) -> torch.Tensor:
        return (self.user_vector(u) * self.item(i)).sum(-1)

    def penalty(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        return (self.user(u).pow(2).sum(-1) + self.item(i).pow(2).sum(-1)).mean() + self.proj.weight.pow(2).sum()

    def prior(self, u: torch.Tensor) -> torch.Tensor:
        """``||p_u - W c_u||^2`` averaged over the batch (PMF_S's text prior)."""
        return (self.user(u) - self.text(u)).pow(2).sum(-1).mean()

    def score_block(self, users: torch.Tensor, items: torch.Tensor, times: Any = None) -> torch.Tensor:
        scores = torch.einsum("nd,nkd->nk", self.user_vector(users), self.item(items))
        return scores + repeat_logits(self.repeat, users[:, None], items)


class _SocialMF(TorchRecommender):
    """Shared fitting: bag of words -> SDAE codes (fixed) -> MF with the shared trainer."""

    content_kind: ClassVar[str | None] = "words"
    concat: ClassVar[bool] = True
    #: small sizes for the contract test and smoke runs
    fast_params: ClassVar[dict[str, Any]] = {"epochs": 2, "sdae_epochs": 2, "sdae_sizes": [16, 8]}
    search_space: ClassVar[dict[str, tuple]] = dict(LEARNING_SPACE)
    default_params = {"dim": 16, "init_std": 0.01, "max_vocab": 20_000, "sdae_sizes": [500, 200, 50],
                      "sdae_noise": 0.3, "sdae_epochs": 30, "sdae_lr": 1e-3, "sdae_batch_size": 256,
                      "lambda_u": 0.0, "repeat": True}
    version = 2  # 2: the re-listening term (repeat), as MF's

    @classmethod
    def content_options(cls, params: dict[str, Any]) -> dict[str, Any]:
        return {"max_vocab": int(params.get("max_vocab", cls.default_params["max_vocab"]))}

    def setup(self, data: TrainData) -> None:
        if not isinstance(data.content, BagOfWords):
            raise DataError(f"{self.name}: TrainData.content must be a BagOfWords (from prepare_content)")
        if data.content.counts.shape[0] != data.n_users:
            raise DataError(f"{self.name}: bag of words has {data.content.counts.shape[0]} users, "
                            f"the data {data.n_users}")

    def stages(self, data: TrainData) -> list[Stage]:
        """The SDAE on the users' bags of words (codes then fixed), then MF with the codes."""
        p = self.params
        module = self.module
        assert module is not None

        def use_codes(sdae: SDAEResult) -> None:
            self.sdae_losses = sdae.losses
            module.codes.copy_(torch.from_numpy(standardise(sdae.codes)).to(module.codes.device))

        sdae = sdae_stage(sdae_inputs(data.content.counts), p["sdae_sizes"], float(p["sdae_noise"]),
                          int(p["sdae_epochs"]), float(p["sdae_lr"]), int(p["sdae_batch_size"]), seed=data.seed,
                          finish=use_codes)
        l2, lambda_u = self.train_config.l2, float(p["lambda_u"])

        def step(record: torch.Tensor, u: torch.Tensor, i: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            logits = module.logits(u, i, record)
            loss = nn.functional.binary_cross_entropy_with_logits(logits, y)
            loss = loss + l2 * module.penalty(u, i) + repeat_loss(module.repeat, logits, u, i, y)
            return loss + lambda_u * module.prior(u) if lambda_u > 0 else loss

        def cold_users() -> None:
            if not self.concat:
                self._cold_users_to_prior(np.asarray(data.users, np.int64), data.n_users)

        return [sdae, PointwiseStage(step, finish=cold_users)]

    @torch.no_grad()
    def _cold_users_to_prior(self, fit_users: np.ndarray, n_users: int) -> None:
        cold = np.setdiff1d(np.arange(n_users), fit_users)
        if cold.size:
            idx = torch.as_tensor(cold, device=self.device)
            self.module.user.weight[idx] = self.module.text(idx)

    def build(self, data: TrainData) -> nn.Module:
        repeat = RepeatTerm.of(data.users, data.items, data.n_items) if self.params["repeat"] else None
        self._sizes = {"n_users": data.n_users, "n_items": data.n_items, "code_dim": int(self.params["sdae_sizes"][-1]),
                       "repeat_pairs": RepeatTerm.size(repeat)}
        return self._make(repeat)

    def extra_state(self) -> dict[str, Any]:
        return {**self._sizes, "sdae_losses": getattr(self, "sdae_losses", [])}

    def rebuild(self, state: dict[str, Any]) -> nn.Module:
        self._sizes = {k: state[k] for k in ("n_users", "n_items", "code_dim")}
        self._sizes["repeat_pairs"] = int(state.get("repeat_pairs", 0))
        self.sdae_losses = state.get("sdae_losses", [])
        return self._make(RepeatTerm.placeholder(self._sizes["repeat_pairs"], state["n_items"]))

    def _make(self, repeat: RepeatTerm | None) -> nn.Module:
        s = self._sizes
        return SocialMFModule(s["n_users"], s["n_items"], self.params["dim"], s["code_dim"], self.params["init_std"],
                              self.concat, repeat)


@register
class MFS(_SocialMF):
    """MF_S: ``sigmoid([p_u, W c_u] . q_m)`` (reconstruction; see module doc)."""

    name = "mf_s"
    concat = True


@register
class PMFS(_SocialMF):
    """PMF_S: ``sigmoid(p_u . q_m)`` with the prior ``lambda_U ||p_u - W c_u||^2`` (reconstruction)."""

    name = "pmf_s"
    concat = False
    default_params = {**_SocialMF.default_params, "lambda_u": 0.01}
    search_space = {**_SocialMF.search_space, "lambda_u": ("float", 1e-4, 1.0, True)}
