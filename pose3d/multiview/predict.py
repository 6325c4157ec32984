"""A multi-view model's world joints for every sample of a table, and the seeds' error metrics.

Prediction never rotates the cube and uses every present view (a one-view table for
ContextPose's test set). Errors follow learnable-triangulation: per pose, the mean over the 17
joints of the distance to the truth, absolute (world) and relative (pelvis subtracted from both).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pose3d.multiview.batcher import MultiViewBatcher, Plan
from pose3d.multiview.config import MultiViewRun
from pose3d.multiview.samples import MultiViewTable


def predict(model: nn.Module, run: MultiViewRun, table: MultiViewTable, device: torch.device,
            batch_size: int = 16, workers: int = 0) -> np.ndarray:
    """(N, 17, 3) world mm, NaN where a point could not be triangulated."""
    batcher = MultiViewBatcher(table, run, device, workers)
    v = table.items.shape[1]
    plans = [Plan(idx, np.tile(np.arange(v), (len(idx), 1)), np.zeros(len(idx)))
             for idx in np.array_split(np.arange(len(table)), max(1, -(-len(table) // batch_size)))]
    out = np.empty((len(table), 17, 3))
    model.eval()
    amp = run.amp and device.type == "cuda"
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        for plan, images in zip(plans, batcher.loader.batches(batcher.items(p) for p in plans)):
            x, _, extra = batcher.inputs(plan, images)
            out[plan.idx] = model(x, **extra).float().cpu().numpy()
    return out


def pose_errors(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """((N,) absolute, (N,) pelvis-relative) mean joint errors in mm (NaN where a joint is NaN)."""
    absolute = np.linalg.norm(pred - gt, axis=-1).mean(-1)
    relative = np.linalg.norm((pred - pred[:, :1]) - (gt - gt[:, :1]), axis=-1).mean(-1)
    return absolute, relative
