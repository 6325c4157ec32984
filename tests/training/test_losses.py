"""Training losses: hand values, shapes and gradients."""
from __future__ import annotations

import pytest
import torch

from pose3d.training import losses as L


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    target = torch.zeros(1, 2, 3, dtype=torch.float64)
    pred = torch.tensor([[[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]]], dtype=torch.float64)  # distances 5 and 0
    return pred, target


def test_hand_values():
    pred, target = _pair()
    assert L.mpjpe_loss(pred, target).item() == pytest.approx(2.5)
    assert L.l1_loss(pred, target).item() == pytest.approx(7 / 6)
    assert L.mse_loss(pred, target).item() == pytest.approx(25 / 6)
    assert L.weighted_mpjpe(pred, target, torch.tensor([2.0, 0.0], dtype=torch.float64)).item() == pytest.approx(5.0)
    assert L.weighted_mpjpe(pred, target, torch.ones(2, dtype=torch.float64)).item() == pytest.approx(2.5)


def test_any_leading_shape():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(4, 3, 17, 3, generator=g), torch.randn(4, 3, 17, 3, generator=g)
    flat = L.mpjpe_loss(pred.reshape(-1, 17, 3), target.reshape(-1, 17, 3))
    assert L.mpjpe_loss(pred, target).item() == pytest.approx(flat.item())
    assert L.mpjpe_loss(pred, target).item() == pytest.approx((pred - target).norm(dim=-1).mean().item())


@pytest.mark.parametrize("name", sorted(L.LOSSES))
def test_gradients_flow(name):
    g = torch.Generator().manual_seed(1)
    pred = torch.randn(8, 17, 3, generator=g, requires_grad=True)
    target = torch.randn(8, 17, 3, generator=g)
    loss = L.get_loss(name)(pred, target)
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    # at a perfect prediction the gradient is finite (zero), not NaN
    exact = target.clone().requires_grad_(True)
    L.get_loss(name)(exact, target).backward()
    assert torch.isfinite(exact.grad).all()


def test_mpjpe_gradient_points_away_from_target():
    pred, target = _pair()
    pred.requires_grad_(True)
    L.mpjpe_loss(pred, target).backward()
    # d/dp of mean(|p_j - t_j|) = (p_j - t_j) / |p_j - t_j| / J for the displaced joint
    torch.testing.assert_close(pred.grad[0, 0], torch.tensor([0.6, 0.8, 0.0], dtype=torch.float64) / 2)


def test_errors():
    with pytest.raises(ValueError, match="differ in shape"):
        L.mpjpe_loss(torch.zeros(2, 17, 3), torch.zeros(2, 16, 3))
    with pytest.raises(ValueError, match="unknown loss"):
        L.get_loss("huber")
