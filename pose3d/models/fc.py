"""Single-frame fully connected lifters.

``SimpleBaseline`` is Martinez et al.'s network (ICCV 2017, 3d-pose-baseline): linear layers
with batch norm, ReLU, dropout 0.5, residual pairs, max-norm weights and truncated-normal Kaiming
initialisation of weights and biases.  ``srnet_fc`` is SRNet's ``--model fc`` baseline, which is
not the same network: VideoPose3D's convolution stack with 1x1 kernels (no hidden biases),
LeakyReLU(0.01) and no dropout; it is the dense counterpart SRNet's split-recombine layers replace.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .videopose import (VideoPose3D, check_arc, check_bool, check_in_channels, check_pose_input, check_positive_int,
                        check_probability, set_bn_momentum)


class MaxNormLinear(nn.Linear):
    """Linear layer whose weight is scaled in the forward pass to Frobenius norm <= ``max_norm``.

    This is ``tf.clip_by_norm`` applied in the graph, as in 3d-pose-baseline: the stored weight
    is free, the used weight is bounded, so Adam's steps cannot blow the layer up.
    """

    def __init__(self, in_features: int, out_features: int, max_norm: float | None = 1.0):
        super().__init__(in_features, out_features)
        self.max_norm = max_norm

    def reset_parameters(self) -> None:
        # 3d-pose-baseline's kaiming(): truncated normal (±2 std) * sqrt(2 / shape[0]); its weight is
        # stored (in, out) and its bias (out,), so the bias uses out_features.
        for tensor, fan in ((self.weight, self.in_features), (self.bias, self.out_features)):
            std = math.sqrt(2.0 / fan)
            nn.init.trunc_normal_(tensor, std=std, a=-2 * std, b=2 * std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        if self.max_norm is not None:
            w = w * (self.max_norm / torch.linalg.vector_norm(w).clamp(min=self.max_norm))
        return F.linear(x, w, self.bias)


class _Block(nn.Module):
    """Linear -> BN -> ReLU -> dropout, the unit every SimpleBaseline layer repeats."""

    def __init__(self, in_features: int, out_features: int, dropout: float, max_norm: float | None,
                 bn_momentum: float):
        super().__init__()
        self.linear = MaxNormLinear(in_features, out_features, max_norm)
        self.bn = nn.BatchNorm1d(out_features, momentum=bn_momentum)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(F.relu(self.bn(self.linear(x))))


class SimpleBaseline(nn.Module):
    """Martinez et al.'s lifter: 2J -> 1024, ``len(arc) - 1`` residual pairs, -> 3J.

    ``arc`` is all ones (single frame) and only sets the depth, so that experiments describe every
    model the same way: [1, 1, 1] is the published network with two residual blocks.  Frames are
    lifted independently: (B, T, J_in, 2) -> (B, T, J_out, 3).  The published network takes 16
    joints and predicts 16 (root excluded); pass ``num_joints_in/out`` accordingly.
    """

    receptive_field = 1
    pad = 0
    causal_shift = 0

    def __init__(self, num_joints_in: int = 17, num_joints_out: int = 17, arc=(1, 1, 1), channels: int = 1024,
                 dropout: float = 0.5, max_norm: bool = True, bn_momentum: float = 0.1, in_channels: int = 2):
        super().__init__()
        self.num_joints_in = check_positive_int("num_joints_in", num_joints_in)
        self.in_channels = check_in_channels(in_channels)
        self.num_joints_out = check_positive_int("num_joints_out", num_joints_out)
        self.arc = check_arc(arc)
        if any(w != 1 for w in self.arc):
            raise ValueError(f"arc {list(self.arc)}: SimpleBaseline is single-frame, every width must be 1 "
                             "(use model 'videopose' or fc variant 'srnet' for temporal arcs)")
        check_positive_int("channels", channels)
        check_probability("dropout", dropout)
        norm = 1.0 if check_bool("max_norm", max_norm) else None
        check_probability("bn_momentum", bn_momentum, allow_one=True)

        self.input = _Block(self.in_channels * num_joints_in, channels, dropout, norm, bn_momentum)
        self.blocks = nn.ModuleList(
            nn.Sequential(*(_Block(channels, channels, dropout, norm, bn_momentum) for _ in range(2)))
            for _ in self.arc[1:]
        )
        self.output = MaxNormLinear(channels, 3 * num_joints_out, norm)

    def set_bn_momentum(self, momentum: float) -> None:
        set_bn_momentum(self, momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_pose_input(x, self.num_joints_in, 1, self.in_channels)
        b, t = x.shape[:2]
        h = self.input(x.reshape(b * t, -1))
        for block in self.blocks:
            h = h + block(h)
        return self.output(h).reshape(b, t, self.num_joints_out, 3)


def srnet_fc(num_joints_in: int = 17, num_joints_out: int = 17, arc=(1, 1, 1), channels: int = 1024,
             dropout: float = 0.0, causal: bool = False, strided: bool | None = None,
             bn_momentum: float = 0.1, in_channels: int = 2) -> VideoPose3D:
    """SRNet's ``--model fc``: VideoPose3D's network with SRNet's defaults (LeakyReLU, no dropout)."""
    return VideoPose3D(num_joints_in, num_joints_out, arc=arc, channels=channels, dropout=dropout,
                       causal=causal, strided=strided, activation="leaky_relu", bn_momentum=bn_momentum,
                       in_channels=in_channels)
