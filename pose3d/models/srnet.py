"""SRNet: split-and-recombine lifting (Zeng et al., ECCV 2020) on VideoPose3D's skeleton.

Every layer of the VideoPose3D stack becomes a split-recombine layer: channels are partitioned
into body-part groups, each group has its own (block-diagonal) convolution, and a very
low-dimensional summary of the other groups (one value per temporal tap) gates, shifts or extends
each group's input.  Rare poses are then combinations of common part poses, and the layer has
about 1/G of the dense layer's weights.  Dilated and strided forms work as in ``videopose``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..h36m.skeleton import H36M17
from .videopose import TemporalConv, TemporalConvNet, check_arc, check_choice, check_in_channels

ROOT = 0

#: Joint groups (H36M17 indices) that own each output joint; together they cover every joint once.
#: Groups without the root get it prepended as an input (its 2D is copied into every group).
GROUPS: dict[int, tuple[tuple[int, ...], ...]] = {
    1: (tuple(range(17)),),
    2: ((0, 1, 2, 3, 4, 5, 6, 7), (8, 9, 10, 11, 12, 13, 14, 15, 16)),
    3: ((0, 1, 2, 3, 4, 5, 6), (7, 8, 9, 10), (11, 12, 13, 14, 15, 16)),
    5: ((0, 1, 2, 3), (4, 5, 6), (7, 8, 9, 10), (11, 12, 13), (14, 15, 16)),
}
RECOMBINE = ("multiply", "add", "concat")
SPLIT = ("others", "all", "none")


def split_channels(total: int, weights: list[int]) -> list[int]:
    """Share ``total`` channels in proportion to ``weights`` (floor; the remainder to the last)."""
    sizes = [total * w // sum(weights) for w in weights[:-1]]
    return sizes + [total - sum(sizes)]


class Gate(nn.Module):
    """The k-dim context (one value per tap and output step) a group gets from other channels.

    Zero-initialised weights: every gate starts as a constant, so training begins from the plain
    group convolution.  ``multiply`` squashes it through BN + sigmoid; ``add``/``concat`` use
    LeakyReLU.  With no context channels (one group, split 'others') only the bias remains.
    """

    def __init__(self, in_channels: int, kernel: int, recombine: str):
        super().__init__()
        self.in_channels = in_channels
        # no weight at all without context: an empty parameter would never get a gradient (DDP objects)
        self.weight = nn.Parameter(torch.zeros(kernel, in_channels, kernel)) if in_channels else None
        bound = 1.0 / math.sqrt(in_channels * kernel) if in_channels else 0.0
        self.bias = nn.Parameter(torch.empty(kernel).uniform_(-bound, bound))
        self.bn = nn.BatchNorm1d(kernel) if recombine == "multiply" else None

    def forward(self, ctx: torch.Tensor | None, dilation: int, stride: int, frames_out: int,
                batch: int) -> torch.Tensor:
        if self.in_channels:
            a = F.conv1d(ctx, self.weight, self.bias, stride=stride, dilation=dilation)
        else:
            a = self.bias.view(1, -1, 1).expand(batch, -1, frames_out)
        return torch.sigmoid(self.bn(a)) if self.bn is not None else F.leaky_relu(a, 0.01)


class SplitRecombineConv(nn.Module):
    """One split-recombine layer: group convolutions (no bias) recombined through gates.

    Input channels come as contiguous groups of ``in_sizes`` (after the optional ``in_index``
    gather that copies the root into every group); output groups have ``out_sizes`` channels,
    optionally gathered by ``out_index`` into the joint order.
    """

    def __init__(self, in_sizes: list[int], out_sizes: list[int], kernel: int, recombine: str = "multiply",
                 split: str = "others", in_index: list[int] | None = None, out_index: list[int] | None = None):
        super().__init__()
        check_choice("recombine", recombine, RECOMBINE)
        check_choice("split", split, SPLIT)
        self.in_sizes, self.out_sizes = list(in_sizes), list(out_sizes)
        self.kernel, self.recombine, self.split = kernel, recombine, split
        extra = 1 if (split != "none" and recombine == "concat") else 0
        self.group_convs = nn.ModuleList(
            TemporalConv(i + extra, o, kernel, bias=False) for i, o in zip(in_sizes, out_sizes))
        total = sum(in_sizes)
        self.gates = None if split == "none" else nn.ModuleList(
            Gate(total if split == "all" else total - i, kernel, recombine) for i in in_sizes)
        for name, index in (("in_index", in_index), ("out_index", out_index)):
            self.register_buffer(name, None if index is None else torch.tensor(index), persistent=False)

    def _others(self, parts: tuple[torch.Tensor, ...], g: int) -> torch.Tensor | None:
        rest = parts[:g] + parts[g + 1:]
        return torch.cat(rest, 1) if rest else None

    def forward(self, x: torch.Tensor, dilation: int = 1, stride: int = 1) -> torch.Tensor:
        if self.in_index is not None:
            x = x.index_select(1, self.in_index)
        parts = x.split(self.in_sizes, 1)
        span = (self.kernel - 1) * dilation + 1
        outs = []
        for g, (part, conv) in enumerate(zip(parts, self.group_convs)):
            if self.gates is None:
                outs.append(conv(part, dilation, stride))
                continue
            ctx = x if self.split == "all" else self._others(parts, g)
            taps = part.unfold(2, span, stride)[..., ::dilation]  # (B, C_g, T_out, k)
            a = self.gates[g](ctx, dilation, stride, taps.shape[2], x.shape[0])
            a = a.transpose(1, 2).unsqueeze(1).to(taps.dtype)  # (B, 1, T_out, k)
            if self.recombine == "multiply":
                taps = taps * a
            elif self.recombine == "add":
                taps = taps + a
            else:
                taps = torch.cat([taps, a], 1)
            w = conv.weight
            outs.append(F.conv1d(taps.transpose(2, 3).reshape(x.shape[0], -1, taps.shape[2]),
                                 w.reshape(w.shape[0], -1, 1)))
        y = torch.cat(outs, 1)
        return y if self.out_index is None else y.index_select(1, self.out_index)


class GroupLayout:
    """Channel bookkeeping for a group choice: input gather, group widths, output gather."""

    def __init__(self, groups: int, num_joints_in: int, num_joints_out: int, in_channels: int = 2):
        if isinstance(groups, bool) or groups not in GROUPS:
            raise ValueError(f"groups={groups!r} is not one of {sorted(GROUPS)}")
        if groups == 1:
            self.in_index, self.out_index = None, None
            self.in_sizes, self.out_sizes = [in_channels * num_joints_in], [3 * num_joints_out]
            return
        n = H36M17.num_joints
        if num_joints_in != n or num_joints_out != n:
            raise ValueError(f"groups={groups} are defined on the {n} H36M17 joints, got "
                             f"{num_joints_in} in / {num_joints_out} out")
        joints = [g if ROOT in g else (ROOT,) + g for g in GROUPS[groups]]
        # each group sees its joints' x, y (and score): channel c of joint j is input c + in_channels * j
        self.in_index = [in_channels * j + c for g in joints for j in g for c in range(in_channels)]
        self.in_sizes = [in_channels * len(g) for g in joints]
        # 3 values per joint of each group (its root copy included); the last group carries one
        # spare channel, which reproduces the reference's final widths (64 for gp5, 58 / 55 for gp3 / gp2).
        self.out_sizes = [3 * len(g) for g in joints]
        self.out_sizes[-1] += 1
        offsets = [sum(self.out_sizes[:i]) for i in range(len(joints))]
        owner = {j: (gi, joints[gi].index(j)) for gi, own in enumerate(GROUPS[groups]) for j in own}
        self.out_index = [offsets[owner[j][0]] + 3 * owner[j][1] + c for j in range(n) for c in range(3)]


class SRNet(TemporalConvNet):
    """SRNet lifter: LeakyReLU(0.01), dropout 0, gp5 / multiply / others by default.

    SRNet gives every temporal layer the first width's kernel; arcs here must therefore be
    uniform (1,1,1 / 1,1,1,1 / 3,3,3,3,3 are the configurations it ships), so both readings agree.
    """

    def __init__(self, num_joints_in: int = 17, num_joints_out: int = 17, arc=(1, 1, 1), groups: int = 5,
                 recombine: str = "multiply", split: str = "others", channels: int = 1024,
                 dropout: float = 0.0, causal: bool = False, strided: bool | None = None,
                 bn_momentum: float = 0.1, in_channels: int = 2):
        arc = check_arc(arc)
        if len(set(arc)) != 1:
            raise ValueError(f"arc {list(arc)}: SRNet uses one kernel width for every layer; widths must be equal")
        check_choice("recombine", recombine, RECOMBINE)
        check_choice("split", split, SPLIT)
        layout = GroupLayout(groups, num_joints_in, num_joints_out, check_in_channels(in_channels))

        def layer(role: str, in_channels: int, out_channels: int, kernel: int) -> SplitRecombineConv:
            if role == "expand":
                return SplitRecombineConv(layout.in_sizes, split_channels(out_channels, layout.in_sizes), kernel,
                                          recombine, split, in_index=layout.in_index)
            hidden = split_channels(in_channels, layout.in_sizes)
            if role == "hidden":
                return SplitRecombineConv(hidden, hidden, kernel, recombine, split)
            return SplitRecombineConv(hidden, layout.out_sizes, kernel, recombine, split,
                                      out_index=layout.out_index)

        super().__init__(num_joints_in, num_joints_out, arc, channels, dropout, causal, strided,
                         "leaky_relu", bn_momentum, layer_factory=layer, in_channels=in_channels)
        self.groups, self.recombine, self.split = groups, recombine, split
