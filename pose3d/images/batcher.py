"""Training batches of an image experiment, in the shape the shared loop (:func:`pose3d.training.loop.fit`) takes.

Each epoch is a permutation of the crops drawn from (seed, epoch); a batch is decoded by the
loader's worker processes, augmented on the device, and paired with its targets in the network's
output units. Under ``torchrun`` each rank takes every world-th crop of each batch.
"""
from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from pose3d.h36m.skeleton import H36M17
from pose3d.images.augment import FLIP_PERMUTATION, Jitter, draw, move_joints, warp
from pose3d.images.config import ImageRun
from pose3d.images.crops import CropTable
from pose3d.images.loader import CropLoader
from pose3d.images.targets import keypoint_targets, volume_targets


def jitter_of(run: ImageRun, flip: bool = True) -> Jitter:
    return Jitter(run.scale_jitter, run.rotation_deg, run.rotation_prob, run.flip and flip, run.colour_jitter)


class ImageBatcher:
    """(input images, targets, {}) batches of ``crops`` for ``run``'s model family."""

    def __init__(self, crops: CropTable, run: ImageRun, device: torch.device | str = "cpu", workers: int = 1):
        if not len(crops):
            raise ValueError("no training crops")
        self.crops, self.run, self.device = crops, run, torch.device(device)
        self.skeleton = H36M17
        self.loader = CropLoader(crops.shards, crops.crop_size, self.device, workers)
        self.uv = torch.from_numpy(crops.uv)
        self.z_rel = torch.from_numpy(crops.xyz_mm[..., 2] - crops.xyz_mm[:, :1, 2])

    def __len__(self) -> int:
        return len(self.crops)

    def num_batches(self, batch_size: int, flip: bool = True) -> int:  # noqa: ARG002 - the loop's signature
        return math.ceil(len(self) / batch_size)

    def epoch(self, batch_size: int, seed: int, epoch: int, flip: bool = True, rank: int = 0,
              world: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor, dict]]:
        order = np.random.default_rng([seed, epoch]).permutation(len(self))
        shares = [order[i:i + batch_size][rank::world] for i in range(0, len(order), batch_size)]
        generator = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
        jitter = jitter_of(self.run, flip)
        for idx, images in zip(shares, self.loader.batches(self.crops.items[s] for s in shares)):
            params = draw(len(idx), jitter, generator)
            x, a = warp(images, self.run.input_size, params)
            yield x, self.targets(idx, a, params), {}

    def targets(self, idx: np.ndarray, a: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Targets of crops ``idx`` warped by ``a`` (output->source) with ``params``' flips and scales."""
        run, dev = self.run, self.device
        uv = move_joints(self.uv[idx].double(), a, self.crops.crop_size, run.input_size, params["flip"])
        if run.model == "keypoints2d":
            return keypoint_targets(uv, run.input_size, run.heatmap_size).float().to(dev)
        z = self.z_rel[idx].double()
        flipped = params["flip"]
        if flipped.any():
            z = torch.where(flipped[:, None], z[:, list(FLIP_PERMUTATION)], z)
        z = z / params["scale"][:, None]  # a larger box shows the body smaller: depth shrinks with x and y
        return volume_targets(uv, z, run.input_size, run.heatmap_size, run.depth_bins,
                              run.depth_range_mm).float().to(dev)
