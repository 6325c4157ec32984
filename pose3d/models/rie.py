"""RIE: relative information encoding (Shan et al., ACM MM 2021) for 2D-to-3D lifting.

A window of 2D poses is re-expressed three ways per frame: the raw 2D, the positional difference
to the root joint (D_pos = x - x_root), and the temporal difference to the window's centre frame
(D_tmp = x_t - x_centre).  The differences make the input invariant to where the person stands and
expose motion directly, which is where the method's robustness to 2D noise comes from.

Joints are split into five parts (Human3.6M 17-joint order): torso {0, 7, 8, 9, 10} and the limbs
{1, 2, 3}, {4, 5, 6}, {11, 12, 13}, {14, 15, 16}.  Each part has its own local feature encoder
(a strided temporal-convolution stack as in VideoPose3D's single-frame twin, with LeakyReLU(0.2)
and a 1x1 output to ``latent`` features) fed with its joints' channels laid out as
[raw(joints), D_pos(joints), D_tmp(joints)], x and y interleaved per joint.  A global feature
encoder sees only the raw centre frame (34 values) through fully connected residual blocks.
Per part a decoder maps [local_g, global] (``fusion=False``, the first training stage) or
[local_g, fused_g, global] (``fusion=True``, stages 2 and 3) to the part's joints, where fused_g
comes from a fusion block over the other four parts' local features.  The parts are reassembled
into the 17-joint order.

Training runs in three stages: (1) the model without fusion; (2) the fusion model with the encoders
copied from stage 1 and frozen, so the fusion blocks and fresh decoders (3L inputs instead of 2L)
learn to combine parts; (3) everything fine-tuned.  The recipe decays the BatchNorm momentum of the
local encoders only.  The name patterns below select the pieces over ``state_dict`` /
``named_parameters`` names (``fnmatch.fnmatchcase``; see ``name_matches``):

* ``LOCAL_ENCODERS``: ``LocalLayer_{Torso,LArm,RArm,LLeg,RLeg}.*`` (56 state entries, 29
  parameter tensors each with the default 5-width arc)
* ``GLOBAL_ENCODER``: ``GlobalInfo.*`` (37 entries, 22 tensors)
* ``FUSION_BLOCKS``: ``FuseBlocks.*`` (fusion model only)
* ``DECODERS``: ``Integration_{Torso,LArm,RArm,LLeg,RLeg}.*``

Module and parameter names, and their registration order, are the original implementation's
(``LocalLayer_*`` with ``expand_conv``/``expand_bn``/``layers_conv``/``layers_bn``/``shrink``;
``GlobalInfo``, ``FuseBlocks.<i>``, ``Integration_*`` with ``fc_1``/``bn_1``/``layers.<i>.{w1,
batch_norm1,w2,batch_norm2}``/``fc_2``), so its checkpoints load with ``load_state_dict`` and the
encoders come first in the state dict (317 entries / 167 parameter tensors with the default arc).
Its part names are mirrored: ``LLeg`` holds joints 1-3 (RHip, RKnee, RFoot in this project's
naming), ``RLeg`` 4-6, ``RArm`` 11-13 (the left arm), ``LArm`` 14-16.  Parts, fusion blocks and
decoders run in the order Torso, LArm, RArm, LLeg, RLeg; fusion block g takes the other four parts'
features in that order.

Forms (``strided`` is read at each call, as in ``videopose``), input (B, T, 17, 2):

* window form: T == receptive_field -> (B, 1, 17, 3), the centre frame (training).
* sequence form: T > receptive_field, or ``strided=False`` -> (B, T - receptive_field + 1, 17, 3),
  one window per output frame (evaluation).  D_tmp is relative to each window's own centre, so the
  dilated-convolution trick that shares work between windows does not apply: windows are gathered
  and run in chunks of at most ``chunk_size``; each output equals the window form on its window.
  In training mode BatchNorm then uses per-chunk statistics.
* ``strided=True`` with T > receptive_field: non-overlapping windows, (B, T // receptive_field, 17, 3),
  as VideoPose3D's strided form.

Differences from the original code, and why:

* device-agnostic: the original allocates the fused features with ``.cuda()`` inside ``forward``
  (stages 2-3 cannot run on a CPU); here nothing is allocated, features are concatenated on the
  input's device and dtype.
* ``hidden`` (the fully connected width) and ``fc_dropout`` are arguments; the original hard-codes
  1024 and 0.25 (the defaults), and a small CPU variant needs a narrower width.
* ``fusion`` replaces ``stage`` (stage 3 has the stage-2 architecture).
* ``bn_momentum`` is set on every BatchNorm at construction and ``set_bn_momentum`` sets every
  BatchNorm, as the project's other models do; the original's ``set_bn_momentum`` touches the local
  encoders only, so a trainer reproducing it selects them with ``LOCAL_ENCODERS``.
* the module cuts sequences into windows itself (the original relies on its data generator to feed
  one window per frame) and checks inputs with ValueError instead of asserts.
* the original's ``causal``, ``dense`` and non-strided (``Optimize1f=False``) options are left out:
  its recipe uses none of them, and a causal window would contradict the centre-frame encodings.
* LeakyReLU is not in-place (same values; safer with autograd hooks and autocast).
"""
from __future__ import annotations

import fnmatch
from typing import Iterable

import torch
from torch import nn

from .videopose import (check_arc, check_bool, check_in_channels, check_pose_input, check_positive_int, check_probability,
                        receptive_field, set_bn_momentum)

NUM_JOINTS = 17
ROOT = 0
NEGATIVE_SLOPE = 0.2

#: The five parts in the original's order (modules, fusion inputs and decoders follow it), with
#: their joints in the 17-joint order.  Names are the original's (mirrored, see the module docstring).
PARTS: dict[str, tuple[int, ...]] = {
    "Torso": (0, 7, 8, 9, 10),
    "LArm": (14, 15, 16),
    "RArm": (11, 12, 13),
    "LLeg": (1, 2, 3),
    "RLeg": (4, 5, 6),
}

#: fnmatch patterns over state-dict / parameter names
LOCAL_ENCODERS: tuple[str, ...] = tuple(f"LocalLayer_{p}.*" for p in PARTS)
GLOBAL_ENCODER: tuple[str, ...] = ("GlobalInfo.*",)
FUSION_BLOCKS: tuple[str, ...] = ("FuseBlocks.*",)
DECODERS: tuple[str, ...] = tuple(f"Integration_{p}.*" for p in PARTS)
#: what stage 2 copies from stage 1 and freezes
ENCODERS: tuple[str, ...] = LOCAL_ENCODERS + GLOBAL_ENCODER

# channels of each part's encoder input in the stacked (raw, D_pos, D_tmp) tensor of 3 * 34 channels
_PART_CHANNELS: dict[str, list[int]] = {
    p: [2 * NUM_JOINTS * kind + 2 * j + c for kind in range(3) for j in joints for c in range(2)]
    for p, joints in PARTS.items()
}
# with scores (in_channels 3), 17 score channels follow the 102: a part's encoder also sees its joints' scores
_PART_SCORE_CHANNELS: dict[str, list[int]] = {p: [6 * NUM_JOINTS + j for j in joints] for p, joints in PARTS.items()}
# position of each joint in the concatenation of the parts' outputs
_CONCAT = [j for joints in PARTS.values() for j in joints]
_ASSEMBLE = [_CONCAT.index(j) for j in range(NUM_JOINTS)]


def name_matches(name: str, patterns: Iterable[str]) -> bool:
    """Whether a state-dict / parameter name matches any of the fnmatch ``patterns``."""
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


class LocalEncoder(nn.Module):
    """One part's temporal encoder over exactly one window: (N, C_in, RF) -> (N, latent).

    Every temporal convolution has stride = width; blocks of (width-w conv, 1x1 conv) with a residual
    taken at the centre tap of each stride.  No bias before BatchNorm; the 1x1 output has one.
    """

    def __init__(self, in_channels: int, arc: tuple[int, ...], channels: int, latent: int, dropout: float,
                 bn_momentum: float):
        super().__init__()
        self.arc = arc
        # registered (and initialised) in the original's order: its state-dict order and, under the
        # same seed, its initial weights
        self.expand_bn = nn.BatchNorm1d(channels, momentum=bn_momentum)
        self.shrink = nn.Conv1d(channels, latent, 1)
        self.expand_conv = nn.Conv1d(in_channels, channels, arc[0], stride=arc[0], bias=False)
        convs, bns = [], []
        for w in arc[1:]:
            convs.append(nn.Conv1d(channels, channels, w, stride=w, bias=False))
            bns.append(nn.BatchNorm1d(channels, momentum=bn_momentum))
            convs.append(nn.Conv1d(channels, channels, 1, bias=False))
            bns.append(nn.BatchNorm1d(channels, momentum=bn_momentum))
        self.layers_conv = nn.ModuleList(convs)
        self.layers_bn = nn.ModuleList(bns)
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.act(self.expand_bn(self.expand_conv(x))))
        for i, w in enumerate(self.arc[1:]):
            res = h[:, :, w // 2::w]
            y = self.drop(self.act(self.layers_bn[2 * i](self.layers_conv[2 * i](h))))
            h = res + self.drop(self.act(self.layers_bn[2 * i + 1](self.layers_conv[2 * i + 1](y))))
        return self.shrink(h).flatten(1)  # one frame left


class ResidualLinear(nn.Module):
    """x + [Linear -> BN -> LeakyReLU -> dropout] x 2."""

    def __init__(self, width: int, dropout: float, bn_momentum: float):
        super().__init__()
        self.w1 = nn.Linear(width, width)
        self.batch_norm1 = nn.BatchNorm1d(width, momentum=bn_momentum)
        self.w2 = nn.Linear(width, width)
        self.batch_norm2 = nn.BatchNorm1d(width, momentum=bn_momentum)
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.drop(self.act(self.batch_norm1(self.w1(x))))
        return x + self.drop(self.act(self.batch_norm2(self.w2(y))))


class FCBlock(nn.Module):
    """Linear(in -> hidden) -> BN -> LeakyReLU -> dropout, ``blocks`` residual pairs, Linear(hidden -> out).

    The global encoder (2 pairs), each fusion block and each decoder (1 pair).
    """

    def __init__(self, in_features: int, out_features: int, hidden: int, blocks: int, dropout: float,
                 bn_momentum: float):
        super().__init__()
        self.fc_1 = nn.Linear(in_features, hidden)
        self.bn_1 = nn.BatchNorm1d(hidden, momentum=bn_momentum)
        # the original creates the pairs before fc_2 but registers them after it: same here, so
        # both the state-dict order and the initial weights under one seed agree with it
        layers = [ResidualLinear(hidden, dropout, bn_momentum) for _ in range(blocks)]
        self.fc_2 = nn.Linear(hidden, out_features)
        self.layers = nn.ModuleList(layers)
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.bn_1(self.fc_1(x))))
        for layer in self.layers:
            x = layer(x)
        return self.fc_2(x)


class RIE(nn.Module):
    """The RIE lifter; defaults are the published configuration (C = L = 256, RF 243, stage 1)."""

    #: windows per chunk in the sequence form (bounds memory on long sequences)
    chunk_size: int = 4096
    causal_shift = 0

    def __init__(self, num_joints_in: int = 17, num_joints_out: int = 17, arc=(3, 3, 3, 3, 3), channels: int = 256,
                 latent: int = 256, hidden: int = 1024, dropout: float = 0.2, fc_dropout: float = 0.25,
                 fusion: bool = False, strided: bool | None = None, bn_momentum: float = 0.1, in_channels: int = 2):
        super().__init__()
        self.in_channels = check_in_channels(in_channels)
        # the relative encodings are of x, y; scores enter as they are
        self._channels = {p: c + (_PART_SCORE_CHANNELS[p] if self.in_channels == 3 else [])
                          for p, c in _PART_CHANNELS.items()}
        for name, value in (("num_joints_in", num_joints_in), ("num_joints_out", num_joints_out)):
            if check_positive_int(name, value) != NUM_JOINTS:
                raise ValueError(f"RIE's five parts are defined on the {NUM_JOINTS} Human3.6M joints "
                                 f"(VideoPose3D order); got {name}={value}")
        self.num_joints_in = self.num_joints_out = NUM_JOINTS
        self.arc = check_arc(arc)
        self.channels = check_positive_int("channels", channels)
        self.latent = check_positive_int("latent", latent)
        self.hidden = check_positive_int("hidden", hidden)
        check_probability("dropout", dropout)
        check_probability("fc_dropout", fc_dropout)
        self.fusion = check_bool("fusion", fusion)
        self.strided = check_bool("strided", strided, allow_none=True)
        check_probability("bn_momentum", bn_momentum, allow_one=True)

        self.receptive_field = receptive_field(self.arc)
        self.pad = (self.receptive_field - 1) // 2

        # registration order = the original's: local encoders, global encoder, fusion, decoders
        for part in PARTS:
            self.add_module(f"LocalLayer_{part}", LocalEncoder(
                len(self._channels[part]), self.arc, channels, latent, dropout, bn_momentum))
        self.GlobalInfo = FCBlock(self.in_channels * NUM_JOINTS, latent, hidden, 2, fc_dropout, bn_momentum)
        if fusion:
            self.FuseBlocks = nn.ModuleList(
                FCBlock(4 * latent, latent, hidden, 1, fc_dropout, bn_momentum) for _ in PARTS)
        decoder_in = (3 if fusion else 2) * latent
        for part, joints in PARTS.items():
            self.add_module(f"Integration_{part}", FCBlock(
                decoder_in, 3 * len(joints), hidden, 1, fc_dropout, bn_momentum))

    def set_bn_momentum(self, momentum: float) -> None:
        set_bn_momentum(self, momentum)

    def _run_windows(self, w: torch.Tensor) -> torch.Tensor:
        """(N, RF, 17, C) windows -> (N, 17, 3) poses of their centre frames."""
        n, rf = w.shape[:2]
        centre = rf // 2
        x = w[..., :2].reshape(n, rf, 2 * NUM_JOINTS).transpose(1, 2)  # (N, 34, RF), channels 2j, 2j+1 = joint j
        d_pos = x - x[:, 2 * ROOT:2 * ROOT + 2].repeat(1, NUM_JOINTS, 1)
        d_tmp = x - x[:, :, centre:centre + 1]
        kinds = (x, d_pos, d_tmp) + ((w[..., 2].transpose(1, 2),) if self.in_channels == 3 else ())
        encoded = torch.cat(kinds, 1)  # (N, 102, RF), or (N, 119, RF) with scores

        # the original's call order (global first), so training-mode dropout draws match it too
        glob = self.GlobalInfo(w[:, centre].reshape(n, self.in_channels * NUM_JOINTS))
        local = [getattr(self, f"LocalLayer_{p}")(encoded[:, self._channels[p]]) for p in PARTS]
        if self.fusion:
            fused = [block(torch.cat(local[:g] + local[g + 1:], 1)) for g, block in enumerate(self.FuseBlocks)]
            inputs = [torch.cat((loc, fus, glob), 1) for loc, fus in zip(local, fused)]
        else:
            inputs = [torch.cat((loc, glob), 1) for loc in local]
        parts = [getattr(self, f"Integration_{p}")(h).reshape(n, -1, 3) for p, h in zip(PARTS, inputs)]
        return torch.cat(parts, 1)[:, _ASSEMBLE]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_pose_input(x, NUM_JOINTS, self.receptive_field, self.in_channels)
        b, t = x.shape[:2]
        rf = self.receptive_field
        if t == rf:  # one window: both forms agree
            return self._run_windows(x).unsqueeze(1)
        strided = False if self.strided is None else self.strided
        step = rf if strided else 1
        frames_out = (t - rf) // step + 1
        total = b * frames_out
        offsets = torch.arange(rf, device=x.device)
        outs = []
        for start in range(0, total, self.chunk_size):
            idx = torch.arange(start, min(start + self.chunk_size, total), device=x.device)
            first = (idx % frames_out) * step
            outs.append(self._run_windows(x[(idx // frames_out)[:, None], first[:, None] + offsets]))
        return torch.cat(outs).reshape(b, frames_out, NUM_JOINTS, 3)
