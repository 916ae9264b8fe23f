"""The stacked denoising autoencoder (SDAE) that codes users' bags of words.

Used by the MF_S / PMF_S baselines (``amae.models.social_mf``) on the ``words`` user content
(:class:`amae.content.words.BagOfWords`: training-period posts only). **Reconstruction** (the
paper names the baselines but gives no formulas, docs/design.md section 6.3):

* the input of a user is ``log1p(count)`` divided by the row maximum, in ``[0, 1]`` **[choice]**;
* the SDAE is ``V -> 500 -> 200 -> 50`` with a mirrored decoder, ReLU on hidden layers, a linear
  code and sigmoid reconstruction trained with binary cross-entropy; masking noise sets each input
  to 0 with probability 0.3. It is trained end to end as one deep denoising autoencoder
  **[choice: rather than greedy layer-wise pre-training, which the paper does not specify]**,
  seeded, and afterwards the code ``c_u`` of the clean input is fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from amae.models.stages import MinibatchStage


def sdae_inputs(counts: sp.csr_matrix) -> sp.csr_matrix:
    """``log1p(count) / row max``: in [0, 1], so a sigmoid decoder with BCE fits it."""
    x = counts.astype(np.float32).tocsr(copy=True)
    x.data = np.log1p(x.data)
    row_max = np.asarray(x.max(axis=1).todense()).ravel()
    scale = np.divide(1.0, row_max, out=np.zeros_like(row_max), where=row_max > 0)
    return (sp.diags(scale.astype(np.float32)) @ x).tocsr()


class SDAE(nn.Module):
    """Encoder ``V -> sizes...`` (ReLU between, linear code) and a mirrored decoder to logits."""

    def __init__(self, n_inputs: int, sizes: Sequence[int]) -> None:
        super().__init__()
        dims = [n_inputs, *[int(s) for s in sizes]]
        enc: list[nn.Module] = []
        dec: list[nn.Module] = []
        for i in range(len(dims) - 1):
            enc += [nn.Linear(dims[i], dims[i + 1]), nn.ReLU()]
        rev = dims[::-1]
        for i in range(len(rev) - 1):
            dec += [nn.Linear(rev[i], rev[i + 1]), nn.ReLU()]
        self.encoder = nn.Sequential(*enc[:-1])  # linear code
        self.decoder = nn.Sequential(*dec[:-1])  # logits of the reconstruction

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encoder(x)
        return code, self.decoder(code)


@dataclass
class SDAEResult:
    """The fitted network, the fixed codes (n_users, code size) and the per-epoch mean loss."""

    module: SDAE
    codes: np.ndarray
    losses: list[float]


def _dense(x: sp.csr_matrix, rows: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(x[rows].todense(), dtype=np.float32))


def sdae_stage(x: sp.csr_matrix, sizes: Sequence[int] = (500, 200, 50), noise: float = 0.3, epochs: int = 30,
               lr: float = 1e-3, batch_size: int = 256, l2: float = 1e-6, seed: int = 0,
               finish: Callable[[SDAEResult], None] | None = None) -> MinibatchStage:
    """The SDAE's training on the rows of ``x`` (inputs in [0, 1]) with masking noise, as a stage.

    Rows are densified one batch at a time, so a paper-scale user x 20k matrix never sits dense in
    memory. Users with an empty bag (no training posts) are not trained on; their code is the code
    of the all-zero input, the same for all of them. ``finish`` receives the fitted network with
    the fixed codes of the clean inputs.
    """
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"sdae: masking noise must lie in [0, 1), got {noise}")
    x = sp.csr_matrix(x, dtype=np.float32)
    torch.manual_seed(int(seed))
    module = SDAE(x.shape[1], sizes)
    gen = torch.Generator().manual_seed(int(seed))
    active = np.flatnonzero(np.diff(x.indptr) > 0) if x.shape[1] > 0 else np.zeros(0, np.int64)

    def loss(rows: np.ndarray) -> torch.Tensor:
        batch = _dense(x, active[rows])
        keep = (torch.rand(batch.shape, generator=gen) >= noise).float()
        _, logits = module(batch * keep)
        return nn.functional.binary_cross_entropy_with_logits(logits, batch)

    def done(history: list[dict]) -> None:
        if finish is not None:
            finish(SDAEResult(module, encode(module, x, batch_size), [h["loss"] for h in history]))

    return MinibatchStage("sdae", module, len(active), loss, list(module.parameters()), int(epochs), lr,
                          int(batch_size), int(seed), weight_decay=l2, finish=done)


@torch.inference_mode()
def encode(module: SDAE, x: sp.csr_matrix, batch_size: int = 1024) -> np.ndarray:
    """Codes of the clean (un-masked) inputs, batched."""
    module.eval()
    out = [module.encoder(_dense(x, np.arange(s, min(x.shape[0], s + batch_size)))).numpy()
           for s in range(0, x.shape[0], batch_size)]
    if not out:
        return np.zeros((0, module.encoder[-1].out_features), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)
