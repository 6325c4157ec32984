"""What the builder reads off real clips: their mirror image and cached per-clip statistics.

The statistics (walking speed, speed and heading profiles, upright frames, mean pose)
are computed once per clip and cached, since every sequence asks for them again.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from pose3d.synth.kinematics import (
    DM_TO_WORLD_QUAT, continuous_sign, global_rotations, quat_conj, quat_mul, quat_normalize, quat_yaw,
)
from pose3d.synth.motion_library import Clip, sample_clip
from pose3d.synth.signals import DT, FPS

#: Gaussian width (frames) separating a clip's travel and turning from its sway: about a
#: step, so the gait's own pelvis rotation and side-to-side motion stay in the pose.
SMOOTH_FRAMES = 12.0

_MIRROR_JOINTS = np.array([0, 1, 2, 8, 9, 10, 11, 12, 3, 4, 5, 6, 7])


def mirror_pose(pose: np.ndarray) -> np.ndarray:
    """Left-right mirror image of heading-relative poses (the body's sagittal plane).

    So each clip also serves the other side: its turns and its lead foot the other way round.
    """
    out = pose[:, _MIRROR_JOINTS].copy()
    out[..., 1:3] *= -1.0                      # local frames: reflect z, i.e. (w, -x, -y, z)
    root = quat_mul(pose[:, 0], quat_conj(DM_TO_WORLD_QUAT))
    root = root * np.array([1.0, -1.0, 1.0, -1.0])  # heading frame: reflect y
    out[:, 0] = quat_mul(root, DM_TO_WORLD_QUAT)
    return out


#: Cached statistics, keyed by (clip name, source, frame count, statistic).
_CLIP_STATS: dict[tuple[str, str, int, str], object] = {}


def clip_speed_m(clip: Clip) -> float:
    """Mean speed of a clip's smoothed root path (m/s), cached per clip."""
    key = (clip.name, clip.source, clip.n_frames, "speed")
    if key not in _CLIP_STATS:
        t = np.arange(0.0, min(clip.duration_s, 20.0), DT)
        pos, _ = sample_clip(clip, t)
        path = gaussian_filter1d(pos[:, :2], SMOOTH_FRAMES, axis=0, mode="nearest")
        _CLIP_STATS[key] = float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum() / (len(t) * DT))
    return _CLIP_STATS[key]


def clip_profile(clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed speed (m/s) and heading (rad) of a clip, every 1/50 s of clip time."""
    key = (clip.name, clip.source, clip.n_frames, "profile")
    if key not in _CLIP_STATS:
        pos, rot = sample_clip(clip, np.arange(0.0, clip.duration_s + DT, DT))
        path = gaussian_filter1d(pos[:, :2], SMOOTH_FRAMES, axis=0, mode="nearest")
        speed = np.linalg.norm(np.diff(path, axis=0, append=path[-1:]), axis=1) * FPS
        yaw = gaussian_filter1d(np.unwrap(quat_yaw(rot[:, 0])), SMOOTH_FRAMES, mode="nearest")
        _CLIP_STATS[key] = (speed, yaw)
    return _CLIP_STATS[key]


def upright_time(clip: Clip, t: float, within: float = 2.0) -> float:
    """The first time at or after ``t`` (up to ``within`` s later) when the clip stands upright.

    Starting and ending a clip there keeps the cross-fades from a standing pose short
    and natural (a spin caught in mid-dip would otherwise be blended into in 0.6 s).
    """
    key = (clip.name, clip.source, clip.n_frames, "upright")
    if key not in _CLIP_STATS:
        pos, rot = sample_clip(clip, np.arange(0.0, clip.duration_s + DT, DT))
        up = global_rotations(rot)[:, :2, 2, 1].min(axis=1)  # pelvis and chest up-axis, z part
        _CLIP_STATS[key] = (up > 0.75) & (pos[:, 2] > 0.85 * np.percentile(pos[:, 2], 90))
    ok = _CLIP_STATS[key]
    k = np.arange(int(round(t * FPS)), int(round((t + within) * FPS)) + 1)
    k = k % len(ok) if clip.loop else np.clip(k, 0, len(ok) - 1)
    hits = np.flatnonzero(ok[k])
    return t if not len(hits) else t + hits[0] * DT


def mean_pose(clip: Clip) -> np.ndarray:
    """Average local rotation of each joint over a clip (the centre its texture moves about)."""
    key = (clip.name, clip.source, clip.n_frames, "mean")
    if key not in _CLIP_STATS:
        _CLIP_STATS[key] = quat_normalize(continuous_sign(clip.rotations, axis=0).mean(axis=0))
    return _CLIP_STATS[key]
