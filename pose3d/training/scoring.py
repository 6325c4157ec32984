"""Score any predictor on a list of test views with the full metric set.

One loop for the ``evaluate`` stage and for reference predictors (mean pose, nearest
neighbour in benchmarks/), so that a model and a baseline are measured by the same code:
predictions and targets both go through :meth:`ViewData.metres` (the normalisation's
inverse) and are compared in millimetres.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pose3d.h36m.skeleton import H36M17, Skeleton
from pose3d.metrics.aggregate import ErrorAccumulator
from pose3d.metrics.errors import sequence_metrics
from pose3d.training.data import PoseData, ViewData
from pose3d.training.protocols import View

#: network-space 2D of one view -> its network-space 3D prediction (N, J, 3)
Predictor = Callable[[ViewData], np.ndarray]


def score_views(data: PoseData, views: list[View], predict: Predictor, norm: str = "base",
                skeleton: Skeleton = H36M17) -> ErrorAccumulator:
    """Every metric of ``predict`` on ``views``, accumulated per sequence (millimetres), over the
    joints of ``skeleton`` (RS-Net's 16 are scored on 16, as its own evaluation does)."""
    acc = ErrorAccumulator(skeleton.joint_names)
    for subject, key, cam in views:
        v = data.view(subject, key, cam, norm, skeleton)
        pred = v.metres(predict(v))
        metrics, joint = sequence_metrics(pred * 1000.0, v.metres(v.pose3d) * 1000.0)
        acc.add(subject, key, cam, metrics, joint)
    return acc
