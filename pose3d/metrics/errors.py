"""Per-frame 3D pose errors: Protocols #1-#3, velocity error, 3DHP-style PCK and AUC.

Every function takes poses of shape (N, J, 3) in any unit and returns errors in that
unit (callers pass millimetres). Arithmetic is float64 whatever the input dtype, so a
float32 network output and a float64 target give the same numbers as two float64 arrays.
Errors are returned per frame, not averaged: how frames are pooled over sequences and
actions is a reporting decision (see :mod:`pose3d.metrics.aggregate`).
"""
from __future__ import annotations

import numpy as np

#: Thresholds of the 3DHP AUC: 0, 5, ..., 150 mm (31 values, `mpii_compute_3d_pck.m`).
AUC_THRESHOLDS_MM: np.ndarray = np.arange(0, 151, 5, dtype=np.float64)
PCK_THRESHOLD_MM: float = 150.0


def _pair(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"expected two (N, J, 3) pose arrays of equal shape, got {pred.shape} and {target.shape}")
    return pred, target


def root_relative(poses: np.ndarray, root: int = 0) -> np.ndarray:
    """Subtract joint ``root`` from every joint of (..., J, 3) poses (the root lands on 0)."""
    poses = np.asarray(poses)
    return poses - poses[..., root:root + 1, :]


def per_joint_errors(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Euclidean distance of every joint, (N, J)."""
    pred, target = _pair(pred, target)
    return np.linalg.norm(pred - target, axis=-1)


def mpjpe_per_frame(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Protocol #1: mean joint distance per frame, (N,).

    No alignment happens here: VideoPose3D/SRNet score the raw predicted root against a
    zero target root, so root-align (:func:`root_relative`) only where a model's
    convention says so.
    """
    return per_joint_errors(pred, target).mean(axis=-1)


def procrustes_align(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Similarity transform of each frame of ``pred`` that best fits ``target``, (N, J, 3).

    Translation, rotation (reflections excluded: det R = +1) and one uniform scale,
    solved for all frames at once with a batched SVD. A frame whose prediction has all
    joints at one point gets scale 0 (it collapses onto the target's centroid).
    """
    pred, target = _pair(pred, target)
    mu_t = target.mean(axis=1, keepdims=True)
    mu_p = pred.mean(axis=1, keepdims=True)
    t0, p0 = target - mu_t, pred - mu_p
    norm_t = np.sqrt((t0 ** 2).sum(axis=(1, 2), keepdims=True))
    norm_p = np.sqrt((p0 ** 2).sum(axis=(1, 2), keepdims=True))
    norm_t_safe = np.where(norm_t > 0, norm_t, 1.0)
    norm_p_safe = np.where(norm_p > 0, norm_p, 1.0)
    t0 = t0 / norm_t_safe
    p0 = p0 / norm_p_safe
    # maximise trace(R^T H) with H = t0^T p0 = U S V^T; R = V U^T (row vectors: aligned = p0 R)
    u, s, vt = np.linalg.svd(np.matmul(t0.transpose(0, 2, 1), p0))
    v = vt.transpose(0, 2, 1)
    sign = np.sign(np.linalg.det(np.matmul(v, u.transpose(0, 2, 1))))
    sign = np.where(sign == 0, 1.0, sign)  # det is +-1 up to rounding; never 0 in practice
    v[:, :, -1] *= sign[:, None]  # the reflection fix: flip the weakest axis instead
    s[:, -1] *= sign
    r = np.matmul(v, u.transpose(0, 2, 1))
    scale = s.sum(axis=1)[:, None, None] * norm_t_safe / norm_p_safe
    scale = np.where(norm_p > 0, scale, 0.0)
    return scale * np.matmul(p0 * norm_p_safe, r) + mu_t


def p_mpjpe_per_frame(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Protocol #2: MPJPE after per-frame similarity Procrustes alignment, (N,)."""
    return mpjpe_per_frame(procrustes_align(pred, target), target)


def n_mpjpe_per_frame(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Protocol #3 (Rhodin et al.): MPJPE after the least-squares scale of each frame, (N,).

    s = sum(target * pred) / sum(pred^2) over the frame's joints and axes; no rotation or
    translation. A frame predicted as all zeros keeps scale 0.
    """
    pred, target = _pair(pred, target)
    num = (target * pred).sum(axis=(1, 2))
    den = (pred ** 2).sum(axis=(1, 2))
    scale = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return mpjpe_per_frame(scale[:, None, None] * pred, target)


def mpjve_per_frame(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Velocity error of one sequence, (N-1,): mean joint norm of the difference of frame-to-frame motion.

    Units are the pose unit per frame (mm per frame at 50 fps), as VideoPose3D reports it.
    """
    pred, target = _pair(pred, target)
    return np.linalg.norm(np.diff(pred, axis=0) - np.diff(target, axis=0), axis=-1).mean(axis=-1)


def pck(joint_errors: np.ndarray, threshold: float = PCK_THRESHOLD_MM) -> np.ndarray:
    """Fraction of joints with error strictly below ``threshold`` (SRNet's "<"), over the last axis.

    Pass (N, J) per-joint errors for a per-frame value, or a flat array for one number.
    """
    e = np.asarray(joint_errors, dtype=np.float64)
    return (e < threshold).mean(axis=-1)


def auc(joint_errors: np.ndarray, thresholds: np.ndarray = AUC_THRESHOLDS_MM) -> np.ndarray:
    """Mean PCK over ``thresholds`` (default 0, 5, ..., 150 mm), over the last axis like :func:`pck`."""
    e = np.asarray(joint_errors, dtype=np.float64)
    t = np.asarray(thresholds, dtype=np.float64)
    return (e[..., None] < t).mean(axis=(-2, -1))


def sequence_metrics(pred: np.ndarray, target: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """All reported per-frame metrics of one sequence, and its (N, J) per-joint errors.

    Returns ``({'mpjpe', 'p_mpjpe', 'n_mpjpe', 'mpjve', 'pck150', 'auc'}, joint_errors)``,
    ready for :meth:`pose3d.metrics.aggregate.ErrorAccumulator.add`. ``mpjve`` has one
    value fewer than the others (it is a difference over frames).
    """
    joint = per_joint_errors(pred, target)
    metrics = {
        "mpjpe": joint.mean(axis=-1),
        "p_mpjpe": p_mpjpe_per_frame(pred, target),
        "n_mpjpe": n_mpjpe_per_frame(pred, target),
        "mpjve": mpjve_per_frame(pred, target),
        "pck150": pck(joint),
        "auc": auc(joint),
    }
    return metrics, joint
