"""Predictions for the qualitative renders: one test view through a trained network.

The view is chosen the same way for every experiment (the first test view of the
requested action group), so the animations of different experiments show the same motion
when their test sets allow it.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from pose3d.h36m.cameras import CAMERA_IDS
from pose3d.h36m.sequences import action_group
from pose3d.report.animation import Clip
from pose3d.training.data import ViewData
from pose3d.training.inference import predict_view
from pose3d.training.protocols import View


def choose_view(views: Sequence[View], action: str) -> View | None:
    """The first view whose action group is ``action`` (e.g. 'Walking', not 'WalkDog'), else the first view."""
    for v in views:
        try:
            if action_group(v[1]) == action:
                return v
        except ValueError:
            continue
    return views[0] if views else None


def predict_clip(experiment: str, model: nn.Module, receptive_field: int, view: ViewData,
                 device: torch.device | str = "cpu", tta: bool = True) -> Clip:
    """Whole-sequence prediction and ground truth of ``view``, root-relative millimetres."""
    pred = view.metres(predict_view(model, view, receptive_field, torch.device(device), tta=tta))
    gt = view.metres(view.pose3d)
    pred_mm = (pred - pred[:, :1]) * 1000.0
    gt_mm = (gt - gt[:, :1]) * 1000.0
    camera = CAMERA_IDS[view.camera] if isinstance(view.camera, int) and view.camera < len(CAMERA_IDS) else str(view.camera)
    return Clip(experiment, view.subject, view.key, camera, pred_mm.astype(np.float32), gt_mm.astype(np.float32))
