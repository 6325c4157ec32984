"""Learnable triangulation's per-view joint confidences (its ``GlobalAveragePoolingHead``).

The algebraic model weights each view's two DLT rows per joint by a learned confidence in (0, 1),
predicted from the backbone's last ResNet stage.  Layers and order follow the seed:
Conv3x3(in -> 512, bias) -> BN -> MaxPool2 -> ReLU, Conv3x3(512 -> 256, bias) -> BN -> MaxPool2 -> ReLU,
mean over all positions, Linear(256, 512) -> ReLU -> Linear(512, 256) -> ReLU -> Linear(256, J) -> Sigmoid,
with PyTorch's default initialisation (the seed trains the head from scratch).  ``ConfidenceHead()``
(2048 channels, 17 joints) has the seed's 10,886,417 parameters.

Deliberate difference: the max-pools use ``ceil_mode=True``.  On the seed's 12x12 map (384 px into
ResNet-152) and on any side divisible by 4 this pools exactly as the seed; it only lets small maps
through, e.g. the 2x2 layer4 map of a 64 px crop (ResNet-18: 512 channels), which floor mode would
reduce to nothing.  It adds no parameters.
"""
from __future__ import annotations

import torch
from torch import nn


class ConfidenceHead(nn.Module):
    """(N, in_channels, h, w) backbone features -> (N, joints) confidences in (0, 1)."""

    def __init__(self, in_channels: int = 2048, joints: int = 17):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 512, 3, padding=1),
            nn.BatchNorm2d(512),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(512, 256, 3, padding=1),
            nn.BatchNorm2d(256),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Sequential(
            nn.Linear(256, 512),
            nn.ReLU(inplace=True),
            nn.Linear(512, 256),
            nn.ReLU(inplace=True),
            nn.Linear(256, joints),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(2).mean(-1))
