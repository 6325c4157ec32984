"""Training targets of the image models and the loss Integral regression trains with.

A target tensor holds, per joint, the coordinates the network should output followed by one
weight per coordinate: (B, J, 4) for 2D heatmaps (x, y, w_x, w_y), (B, J, 6) for Integral's volumes
(x, y, z, w_x, w_y, w_z). The weight is 0 for a joint outside the network's input (and, for z,
outside the depth range or without depth): Integral's ``vis`` and ``has_depth``.
The loss is Integral's ``JointLocationLoss``: the weighted absolute error per coordinate in
output (heatmap / voxel) units, summed over the coordinates and averaged over joints, examples
and the number of coordinates.
"""
from __future__ import annotations

import torch

from pose3d.models.integral import to_voxels


def keypoint_targets(uv_input: torch.Tensor, input_size: int, heatmap_size: int) -> torch.Tensor:
    """Joints in input pixels (B, J, 2) -> (B, J, 4) heatmap-pixel targets with in-image weights."""
    hm = (uv_input + 0.5) * (heatmap_size / input_size) - 0.5
    inside = ((hm >= -0.5) & (hm <= heatmap_size - 0.5)).all(-1, keepdim=True).to(hm.dtype)
    return torch.cat([hm, inside.expand_as(hm)], dim=-1)


def volume_targets(uv_input: torch.Tensor, z_rel_mm: torch.Tensor, input_size: int, heatmap_size: int,
                   depth_bins: int, depth_range_mm: float, has_depth: torch.Tensor | None = None) -> torch.Tensor:
    """Joints in input pixels (B, J, 2) and depth relative to the root (B, J, mm, already divided by
    the scale jitter) -> (B, J, 6) voxel targets with weights."""
    xyz = to_voxels(uv_input, z_rel_mm, input_size, heatmap_size, depth_bins, depth_range_mm)
    xy, z = xyz[..., :2], xyz[..., 2]
    inside_xy = ((xy >= -0.5) & (xy <= heatmap_size - 0.5)).all(-1, keepdim=True).to(xy.dtype)
    inside_z = ((z >= -0.5) & (z <= depth_bins - 0.5))[..., None].to(xy.dtype) * inside_xy
    if has_depth is not None:
        inside_z = inside_z * has_depth.to(xy.dtype).reshape(-1, 1, 1)
    return torch.cat([xyz, inside_xy.expand_as(xy), inside_z], dim=-1)


def joint_location_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Integral's weighted L1 in output units; ``target`` is (B, J, 2C) coordinates then weights."""
    c = pred.shape[-1]
    if target.shape[-1] != 2 * c or target.shape[:-1] != pred.shape[:-1]:
        raise ValueError(f"target {tuple(target.shape)} does not hold coordinates and weights for prediction "
                         f"{tuple(pred.shape)}")
    return ((pred.float() - target[..., :c]).abs() * target[..., c:]).mean()
