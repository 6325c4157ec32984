"""learnable-triangulation's volumetric model: view features unprojected into a cube on the pelvis, V2V, soft-argmax.

Per view the simple-baseline backbone's deconvolution features (``head_filters`` channels) go
through a 1x1 convolution (``process_features``, 32 channels), are sampled at every voxel's
projection (:func:`pose3d.geometry.cube.unproject`) of a cube of ``cube_size``^3 voxels and side
``cube_side_mm`` centred on the pelvis prior (rotated about world z in training), merged over the
views by the softmax aggregation, turned into 17 volumes by V2V and read off as expected world
positions. The heatmap layer (``final_layer``) is kept, frozen and unused, as in the seed, so
its parameter names and count match and a keypoints2d experiment initialises the backbone.

``v2v_levels``: the seed's V2V pools 5 times (a 64^3 or 32^3 cube); a 16^3 cube needs 4 or fewer.
Unprojection normalises pixels by ``w - 1`` (ContextPose's fix); ``lt_normalisation`` restores
the seed's ``w``.
"""
from __future__ import annotations

import torch
from torch import nn

from pose3d.geometry.cube import aggregate_softmax, cube_grid, scale_pixels, soft_argmax_world, unproject
from pose3d.training.losses import FINAL

from .resnet import PoseResNet
from .v2v import V2V


def default_levels(cube_size: int) -> int:
    """The seed's 5 poolings where the cube allows them (32^3 and up), else down to a 1^3 bottom."""
    return max(1, min(5, int(cube_size).bit_length() - 1))


class Volumetric(PoseResNet):
    """``forward(images (B, V, 3, S, S), proj (B, V, 3, 4) input pixels, views (B, V), centre (B, 3), angle (B,))``."""

    def __init__(self, resnet: int = 18, head_filters: int = 64, head_layers: int = 3, num_joints: int = 17,
                 cube_size: int = 16, cube_side_mm: float = 2500.0, volume_channels: int = 32,
                 v2v_levels: int | None = None, lt_normalisation: bool = False, volume_multiplier: float = 1.0):
        super().__init__(resnet, head_filters, head_layers, out_channels=num_joints)
        self.final_layer.requires_grad_(False)
        self.num_joints, self.cube_size, self.cube_side_mm = num_joints, cube_size, cube_side_mm
        self.lt_normalisation, self.volume_multiplier = lt_normalisation, volume_multiplier
        self.process_features = nn.Conv2d(head_filters, volume_channels, 1)
        self.volume_net = self.build_volume_net(volume_channels, num_joints,
                                                default_levels(cube_size) if v2v_levels is None else v2v_levels)

    def build_volume_net(self, channels: int, joints: int, levels: int) -> nn.Module:
        return V2V(channels, joints, levels)

    def cube_features(self, images: torch.Tensor, proj: torch.Tensor, views: torch.Tensor, centre: torch.Tensor,
                      angle: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, n, n, n) aggregated features and the (B, n, n, n, 3) voxel positions."""
        b, v = images.shape[:2]
        feats = self.process_features(self.deconv_layers(self.features(images.flatten(0, 1))))
        feats = feats.float().reshape(b, v, *feats.shape[1:])
        proj_maps = scale_pixels(proj.float(), feats.shape[-1] / images.shape[-1])
        grid = cube_grid(centre.float(), self.cube_size, self.cube_side_mm, angle)
        volumes = unproject(feats, proj_maps, grid, self.lt_normalisation)
        return aggregate_softmax(volumes, views), grid

    def forward(self, images: torch.Tensor, proj: torch.Tensor, views: torch.Tensor, centre: torch.Tensor,
                angle: torch.Tensor | None = None, outputs: bool = False):
        cube, grid = self.cube_features(images, proj, views, centre, angle)
        volumes = self.volume_net(cube)
        extra = {}
        if isinstance(volumes, tuple):  # ContextPose's net also returns its attention
            volumes, extra["attention"] = volumes
        points, probs = soft_argmax_world(volumes.float(), grid, self.volume_multiplier)
        if not outputs:
            return points
        return {FINAL: points, "probabilities": probs, "grid": grid, "centre": centre, "angle": angle, **extra}
