"""learnable-triangulation's algebraic model: 2D joints and confidences per view, triangulated by weighted DLT.

Per view the simple-baseline backbone gives 17 heatmaps (soft-argmax -> input pixels) and the
confidence head on ResNet's last stage gives one weight per joint; the weights are normalised over
the sample's present views (+1e-5, as the seed) and a batched, differentiable DLT
(:func:`pose3d.geometry.triangulation.triangulate_dlt`: conditioned, SVD) returns world points.

The parameter names are the keypoints2d network's (``conv1`` ... ``final_layer``), so a
``keypoints2d`` experiment initialises it by name; the seed starts from a 2D-trained backbone
too: from scratch the triangulated points lie far away and its loss gives almost no gradient.

Differences from the seed: heatmaps are multiplied by ``heatmap_multiplier`` = 1, not 100, before
the softmax, because this project's 2D networks are trained through that softmax (the seed's
backbone was trained on MSE heatmaps with values near 1); absent views get weight 0 per sample.
"""
from __future__ import annotations

import torch

from pose3d.geometry.triangulation import triangulate_dlt
from pose3d.training.losses import FINAL

from .confidence import ConfidenceHead
from .keypoints2d import soft_argmax_2d
from .resnet import PoseResNet


class Algebraic(PoseResNet):
    """``forward(images (B, V, 3, S, S), proj (B, V, 3, 4) input pixels, views (B, V))`` -> (B, J, 3) world mm."""

    def __init__(self, resnet: int = 18, head_filters: int = 64, head_layers: int = 3, num_joints: int = 17,
                 confidences: bool = True, heatmap_multiplier: float = 1.0):
        super().__init__(resnet, head_filters, head_layers, out_channels=num_joints)
        self.num_joints, self.heatmap_multiplier = num_joints, heatmap_multiplier
        self.confidence_head = ConfidenceHead(self.feature_channels, num_joints) if confidences else None

    def forward(self, images: torch.Tensor, proj: torch.Tensor, views: torch.Tensor, centre=None, angle=None,
                outputs: bool = False):  # noqa: ARG002 - every multi-view model takes the same batch
        b, v = images.shape[:2]
        deep = self.features(images.flatten(0, 1))
        maps = self.final_layer(self.deconv_layers(deep)).float()
        uv_maps = soft_argmax_2d(maps, self.heatmap_multiplier)
        factor = images.shape[-1] / maps.shape[-1]
        uv = ((uv_maps + 0.5) * factor - 0.5).reshape(b, v, self.num_joints, 2)
        if self.confidence_head is not None:
            w = self.confidence_head(deep).float().reshape(b, v, self.num_joints)
        else:
            w = torch.ones(b, v, self.num_joints, device=images.device)
        w = w * views[..., None]
        w = w / w.sum(dim=1, keepdim=True).clamp_min(1e-12) + 1e-5
        w = w * views[..., None]  # an absent view stays out of the DLT
        points, valid = triangulate_dlt(uv.transpose(1, 2).double(), proj[:, None].double(),
                                        w.transpose(1, 2).double())
        points = points.float()
        if not outputs:
            return points
        return {FINAL: points, "valid": valid, "keypoints_2d": uv, "confidences": w}

