"""Volumes in the world: a cube of voxels around a centre, projected into views, and read back as points.

learnable-triangulation's volumetric model (and ContextPose) place a cube of side ``side_mm``
(2500 mm) on a pelvis estimate, rotate it about the vertical world axis in training, sample
every view's features at each voxel's projection, merge the views, and read each joint off a
softmax over the voxels as the expected voxel position (world mm).

Conventions (torch, differentiable, any device):

- ``grid[b, i, j, k] = centre[b] + R_z(angle[b]) @ (o_i, o_j, o_k)`` with offsets ``o`` from
  ``-side/2`` to ``+side/2`` in ``n`` steps (spacing ``side / (n - 1)``): tensor axis D is the
  cube's own x, H its y, W its z (world z is vertical in Human3.6M).
- Projection matrices map world mm to pixels with pixel centres at the integers. A feature map
  of width ``w`` is sampled with ``align_corners=True``, so pixel ``u`` sits at ``2u/(w-1) - 1``.
  learnable-triangulation normalises by ``w`` instead (``2(u/w - 0.5)``), which shrinks every
  projection by ``w/(w-1)`` towards the map's corner (1 % at 96 px, 7 % at 16 px); ContextPose
  fixed it. ``lt_normalisation=True`` reproduces the seed.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def rotation_z(angle: torch.Tensor) -> torch.Tensor:
    """(B,) radians -> (B, 3, 3) rotations about the world z axis."""
    c, s = torch.cos(angle), torch.sin(angle)
    zero, one = torch.zeros_like(angle), torch.ones_like(angle)
    return torch.stack([torch.stack([c, -s, zero], -1), torch.stack([s, c, zero], -1),
                        torch.stack([zero, zero, one], -1)], -2)


def offsets(n: int, side_mm: float, like: torch.Tensor) -> torch.Tensor:
    """(n,) voxel offsets from the cube's centre along one of its axes."""
    return torch.linspace(-side_mm / 2, side_mm / 2, n, device=like.device, dtype=like.dtype)


def cube_grid(centre: torch.Tensor, n: int, side_mm: float, angle: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 3) centres -> (B, n, n, n, 3) world coordinates of every voxel (see the module docstring)."""
    o = offsets(n, side_mm, centre)
    local = torch.stack(torch.meshgrid(o, o, o, indexing="ij"), dim=-1)  # (n, n, n, 3)
    if angle is None:
        return centre[:, None, None, None, :] + local
    rot = rotation_z(angle.to(centre.dtype))
    return centre[:, None, None, None, :] + torch.einsum("bij,xyzj->bxyzi", rot, local)


def to_cube_frame(points: torch.Tensor, centre: torch.Tensor, angle: torch.Tensor | None = None) -> torch.Tensor:
    """(B, J, 3) world points -> the cube's own axes, relative to its centre (the grid's inverse)."""
    rel = points - centre[:, None, :]
    if angle is None:
        return rel
    return torch.einsum("bji,bkj->bki", rotation_z(angle.to(points.dtype)), rel)


def scale_pixels(proj: torch.Tensor, factor: float) -> torch.Tensor:
    """Projection matrices (..., 3, 4) for an image resized by ``factor`` (pixel centres kept at integers)."""
    a = torch.tensor([[factor, 0.0, (factor - 1) / 2], [0.0, factor, (factor - 1) / 2], [0.0, 0.0, 1.0]],
                     dtype=proj.dtype, device=proj.device)
    return a @ proj


def project(points: torch.Tensor, proj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, P, 3) world points, (B, V, 3, 4) matrices -> ((B, V, P, 2) pixels, (B, V, P) depth)."""
    uvw = torch.einsum("bvij,bpj->bvpi", proj[..., :3], points) + proj[..., None, :, 3]
    depth = uvw[..., 2]
    safe = torch.where(depth.abs() < 1e-6, torch.full_like(depth, 1e-6), depth)
    return uvw[..., :2] / safe[..., None], depth


def unproject(features: torch.Tensor, proj: torch.Tensor, grid: torch.Tensor,
              lt_normalisation: bool = False) -> torch.Tensor:
    """Sample (B, V, C, h, w) feature maps at every voxel's projection: (B, V, C, n, n, n).

    ``proj`` (B, V, 3, 4) maps world mm to the feature maps' pixels. Voxels behind a camera read 0,
    as do voxels that project outside the map (zero padding).
    """
    b, v, c, h, w = features.shape
    n = grid.shape[1]
    points = grid.reshape(b, n ** 3, 3)
    uv, depth = project(points.to(proj.dtype), proj)
    if lt_normalisation:
        gx, gy = 2 * (uv[..., 0] / w - 0.5), 2 * (uv[..., 1] / h - 0.5)
    else:
        gx, gy = 2 * uv[..., 0] / (w - 1) - 1, 2 * uv[..., 1] / (h - 1) - 1
    sample_at = torch.stack([gx, gy], -1).to(features.dtype).reshape(b * v, 1, n ** 3, 2)
    values = F.grid_sample(features.reshape(b * v, c, h, w), sample_at, mode="bilinear", padding_mode="zeros",
                           align_corners=True)  # (B*V, C, 1, n^3)
    values = values.reshape(b, v, c, n ** 3) * (depth > 0).to(features.dtype)[:, :, None, :]
    return values.reshape(b, v, c, n, n, n)


def aggregate_softmax(volumes: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
    """(B, V, C, n, n, n) per-view volumes, (B, V) present views -> (B, C, n, n, n).

    learnable-triangulation's "softmax" aggregation: per voxel and channel, the views' values
    weighted by their softmax over the views. Absent views take no part.
    """
    mask = views[:, :, None, None, None, None]
    logits = volumes.masked_fill(~mask, -math.inf)
    weights = torch.softmax(logits, dim=1).masked_fill(~mask, 0.0)
    return (weights * volumes.masked_fill(~mask, 0.0)).sum(dim=1)


def soft_argmax_world(volumes: torch.Tensor, grid: torch.Tensor, multiplier: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, J, n, n, n) logits over (B, n, n, n, 3) voxel positions -> ((B, J, 3) expected positions,
    (B, J, n^3) probabilities)."""
    b, j = volumes.shape[:2]
    p = torch.softmax(volumes.reshape(b, j, -1).float() * multiplier, dim=-1)
    points = torch.einsum("bjv,bvi->bji", p, grid.reshape(b, -1, 3).float())
    return points, p


def nearest_voxel(points: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """(B, J, 3) points -> (B, J) index of the nearest voxel of the (B, n, n, n, 3) grid."""
    b = grid.shape[0]
    return torch.cdist(points.float(), grid.reshape(b, -1, 3).float()).argmin(dim=-1)
