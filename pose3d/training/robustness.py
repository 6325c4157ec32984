"""How a trained lifter's error grows as its 2D input gets worse: the robustness sweep of ``evaluate``.

Every test view is corrupted by each perturbation (:mod:`pose3d.detections.corruptions`, all of
them from the ground-truth 2D), and the K corrupted copies are predicted together
(:func:`pose3d.training.inference.predict_frames`) at every ``stride``-th frame of the view. The
``gt`` row is scored on the same frames, so the rows compare with each other; the headline
numbers of ``eval.json`` (every frame, the experiment's own 2D) are another measurement.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from torch import nn
import torch

from pose3d.detections.corruptions import Perturbation
from pose3d.h36m.cameras import get_camera
from pose3d.h36m.skeleton import H36M17, Skeleton
from pose3d.metrics.aggregate import ErrorAccumulator
from pose3d.metrics.errors import sequence_metrics
from pose3d.models.registry import takes_camera
from pose3d.training.data import PoseData
from pose3d.training.inference import predict_frames
from pose3d.training.protocols import View

COLUMNS = ["corruption", "kind", "level", "fill", "mpjpe", "p_mpjpe", "mpjpe_pooled", "p_mpjpe_pooled", "frames"]


def robustness_sweep(model: nn.Module, data: PoseData, gt_2d: dict, views: list[View], cases: list[Perturbation],
                     receptive_field: int, device: torch.device, tta: bool = True, norm: str = "base",
                     skeleton: Skeleton = H36M17, stride: int = 5) -> pd.DataFrame:
    """One row per perturbation: action-wise and frame-pooled MPJPE / P-MPJPE in mm (:data:`COLUMNS`).

    ``gt_2d`` is the ground-truth ``positions_2d``; ``data`` supplies the 3D targets and says
    whether the model takes scores (``data.scores``).
    """
    if stride < 1:
        raise ValueError(f"robustness stride must be >= 1, got {stride}")
    accs = {c.name: ErrorAccumulator(skeleton.joint_names) for c in cases}
    for subject, key, cam in views:
        n = data.positions_3d[subject][key].shape[0]
        gt = gt_2d[subject][key][cam][:n]
        camera = get_camera(subject, cam)
        size = (camera.width_px, camera.height_px)
        versions = data.versions(subject, key, cam, [c.apply(gt, subject, key, cam, size, data.scores) for c in cases],
                                 norm, skeleton)
        frames = np.arange(0, n, stride)
        cond = versions[0].camera_condition() if takes_camera(model) else None
        preds = predict_frames(model, np.stack([v.pose2d for v in versions]), frames, receptive_field, device,
                               tta=tta, skeleton=skeleton, camera=cond)
        for case, view, pred in zip(cases, versions, preds):
            sub = view.at(frames)
            metrics, joint = sequence_metrics(sub.metres(pred) * 1000.0, sub.metres(sub.pose3d) * 1000.0)
            accs[case.name].add(subject, key, cam, metrics, joint)
    rows = []
    for case in cases:
        s = accs[case.name].summary()
        rows.append({"corruption": case.name, "kind": case.kind, "level": case.level, "fill": case.fill if case.noise.missing_prob > 0 else "",
                     **{k: s[k] for k in COLUMNS[4:]}})
    return pd.DataFrame(rows, columns=COLUMNS)
