"""VideoPose3D's temporal convolution model (Pavllo et al., CVPR 2019), dilated and strided forms.

One module serves training and evaluation.  The strided form runs every temporal convolution
with stride = filter width over exactly one receptive field: the "optimised 1-frame" twin, which
computes only what one target frame needs.  The dilated form runs the same weights over whole
sequences.  ``strided`` is a plain attribute read at each call: True or False forces a form, None
(the default) takes the strided form exactly when the input is one receptive field long, where
both forms give the same frame.  A ``state_dict`` therefore moves freely between the forms and
one optimizer serves both.

Attribute names follow the original repository (``expand_conv``, ``expand_bn``, ``layers_conv``,
``layers_bn``, ``shrink``) so that its released checkpoints load with ``load_state_dict``.
"""
from __future__ import annotations

import math
import operator
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),  # SRNet's choice
}


def check_arc(arc: Iterable[int]) -> tuple[int, ...]:
    """Validate filter widths: a non-empty list of positive odd integers (centred windows)."""
    if isinstance(arc, (str, bytes)) or not isinstance(arc, Iterable):
        raise ValueError(f"arc must be a list of odd filter widths, got {arc!r}")
    widths = list(arc)
    if not widths:
        raise ValueError("arc must list at least one filter width, got []")
    out = []
    for w in widths:
        try:
            if isinstance(w, bool):
                raise TypeError
            w_int = operator.index(w)
        except TypeError:
            raise ValueError(f"arc {widths}: width {w!r} is not an integer") from None
        if w_int < 1 or w_int % 2 == 0:
            raise ValueError(f"arc {widths}: width {w_int} must be a positive odd integer")
        out.append(w_int)
    return tuple(out)


def check_choice(name: str, value, choices: Iterable) -> None:
    choices = tuple(choices)
    if isinstance(value, bool) or value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {list(choices)}")


def check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")
    return value


def check_probability(name: str, value, *, allow_one: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}={value!r} must be a number")
    if not (0.0 <= value < 1.0 or (allow_one and value == 1.0)):
        raise ValueError(f"{name}={value!r} is outside [0, 1{']' if allow_one else ')'}")
    return float(value)


def check_bool(name: str, value, *, allow_none: bool = False) -> bool | None:
    if not (isinstance(value, bool) or (allow_none and value is None)):
        raise ValueError(f"{name}={value!r} must be true or false{' or null' if allow_none else ''}")
    return value


def dilations(arc: tuple[int, ...]) -> list[int]:
    """Dilation of each layer: the product of the widths before it."""
    return [math.prod(arc[:i]) for i in range(len(arc))]


def receptive_field(arc: tuple[int, ...]) -> int:
    """Frames seen by one output frame: 1 + sum((w_i - 1) * d_i), which telescopes to prod(arc)."""
    return math.prod(arc)


def set_bn_momentum(module: nn.Module, momentum: float) -> None:
    """Set the momentum of every batch-norm layer (the recipes decay it from 0.1 to 0.001)."""
    check_probability("bn_momentum", momentum, allow_one=True)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = float(momentum)


def check_pose_input(x: torch.Tensor, num_joints: int, min_frames: int, in_channels: int = 2) -> None:
    """Fail early, with the shape, on inputs that would otherwise break deep inside a conv."""
    if x.dim() != 4 or x.shape[2] != num_joints or x.shape[3] != in_channels:
        raise ValueError(f"expected input of shape (B, T, {num_joints}, {in_channels}), got {tuple(x.shape)}")
    if x.shape[1] < min_frames:
        raise ValueError(f"input has {x.shape[1]} frames, fewer than the receptive field {min_frames}")


def check_in_channels(in_channels) -> int:
    """Values per input joint: 2 (x, y) or 3 (x, y and the detector's score, ``use_scores``)."""
    if isinstance(in_channels, bool) or in_channels not in (2, 3):
        raise ValueError(f"in_channels must be 2 (x, y) or 3 (x, y, score), got {in_channels!r}")
    return int(in_channels)


class TemporalConv(nn.Conv1d):
    """Conv1d whose dilation and stride are chosen per call, so one weight serves both forms."""

    def forward(self, x: torch.Tensor, dilation: int = 1, stride: int = 1) -> torch.Tensor:
        return F.conv1d(x, self.weight, self.bias, stride=stride, dilation=dilation)


LayerFactory = Callable[[str, int, int, int], nn.Module]


def dense_layer(role: str, in_channels: int, out_channels: int, kernel: int) -> TemporalConv:
    """VideoPose3D's layers: no bias before batch norm, a bias on the output layer."""
    return TemporalConv(in_channels, out_channels, kernel, bias=(role == "shrink"))


class TemporalConvNet(nn.Module):
    """Expand layer, residual blocks of (width-w layer, 1x1 layer), output layer.

    ``layer_factory(role, in_channels, out_channels, kernel)`` makes each layer (role is
    "expand", "hidden" or "shrink"); any module with ``forward(x, dilation, stride)`` fits,
    which is how SRNet swaps in its split-recombine layers on the same skeleton.
    Input (B, T, J_in, 2); output (B, T - receptive_field + 1, J_out, 3) in the dilated form and
    (B, T // receptive_field, J_out, 3) in the strided form (T = receptive_field gives one frame).
    ``strided``: True / False force a form; None picks the strided one when T = receptive_field.
    """

    def __init__(self, num_joints_in: int, num_joints_out: int, arc, channels: int, dropout: float,
                 causal: bool, strided: bool | None, activation: str, bn_momentum: float,
                 layer_factory: LayerFactory = dense_layer, in_channels: int = 2):
        super().__init__()
        self.num_joints_in = check_positive_int("num_joints_in", num_joints_in)
        self.in_channels = check_in_channels(in_channels)
        self.num_joints_out = check_positive_int("num_joints_out", num_joints_out)
        self.arc = check_arc(arc)
        self.channels = check_positive_int("channels", channels)
        check_probability("dropout", dropout)
        self.causal = check_bool("causal", causal)
        self.strided = check_bool("strided", strided, allow_none=True)
        check_choice("activation", activation, ACTIVATIONS)
        check_probability("bn_momentum", bn_momentum, allow_one=True)

        self.dilations = dilations(self.arc)
        self.pads = [(w - 1) * d // 2 for w, d in zip(self.arc, self.dilations)]
        self.receptive_field = receptive_field(self.arc)
        #: frames of context on each side; a causal model takes all of it from the past
        self.pad = (self.receptive_field - 1) // 2
        self.causal_shift = self.pad if causal else 0

        self.expand_conv = layer_factory("expand", self.in_channels * num_joints_in, channels, self.arc[0])
        self.expand_bn = nn.BatchNorm1d(channels, momentum=bn_momentum)
        convs, bns = [], []
        for w in self.arc[1:]:
            convs += [layer_factory("hidden", channels, channels, w), layer_factory("hidden", channels, channels, 1)]
            bns += [nn.BatchNorm1d(channels, momentum=bn_momentum) for _ in range(2)]
        self.layers_conv = nn.ModuleList(convs)
        self.layers_bn = nn.ModuleList(bns)
        self.shrink = layer_factory("shrink", channels, 3 * num_joints_out, 1)
        self.act = ACTIVATIONS[activation]()
        self.drop = nn.Dropout(dropout)

    def set_bn_momentum(self, momentum: float) -> None:
        set_bn_momentum(self, momentum)

    @staticmethod
    def _conv(layer: nn.Module, x: torch.Tensor, width: int, dilation: int, strided: bool) -> torch.Tensor:
        if strided:
            return layer(x, dilation=1, stride=width)
        return layer(x, dilation=dilation, stride=1)

    def _residual(self, x: torch.Tensor, i: int, frames_out: int, strided: bool) -> torch.Tensor:
        """The block input at the frames the block's output stands for (centre, or last if causal)."""
        w = self.arc[i]
        if strided:
            start = w - 1 if self.causal else w // 2
            return x[:, :, start::w][:, :, :frames_out]
        start = 2 * self.pads[i] if self.causal else self.pads[i]
        return x[:, :, start:start + frames_out]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_pose_input(x, self.num_joints_in, self.receptive_field, self.in_channels)
        b, t = x.shape[:2]
        strided = t == self.receptive_field if self.strided is None else self.strided
        h = x.reshape(b, t, -1).transpose(1, 2)
        h = self.drop(self.act(self.expand_bn(self._conv(self.expand_conv, h, self.arc[0], 1, strided))))
        for i in range(1, len(self.arc)):
            conv_w, conv_1 = self.layers_conv[2 * i - 2], self.layers_conv[2 * i - 1]
            bn_w, bn_1 = self.layers_bn[2 * i - 2], self.layers_bn[2 * i - 1]
            y = self.drop(self.act(bn_w(self._conv(conv_w, h, self.arc[i], self.dilations[i], strided))))
            y = self.drop(self.act(bn_1(conv_1(y))))
            h = self._residual(h, i, y.shape[2], strided) + y
        y = self.shrink(h)
        return y.transpose(1, 2).reshape(b, y.shape[2], self.num_joints_out, 3)


class VideoPose3D(TemporalConvNet):
    """The VideoPose3D lifter: ReLU, dropout 0.25, 1024 channels, arc 3,3,3 (27 frames) by default."""

    def __init__(self, num_joints_in: int = 17, num_joints_out: int = 17, arc=(3, 3, 3), channels: int = 1024,
                 dropout: float = 0.25, causal: bool = False, strided: bool | None = None,
                 activation: str = "relu", bn_momentum: float = 0.1, in_channels: int = 2):
        super().__init__(num_joints_in, num_joints_out, arc, channels, dropout, causal, strided,
                         activation, bn_momentum, in_channels=in_channels)
