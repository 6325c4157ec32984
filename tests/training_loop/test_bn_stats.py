"""Exact BatchNorm statistics after training, and the momentum floor of short runs."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from pose3d.training.bn_stats import recalibrate_batchnorm
from pose3d.training.loop import BN_LR_WINDOW, TrainConfig, bn_momentum


def test_recalibration_gives_the_plain_average_and_restores_momentum():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, momentum=0.01))
    model[1].running_mean.fill_(100.0)  # stale statistics of "older weights"
    batches = [torch.randn(64, 3) * 2 + 1 for _ in range(5)]
    model.eval()
    used = recalibrate_batchnorm(model, batches)
    assert used == 5
    with torch.no_grad():
        feats = [model[0](b) for b in batches]
    expected_mean = torch.stack([f.mean(0) for f in feats]).mean(0)
    expected_var = torch.stack([f.var(0, unbiased=True) for f in feats]).mean(0)
    assert torch.allclose(model[1].running_mean, expected_mean, atol=1e-5)
    assert torch.allclose(model[1].running_var, expected_var, atol=1e-4)
    assert model[1].momentum == 0.01 and not model.training  # restored


def test_recalibration_without_batchnorm_runs_nothing():
    calls = []
    model = nn.Linear(2, 2)
    model.register_forward_hook(lambda *a: calls.append(1))
    assert recalibrate_batchnorm(model, [torch.zeros(1, 2)]) == 0 and not calls


@pytest.mark.parametrize("epochs", [60, 80])
def test_momentum_floor_never_binds_at_the_seeds_recipes(epochs):
    """lr 1e-3 x0.95 per epoch over 60 (SRNet) or 80 (VideoPose3D) epochs: exactly their schedule."""
    cfg = TrainConfig(epochs=epochs, lr=1e-3, lr_decay=0.95)
    for epoch in range(epochs):
        assert bn_momentum(epoch, cfg, cfg.lr * cfg.lr_decay ** epoch) == pytest.approx(bn_momentum(epoch, cfg))


def test_momentum_floor_binds_on_short_runs():
    """Four epochs at lr 1e-3: the schedule would reach 0.003 while the weights still move fast."""
    cfg = TrainConfig(epochs=4, lr=1e-3, lr_decay=0.95)
    lr = cfg.lr * cfg.lr_decay ** 3
    assert bn_momentum(3, cfg) == pytest.approx(0.1 * 100 ** -0.75)
    assert bn_momentum(3, cfg, lr) == pytest.approx(lr / BN_LR_WINDOW)
    assert bn_momentum(0, TrainConfig(lr=1.0), 1.0) == pytest.approx(0.1)  # never above the start
