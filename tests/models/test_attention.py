"""Attention over the global and contextual codes (Eq. 10-12)."""

from __future__ import annotations

import torch

from amae.models.attention import ContextAttention


def test_weights_are_positive_and_sum_to_one() -> None:
    torch.manual_seed(0)
    att = ContextAttention(16, 16, 48, 16)
    codes = [torch.randn(6, 16) * 3, torch.randn(6, 16) * 3]
    w = att(codes, torch.randn(6, 16), torch.randn(6, 5, 48))
    assert w.shape == (6, 5, 2)
    assert (w > 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(6, 5))


def test_matches_the_concatenated_formula_and_depends_on_the_item() -> None:
    torch.manual_seed(1)
    att = ContextAttention(4, 3, 5, 4)
    z, p, q = [torch.randn(2, 4), torch.randn(2, 4)], torch.randn(2, 3), torch.randn(2, 3, 5)
    w = att(z, p, q)
    for n in range(2):
        for k in range(3):
            betas = torch.stack([att.out(torch.relu(att.proj(torch.cat([zc[n], p[n], q[n, k]])))).squeeze()
                                 for zc in z])
            torch.testing.assert_close(w[n, k], torch.softmax(betas, 0))
    assert not torch.allclose(w[:, 0], w[:, 1])
