"""The multi-view models' training losses, as learnable-triangulation and ContextPose define them.

Coordinates are scaled by 0.1 (millimetres -> centimetres) before the keypoint losses, as both
seeds do. Algebraic: "MSESmooth" (squared error per coordinate; above ``threshold`` = 400 cm^2
it becomes ``e^0.1 * threshold^0.9``), summed over valid joints and divided by 3 x their count.
Volumetric and ContextPose: mean absolute error + 0.01 x the volumetric cross-entropy (-log of
the probability at the voxel nearest each true joint). ContextPose adds 1e6 x the mean squared
error between its attention and the Gaussian target map. ContextPose's keypoint loss is on
absolute world coordinates (its headline number is pelvis-relative); so is ours.
"""
from __future__ import annotations

import torch

from pose3d.geometry.cube import nearest_voxel, to_cube_frame
from pose3d.models.v2v_context import attention_target
from pose3d.training.losses import FINAL

SCALE = 0.1  # mm -> cm, both seeds' scale_keypoints_3d
CE_WEIGHT = 0.01
ATTENTION_WEIGHT = 1e6


def mse_smooth(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, threshold: float = 400.0) -> torch.Tensor:
    """learnable-triangulation's KeypointsMSESmoothLoss on (B, J, 3) points (already scaled), (B, J) validity."""
    diff = torch.where(valid[..., None], (pred - target) ** 2, torch.zeros_like(pred))
    big = diff > threshold
    diff = torch.where(big, diff.clamp_min(threshold) ** 0.1 * threshold ** 0.9, diff)
    return diff.sum() / (3 * valid.sum().clamp_min(1))


def mae(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred - target).abs().mean()


def volumetric_ce(probabilities: torch.Tensor, grid: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over (B, J) of -log(p + 1e-6) at the voxel nearest each target joint."""
    idx = nearest_voxel(target, grid)
    p = probabilities.gather(-1, idx[..., None])[..., 0]
    return -(p + 1e-6).log().mean()


def algebraic_loss(outputs: dict, target: torch.Tensor) -> torch.Tensor:
    pred = outputs[FINAL]
    valid = outputs["valid"] & torch.isfinite(pred).all(-1)
    pred = torch.where(valid[..., None], pred, torch.zeros_like(pred))
    return mse_smooth(pred * SCALE, target * SCALE, valid)


def volumetric_loss(outputs: dict, target: torch.Tensor) -> torch.Tensor:
    return mae(outputs[FINAL] * SCALE, target * SCALE) + CE_WEIGHT * volumetric_ce(outputs["probabilities"],
                                                                                  outputs["grid"], target)


def contextpose_loss(outputs: dict, target: torch.Tensor, cube_side_mm: float, cube_size: int) -> torch.Tensor:
    """The volumetric loss plus 1e6 x the attention's squared error against ContextPose's Gaussian target,
    made from the true joints in the cube's own axes (the cube's ``centre`` and ``angle`` are in ``outputs``)."""
    coarse = round(outputs["attention"].shape[-1] ** (1 / 3))
    local = to_cube_frame(target, outputs["centre"], outputs["angle"])
    goal = attention_target(local, coarse, cube_side_mm, cube_size)
    attention = ((outputs["attention"].float() - goal) ** 2).mean()
    return volumetric_loss(outputs, target) + ATTENTION_WEIGHT * attention
