"""Training losses of the lifting seeds, on (..., J, 3) tensors.

VideoPose3D, RIE: MPJPE; SRNet: L1 on the normalised target; SimpleBaseline: MSE;
RS-Net: 0.9 MSE + 0.1 L1 (compose from these). ``weighted_mpjpe`` is VideoPose3D's
per-joint weighted form (its trajectory model weights by 1/depth).
"""
from __future__ import annotations

from collections.abc import Callable

import torch


def _check(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")


def mpjpe_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance per joint, over every joint, frame and sample."""
    _check(pred, target)
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def weighted_mpjpe(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean of ``weights`` (broadcast to (..., J)) times each joint's Euclidean distance."""
    _check(pred, target)
    return (weights * torch.linalg.vector_norm(pred - target, dim=-1)).mean()


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute coordinate error (SRNet): over coordinates, joints, frames and samples."""
    _check(pred, target)
    return (pred - target).abs().mean()


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared coordinate error (SimpleBaseline; RS-Net's main term)."""
    _check(pred, target)
    return ((pred - target) ** 2).mean()


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mpjpe": mpjpe_loss,
    "l1": l1_loss,
    "mse": mse_loss,
}


def get_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A loss by its config name (``mpjpe``, ``l1``, ``mse``)."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}") from None
