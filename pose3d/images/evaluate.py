"""Predictions of an image network on crops (with the flip test), and their errors.

keypoints2d: the flip test averages the heatmaps of the crop and of its mirror image (mirrored
back, left and right exchanged), as the simple baseline does, then decodes; the score of a joint
is the peak of its softmax-normalised map. integral: the flip test averages the voxel coordinates
(x -> w - 1 - x), as Integral's code does.

2D errors are in original-image pixels (crop pixels times the crop's scale); PCK@a counts the
joints within a x the longer side of the ground-truth person box. 3D errors follow Integral's
test: the ground-truth box and root depth place the prediction (each joint's depth is the root's
plus its predicted offset, then the pixel is back-projected through the camera, distortion
included), the result is made root-relative and compared in millimetres.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from pose3d.images.augment import FLIP_PERMUTATION, warp
from pose3d.images.config import ImageRun
from pose3d.images.crops import CropTable
from pose3d.images.loader import CropLoader
from pose3d.models.integral import from_voxels, soft_argmax_3d
from pose3d.models.keypoints2d import argmax_refined, confidence, soft_argmax_2d

PCK_THRESHOLDS = (0.05, 0.1)


def _flipped_back(out: torch.Tensor) -> torch.Tensor:
    """Maps / volumes of a mirrored input -> the original's: columns mirrored, left and right exchanged."""
    return torch.flip(out, dims=[-1])[:, list(FLIP_PERMUTATION)]


def network_outputs(model: nn.Module, run: ImageRun, x: torch.Tensor, flip_test: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(coordinates in output units (B, J, 2|3), scores (B, J) or None) of one input batch."""
    if run.model == "keypoints2d":
        maps = model.heatmaps(x).float()
        if flip_test:
            maps = (maps + _flipped_back(model.heatmaps(torch.flip(x, dims=[-1])).float())) / 2
        coords = soft_argmax_2d(maps) if run.decode == "soft_argmax" else argmax_refined(maps)
        return coords, confidence(maps)
    coords = soft_argmax_3d(model.volumes(x).float())
    if flip_test:
        mirrored = soft_argmax_3d(model.volumes(torch.flip(x, dims=[-1])).float())[:, list(FLIP_PERMUTATION)]
        mirrored[..., 0] = run.heatmap_size - 1 - mirrored[..., 0]
        coords = (coords + mirrored) / 2
    return coords, None


def batched(n: int, batch_size: int) -> Iterator[np.ndarray]:
    for i in range(0, n, batch_size):
        yield np.arange(i, min(n, i + batch_size))


def to_crop_px(coords_input_px: np.ndarray, input_size: int, crop_size: int) -> np.ndarray:
    """Pixels of the resized network input -> pixels of the stored crop (pixel centres at integers)."""
    return (coords_input_px + 0.5) * (crop_size / input_size) - 0.5


@torch.no_grad()
def predict_crops(model: nn.Module, run: ImageRun, crops: CropTable, device: torch.device, flip_test: bool,
                  batch_size: int = 64, workers: int = 1) -> dict[str, np.ndarray]:
    """Every crop's prediction: ``uv`` (N, J, 2) crop pixels, and ``z_rel_mm`` (integral) or ``score`` (keypoints2d)."""
    model.eval()
    loader = CropLoader(crops.shards, crops.crop_size, device, workers)
    parts = list(batched(len(crops), batch_size))
    coords, scores = [], []
    for idx, images in zip(parts, loader.batches(crops.items[i] for i in parts)):
        x, _ = warp(images, run.input_size)
        c, s = network_outputs(model, run, x, flip_test)
        coords.append(c.double().cpu().numpy())
        if s is not None:
            scores.append(s.cpu().numpy())
    coords = np.concatenate(coords) if coords else np.zeros((0, 17, 3 if run.model == "integral" else 2))
    out = {}
    if run.model == "integral":
        uv_in, z = from_voxels(coords, run.input_size, run.heatmap_size, run.depth_bins, run.depth_range_mm)
        out["z_rel_mm"] = np.asarray(z)
    else:
        uv_in = (coords + 0.5) * (run.input_size / run.heatmap_size) - 0.5
        out["score"] = np.concatenate(scores) if scores else np.zeros((0, 17), np.float32)
    out["uv"] = to_crop_px(np.asarray(uv_in), run.input_size, crops.crop_size)
    return out


def pixel_errors(crops: CropTable, uv_crop: np.ndarray) -> np.ndarray:
    """(N, J) distances to the ground truth in original-image pixels."""
    return np.linalg.norm(uv_crop - crops.uv, axis=-1) * crops.px_scale[:, None]


def keypoint_summary(errors_px: np.ndarray, box_px: np.ndarray) -> dict[str, float]:
    """Mean pixel error and PCK@0.05 / 0.1 of the box over every joint of ``errors_px`` (N, J)."""
    out = {"mean_px": float(errors_px.mean()) if errors_px.size else float("nan")}
    for a in PCK_THRESHOLDS:
        out[f"pck_{a}"] = float((errors_px <= a * box_px[:, None]).mean()) if errors_px.size else float("nan")
    out["frames"] = int(errors_px.shape[0])
    return out


def backproject(crops: CropTable, uv_crop: np.ndarray, z_rel_mm: np.ndarray) -> np.ndarray:
    """Camera-frame joints (N, J, 3) mm: the ground-truth root depth plus each predicted offset, back-projected."""
    depth = crops.xyz_mm[:, :1, 2].astype(np.float64) + z_rel_mm
    rays = crops.rays(uv_crop)
    return np.concatenate([rays * depth[..., None], depth[..., None]], axis=-1)
