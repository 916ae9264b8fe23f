"""The per-modality autoencoder and the cross-modal loss with most-negative in-batch sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from amae.models.autoencoder import Autoencoder, cross_modal_loss, hardest_negatives


@pytest.mark.parametrize("seed", range(5))
def test_hardest_negative_is_argmin_over_other_users(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    za, zb = torch.randn(40, 16, generator=g), torch.randn(40, 16, generator=g)
    users = torch.randint(0, 6, (40,), generator=g)
    index, valid = hardest_negatives(za, zb, users)
    dots = (za @ zb.T).numpy()
    u = users.numpy()
    for i in range(40):
        others = np.flatnonzero(u != u[i])
        assert valid[i] == (len(others) > 0)
        if len(others):
            assert u[index[i]] != u[i]
            assert index[i] == others[np.argmin(dots[i, others])]


def test_no_negative_when_batch_has_one_user() -> None:
    za = torch.randn(5, 4)
    _, valid = hardest_negatives(za, za, torch.zeros(5, dtype=torch.long))
    assert not valid.any()
    # Only the positive term remains.
    torch.testing.assert_close(cross_modal_loss(za, za, torch.zeros(5, dtype=torch.long)),
                               F.softplus(-(za * za).sum(-1)).mean())


def test_cross_modal_loss_value_and_gradient() -> None:
    za = torch.randn(8, 4, requires_grad=True)
    zb = torch.randn(8, 4, requires_grad=True)
    users = torch.arange(8)
    index, _ = hardest_negatives(za, zb, users)
    expected = F.softplus(-(za * zb).sum(-1)).mean() + F.softplus((za * zb[index]).sum(-1)).mean()
    loss = cross_modal_loss(za, zb, users)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert za.grad is not None and zb.grad is not None and za.grad.abs().sum() > 0


def test_autoencoder_shapes_and_reconstruction() -> None:
    ae = Autoencoder(10, 32, 16)
    x = torch.randn(7, 10)
    z = ae(x)
    assert z.shape == (7, 16) and (z < 0).any()  # identity bottleneck
    assert ae.reconstruction_loss(x, z).ndim == 0
    opt = torch.optim.Adam(ae.parameters(), 1e-2)
    start = float(ae.reconstruction_loss(x, ae(x)).detach())
    for _ in range(100):
        opt.zero_grad()
        loss = ae.reconstruction_loss(x, ae(x))
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * start


def test_literal_relu_and_no_decoder() -> None:
    ae = Autoencoder(10, literal_relu=True)
    assert (ae(torch.randn(50, 10)) >= 0).all()
    bare = Autoencoder(10, decoder=False)
    assert bare.decoder is None
    with pytest.raises(RuntimeError, match="no decoder"):
        bare.reconstruction_loss(torch.zeros(1, 10), torch.zeros(1, 16))


@pytest.mark.parametrize("literal_relu", [False, True])
def test_encode_rows_is_the_code_of_the_stacked_inputs(literal_relu: bool) -> None:
    torch.manual_seed(0)
    ae = Autoencoder(12, 8, 4, literal_relu=literal_relu)
    a, b = torch.randn(5, 12), torch.randn(3, 12)
    torch.testing.assert_close(ae.encode_rows(a, b), ae(torch.cat([a, b])))
    torch.testing.assert_close(ae.encode_rows(a), ae(a))
