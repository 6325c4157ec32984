"""Integral Human Pose Regression's Human3.6M folders: one ``h36m_meta.mat`` per view, plus frames.

The seed reads one folder per (subject, action id, sub-action, camera), named
``s_%02d_act_%02d_subact_%02d_ca_%02d``, under ``data/Human36M/data`` of its clone. Its loader
opens ``h36m_meta.mat`` with ``scipy.io.loadmat`` and walks frames ``0, k, 2k, ...`` (k = 5 for
training subjects, 64 for test subjects), reading ``<folder>_%06d.jpg`` with the 1-based frame
number. The files are written in the shapes MATLAB's ``save`` gives them in the seed's own
preprocessing (row vectors stay 1 x n, per-frame sizes N x 1, all float64, millimetres), so
either source loads the same way.

A view gets its file when the 3D poses hold its sequence and neither ``dataset.exclude`` nor
the seed's own skip (S11 Directions-2, camera 54138969, rule ``s11_directions_cam54138969``)
drops it. Images are full camera-size frames rebuilt from the crops ``frames`` kept
(pose3d.export.images), only for the frames the loader reads.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.export.common import ExportError, ExportSettings, Inputs, write_text
from pose3d.export.images import export_images, undistorted
from pose3d.geometry.camera import Camera
from pose3d.h36m.cameras import CAMERA_IDS, get_camera
from pose3d.h36m.sequences import EXCLUSION_RULES, SequenceInfo, excluded_cameras, subject_sequences
from pose3d.h36m.skeleton import to_17
from pose3d.io.mat import write_mat

NAME = "integral"
ROOT = "data/Human36M/data"  # under the seed's clone: its loader's data_dir, seen from main/
META_FILE = "h36m_meta.mat"
TRAIN_EVERY, TEST_EVERY = 5, 64  # the loader's sub-sampling of training and test subjects
SEED_SKIP = EXCLUSION_RULES["s11_directions_cam54138969"]  # the one view the seed never writes nor reads

UNDISTORTED = """No images here: `frames` cropped undistorted frames (`frames.undistort: true`), while the seed reads the
original frames. Set `frames.undistort: false` to export images.

"""
README = """# Integral Human Pose Regression (mks0601) files for Human3.6M

`{root}/s_SS_act_AA_subact_BB_ca_CC/` for every view our 3D poses hold ({views} folders): SS subject,
AA official action id (2 Directions .. 16 WalkTogether), BB sub-action (1, 2), CC camera (1..4 =
54138969, 55011271, 58860488, 60457274). Each holds

- `h36m_meta.mat` (MATLAB v5, read with `scipy.io.loadmat`): `pose3d_world` (N, 17, 3) world mm in the
  17-joint order, every pose frame of the sequence; `R` (3, 3) world-to-camera; `T` (1, 3) camera
  centre, world mm (camera coordinates are `R @ (X - T)`); `f` (1, 2) and `c` (1, 2) pixels;
  `img_height`, `img_width` (N, 1), the camera's image size. All float64.
- `s_SS_act_AA_subact_BB_ca_CC_%06d.jpg`: frame number = 0-based pose frame + 1.

## Use

Copy or link this export's `{root}` folder to `data/Human36M/data` of a clone of the seed (beside its
`data/Human36M/Human36M.py`), so that `data/Human36M/data/s_01_act_02_subact_01_ca_01/` exists. Then, in
its `main/` folder (`trainset`/`testset` in `main/config.py`; `trainset` also lists MPII, which needs its
own data, or remove it):

- train: `python train.py --gpu 0-1`
- test: `python test.py --gpu 0-1 --test_epoch 16`

The seed's loader takes training subjects S1, S5, S6, S7, S8 and test subjects S9, S11 from its own
code (`_sample_dataset` in `Human36M.py`), every {train_every}th frame of a training view and every
{test_every}th of a test view; the images here follow the same lists.

## What differs from the seed's own preprocessing

- Images exist only for the frames our `frames` stage kept, and only those the loader reads: every
  {train_every}th frame of training subjects ({train}), every {test_every}th of test subjects ({test});
  {images} images in {views_with_images} folders. `h36m_meta.mat` still lists every pose frame, as the
  loader expects.
- Images are full camera-size frames rebuilt from our square crops around the person, black outside
  that square. Joint projections land on the same pixels as in the original frames. With
  `frames.undistort: false` (the default) the pixels keep the lens distortion, as the original frames do.
- The seed's input box is the projection of a 2 m x 2 m square around the pelvis, usually a little larger
  than our square (`frames.margin` around the person): the person is whole, but the borders of the seed's
  input patch are partly black where the original frames show the room.
- Only views whose videos `frames` read have images: the synthetic stand-in renders videos for some
  sequences only, so the other folders hold just `h36m_meta.mat`, and the seed cannot train or test on
  them (it stops at the first image it cannot read).
- Views excluded by `dataset.exclude` in params.yaml (convert's `sequences.csv`) are absent. The seed's
  loader opens `h36m_meta.mat` of every view of its subjects, so a missing view stops it: with the default
  rule `s11_directions` (all four cameras of S11 Directions-2), use `s11_directions_cam54138969` or none
  to run the seed's test.
- `s_11_act_02_subact_02_ca_01` (S11 Directions-2, camera 54138969, whose original video was broken) is
  never written: the seed skips it too (rule `s11_directions_cam54138969`, always applied for this format;
  the seed's own preprocessing leaves an empty folder there, which its loader never opens).
- `img_height`/`img_width` are the camera's image size from the official metadata, not the size of each
  decoded video frame.
"""


@dataclass(frozen=True)
class View:
    subject: str
    seq: SequenceInfo
    camera: Camera

    @property
    def folder(self) -> str:
        return "s_%02d_act_%02d_subact_%02d_ca_%02d" % (
            subject_number(self.subject), self.seq.action_id, self.seq.subaction, self.camera.index + 1)

    def image_name(self, frame: int) -> str:
        """Path under the export root of 0-based pose ``frame`` of this view."""
        return f"{ROOT}/{self.folder}/{self.folder}_{frame + 1:06d}.jpg"


def subject_number(subject: str) -> int:
    return int(subject.lstrip("S"))


def every_n(subject: str, settings: ExportSettings) -> int:
    """The loader's frame step for a subject: test subjects every 64th frame, the others every 5th."""
    return TEST_EVERY if subject in settings.test_subjects else TRAIN_EVERY


def meta_arrays(poses32_m: np.ndarray, camera: Camera) -> dict[str, np.ndarray]:
    """The fields of one ``h36m_meta.mat``, shaped as MATLAB's ``save`` writes them."""
    n = len(poses32_m)
    return {
        "pose3d_world": np.ascontiguousarray(to_17(poses32_m).astype(np.float64) * 1000.0),
        "f": camera.focal_px.astype(np.float64).reshape(1, 2),
        "c": camera.centre_px.astype(np.float64).reshape(1, 2),
        "R": camera.r_world_to_cam.astype(np.float64).reshape(3, 3),
        "T": camera.centre_mm.astype(np.float64).reshape(1, 3),
        "img_height": np.full((n, 1), float(camera.height_px)),
        "img_width": np.full((n, 1), float(camera.width_px)),
    }


def plan_views(inputs: Inputs) -> tuple[list[View], dict[tuple[str, str, int], int]]:
    """The views to write, in (subject, action, sub-action, camera) order, and each one's pose count."""
    poses = inputs.poses_3d
    exclusions = inputs.exclusions
    views, counts = [], {}
    for subject in sorted(poses, key=subject_number):
        try:
            seqs = {q.key: q for q in subject_sequences(subject)}
        except ValueError as exc:
            raise ExportError(inputs.poses_3d_path, str(exc)) from exc
        unknown = sorted(set(poses[subject]) - set(seqs))
        if unknown:
            raise ExportError(inputs.poses_3d_path, f"{subject}: keys {unknown} are not sequences of the official table")
        for key in sorted(poses[subject], key=lambda k: (seqs[k].action_id, seqs[k].subaction)):
            seq, arr = seqs[key], poses[subject][key]
            if arr.ndim != 3 or arr.shape[1:] != (32, 3):
                raise ExportError(inputs.poses_3d_path, f"{subject} {key!r}: shape {arr.shape}, expected (N, 32, 3)")
            skipped = set(exclusions.of(subject, key)) | {CAMERA_IDS.index(c) for c in excluded_cameras(seq, [SEED_SKIP])}
            for ci in range(len(CAMERA_IDS)):
                if ci not in skipped:
                    views.append(View(subject, seq, get_camera(subject, ci)))
                    counts[(subject, key, ci)] = len(arr)
    return views, counts


def export(inputs: Inputs, out: Path, settings: ExportSettings) -> dict:
    views, counts = plan_views(inputs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for v in views:
        folder = out / ROOT / v.folder
        folder.mkdir(parents=True, exist_ok=True)
        arrays = meta_arrays(inputs.poses_3d[v.subject][v.seq.key], v.camera)
        write_mat(folder / META_FILE, arrays)

    by_view = {(v.subject, v.seq.key, v.camera.index): v for v in views}
    with_images: set[str] = set()

    def name_of(row: dict) -> str | None:
        ci = CAMERA_IDS.index(row["camera"])
        view = by_view.get((row["subject"], row["key"], ci))
        frame = int(row["frame"])
        if view is None or frame >= counts[(row["subject"], row["key"], ci)]:
            return None
        if frame % every_n(row["subject"], settings):
            return None  # kept by frames but never read by the loader
        with_images.add(view.folder)
        return view.image_name(frame)

    folders = inputs.frame_folders()
    skipped = undistorted(folders)  # the seed projects without distortion onto the original, distorted frames
    stats = export_images([] if skipped else folders, out, name_of, settings.jpeg_qscale)
    write_text(out / "README.md", (UNDISTORTED if skipped else "") + README.format(
        root=ROOT, views=len(views), images=stats.images, views_with_images=len(with_images),
        train_every=TRAIN_EVERY, test_every=TEST_EVERY,
        train=", ".join(settings.train_subjects), test=", ".join(settings.test_subjects),
    ))
    return {
        "root": ROOT,
        "views": len(views),
        "views_with_images": len(with_images),
        "images": stats.images,
        "image_bytes": stats.bytes,
        "image_seconds": round(stats.seconds, 3),
        "images_skipped": "frames.undistort: true" if skipped else "",
    }
