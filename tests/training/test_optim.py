"""LazyAdam follows SparseAdam's rule: only touched rows move, duplicates summed, same numbers."""

from __future__ import annotations

import pytest
import torch

from amae.training.optim import LazyAdam


def _train(opt_cls: type, steps: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    table = torch.nn.Embedding(50, 4, sparse=True)
    start = table.weight.detach().clone()
    opt = opt_cls(table.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        rows = torch.randint(0, 40, (16,), generator=gen)  # rows 40-49 are never touched; repeats within a batch
        opt.zero_grad(set_to_none=True)
        (table(rows).sum(-1) ** 2).mean().backward()
        opt.step()
    return start, table.weight.detach().clone()


def test_matches_sparse_adam_and_leaves_untouched_rows() -> None:
    start, lazy = _train(LazyAdam)
    _, reference = _train(torch.optim.SparseAdam)
    torch.testing.assert_close(lazy, reference, rtol=1e-5, atol=1e-6)
    assert torch.equal(lazy[40:], start[40:])
    assert not torch.equal(lazy[:40], start[:40])


def test_refuses_dense_gradients_and_bad_settings() -> None:
    w = torch.nn.Parameter(torch.zeros(3, 2))
    w.grad = torch.ones(3, 2)
    with pytest.raises(RuntimeError, match="sparse gradients"):
        LazyAdam([w]).step()
    with pytest.raises(ValueError):
        LazyAdam([w], lr=0)
