"""Training batches built on the device from arrays held there.

Every view's 2D sequence is edge-padded by half the receptive field and all of them are
concatenated into one tensor on the device; a batch is a gather of window start indices
(``start + arange(rf)``), never a Python loop over frames. The whole Human3.6M 2D/3D set
(~2M poses x 4 views) is a few hundred MB, well within a GPU's memory.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from pose3d.training.data import ViewData
from pose3d.training.normalization import flip_poses


def flip_condition(cond: torch.Tensor) -> torch.Tensor:
    """The camera condition of a mirrored view: x negated in screen units moves cx to -cx."""
    out = cond.clone()
    out[..., 3] = -out[..., 3]
    return out


def edge_pad(seq: np.ndarray, pad: int) -> np.ndarray:
    """Repeat the first and last frame ``pad`` times (VideoPose3D's boundary handling)."""
    if pad == 0:
        return seq
    return np.concatenate([np.repeat(seq[:1], pad, 0), seq, np.repeat(seq[-1:], pad, 0)])


class WindowBatcher:
    """All (window, target) training examples of some views, on one device.

    ``frame_stride`` keeps every k-th frame of a view as a target (consecutive frames at
    50 Hz are nearly identical); the input windows around them stay at the full frame rate.
    An epoch holds every target frame twice when ``flip`` is on, once mirrored (2D x and
    3D X negated, left and right joints swapped), shuffled by a seeded generator so that
    an epoch's order depends only on (seed, epoch): a resumed run sees the same batches.
    With ``camera`` each target also carries its view's camera condition
    (:meth:`ViewData.camera_condition`), passed to the model as ``camera=``.
    """

    def __init__(self, views: list[ViewData], receptive_field: int, device: torch.device | str = "cpu",
                 frame_stride: int = 1, camera: bool = False):
        if not views:
            raise ValueError("no training views: check the protocol's subjects, actions and cameras")
        if int(frame_stride) < 1:
            raise ValueError(f"frame_stride must be a positive integer, got {frame_stride!r}")
        self.rf = int(receptive_field)
        self.skeleton = views[0].skeleton
        if any(v.skeleton != self.skeleton for v in views):
            raise ValueError("training views of different skeletons")
        pad = (self.rf - 1) // 2
        xs, ys, conds, starts, offset = [], [], [], [], 0
        for v in views:
            padded = edge_pad(v.pose2d, pad)
            xs.append(padded)
            frames = np.arange(0, v.pose2d.shape[0], int(frame_stride))  # windows still see every frame
            starts.append(offset + frames)
            ys.append(v.pose3d[frames])
            if camera:
                conds.append(v.camera_condition()[frames])
            offset += padded.shape[0]
        self.device = torch.device(device)
        self.x = torch.from_numpy(np.concatenate(xs)).to(self.device)
        self.y = torch.from_numpy(np.concatenate(ys)).to(self.device)
        self.cond = torch.from_numpy(np.concatenate(conds)).to(self.device) if camera else None
        self.start = torch.from_numpy(np.concatenate(starts)).to(self.device)
        self.offsets = torch.arange(self.rf, device=self.device)

    def __len__(self) -> int:
        return self.y.shape[0]

    def num_batches(self, batch_size: int, flip: bool = True) -> int:
        return -(-len(self) * (2 if flip else 1) // batch_size)

    def epoch(self, batch_size: int, seed: int, epoch: int, flip: bool = True, rank: int = 0,
              world: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor, dict]]:
        """Batches (2D windows (B, rf, J, 2), 3D targets (B, 1, J, 3), the model's other keyword
        inputs) of one shuffled epoch.

        With ``world`` > 1 (data-parallel ranks) every rank draws the same global batches
        and keeps every ``world``-th example from ``rank`` on.
        """
        n = len(self)
        gen = torch.Generator().manual_seed(int(seed) * 100_003 + int(epoch))
        order = torch.randperm(n * (2 if flip else 1), generator=gen).to(self.device)
        for chunk in order.split(batch_size):
            chunk = chunk[rank::world]
            idx = chunk % n
            windows = self.x[self.start[idx, None] + self.offsets]
            targets = self.y[idx, None]
            extra = {}
            if self.cond is not None:
                extra["camera"] = self.cond[idx, None]
            if flip:
                mirrored = chunk >= n
                windows = torch.where(mirrored[:, None, None, None], flip_poses(windows, self.skeleton), windows)
                targets = torch.where(mirrored[:, None, None, None], flip_poses(targets, self.skeleton), targets)
                if self.cond is not None:
                    extra["camera"] = torch.where(mirrored[:, None, None], flip_condition(extra["camera"]),
                                                  extra["camera"])
            yield windows, targets, extra

