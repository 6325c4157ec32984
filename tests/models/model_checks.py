"""Checks shared by the model tests: BN statistics that matter, window-by-window runs, overfitting."""
from __future__ import annotations

import pytest
import torch
from torch import nn


def randomise_bn(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial running statistics and affine terms, so eval-mode comparisons test something."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def windows(x: torch.Tensor, size: int) -> torch.Tensor:
    """(B, T, J, 2) -> (B * (T - size + 1), size, J, 2): every window of ``size`` frames."""
    w = x.unfold(1, size, 1)  # (B, T', J, 2, size)
    return w.permute(0, 1, 4, 2, 3).reshape(-1, size, *x.shape[2:])


def overfit_drop(model: nn.Module, frames: int, joints_in: int = 17, joints_out: int = 17,
                 steps: int = 30, lr: float = 1e-3, seed: int = 0) -> tuple[float, float]:
    """Training-mode L1 loss on 64 random samples before and after ``steps`` Adam steps.

    Training mode, because in eval mode 30 steps leave the BN running statistics far from the batch
    statistics (momentum 0.1), which would measure BN's lag rather than whether the model learns.
    """
    torch.manual_seed(seed)
    x = torch.randn(64, frames, joints_in, 2)
    y = torch.randn(64, 1, joints_out, 3)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = (model(x) - y).abs().mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        losses.append((model(x) - y).abs().mean().item())
    return losses[0], losses[-1]


@pytest.fixture
def single_thread():
    """Run on one intra-op thread: these models are tiny, and spinning OpenMP threads slow down by
    orders of magnitude when other work (a training run, a parallel test worker) shares the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
