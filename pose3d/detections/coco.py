"""COCO-17 keypoints -> the Human3.6M 17-joint order (:data:`pose3d.h36m.skeleton.H36M17`).

COCO order: 0 nose, 1 l_eye, 2 r_eye, 3 l_ear, 4 r_ear, 5 l_shoulder, 6 r_shoulder,
7 l_elbow, 8 r_elbow, 9 l_wrist, 10 r_wrist, 11 l_hip, 12 r_hip, 13 l_knee, 14 r_knee,
15 l_ankle, 16 r_ankle. Left and right are the person's own in both orders.

Copied (x, y and score unchanged), Human3.6M <- COCO:

- legs: 1 RHip <- 12 r_hip, 2 RKnee <- 14 r_knee, 3 RFoot <- 16 r_ankle,
  4 LHip <- 11 l_hip, 5 LKnee <- 13 l_knee, 6 LFoot <- 15 l_ankle;
- arms: 11 LShoulder <- 5 l_shoulder, 12 LElbow <- 7 l_elbow, 13 LWrist <- 9 l_wrist,
  14 RShoulder <- 6 r_shoulder, 15 RElbow <- 8 r_elbow, 16 RWrist <- 10 r_wrist;
- 9 Neck/Nose <- 0 nose.

Synthesised (COCO has no such joint), each with the **minimum score** of the COCO joints
it is built from, since it is no more certain than its weakest part:

- 0 Hip (pelvis) = midpoint of the hips (11, 12);
- 8 Thorax = midpoint of the shoulders (5, 6);
- 7 Spine = midpoint of Hip and Thorax, i.e. the mean of hips and shoulders (11, 12, 5, 6);
- 10 Head = midpoint of the ears (3, 4) pushed away from the Thorax by
  :data:`HEAD_PUSH` times the Thorax->ears distance (scores of 3, 4, 5, 6). Human3.6M's
  Head joint sits near the top of the skull, above the ears; this is an estimate, not a
  measurement, and models trained on mocap Heads will see a small systematic offset.

A missing COCO joint (NaN) makes every joint built from it NaN.
"""
from __future__ import annotations

import numpy as np

COCO_JOINT_NAMES: tuple[str, ...] = (
    "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
    "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
)

#: Human3.6M-17 index -> COCO index, for the joints that are copied as they are.
COPIED: dict[int, int] = {
    1: 12, 2: 14, 3: 16, 4: 11, 5: 13, 6: 15, 9: 0,
    11: 5, 12: 7, 13: 9, 14: 6, 15: 8, 16: 10,
}
#: Human3.6M-17 index -> the COCO joints it is synthesised from (its score is their minimum).
SYNTHESISED_FROM: dict[int, tuple[int, ...]] = {0: (11, 12), 7: (11, 12, 5, 6), 8: (5, 6), 10: (3, 4, 5, 6)}
#: How far the Head is pushed above the ears' midpoint, as a fraction of the Thorax->ears distance.
HEAD_PUSH = 0.5


def _mid(kp: np.ndarray, joints: tuple[int, ...]) -> np.ndarray:
    """Mean position of ``joints`` (..., 2)."""
    return kp[..., list(joints), :2].mean(axis=-2)


def coco_to_h36m(kp: np.ndarray) -> np.ndarray:
    """(..., 17, 3) COCO (x, y, score) -> (..., 17, 3) Human3.6M-17 (x, y, score), float64."""
    kp = np.asarray(kp, dtype=np.float64)
    if kp.ndim < 2 or kp.shape[-2:] != (17, 3):
        raise ValueError(f"expected COCO keypoints of shape (..., 17, 3), got {kp.shape}")
    out = np.full(kp.shape, np.nan)
    for h36m, coco in COPIED.items():
        out[..., h36m, :] = kp[..., coco, :]
    pelvis, thorax, ears = _mid(kp, (11, 12)), _mid(kp, (5, 6)), _mid(kp, (3, 4))
    out[..., 0, :2] = pelvis
    out[..., 8, :2] = thorax
    out[..., 7, :2] = (pelvis + thorax) / 2
    out[..., 10, :2] = ears + HEAD_PUSH * (ears - thorax)
    for h36m, sources in SYNTHESISED_FROM.items():
        out[..., h36m, 2] = kp[..., list(sources), 2].min(axis=-1)
    return out
