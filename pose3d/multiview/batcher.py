"""Batches of multi-view samples, in the shape the shared loop (:func:`pose3d.training.loop.fit`) takes.

A batch is ``(images (B, V, 3, S, S), world joints (B, 17, 3), extra)`` with ``extra`` the
per-sample ``proj`` (B, V, 3, 4) in input pixels, ``views`` (B, V) present, the cube ``centre``
(B, 3) and its ``angle`` (B,) about world z (random in training when the run rotates, else 0).
An absent view is filled with another view's crop and camera and masked, so the tensor keeps its shape and
no other sample loses a view. ``single_view`` runs take one camera per batch, drawn at random
(ContextPose's collate); a sample without that camera takes its first present one.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from pose3d.h36m.skeleton import H36M17
from pose3d.images.augment import warp
from pose3d.images.loader import CropLoader
from pose3d.multiview.config import MultiViewRun
from pose3d.multiview.samples import MultiViewTable


@dataclass
class Plan:
    """The samples of one batch and the view slot each takes."""

    idx: np.ndarray  # (B,) rows of the table
    slots: np.ndarray  # (B, V') view slot of each column
    angle: np.ndarray  # (B,) radians


def view_slots(views: np.ndarray, single_view: bool, rng: np.random.Generator) -> np.ndarray:
    """(B, V') view slots: all of them, or one camera drawn for the batch (first present view where absent)."""
    b, v = views.shape
    if not single_view:
        return np.tile(np.arange(v), (b, 1))
    chosen = np.full(b, rng.integers(v))
    first = views.argmax(axis=1)
    return np.where(views[np.arange(b), chosen], chosen, first)[:, None]


def centres(table: MultiViewTable, idx: np.ndarray, pelvis: str) -> np.ndarray:
    """(B, 3) cube centres: the pelvis prior, or the true pelvis (``pelvis: gt``)."""
    return table.joints[idx, 0] if pelvis == "gt" else table.pelvis[idx]


class MultiViewBatcher:
    """Training batches of ``table`` for ``run``; :meth:`inputs` builds the same tensors for any rows."""

    def __init__(self, table: MultiViewTable, run: MultiViewRun, device: torch.device | str = "cpu",
                 workers: int = 1):
        if not len(table):
            raise ValueError("no training frames")
        self.table, self.run, self.device = table, run, torch.device(device)
        self.skeleton = H36M17
        self.loader = CropLoader(table.shards, table.crop_size, self.device, workers)

    def __len__(self) -> int:
        return len(self.table)

    def num_batches(self, batch_size: int, flip: bool = True) -> int:  # noqa: ARG002 - the loop's signature
        return math.ceil(len(self) / batch_size)

    def plans(self, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[Plan]:
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(len(self))
        out = []
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            slots = view_slots(self.table.views[idx], self.run.single_view, rng)
            rotate = self.run.rotate and self.run.model != "algebraic"
            angle = rng.uniform(0.0, 2 * np.pi, len(idx)) if rotate else np.zeros(len(idx))
            out.append(Plan(idx[rank::world], slots[rank::world], angle[rank::world]))
        return [p for p in out if len(p.idx)]

    def epoch(self, batch_size: int, seed: int, epoch: int, flip: bool = True, rank: int = 0,  # noqa: ARG002
              world: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor, dict]]:
        plans = self.plans(batch_size, seed, epoch, rank, world)
        for plan, images in zip(plans, self.loader.batches(self.items(p) for p in plans)):
            yield self.inputs(plan, images)

    def items(self, plan: Plan) -> np.ndarray:
        """Crop numbers of a plan, row-major (B x V'); absent views read the sample's first present crop."""
        items = np.take_along_axis(self.table.items[plan.idx], plan.slots, axis=1)
        first = self.table.items[plan.idx, self.table.views[plan.idx].argmax(axis=1)]
        return np.where(items >= 0, items, first[:, None]).reshape(-1)

    def inputs(self, plan: Plan, images_u8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        t, run, dev = self.table, self.run, self.device
        b, v = plan.slots.shape
        x, _ = warp(images_u8, run.input_size)
        x = x.reshape(b, v, *x.shape[1:])
        factor = run.input_size / t.crop_size
        a = np.array([[factor, 0, (factor - 1) / 2], [0, factor, (factor - 1) / 2], [0, 0, 1]])
        views = np.take_along_axis(t.views[plan.idx], plan.slots, axis=1)
        proj = np.take_along_axis(t.proj[plan.idx], plan.slots[:, :, None, None], axis=1)
        first = proj[np.arange(b), views.argmax(axis=1)]
        proj = a @ np.where(views[:, :, None, None], proj, first[:, None])  # an absent view: a stand-in camera, masked
        extra = {
            "proj": torch.from_numpy(proj).float().to(dev),
            "views": torch.from_numpy(views).to(dev),
            "centre": torch.from_numpy(centres(t, plan.idx, run.pelvis)).float().to(dev),
            "angle": torch.from_numpy(plan.angle).float().to(dev),
        }
        return x, torch.from_numpy(t.joints[plan.idx]).float().to(dev), extra
