"""The ``lcn`` output head: the network predicts x, y as an offset from its own 2D input.

In SRNet's ``lcn`` normalisation the 2D input and the target's x, y share one screen
normalisation, so the network only has to learn how far each joint's projection moves;
z is predicted directly. Wrapping the network keeps every caller (training, validation,
test-time flipping) unaware of the mode.
"""
from __future__ import annotations

import torch
from torch import nn

from pose3d.training.normalization import add_2d_residual


class Residual2D(nn.Module):
    """``net``'s output (B, T, J, 3) with the 2D input of the frames it predicts added to x, y."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    @property
    def receptive_field(self) -> int:
        return self.net.receptive_field

    @property
    def wrapped(self) -> nn.Module:
        """The network inside: what its ``forward`` takes besides the 2D, this one passes on."""
        return self.net

    def forward(self, x: torch.Tensor, **kwargs):
        out = self.net(x, **kwargs)
        if isinstance(out, dict):  # named outputs: each is a pose of the same frames
            return {name: self._residual(x, pose) for name, pose in out.items()}
        return self._residual(x, out)

    @staticmethod
    def _residual(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        pad = (x.shape[1] - out.shape[1]) // 2  # strided: one centre frame; dilated: all but the padding
        return add_2d_residual(out, x[:, pad:pad + out.shape[1]].to(out.dtype))
