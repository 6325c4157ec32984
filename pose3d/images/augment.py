"""Crop augmentation on the device, a whole batch at once, with the joints moved as the pixels move.

One affine resampling (``affine_grid`` + ``grid_sample``) per batch does the resize to the
network's input, the scale and rotation jitter and the horizontal flip; joints go through the
inverse of the same matrix, so pixels and targets cannot disagree. The jitter follows Integral's
recipe: scale 1 + 0.25 clip(N, -1, 1) (box side), rotation 30 deg clip(N, -2, 2) with probability
0.6, flip with probability 0.5 (left and right joints exchanged), colour x U(0.8, 1.2) per channel.
The draws come from a CPU generator, so the same seed gives the same batch on any device.

Normalisation: ImageNet mean and standard deviation on intensities in [0, 1]. Integral's code
applies them to values in [0, 255] (its ``ToTensor`` only rescales uint8 input, and its crops
are float), which feeds the network inputs up to ~1,100; that is a bug of the seed, not copied.
Pixel centres sit at integer coordinates in every image (``align_corners=False``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pose3d.h36m.skeleton import H36M17

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FLIP_PERMUTATION = tuple(int(j) for j in H36M17.flip_permutation())


@dataclass(frozen=True)
class Jitter:
    """Integral's augmentation; every field 0 (or False) turns that part off."""

    scale: float = 0.25
    rotation_deg: float = 30.0
    rotation_prob: float = 0.6
    flip: bool = True
    colour: float = 0.2

    @classmethod
    def none(cls) -> Jitter:
        return cls(0.0, 0.0, 0.0, False, 0.0)


def draw(n: int, jitter: Jitter, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Per-sample scale, rotation (radians), flip and colour factors, on the CPU."""
    g = generator
    scale = 1.0 + jitter.scale * torch.randn(n, generator=g, dtype=torch.float64).clamp(-1, 1)
    rot = jitter.rotation_deg * torch.randn(n, generator=g, dtype=torch.float64).clamp(-2, 2)
    rot = torch.where(torch.rand(n, generator=g, dtype=torch.float64) < jitter.rotation_prob, rot, torch.zeros_like(rot))
    flip = (torch.rand(n, generator=g) < 0.5) & jitter.flip
    colour = 1.0 + jitter.colour * (2 * torch.rand(n, 3, generator=g) - 1)
    return {"scale": scale, "rotation": rot * math.pi / 180.0, "flip": flip, "colour": colour}


def _matrices(scale: torch.Tensor, rotation: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """(N, 2, 2) maps from output to source normalised coordinates: scale x rotation x flip."""
    c, s = torch.cos(rotation), torch.sin(rotation)
    a = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2) * scale[:, None, None]
    sign = torch.where(flip, -1.0, 1.0).to(a.dtype)
    return a * torch.stack([sign, torch.ones_like(sign)], -1)[:, None, :]  # flip negates the output x column


def warp(images_u8: torch.Tensor, size: int, params: dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, S, S, 3) uint8 crops -> ((N, 3, size, size) normalised float input, (N, 2, 2) output->source matrix).

    Without ``params`` the crop is only resized. Down-scaling by 2x or more first averages
    whole blocks of pixels, so that the bilinear resampling does not alias.
    """
    n, side = images_u8.shape[0], images_u8.shape[1]
    device = images_u8.device
    x = images_u8.permute(0, 3, 1, 2).float().div_(255.0)
    factor = side // size
    if factor >= 2 and side % factor == 0:
        x = F.avg_pool2d(x, factor)
    if params is None:
        params = {"scale": torch.ones(n, dtype=torch.float64), "rotation": torch.zeros(n, dtype=torch.float64),
                  "flip": torch.zeros(n, dtype=torch.bool), "colour": torch.ones(n, 3)}
    a = _matrices(params["scale"], params["rotation"], params["flip"])
    if params["scale"].eq(1).all() and params["rotation"].eq(0).all() and not params["flip"].any() and x.shape[-1] == size:
        out = x
    else:
        theta = torch.cat([a, torch.zeros(n, 2, 1, dtype=a.dtype)], dim=2).float().to(device)
        grid = F.affine_grid(theta, [n, 3, size, size], align_corners=False)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out = out * params["colour"].to(device)[:, :, None, None]
    mean = torch.tensor(IMAGENET_MEAN, device=device)[None, :, None, None]
    std = torch.tensor(IMAGENET_STD, device=device)[None, :, None, None]
    return (out.clamp_(0, 1) - mean) / std, a


def move_joints(uv: torch.Tensor, a: torch.Tensor, side: int, size: int, flip: torch.Tensor | None = None) -> torch.Tensor:
    """Joints (N, J, 2) in source-crop pixels -> pixels of the warped (size x size) input; flipped
    samples get their left and right joints exchanged, so index j is the same body joint."""
    src = (2 * uv.double() + 1) / side - 1  # normalised, align_corners=False
    inv = torch.linalg.inv(a.to(uv.device))
    out = torch.einsum("nij,nkj->nki", inv, src)
    px = ((out + 1) * size - 1) / 2
    if flip is not None and flip.any():
        perm = torch.tensor(FLIP_PERMUTATION, device=uv.device)
        px = torch.where(flip.to(uv.device)[:, None, None], px[:, perm], px)
    return px.to(uv.dtype)
