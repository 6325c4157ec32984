"""2D keypoint detection: a simple-baseline heatmap network and the ways to read joints off its maps.

Coordinates are heatmap pixels, x = column and y = row, pixel centres at the integers 0..w-1 and 0..h-1.
"""
from __future__ import annotations

import torch

from .resnet import PoseResNet

DECODERS = ("soft_argmax", "argmax")


def _index(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.arange(n, device=like.device, dtype=like.dtype)


def soft_argmax_2d(maps: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """(B, J, h, w) logits -> (B, J, 2) expected (x, y) under a softmax over all h*w positions.

    Differentiable, so training can supervise coordinates; ``beta`` sharpens (>1) or flattens the map.
    """
    b, j, h, w = maps.shape
    p = torch.softmax(maps.reshape(b, j, h * w) * beta, dim=-1).reshape(b, j, h, w)
    x = (p.sum(2) * _index(w, p)).sum(-1)
    y = (p.sum(3) * _index(h, p)).sum(-1)
    return torch.stack((x, y), dim=-1)


def argmax_refined(maps: torch.Tensor) -> torch.Tensor:
    """(B, J, h, w) -> (B, J, 2): the maximum, moved a quarter pixel towards the higher neighbour in
    x and in y (simple baseline's refinement of the integer peak); no shift on an axis where the peak
    lies on the border or both neighbours are equal.  Not differentiable.
    """
    maps = maps.detach()
    b, j, h, w = maps.shape
    flat = maps.reshape(b, j, h * w)
    idx = flat.argmax(-1)
    px, py = idx % w, idx // w

    def at(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return flat.gather(-1, (y.clamp(0, h - 1) * w + x.clamp(0, w - 1)).unsqueeze(-1)).squeeze(-1)

    dx = torch.sign(at(px + 1, py) - at(px - 1, py)) * ((px > 0) & (px < w - 1))
    dy = torch.sign(at(px, py + 1) - at(px, py - 1)) * ((py > 0) & (py < h - 1))
    return torch.stack((px + 0.25 * dx, py + 0.25 * dy), dim=-1).to(maps.dtype)


def confidence(maps: torch.Tensor) -> torch.Tensor:
    """(B, J, h, w) logits -> (B, J) in [0, 1]: the largest probability of the softmax over each map.

    1 when all mass sits on one pixel, 1/(h*w) for a flat map: how peaked, hence how certain, a joint is.
    """
    b, j, h, w = maps.shape
    return torch.softmax(maps.reshape(b, j, h * w), dim=-1).amax(-1)


class Keypoints2D(PoseResNet):
    """Heatmap detector: ``heatmaps(x)`` the raw (B, J, h, w) maps, ``forward(x)`` (B, J, 2) joints.

    ``decode``: ``"soft_argmax"`` (differentiable, what training uses; logits times ``beta``) or
    ``"argmax"`` (quarter-pixel refined maximum, for evaluation as the simple baseline reports it).
    """

    def __init__(self, resnet: int = 18, head_filters: int = 64, head_layers: int = 3, num_joints: int = 17,
                 decode: str = "soft_argmax", beta: float = 1.0):
        if decode not in DECODERS:
            raise ValueError(f"decode must be one of {DECODERS}, got {decode!r}")
        super().__init__(resnet, head_filters, head_layers, out_channels=num_joints)
        self.num_joints, self.decode, self.beta = num_joints, decode, beta

    def heatmaps(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.heatmaps(x)
        return soft_argmax_2d(maps, self.beta) if self.decode == "soft_argmax" else argmax_refined(maps)
