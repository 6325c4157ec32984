"""Pelvis priors: every frame's 17-joint pose triangulated from the four views, in world mm.

learnable-triangulation's volumetric model (and ContextPose after it) centres its 2500 mm
cuboid on the pelvis of a multi-view *algebraic* triangulation (``results/train.pkl``,
``val.pkl``), not on the ground truth. This module makes that prior from any 2D source
(ground truth, noisy ground truth, imported detections), with optional RANSAC over view
pairs, and scores it against the 3D ground truth.

``pelvis_priors.npz`` format (a flat npz; no pickles)::

    <S>/<action>/keypoints_3d   float32 (N, 17, 3)  world mm, Human3.6M 17-joint order, NaN = invalid
    <S>/<action>/pelvis         float32 (N, 3)      = keypoints_3d[:, 0], the cuboid centre
    <S>/<action>/valid          bool    (N, 17)     joint triangulated from >= 2 (inlier) views
    <S>/<action>/inlier_views   bool    (N, 17, 4)  views the joint was fitted to (camera index order)
    <S>/<action>/error_mm       float32 (N, 17)     distance to the 3D ground truth, NaN = invalid
    <S>/<action>/from_source    bool    (N,)        the frame's pose came from meta/pelvis_source
                                                    (the ``priors`` stage's output only)
    meta/joint_names, meta/camera_ids, meta/subjects      str arrays
    meta/h36m17_from_lt17       int (17,)  keypoints_3d[:, meta/h36m17_from_lt17] is learnable-
                                           triangulation's joint order (pelvis at its index 6)
    meta/source_2d, meta/ransac_threshold_px (NaN: RANSAC off)  the triangulation's 2D source and RANSAC
    meta/format_version
    meta/pelvis_source          str        ``priors.source`` (the ``priors`` stage's output only):
                                           ``triangulation`` or ``algebraic:<experiment>``

for example ``np.load(path)["S9/Walking 1/pelvis"]``. Why this and not LT's pickle: LT's
``{keypoints_3d, indexes}`` is tied to the row order of one labels file and one frame
selection, while keys by subject/action/frame survive any re-selection (take
``[frame_idx]``); a flat npz opens without ``allow_pickle`` and loads one array at a
time, so a user reads one sequence's pelvis without unpickling the rest.

The ``triangulate`` stage writes the triangulation (``data/processed/pelvis/triangulation.npz``);
a model's predictions in this format may replace it frame by frame (:mod:`pose3d.priors.merge`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.geometry.triangulation import Triangulated, triangulate_cameras
from pose3d.h36m.cameras import CAMERA_IDS, subject_cameras
from pose3d.h36m.sequences import action_group
from pose3d.h36m.skeleton import JOINT_NAMES_17, to_17
from pose3d.io.npz import write_npz
from pose3d.priors.limbs import H36M17_FROM_LT17

FORMAT_VERSION = 1
FIELDS: tuple[str, ...] = ("keypoints_3d", "pelvis", "valid", "inlier_views", "error_mm")


@dataclass(frozen=True)
class TriangulationSettings:
    """How the priors are triangulated: RANSAC threshold (None: plain DLT) and per-camera weights."""

    ransac_threshold_px: float | None = 15.0
    camera_weights: tuple[float, ...] | None = None  # one per camera index; None: all 1

    def weights(self, num_views: int, dropped: Sequence[int] = ()) -> np.ndarray:
        w = np.ones(num_views) if self.camera_weights is None else np.asarray(self.camera_weights, dtype=np.float64)
        if w.shape != (num_views,) or not (np.isfinite(w).all() and (w >= 0).all()):
            raise ValueError(f"camera_weights must be {num_views} numbers >= 0, got {self.camera_weights!r}")
        w = w.copy()
        w[list(dropped)] = 0.0
        return w


@dataclass(frozen=True)
class SequencePrior:
    """One sequence's triangulation (see the module docstring for the fields)."""

    keypoints_3d: np.ndarray
    valid: np.ndarray
    inlier_views: np.ndarray
    error_mm: np.ndarray | None
    from_source: np.ndarray | None = None  # (N,) bool: taken from another pelvis source

    @property
    def pelvis(self) -> np.ndarray:
        return self.keypoints_3d[:, 0]


def sequence_prior(
    views: Sequence[np.ndarray],
    cameras: Sequence,
    settings: TriangulationSettings,
    gt_world_m: np.ndarray | None = None,
    dropped: Sequence[int] = (),
) -> SequencePrior:
    """Triangulate V views (N, 17, 2) of distorted pixels; score against (N, 32, 3) world metres if given.

    ``dropped`` camera indices get weight 0 (e.g. a broken video).
    """
    if len(views) != len(cameras):
        raise ValueError(f"{len(views)} 2D views but {len(cameras)} cameras")
    shapes = {np.shape(v) for v in views}
    if len(shapes) != 1:
        raise ValueError(f"views differ in shape: {sorted(shapes)}")
    pts = np.stack([np.asarray(v, dtype=np.float64) for v in views], axis=-2)  # (N, 17, V, 2)
    weights = settings.weights(len(views), dropped)
    tri: Triangulated = triangulate_cameras(pts, cameras, weights, settings.ransac_threshold_px)
    error = None
    if gt_world_m is not None:
        gt = to_17(np.asarray(gt_world_m, dtype=np.float64)) * 1000.0
        if gt.shape != tri.points_3d.shape:
            raise ValueError(f"ground truth {gt.shape} does not match the 2D views' {tri.points_3d.shape}")
        error = np.linalg.norm(tri.points_3d - gt, axis=-1).astype(np.float32)
    return SequencePrior(tri.points_3d.astype(np.float32), tri.valid, tri.inliers, error)


@dataclass(frozen=True)
class SubjectJob:
    """One subject's work item (picklable for process pools and Dask)."""

    subject: str
    views_2d: Mapping[str, Sequence[np.ndarray]]
    poses_3d_m: Mapping[str, np.ndarray]
    settings: TriangulationSettings
    dropped: Mapping[str, Sequence[int]]


def subject_priors(job: SubjectJob) -> dict[str, SequencePrior]:
    """Every action of one subject, with its own cameras."""
    cams = subject_cameras(job.subject)
    return {
        a: sequence_prior(v, cams, job.settings, job.poses_3d_m.get(a), job.dropped.get(a, ()))
        for a, v in job.views_2d.items()
    }


def write_pelvis_priors(path: Path, priors: Mapping[str, Mapping[str, SequencePrior]], source_2d: str,
                        ransac_threshold_px: float | None, pelvis_source: str | None = None) -> None:
    """Write the flat npz described in the module docstring, atomically (temp file + rename).

    ``pelvis_source`` (``meta/pelvis_source``) is given for merged priors, whose sequences carry
    ``from_source``; a bare triangulation has neither.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "meta/format_version": np.int64(FORMAT_VERSION),
        "meta/joint_names": np.array(JOINT_NAMES_17),
        "meta/camera_ids": np.array(CAMERA_IDS),
        "meta/subjects": np.array(list(priors)),
        "meta/h36m17_from_lt17": np.array(H36M17_FROM_LT17, dtype=np.int64),
        "meta/source_2d": np.array(source_2d),
        "meta/ransac_threshold_px": np.float64(np.nan if ransac_threshold_px is None else ransac_threshold_px),
    }
    if pelvis_source is not None:
        arrays["meta/pelvis_source"] = np.array(pelvis_source)
    for s, actions in priors.items():
        for a, p in actions.items():
            arrays[f"{s}/{a}/keypoints_3d"] = p.keypoints_3d
            arrays[f"{s}/{a}/pelvis"] = np.ascontiguousarray(p.pelvis)
            arrays[f"{s}/{a}/valid"] = p.valid
            arrays[f"{s}/{a}/inlier_views"] = p.inlier_views
            if p.error_mm is not None:
                arrays[f"{s}/{a}/error_mm"] = p.error_mm
            if p.from_source is not None:
                arrays[f"{s}/{a}/from_source"] = p.from_source
    write_npz(path, arrays)


def load_pelvis_priors(path: Path) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """{subject: {action: {field: array}}} from ``pelvis_priors.npz`` (the ``meta/`` keys left out)."""
    out: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            s, _, rest = key.partition("/")
            if s == "meta":
                continue
            action, _, field = rest.rpartition("/")
            out.setdefault(s, {}).setdefault(action, {})[field] = data[key]
    return out


def load_pelvis_meta(path: Path) -> dict[str, np.ndarray]:
    """The ``meta/`` arrays of ``pelvis_priors.npz`` by name without the prefix (``source_2d``, ...)."""
    with np.load(path, allow_pickle=False) as data:
        return {key.partition("/")[2]: data[key] for key in data.files if key.startswith("meta/")}


class _Acc:
    """Sums for one group: joint errors, pelvis errors, valid/used views."""

    def __init__(self) -> None:
        self.err = self.n_err = self.pelvis = self.n_pelvis = 0.0
        self.joints = self.valid = self.inliers = self.usable = 0
        self.frames = 0

    def add(self, p: SequencePrior, usable_views: np.ndarray) -> None:
        self.frames += len(p.valid)
        self.joints += p.valid.size
        self.valid += int(p.valid.sum())
        self.inliers += int(p.inlier_views.sum())
        self.usable += int((usable_views & p.valid[..., None]).sum())
        if p.error_mm is not None:
            e = p.error_mm[p.valid].astype(np.float64)
            self.err += e.sum()
            self.n_err += e.size
            pe = p.error_mm[:, 0][p.valid[:, 0]].astype(np.float64)
            self.pelvis += pe.sum()
            self.n_pelvis += pe.size

    def summary(self) -> dict:
        def mean(a, b):
            return float(a / b) if b else float("nan")

        return {
            "mpjpe_mm": mean(self.err, self.n_err),
            "pelvis_error_mm": mean(self.pelvis, self.n_pelvis),
            "valid_joint_fraction": mean(self.valid, self.joints),
            "ransac_inlier_fraction": mean(self.inliers, self.usable),
            "frames": self.frames,
        }


def summarise(
    priors: Mapping[str, Mapping[str, SequencePrior]],
    usable_views: Mapping[str, Mapping[str, np.ndarray]],
) -> dict:
    """Metrics: frame-pooled MPJPE (absolute, world, valid joints) and pelvis error, overall,
    per action group (sub-actions merged; plus their unweighted mean) and per subject;
    the fraction of usable views (finite 2D, weight > 0) that RANSAC kept as inliers;
    the fraction of joints with a valid triangulation.
    """
    total, groups, subjects = _Acc(), {}, {}
    for s, actions in priors.items():
        for a, p in actions.items():
            usable = usable_views[s][a]
            total.add(p, usable)
            groups.setdefault(action_group(a), _Acc()).add(p, usable)
            subjects.setdefault(s, _Acc()).add(p, usable)
    per_action = {g: acc.summary() for g, acc in sorted(groups.items())}
    out = total.summary()
    means = [v["mpjpe_mm"] for v in per_action.values()]
    out["mpjpe_action_mean_mm"] = float(np.mean(means)) if means else float("nan")
    out["per_action"] = per_action
    out["per_subject"] = {s: acc.summary() for s, acc in subjects.items()}
    return out


def usable_views(
    views: Sequence[np.ndarray], settings: TriangulationSettings, dropped: Sequence[int] = ()
) -> np.ndarray:
    """(N, 17, V) views that could take part: finite 2D and a weight > 0."""
    w = settings.weights(len(views), dropped)
    return np.stack([np.isfinite(v).all(axis=-1) & (wv > 0) for v, wv in zip(views, w)], axis=-1)
