"""Per-epoch validation: MPJPE over a fixed, evenly spread subset of the held-out validation views.

The views come from the training subjects (:mod:`pose3d.training.holdout`), never from a test
subject: the best epoch is chosen without looking at the test set. The full evaluation (every
view, every metric) is the ``evaluate`` stage's job; during training a deterministic subset
keeps each epoch's check cheap and comparable.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pose3d.training.data import ViewData
from pose3d.training.inference import predict_view
from pose3d.training.protocols import Split, View


def validation_views(split: Split, max_views: int) -> list[View]:
    views = split.validation
    if not views:
        raise ValueError("the split has no validation views (hold them out first)")
    if len(views) <= max_views:
        return views
    keep = np.linspace(0, len(views) - 1, max_views).round().astype(int)
    return [views[i] for i in keep]


def view_mpjpe_mm(model: nn.Module, views: list[ViewData], receptive_field: int, device: torch.device) -> float:
    """Frame-pooled MPJPE (mm) of ``model`` on ``views``, without test-time flipping."""
    total = frames = 0.0
    for v in views:
        pred = v.metres(predict_view(model, v, receptive_field, device, tta=False))
        total += float(np.linalg.norm(pred - v.metres(v.pose3d), axis=-1).mean(axis=-1).sum())
        frames += v.pose3d.shape[0]
    return 1000 * total / max(frames, 1)
