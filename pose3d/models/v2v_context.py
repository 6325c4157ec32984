"""ContextPose's volume network (Ma et al. 2021): a two-level V2V with a pictorial-structure attention block.

Channel layout: the attention block works on 3 channels per joint (51 for 17 joints); joint j owns
channels 3j..3j+2, and every per-joint map is a grouped 1x1x1 convolution with one group per joint.
Widths follow the seed's 17 / 34 / 51 as J / 2J / 3J:

- front: Basic3D(in -> J, k3), Res3D(J -> 2J);
- max-pool, Res3D(2J -> 3J) (skip Res3D(2J) before the pool); max-pool, Res3D(3J) (skip Res3D(3J));
- middle ``ContextRes3D``: ContextAttention -> BN -> ReLU -> Conv3d(3^3) -> BN, + input, ReLU;
- Res3D(3J), up(3J -> 3J) + skip; Res3D(3J), up(3J -> 2J) + skip; output 1x1x1 conv (bias) -> J volumes.

``ContextAttention`` on the coarse cube (the input side / 4, n = coarse^3 voxels, flattened in C order
of (D, H, W)):

1. per-joint features f_j = grouped 1x1 conv of the input (no bias);
2. global attention G_j = softmax over the n voxels of a grouped 1x1 conv of the input (no bias);
3. for every limb (a, b) and voxel v, joint b's slot for a holds the limb-constrained expectation
   sum_v' P(v, v') G_b(v') f_b(v') / sum_v' P(v, v') G_b(v') (and symmetrically), P = the limb's
   pairwise prior (:func:`pairwise_priors`);
4. every other slot, including the joint's own, holds the pooled feature sum_v G_k(v) f_k(v);
5. joint j's assembled 3J-channel tensor goes through its own 1x1 conv (3J -> 3; bias-free, one group
   of a grouped conv) and the J outputs, concatenated, are added to f.

The block also returns G (B, J, n) for the attention loss against :func:`attention_target`.
Every Conv3d and ConvTranspose3d is then re-initialised N(0, 0.001) with zero bias, as the seed does.

Follows the seed in: the pairwise formula and its 0.1 term, the prior's grid spacing (cube side /
(coarse - 1)), the softmax axis of the prior (over v' for each v), the slot assembly, the widths and
the initialisation.  Deliberate differences:

- joints and limbs are the caller's (the seed hard-codes learnable-triangulation's 17 joints and
  16 limbs); pass ``pose3d.priors.limbs.CONTEXTPOSE_LIMBS`` for the project's Human3.6M order;
- the priors are built on the input's device and dtype and cached per instance, keyed by
  (coarse, device, dtype), never saved in the state dict (the seed builds them on CUDA into a
  class-wide cache);
- the limb-constrained expectations are matrix products, (B, 3 + 1, n) @ (n, n), instead of the
  seed's (B, 3, n, n) broadcast products: the same sums (tests/test_multiview_models.py) without the
  3·B·n² intermediate (for a 64^3 volume, n = 4096: 200 MB per sample and limb in float32; not timed);
- the per-joint 1x1 convs are one grouped conv over the J stacked assembled tensors (same weights,
  2601 parameters for 17 joints, as the seed's 17 separate convs);
- volumes must be cubes with a side that is a multiple of 4 and at least 8 (the prior's spacing
  divides by coarse - 1): a ValueError otherwise.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .v2v import Basic3D, Res3D, Upsample3D, check_sides

CHANNELS_PER_JOINT = 3
POOLS = 2


def _grid(coarse: int, spacing: float, origin: float, device, dtype) -> torch.Tensor:
    """(coarse^3, 3) voxel coordinates origin + spacing * (i, j, k), flattened in C order of (i, j, k)."""
    axis = origin + spacing * torch.arange(coarse, device=device, dtype=dtype)
    return torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)


def pairwise_priors(coarse: int, spacing_mm: float, mean_mm, std_mm, temperature: float,
                    device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(L, n, n) limb-length priors on a coarse^3 grid, n = coarse^3.

    Row v of limb l is a softmax over v' of -(|v - v'| - mean_l)^2 / (temperature * 2 std_l^2 + 0.1),
    |v - v'| in mm on a grid of ``spacing_mm`` (ContextPose: cube side / (coarse - 1)).  Voxels are
    flattened in C order of (D, H, W), like the attention maps.  Computed in at least float32.
    """
    mean, std = np.asarray(mean_mm, dtype=np.float64), np.asarray(std_mm, dtype=np.float64)
    if mean.ndim != 1 or mean.shape != std.shape:
        raise ValueError(f"limb mean and std must be two (L,) arrays, got shapes {mean.shape} and {std.shape}")
    work = torch.promote_types(dtype, torch.float32)
    grid = _grid(coarse, spacing_mm, 0.0, device, work)
    dist = torch.cdist(grid, grid, compute_mode="donot_use_mm_for_euclid_dist")
    n = grid.shape[0]
    out = torch.empty(len(mean), n, n, device=device, dtype=dtype)
    for l, (mu, sigma) in enumerate(zip(mean.tolist(), std.tolist())):
        out[l] = torch.softmax(-(dist - mu) ** 2 / (temperature * 2 * sigma ** 2 + 0.1), dim=-1)
    return out


def attention_target(joints_local_mm: torch.Tensor, coarse: int, cube_side_mm: float, volume_size: int) -> torch.Tensor:
    """ContextPose's ground-truth attention (B, J, coarse^3) for joints (B, J, 3) in cube-local mm.

    ``joints_local_mm``: joints minus the cube centre, in the cube's own (unrotated) axes, with
    cube-local x, y, z along the volume tensor's D, H, W axes (the same flattening as the attention).
    As in the seed, the auxiliary grid starts at the cube's lower corner (-side/2 on each axis) and
    spans side - 3 * side / (volume_size - 1): coarse cell c sits on the full volume's voxel 4c (when
    volume_size = 4 * coarse), not at the centre of the 4 voxels it pools.  Each joint's map is a softmax
    over the grid of -d^2 / (2 sigma^2), sigma = 2 grid spacings.
    """
    if joints_local_mm.dim() != 3 or joints_local_mm.shape[-1] != 3:
        raise ValueError(f"expected (B, J, 3) joints, got shape {tuple(joints_local_mm.shape)}")
    aux_side = cube_side_mm - 3 * cube_side_mm / (volume_size - 1)
    spacing = aux_side / (coarse - 1)
    grid = _grid(coarse, spacing, -cube_side_mm / 2, joints_local_mm.device, joints_local_mm.dtype)
    sq = ((joints_local_mm[:, :, None, :] - grid) ** 2).sum(-1)
    return torch.softmax(-sq / (2 * (2 * spacing) ** 2), dim=-1)


class ContextAttention(nn.Module):
    """(B, 3J, c, c, c) -> ((B, 3J, c, c, c) features, (B, J, c^3) global attention); see the module doc."""

    def __init__(self, joints: int, limbs: Sequence[tuple[int, int]], limb_mean_mm, limb_std_mm,
                 cube_side_mm: float, temperature: float):
        super().__init__()
        self.joints, self.cube_side_mm, self.temperature = joints, float(cube_side_mm), float(temperature)
        self.limbs = tuple((int(a), int(b)) for a, b in limbs)
        self.limb_mean_mm = tuple(float(v) for v in np.asarray(limb_mean_mm, dtype=np.float64).reshape(-1))
        self.limb_std_mm = tuple(float(v) for v in np.asarray(limb_std_mm, dtype=np.float64).reshape(-1))
        if not len(self.limbs) == len(self.limb_mean_mm) == len(self.limb_std_mm):
            raise ValueError(f"{len(self.limbs)} limbs but {len(self.limb_mean_mm)} means and "
                             f"{len(self.limb_std_mm)} stds")
        pairs = [frozenset(limb) for limb in self.limbs]
        if any(len(p) != 2 or not all(0 <= j < joints for j in p) for p in pairs) or len(set(pairs)) != len(pairs):
            raise ValueError(f"limbs must be distinct pairs of distinct joints in 0..{joints - 1}, got {self.limbs}")
        #: (limb, source joint, receiving joint): the source's context fills its slot in the receiver's tensor.
        self.context_slots = tuple((l, s, r) for l, (a, b) in enumerate(self.limbs) for s, r in ((b, a), (a, b)))
        channels = CHANNELS_PER_JOINT * joints
        self.embed = nn.Conv3d(channels, channels, 1, groups=joints, bias=False)
        self.attend = nn.Conv3d(channels, joints, 1, groups=joints, bias=False)
        self.joint_convs = nn.Conv3d(joints * channels, channels, 1, groups=joints, bias=False)
        self._priors: dict[tuple[int, torch.device, torch.dtype], torch.Tensor] = {}

    def priors(self, coarse: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """The (L, n, n) pairwise priors for a coarse^3 cube, built once per (coarse, device, dtype)."""
        key = (coarse, device, dtype)
        if key not in self._priors:
            self._priors[key] = pairwise_priors(coarse, self.cube_side_mm / (coarse - 1), self.limb_mean_mm,
                                                self.limb_std_mm, self.temperature, device, dtype)
        return self._priors[key]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, d, h, w = x.shape
        j, c, n = self.joints, CHANNELS_PER_JOINT, d * h * w
        feats = self.embed(x)
        attention = torch.softmax(self.attend(x).reshape(b, j, n), dim=-1)
        weighted = feats.reshape(b, j, c, n) * attention[:, :, None]
        pooled = weighted.sum(-1, keepdim=True).expand(b, j, c, n)
        priors = self.priors(d, x.device, x.dtype)
        slots = {}
        for limb, src, dst in self.context_slots:
            # rows 0..c-1: sum_v' P(v, v') G(v') f(v'); row c: sum_v' P(v, v') G(v')
            sums = torch.cat((weighted[:, src], attention[:, src, None]), dim=1) @ priors[limb].T
            slots[dst, src] = sums[:, :c] / sums[:, c:]
        assembled = torch.stack([
            torch.stack([slots.get((dst, src), pooled[:, src]) for src in range(j)], dim=1) for dst in range(j)
        ], dim=1)  # (B, receiving joint, slot joint, c, n)
        out = self.joint_convs(assembled.reshape(b, j * j * c, d, h, w)) + feats
        return out, attention


class ContextRes3D(nn.Module):
    """ContextAttention -> BN -> ReLU -> Conv3d(3^3) -> BN, plus the input, ReLU; also returns the attention."""

    def __init__(self, attention: ContextAttention):
        super().__init__()
        channels = CHANNELS_PER_JOINT * attention.joints
        self.attention = attention
        self.res_branch = nn.Sequential(
            nn.BatchNorm3d(channels),
            nn.ReLU(inplace=True),
            nn.Conv3d(channels, channels, 3, padding=1),
            nn.BatchNorm3d(channels),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        res, attention = self.attention(x)
        return F.relu(self.res_branch(res) + x, inplace=True), attention


class ContextV2V(nn.Module):
    """(B, in_channels, S, S, S) -> (volumes (B, J, S, S, S), attention (B, J, (S/4)^3)); S a multiple of 4, >= 8.

    ``limbs`` index the caller's joint order; ``limb_mean_mm`` / ``limb_std_mm`` are the matching
    per-limb length statistics (e.g. ``read_limb_stats``); ``cube_side_mm`` sets the prior's grid
    spacing, side / (S/4 - 1), as in the seed; ``temperature`` is the seed's T.
    """

    def __init__(self, in_channels: int, joints: int, limbs: Sequence[tuple[int, int]], limb_mean_mm, limb_std_mm,
                 cube_side_mm: float = 2500.0, temperature: float = 1500.0):
        super().__init__()
        c1, c2, c3 = joints, 2 * joints, CHANNELS_PER_JOINT * joints
        self.front_layers = nn.Sequential(Basic3D(in_channels, c1, 3), Res3D(c1, c2))
        self.skip_res1 = Res3D(c2, c2)
        self.encoder_res1 = Res3D(c2, c3)
        self.skip_res2 = Res3D(c3, c3)
        self.encoder_res2 = Res3D(c3, c3)
        self.mid_res = ContextRes3D(
            ContextAttention(joints, limbs, limb_mean_mm, limb_std_mm, cube_side_mm, temperature))
        self.decoder_res2 = Res3D(c3, c3)
        self.decoder_upsample2 = Upsample3D(c3, c3)
        self.decoder_res1 = Res3D(c3, c3)
        self.decoder_upsample1 = Upsample3D(c3, c2)
        self.output_layer = nn.Conv3d(c2, joints, 1)
        for m in self.modules():
            if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d)):
                nn.init.normal_(m.weight, 0.0, 0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_sides(x, 2 ** POOLS)
        sides = tuple(x.shape[2:])
        if len(set(sides)) != 1 or sides[0] < 2 * 2 ** POOLS:
            raise ValueError(f"volume must be a cube with side >= {2 * 2 ** POOLS}, got sides {sides}")
        x = self.front_layers(x)
        skip1 = self.skip_res1(x)
        x = self.encoder_res1(F.max_pool3d(x, 2))
        skip2 = self.skip_res2(x)
        x = self.encoder_res2(F.max_pool3d(x, 2))
        x, attention = self.mid_res(x)
        x = self.decoder_upsample2(self.decoder_res2(x)) + skip2
        x = self.decoder_upsample1(self.decoder_res1(x)) + skip1
        return self.output_layer(x), attention
