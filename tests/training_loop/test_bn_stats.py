"""Exact BatchNorm statistics after training, and the momentum floor of short runs."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from pose3d.training.bn_stats import recalibrate_batchnorm
from pose3d.training.loop import TrainConfig, bn_momentum


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


def test_momentum_floor_binds_only_on_short_epochs():
    cfg = TrainConfig(epochs=80)
    assert bn_momentum(79, cfg, steps_per_epoch=1500) == pytest.approx(bn_momentum(79, cfg))  # the seeds' schedule
    assert bn_momentum(79, cfg, steps_per_epoch=40) == pytest.approx(1 / 40)
    assert bn_momentum(0, cfg, steps_per_epoch=2) == pytest.approx(0.1)  # never above the start
