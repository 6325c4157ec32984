"""ContextPose (Ma et al. 2021): the volumetric model with a limb-length-aware attention block in its V2V.

Single view in the seed (one random camera per training batch; every (frame, camera) is a test
sample), the cube still centred on a multi-view pelvis. The V2V is ContextPose's two-pooling
V2VNet (:class:`pose3d.models.v2v_context.ContextV2V`), whose middle block attends over a
coarse grid (the cube side / 4) with pairwise limb-length priors from the training subjects'
``limb_stats.h5``; those priors are built on the device the model runs on.
``forward(..., outputs=True)`` also returns ``attention`` (B, J, coarse^3) for the attention loss.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import nn

from pose3d.priors.limbs import CONTEXTPOSE_LIMBS

from .v2v_context import ContextV2V
from .volumetric import Volumetric


class ContextPose(Volumetric):
    """:class:`Volumetric` with ContextPose's V2VNet; ``limb_mean_mm`` / ``limb_std_mm`` in ContextPose's limb order."""

    def __init__(self, resnet: int = 18, head_filters: int = 64, head_layers: int = 3, num_joints: int = 17,
                 cube_size: int = 16, cube_side_mm: float = 2500.0, volume_channels: int = 32,
                 limb_mean_mm: Sequence[float] | None = None, limb_std_mm: Sequence[float] | None = None,
                 temperature: float = 1500.0, limbs: Sequence[tuple[int, int]] = CONTEXTPOSE_LIMBS,
                 lt_normalisation: bool = False, volume_multiplier: float = 1.0):
        if limb_mean_mm is None or limb_std_mm is None:
            raise ValueError("ContextPose needs the limb-length statistics (limb_stats.h5 of the priors stage)")
        if len(limb_mean_mm) != len(limbs) or len(limb_std_mm) != len(limbs):
            raise ValueError(f"{len(limbs)} limbs but {len(limb_mean_mm)} means and {len(limb_std_mm)} stds")
        self._context = (tuple(limbs), np.asarray(limb_mean_mm, dtype=np.float64),
                         np.asarray(limb_std_mm, dtype=np.float64), float(temperature))
        super().__init__(resnet, head_filters, head_layers, num_joints, cube_size, cube_side_mm, volume_channels,
                         v2v_levels=2, lt_normalisation=lt_normalisation, volume_multiplier=volume_multiplier)

    def build_volume_net(self, channels: int, joints: int, levels: int) -> nn.Module:  # noqa: ARG002 - always 2
        limbs, mean, std, temperature = self._context
        return ContextV2V(channels, joints, limbs, mean, std, cube_side_mm=self.cube_side_mm, temperature=temperature)
