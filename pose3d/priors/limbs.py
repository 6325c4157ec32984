"""Limb-length statistics for ContextPose's pictorial-structure prior (``limb_stats.h5``).

ContextPose reads ``mean_and_std_limb_length.h5``: datasets ``mean`` (16,) and ``std``
(16,), in millimetres, over the training subjects' 3D ground truth, for 16 limbs given in
learnable-triangulation's 17-joint order (MPII-16 + Neck/Nose). This module keeps that
limb list and order, translated once into the project's Human3.6M 17-joint order.

The file written here has exactly those two datasets at the root (what ContextPose
opens), plus extra groups it ignores: ``per_subject/<S>/{mean,std,count}``, and
``limbs`` / ``limbs_lt17`` index pairs, ``count`` and attributes naming units and orders.
Statistics pool every frame of every training sequence (each frame counts once); the
standard deviation is the population one (numpy's default, ddof=0).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from pose3d.h36m.skeleton import H36M17, JOINT_NAMES_17
from pose3d.io.atomic import replacing

#: learnable-triangulation's 17-joint order as 17-joint Human3.6M indices:
#: 0 right_ankle, 1 right_knee, 2 right_hip, 3 left_hip, 4 left_knee, 5 left_ankle, 6 root,
#: 7 belly, 8 neck, 9 head (top), 10 right_wrist, 11 right_elbow, 12 right_shoulder,
#: 13 left_shoulder, 14 left_elbow, 15 left_wrist, 16 nose.
H36M17_FROM_LT17: tuple[int, ...] = (3, 2, 1, 4, 5, 6, 0, 7, 8, 10, 16, 15, 14, 11, 12, 13, 9)

#: ContextPose's 16 limbs in learnable-triangulation indices, in the file's order.
CONTEXTPOSE_LIMBS_LT17: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 6), (5, 4), (4, 3), (3, 6), (6, 7), (7, 8),
    (8, 16), (9, 16), (8, 12), (11, 12), (10, 11), (8, 13), (13, 14), (14, 15),
)

#: The same limbs in the project's 17-joint Human3.6M order (pelvis = 0).
CONTEXTPOSE_LIMBS: tuple[tuple[int, int], ...] = tuple(
    (H36M17_FROM_LT17[a], H36M17_FROM_LT17[b]) for a, b in CONTEXTPOSE_LIMBS_LT17
)
LIMB_NAMES: tuple[str, ...] = tuple(f"{JOINT_NAMES_17[a]}-{JOINT_NAMES_17[b]}" for a, b in CONTEXTPOSE_LIMBS)


def limb_lengths(poses17: np.ndarray) -> np.ndarray:
    """(..., 17, 3) poses -> (..., 16) limb lengths in the poses' unit, ContextPose's order."""
    poses = np.asarray(poses17, dtype=np.float64)
    if poses.ndim < 2 or poses.shape[-2:] != (H36M17.num_joints, 3):
        raise ValueError(f"expected (..., 17, 3) poses, got shape {poses.shape}")
    a, b = (list(x) for x in zip(*CONTEXTPOSE_LIMBS))
    return np.linalg.norm(poses[..., a, :] - poses[..., b, :], axis=-1)


@dataclass(frozen=True)
class LimbStats:
    """Mean and (population) std of each limb length, and the number of frames pooled."""

    mean: np.ndarray  # (16,)
    std: np.ndarray  # (16,)
    count: int


class _Moments:
    """Exact pooled mean/std from per-sequence sums (float64; shifted by a first guess for stability)."""

    def __init__(self) -> None:
        self.n, self.shift, self.s1, self.s2 = 0, None, 0.0, 0.0

    def add(self, lengths: np.ndarray) -> None:
        lengths = lengths.reshape(-1, lengths.shape[-1])
        if not len(lengths):
            return
        if self.shift is None:
            self.shift = lengths.mean(axis=0)
        d = lengths - self.shift
        self.n += len(d)
        self.s1 = self.s1 + d.sum(axis=0)
        self.s2 = self.s2 + (d * d).sum(axis=0)

    def stats(self) -> LimbStats:
        if self.n == 0:
            raise ValueError("no frames to compute limb statistics from")
        m = self.s1 / self.n
        return LimbStats(self.shift + m, np.sqrt(np.maximum(self.s2 / self.n - m * m, 0.0)), self.n)


def limb_statistics(
    poses_mm: Mapping[str, Mapping[str, np.ndarray]], subjects: Iterable[str]
) -> tuple[LimbStats, dict[str, LimbStats]]:
    """Pooled statistics over ``subjects`` and one per subject, from {subject: {action: (N, 17, 3) mm}}."""
    subjects = list(subjects)
    missing = [s for s in subjects if s not in poses_mm]
    if missing:
        raise ValueError(f"no 3D poses for subject(s) {missing}")
    pooled, per = _Moments(), {}
    for s in subjects:
        m = _Moments()
        for arr in poses_mm[s].values():
            lengths = limb_lengths(arr)
            m.add(lengths)
            pooled.add(lengths)
        per[s] = m.stats()
    return pooled.stats(), per


def write_limb_stats(path: Path, stats: LimbStats, per_subject: Mapping[str, LimbStats] | None = None,
                     subjects: Iterable[str] = ()) -> None:
    """Write ContextPose's h5 layout (``mean``, ``std`` in mm at the root) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("mean", data=np.asarray(stats.mean, dtype=np.float64))
            f.create_dataset("std", data=np.asarray(stats.std, dtype=np.float64))
            f.create_dataset("count", data=np.int64(stats.count))
            f.create_dataset("limbs", data=np.asarray(CONTEXTPOSE_LIMBS, dtype=np.int64))
            f.create_dataset("limbs_lt17", data=np.asarray(CONTEXTPOSE_LIMBS_LT17, dtype=np.int64))
            f.attrs["unit"] = "mm"
            f.attrs["limbs_order"] = "Human3.6M 17-joint indices (VideoPose3D order, pelvis 0)"
            f.attrs["limbs_lt17_order"] = "learnable-triangulation 17-joint indices (root 6), as ContextPose lists them"
            f.attrs["limb_names"] = ",".join(LIMB_NAMES)
            f.attrs["subjects"] = ",".join(subjects)
            f.attrs["std"] = "population standard deviation over frames (ddof=0)"
            for s, st in (per_subject or {}).items():
                g = f.create_group(f"per_subject/{s}")
                g.create_dataset("mean", data=np.asarray(st.mean, dtype=np.float64))
                g.create_dataset("std", data=np.asarray(st.std, dtype=np.float64))
                g.create_dataset("count", data=np.int64(st.count))


def read_limb_stats(path: Path) -> LimbStats:
    """The pooled statistics back from a ``limb_stats.h5`` (or ContextPose's own file)."""
    with h5py.File(path, "r") as f:
        count = int(f["count"][()]) if "count" in f else 0
        return LimbStats(f["mean"][:], f["std"][:], count)
