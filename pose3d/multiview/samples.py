"""Multi-view samples: per frame, the crops of the four cameras with their projection matrices.

learnable-triangulation's dataset yields, per frame, every camera's crop, that camera's
projection matrix updated for the crop and the resize, the world 3D joints and (volumetric
model) a pelvis from a precomputed table whose rows must match the frame table (a bare
``assert`` when they do not). Here a sample is one frame of the frames stage's crops, grouped
over cameras:

- ``items`` (N, V): the crop of each camera in the shards, -1 where that view has no crop or is
  excluded (``dataset.exclude`` through convert's ``sequences.csv``). Views are masked per
  sample; a batch never drops a view of every sample because one sample lacks it (the seed's
  collate takes the minimum view count over the batch).
- ``proj`` (N, V, 3, 4): world mm -> crop pixels (pixel centres at the integers), i.e.
  ``crop_affine @ K [R | t]``. Where the frames stage cut the crops from the distorted image
  (``frames.undistort: false``), the lens distortion is left out of this linear camera, as in any
  DLT; learnable-triangulation undistorts its images first (``frames.undistort: true`` does).
- ``joints`` (N, 17, 3): the mocap's world joints, Human3.6M 17-joint order (pelvis 0), mm.
- ``pelvis`` (N, 3): the prior the cube is centred on, from ``pelvis_priors.npz`` (NaN without one).
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.geometry.triangulation import projection_matrix
from pose3d.h36m.cameras import CAMERA_IDS, get_camera
from pose3d.h36m.sequences import action_group
from pose3d.h36m.skeleton import to_17
from pose3d.h36m.vp3d_format import load_3d
from pose3d.images.crops import FRAMES_DIR, POSES_DIR, CropsError, CropTable, load_crops, take_rows
from pose3d.priors.merge import PelvisSourceError, read_priors
from pose3d.video.reader import FrameShards

NUM_VIEWS = len(CAMERA_IDS)
#: the fields with a view axis
PER_VIEW = ("items", "camera", "proj")


@dataclass
class MultiViewTable:
    """Frames of some subjects as parallel arrays (see the module docstring)."""

    shards: FrameShards
    subject: np.ndarray  # (N,) str
    key: np.ndarray  # (N,) str, VideoPose3D action key
    frame: np.ndarray  # (N,) int pose frame
    items: np.ndarray  # (N, V) int, -1 = no view
    camera: np.ndarray  # (N, V) int camera index of each view slot
    proj: np.ndarray  # (N, V, 3, 4) float64
    joints: np.ndarray  # (N, 17, 3) float64 world mm
    pelvis: np.ndarray  # (N, 3) float64 world mm, NaN = no prior
    crop_size: int

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def views(self) -> np.ndarray:
        """(N, V) bool: the view is present."""
        return self.items >= 0

    @property
    def action(self) -> np.ndarray:
        return np.array([action_group(k) for k in self.key])

    def subset(self, mask: np.ndarray) -> MultiViewTable:
        return take_rows(self, mask)

    def single_views(self) -> MultiViewTable:
        """Every present (frame, camera) as a one-view sample: ContextPose's test set."""
        n, v = np.nonzero(self.views)
        return take_rows(self, n, PER_VIEW, v)


def crop_affine(px_scale: float, offset: np.ndarray) -> np.ndarray:
    """(3, 3) original-image pixels -> crop pixels, inverse of u_orig = (u + 0.5) s + offset - 0.5."""
    s = float(px_scale)
    return np.array([[1 / s, 0.0, (0.5 - offset[0]) / s - 0.5],
                     [0.0, 1 / s, (0.5 - offset[1]) / s - 0.5],
                     [0.0, 0.0, 1.0]])


def _priors_for(path: Path, sequences: set[tuple[str, str]], frames: dict[tuple[str, str], int]) -> dict:
    """Each (subject, key)'s (F, 3) pelvis from ``pelvis_priors.npz``, checked against the poses' frame counts."""
    try:
        priors = read_priors(path, "run the priors stage")
    except PelvisSourceError as exc:
        raise CropsError(str(exc)) from None
    out = {}
    for s, key in sorted(sequences):
        seq = priors.get(s, {}).get(key)
        if seq is None:
            raise CropsError(f"{path}: has no pelvis of {s} {key!r}, which the frames have (priors of other poses?)")
        if len(seq["pelvis"]) != frames[(s, key)]:
            raise CropsError(f"{path}: {s} {key!r} has {len(seq['pelvis'])} frames of pelvis priors, the poses "
                             f"{frames[(s, key)]} (priors older than the poses? re-run the priors stage)")
        out[(s, key)] = np.asarray(seq["pelvis"], dtype=np.float64)
    return out


def group_views(crops: CropTable, excluded: Collection[tuple[str, str, int]] = ()) -> dict[tuple[str, str, int], np.ndarray]:
    """{(subject, key, frame): (V,) crop numbers, -1 where absent or excluded}."""
    out: dict[tuple[str, str, int], np.ndarray] = {}
    bad = set(excluded)
    for i, (s, k, c, f) in enumerate(zip(crops.subject, crops.key, crops.camera, crops.frame)):
        slot = out.setdefault((str(s), str(k), int(f)), np.full(NUM_VIEWS, -1, dtype=np.int64))
        if (str(s), str(k), int(c)) not in bad:
            slot[int(c)] = i
    return out


def load_multiview(subjects: list[str] | tuple[str, ...], excluded: Collection[tuple[str, str, int]] = (),
                   priors: Path | None = None, min_views: int = 1, frames_dir: Path = FRAMES_DIR,
                   poses_dir: Path = POSES_DIR) -> MultiViewTable:
    """Every frame of ``subjects`` with at least ``min_views`` views; raises CropsError naming what is wrong."""
    crops = load_crops(subjects, frames_dir, poses_dir)
    groups = group_views(crops, excluded)
    keys = sorted(k for k, v in groups.items() if (v >= 0).sum() >= min_views)
    if not keys:
        raise CropsError(f"{frames_dir}: no frame of {', '.join(subjects)} has {min_views} or more views")
    n = len(keys)
    crop_of = np.stack([groups[k] for k in keys])
    proj = np.full((n, NUM_VIEWS, 3, 4), np.nan)
    poses = load_3d(Path(poses_dir) / "data_3d_h36m.npz")
    seqs = sorted({(s, k) for s, k, _ in keys})
    world = {(s, k): to_17(np.asarray(poses[s][k], dtype=np.float64)) * 1000.0 for s, k in seqs}
    joints = np.stack([world[(s, k)][f] for s, k, f in keys])
    p_world = {(s, c): projection_matrix(get_camera(s, c)) for s in subjects for c in range(NUM_VIEWS)}
    for row, ((s, _, _), views) in enumerate(zip(keys, crop_of)):
        for c in np.flatnonzero(views >= 0):
            proj[row, c] = crop_affine(crops.px_scale[views[c]], crops.offset[views[c]]) @ p_world[(s, c)]
    pelvis = np.full((n, 3), np.nan)
    if priors is not None:
        table = _priors_for(Path(priors), set(seqs), {k: len(v) for k, v in world.items()})
        pelvis = np.stack([table[(s, k)][f] for s, k, f in keys])
        bad = ~np.isfinite(pelvis).all(axis=1)
        if bad.any():
            s, k, f = keys[int(np.flatnonzero(bad)[0])]
            raise CropsError(f"{priors}: no pelvis for {int(bad.sum())} of {n} frames with crops, first {s} {k!r} "
                             f"frame {f} (a 2D source without it?)")
    items = np.where(crop_of >= 0, crops.items[np.maximum(crop_of, 0)], -1)
    return MultiViewTable(
        shards=crops.shards, subject=np.array([k[0] for k in keys]), key=np.array([k[1] for k in keys]),
        frame=np.array([k[2] for k in keys], dtype=np.int64), items=items,
        camera=np.tile(np.arange(NUM_VIEWS), (n, 1)), proj=proj, joints=joints, pelvis=pelvis,
        crop_size=crops.crop_size,
    )
