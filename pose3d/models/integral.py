"""Integral Human Pose Regression (Sun et al. 2018): per-joint 3D heat volumes read by a soft-argmax.

The simple-baseline network's last 1x1 convolution emits ``num_joints * depth_bins`` channels, channel
``j * D + d`` being depth bin d of joint j (the seed's layout).  Coordinates are voxels: x column,
y row in the heatmap, z depth bin, each with bin centres at the integers 0..n-1.
"""
from __future__ import annotations

import numpy as np
import torch

from .resnet import PoseResNet


def _index(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.arange(n, device=like.device, dtype=like.dtype)


def soft_argmax_3d(volumes: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """(B, J, D, h, w) logits -> (B, J, 3) expected (x, y, z) under a softmax over all D*h*w voxels.

    The expectations come from the marginals; indices are built on the tensor's device (the seed
    broadcast them to CUDA devices).
    """
    b, j, d, h, w = volumes.shape
    p = torch.softmax(volumes.reshape(b, j, d * h * w) * beta, dim=-1).reshape(b, j, d, h, w)
    x = (p.sum((2, 3)) * _index(w, p)).sum(-1)
    y = (p.sum((2, 4)) * _index(h, p)).sum(-1)
    z = (p.sum((3, 4)) * _index(d, p)).sum(-1)
    return torch.stack((x, y, z), dim=-1)


class Integral(PoseResNet):
    """``volumes(x)`` (B, J, D, h, w) logits; ``forward(x)`` (B, J, 3) joints in voxel units."""

    def __init__(self, resnet: int = 18, head_filters: int = 64, head_layers: int = 3, num_joints: int = 17,
                 depth_bins: int = 16):
        super().__init__(resnet, head_filters, head_layers, out_channels=num_joints * depth_bins)
        self.num_joints, self.depth_bins = num_joints, depth_bins

    def volumes(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        b, _, h, w = out.shape
        return out.reshape(b, self.num_joints, self.depth_bins, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return soft_argmax_3d(self.volumes(x))


def _cat(parts, like):
    return torch.cat(parts, dim=-1) if isinstance(like, torch.Tensor) else np.concatenate(parts, axis=-1)


def to_voxels(uv_crop_px, z_rel_mm, input_size: float, heatmap_size: float, depth_bins: int,
              depth_range_mm: float = 2000.0):
    """Crop pixels (..., 2) and root-relative depth (...) in mm -> voxels (..., 3); numpy or torch.

    x, y: ``(u + 0.5) * heatmap_size / input_size - 0.5`` keeps pixel centres at the integers in both
    grids (the crop's edge -0.5 maps to the heatmap's edge -0.5).  z: ``(z / depth_range_mm + 0.5) *
    depth_bins - 0.5`` puts the root at the centre of the bin range, (D - 1) / 2, and the range's ends
    on the outer bins' edges.  The seed maps z / 1000 in [-1, 1] to [0, 1] and multiplies by D, without
    the half-voxel shift (root at D / 2); the shift here makes depth follow the same bin-centre
    convention as x and y, so voxel indices mean the same thing on all three axes.
    """
    s = heatmap_size / input_size
    xy = (uv_crop_px + 0.5) * s - 0.5
    z = (z_rel_mm / depth_range_mm + 0.5) * depth_bins - 0.5
    return _cat((xy, z[..., None]), xy)


def from_voxels(xyz_vox, input_size: float, heatmap_size: float, depth_bins: int, depth_range_mm: float = 2000.0):
    """The inverse of :func:`to_voxels`: voxels (..., 3) -> (crop pixels (..., 2), relative depth mm (...))."""
    s = heatmap_size / input_size
    uv = (xyz_vox[..., :2] + 0.5) / s - 0.5
    z = ((xyz_vox[..., 2] + 0.5) / depth_bins - 0.5) * depth_range_mm
    return uv, z
