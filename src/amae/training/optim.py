"""LazyAdam: SparseAdam's update rule for embedding tables, in fewer kernels.

Why not ``torch.optim.SparseAdam``: it coalesces every sparse gradient and then reads and writes
the moments through ``sparse_mask`` and sparse additions, about 41% of an MF step on lastfm. The
rule itself is simple: only the rows a batch touched move, their moments are updated as Adam's and
the bias correction uses the table's step count. Here the duplicates of a batch are summed by one
``index_add_`` over ``torch.unique`` and the moments are gathered and written back by row index.
The numbers are SparseAdam's to float rounding (tested), and a step of MF is about 1.3x faster.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


class LazyAdam(torch.optim.Optimizer):
    """Adam on the touched rows of sparse-gradient parameters (``nn.Embedding(sparse=True)``)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        if lr <= 0 or not 0 <= betas[0] < 1 or not 0 <= betas[1] < 1 or eps <= 0:
            raise ValueError(f"LazyAdam: invalid lr={lr}, betas={betas} or eps={eps}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if not p.grad.is_sparse:
                    raise RuntimeError("LazyAdam is for sparse gradients (nn.Embedding(sparse=True)); use Adam")
                self._update(p, p.grad, group["lr"], beta1, beta2, group["eps"])

    def _update(self, p: torch.Tensor, grad: torch.Tensor, lr: float, beta1: float, beta2: float,
                eps: float) -> None:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        rows, inverse = torch.unique(grad._indices()[0], return_inverse=True)
        values = grad._values()
        g = values.new_zeros((len(rows), *p.shape[1:])).index_add_(0, inverse, values)
        m = state["exp_avg"].index_select(0, rows).lerp_(g, 1 - beta1)
        v = state["exp_avg_sq"].index_select(0, rows).mul_(beta2).addcmul_(g, g, value=1 - beta2)
        state["exp_avg"].index_copy_(0, rows, m)
        state["exp_avg_sq"].index_copy_(0, rows, v)
        step_size = lr * math.sqrt(1 - beta2 ** state["step"]) / (1 - beta1 ** state["step"])
        p.index_add_(0, rows, m.div_(v.sqrt_().add_(eps)).mul_(-step_size))
