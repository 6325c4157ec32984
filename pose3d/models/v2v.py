"""Learnable triangulation's V2V encoder-decoder (Moon et al.'s V2V-PoseNet, as Iskakov et al. build it).

The volumetric model turns the unprojected 32-channel feature cube into one logit volume per joint
with this network.  ``V2V(32, 17)`` is the seed's ``V2VModel(32, 17)`` layer for layer (11,944,353
parameters) and keeps its parameter names, so the seed's released weights load by name.

Layout (channels per level 32, 64, 128, 128, 128, 128):

- front: Basic3D(in -> 16, k7), Res3D(16 -> 32), Res3D(32), Res3D(32);
- encoder level i = 1..levels: max-pool 2, Res3D(c[i-1] -> c[i]); a skip Res3D(c[i-1]) taps the
  level's input; middle Res3D(c[levels]);
- decoder level i = levels..1: Res3D(c[i]), ConvTranspose3d(k2, s2)+BN+ReLU (c[i] -> c[i-1]), + skip;
- back: Res3D(32), two Basic3D(32, k1); output 1x1x1 convolution (with bias) -> out channels.

Every Conv3d / ConvTranspose3d starts Xavier-normal with zero bias (the seed's initialisation;
BatchNorm keeps PyTorch's defaults).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Channels at each level of the seed's encoder-decoder: level 0 is the front's output.
LEVEL_CHANNELS: tuple[int, ...] = (32, 64, 128, 128, 128, 128)
MAX_LEVELS = len(LEVEL_CHANNELS) - 1


def min_size(levels: int) -> int:
    """The smallest cube side (and the divisor of every side) that ``levels`` max-pools of 2 allow."""
    return 2 ** levels


def check_sides(x: torch.Tensor, divisor: int) -> None:
    """Raise a ValueError unless ``x`` is (B, C, D, H, W) with every side a positive multiple of ``divisor``."""
    if x.dim() != 5:
        raise ValueError(f"expected a (B, C, D, H, W) volume, got shape {tuple(x.shape)}")
    sides = tuple(x.shape[2:])
    if any(s < divisor or s % divisor for s in sides):
        raise ValueError(f"volume sides {sides} must be multiples of {divisor} (this network max-pools "
                         f"{divisor.bit_length() - 1} times by 2)")


class Basic3D(nn.Module):
    """Conv3d(k, 'same' padding, bias) -> BN -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv3d(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Res3D(nn.Module):
    """Two 3x3x3 Conv+BN (ReLU between) plus a skip (identity, or 1x1x1 Conv+BN when widths differ), ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.res_branch = nn.Sequential(
            nn.Conv3d(in_channels, out_channels, 3, padding=1),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv3d(out_channels, out_channels, 3, padding=1),
            nn.BatchNorm3d(out_channels),
        )
        self.skip_con = nn.Sequential() if in_channels == out_channels else nn.Sequential(
            nn.Conv3d(in_channels, out_channels, 1), nn.BatchNorm3d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.res_branch(x) + self.skip_con(x), inplace=True)


class Upsample3D(nn.Module):
    """ConvTranspose3d(k2, s2) -> BN -> ReLU: doubles every side."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.ConvTranspose3d(in_channels, out_channels, 2, stride=2),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class EncoderDecoder(nn.Module):
    """The U-shaped core; modules are named ``encoder_res{i}``, ``skip_res{i}``, ... as in the seed."""

    def __init__(self, levels: int):
        super().__init__()
        self.levels = levels
        c = LEVEL_CHANNELS
        for i in range(1, levels + 1):
            self.add_module(f"encoder_res{i}", Res3D(c[i - 1], c[i]))
            self.add_module(f"skip_res{i}", Res3D(c[i - 1], c[i - 1]))
            self.add_module(f"decoder_res{i}", Res3D(c[i], c[i]))
            self.add_module(f"decoder_upsample{i}", Upsample3D(c[i], c[i - 1]))
        self.mid_res = Res3D(c[levels], c[levels])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i in range(1, self.levels + 1):
            skips.append(getattr(self, f"skip_res{i}")(x))
            x = getattr(self, f"encoder_res{i}")(F.max_pool3d(x, 2))
        x = self.mid_res(x)
        for i in range(self.levels, 0, -1):
            x = getattr(self, f"decoder_upsample{i}")(getattr(self, f"decoder_res{i}")(x)) + skips[i - 1]
        return x


class V2V(nn.Module):
    """(B, in_channels, D, H, W) -> (B, out_channels, D, H, W) logits; sides must be multiples of 2**levels.

    ``levels=5`` is the seed's network (needs sides >= 32).  ``levels < 5`` drops the innermost
    5 - levels encoder/decoder levels (their pool, encoder/skip/decoder Res3D and up-sampling) and
    keeps the middle Res3D at the remaining innermost width: ``levels=4`` runs on a 16^3 cube (the
    middle block then sees 1^3), which the seed cannot.  Front, back and output are unchanged.
    """

    def __init__(self, in_channels: int, out_channels: int, levels: int = MAX_LEVELS):
        super().__init__()
        if not 1 <= levels <= MAX_LEVELS:
            raise ValueError(f"levels must be in 1..{MAX_LEVELS}, got {levels}")
        self.levels = levels
        width = LEVEL_CHANNELS[0]
        self.front_layers = nn.Sequential(
            Basic3D(in_channels, 16, 7), Res3D(16, width), Res3D(width, width), Res3D(width, width))
        self.encoder_decoder = EncoderDecoder(levels)
        self.back_layers = nn.Sequential(Res3D(width, width), Basic3D(width, width, 1), Basic3D(width, width, 1))
        self.output_layer = nn.Conv3d(width, out_channels, 1)
        for m in self.modules():
            if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d)):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_sides(x, min_size(self.levels))
        return self.output_layer(self.back_layers(self.encoder_decoder(self.front_layers(x))))
