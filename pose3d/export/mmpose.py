"""mmpose's Human3.6M 3D-body files, laid out as its converter ``preprocess_h36m.py`` writes them.

mmpose's ``Human36mDataset`` (the lifting configs under ``configs/body_3d_keypoint``) reads
``annotation_body3d/fps<50 // rate>/h36m_{train,test}.npz``, ``annotation_body3d/cameras.pkl``
and ``images/``. Its converter builds them from the official ``D2_Positions`` and
``D3_Positions_mono`` files and the videos. The same numbers are rebuilt here from what
``convert`` already checked: ``part`` is our 2D ground truth, and ``S`` is our world 3D moved
into each camera, which is what ``D3_Positions_mono`` holds. So no CDF is read and no video is
decoded again. Images are made from the crops ``frames`` kept (see :mod:`pose3d.export.images`).
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from pose3d.export.common import ExportError, ExportSettings, Inputs, write_text
from pose3d.export.images import export_images, undistorted
from pose3d.geometry.projection import world_to_camera
from pose3d.h36m.cameras import CAMERA_IDS, get_camera
from pose3d.h36m.sequences import subject_sequences
from pose3d.h36m.skeleton import to_17
from pose3d.io.atomic import replacing
from pose3d.io.npz import write_npz

NAME = "mmpose"

#: the converter's ``scale_factor``: the box side is 1.2 x the longer side of the tight joint box, over 200 px
SCALE_FACTOR = 1.2
#: (width, height) the converter hard-codes per camera for every subject (S7's real height is 1002 on all four)
CONVERTER_SIZES: dict[str, tuple[int, int]] = {
    "54138969": (1000, 1002), "55011271": (1000, 1000), "58860488": (1000, 1000), "60457274": (1000, 1002),
}
SPLITS = ("train", "test")
UNDISTORTED = """
No images: `frames` cropped undistorted frames (`frames.undistort: true`), while `part` and mmpose's
cameras describe the distorted ones. Set `frames.undistort: false` to export images.
"""
FIELDS = ("imgname", "center", "scale", "part", "S")


def sequence_base(subject: str, file_base: str, camera: str) -> str:
    """``S1_Directions_1.54138969``: the converter's folder and file prefix of one view."""
    return f"{subject}_{file_base.replace(' ', '_')}.{camera}"


def image_name(subject: str, file_base: str, camera: str, frame: int) -> str:
    """``S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg`` (frame 0-based, name 1-based)."""
    base = sequence_base(subject, file_base, camera)
    return f"{subject}/{base}/{base}_{frame + 1:06d}.jpg"


def camera_entry(subject: str, camera: str) -> dict:
    """One value of ``cameras.pkl``, with the converter's keys, shapes and types."""
    cam = get_camera(subject, camera)
    w, h = CONVERTER_SIZES[cam.camera_id]
    return {
        "R": np.array(cam.r_cam_to_world, dtype=np.float64),  # camera -> world
        "T": (np.asarray(cam.centre_mm, dtype=np.float64) * 1e-3).reshape(3, 1),  # centre, metres
        "c": np.asarray(cam.centre_px, dtype=np.float64).reshape(2, 1),
        "f": np.asarray(cam.focal_px, dtype=np.float64).reshape(2, 1),
        "k": np.asarray(cam.radial_k123, dtype=np.float64).reshape(3, 1),
        "p": np.asarray(cam.tangential_metadata_pApB, dtype=np.float64).reshape(2, 1),  # metadata order
        "w": int(w),
        "h": int(h),
        "name": f"camera{cam.index + 1}",
        "id": cam.camera_id,
    }


def boxes(part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(center (N, 2), scale (N,)) of the tight box of the 2D joints, as the converter computes them."""
    lo, hi = part[..., :2].min(axis=1), part[..., :2].max(axis=1)
    return (lo + hi) / 2, SCALE_FACTOR * (hi - lo).max(axis=1) / 200


def _views(inputs: Inputs, subject: str, dropped: frozenset) -> list[tuple[str, str, int, str, int]]:
    """(key, file base, camera index, camera id, frames) of every view the poses hold, in the
    converter's order: sequence (table order), then camera. Views in ``dropped`` are left out."""
    p3, p2 = inputs.poses_3d[subject], inputs.poses_2d.get(subject, {})
    out = []
    for seq in subject_sequences(subject):
        if seq.key not in p3:
            continue  # excluded by dataset.exclude
        n = p3[seq.key].shape[0]
        views2d = p2.get(seq.key)
        if views2d is None or len(views2d) != len(CAMERA_IDS):
            raise ExportError(inputs.poses_2d_path, f"{subject} {seq.key!r}: 2D poses of the 4 cameras missing")
        for ci, cam_id in enumerate(CAMERA_IDS):
            if views2d[ci].shape != (n, 17, 2):
                raise ExportError(inputs.poses_2d_path, f"{subject} {seq.key!r} camera {cam_id}: 2D shape "
                                                         f"{views2d[ci].shape}, expected ({n}, 17, 2) like the 3D poses")
            if (subject, seq.key, ci) not in dropped:
                out.append((seq.key, seq.file_base, ci, cam_id, n))
    return out


def split_arrays(inputs: Inputs, subjects: list[str], rate: int, dropped: frozenset = frozenset()) -> dict[str, np.ndarray]:
    """The five arrays of one ``h36m_<split>.npz``: rows by subject, sequence, camera, frame."""
    names, parts, poses = [], [], []
    for subject in subjects:
        world17 = {}
        for key, base, ci, cam_id, n in _views(inputs, subject, dropped):
            if key not in world17:
                world17 = {key: to_17(inputs.poses_3d[subject][key][::rate]).astype(np.float64) * 1e3}  # mm
            xyz = world_to_camera(world17[key], get_camera(subject, cam_id)) * 1e-3  # camera frame, metres
            uv = inputs.poses_2d[subject][key][ci][::rate].astype(np.float64)
            ones = np.ones((len(uv), 17, 1))
            parts.append(np.concatenate([uv, ones], axis=2))
            poses.append(np.concatenate([xyz, ones], axis=2))
            names += [image_name(subject, base, cam_id, f) for f in range(0, n, rate)]
    part = np.concatenate(parts) if parts else np.zeros((0, 17, 3))
    center, scale = boxes(part)
    return {
        "imgname": np.array(names, dtype=str),
        "center": center,
        "scale": scale,
        "part": part,
        "S": np.concatenate(poses) if poses else np.zeros((0, 17, 4)),
    }


def pose_stats(arrays: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """The converter's four normalisation files from the training rows ({'mean', 'std'}, (K, D));
    ``_rel``: joints 1..16 minus the root."""
    out = {}
    for dim, field in ((3, "S"), (2, "part")):
        kps = arrays[field][..., :dim]
        rel = kps[:, 1:] - kps[:, :1]
        out[f"joint{dim}d_stats"] = {"mean": kps.mean(axis=0), "std": kps.std(axis=0)}
        out[f"joint{dim}d_rel_stats"] = {"mean": rel.mean(axis=0), "std": rel.std(axis=0)}
    return out


def _write_pickle(path: Path, obj) -> None:
    with replacing(path) as tmp, open(tmp, "wb") as f:
        pickle.dump(obj, f)


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    write_npz(path, {k: arrays[k] for k in FIELDS})  # np.savez's layout, without its wall-clock timestamps


def export(inputs: Inputs, out: Path, settings: ExportSettings) -> dict:
    out = Path(out)
    rate = int(settings.mmpose_sample_rate)
    if rate < 1:
        raise ExportError("params.yaml", f"export.mmpose_sample_rate must be a positive integer, got {rate}")
    both = set(settings.train_subjects) & set(settings.test_subjects)
    if both:
        raise ExportError("params.yaml", f"subjects {sorted(both)} are both dataset.train_subjects and test_subjects")
    have = set(inputs.poses_3d)
    splits = {"train": [s for s in settings.train_subjects if s in have],
              "test": [s for s in settings.test_subjects if s in have]}
    missing = [s for s in (*settings.train_subjects, *settings.test_subjects) if s not in have]
    dropped = inputs.exclusions.views()

    ann = out / "annotation_body3d"
    fps_dir = ann / f"fps{50 // rate}"
    fps_dir.mkdir(parents=True, exist_ok=True)
    _write_pickle(ann / "cameras.pkl", {(s, c): camera_entry(s, c) for s in inputs.poses_3d for c in CAMERA_IDS})

    rows, views = {}, {}
    for split in SPLITS:
        arrays = split_arrays(inputs, splits[split], rate, dropped)
        _write_npz(fps_dir / f"h36m_{split}.npz", arrays)
        rows[split] = int(len(arrays["imgname"]))
        if split == "train" and rows[split]:
            for name, stats in pose_stats(arrays).items():
                _write_pickle(fps_dir / f"{name}.pkl", stats)
        for subject in splits[split]:
            for key, base, _ci, cam_id, n in _views(inputs, subject, dropped):
                views[(subject, key, cam_id)] = (base, n)

    def name_of(row: dict) -> str | None:
        view = views.get((row["subject"], row["key"], str(row["camera"])))
        frame = int(row["frame"])
        if view is None or frame % rate or frame >= view[1]:
            return None
        return "images/" + image_name(row["subject"], view[0], str(row["camera"]), frame)

    folders = inputs.frame_folders()
    skipped = undistorted(folders)  # mmpose's 2D is in the distorted image
    stats = export_images([] if skipped else folders, out, name_of, settings.jpeg_qscale)
    write_text(out / "README.md", _readme(rate, splits, missing, rows, stats.images) + (UNDISTORTED if skipped else ""))
    return {
        "rows": rows,
        "subjects": splits,
        "missing_subjects": missing,
        "excluded_views": len(dropped),
        "sample_rate": rate,
        "images": stats.images,
        "image_bytes": stats.bytes,
        "image_seconds": stats.seconds,
        "images_skipped": "frames.undistort: true" if skipped else "",
    }


def _readme(rate: int, splits: dict[str, list[str]], missing: list[str], rows: dict[str, int], images: int) -> str:
    fps = f"fps{50 // rate}"
    cfg = "configs/body_3d_keypoint/image_pose_lift/h36m/image-pose-lift_tcn_8xb64-200e_h36m.py"
    over = ("" if fps == "fps50" else
            f" \\\n    --cfg-options train_dataloader.dataset.ann_file=annotation_body3d/{fps}/h36m_train.npz"
            f" val_dataloader.dataset.ann_file=annotation_body3d/{fps}/h36m_test.npz"
            f" test_dataloader.dataset.ann_file=annotation_body3d/{fps}/h36m_test.npz")
    gone = f"\nSubjects of the split that our data lacks (absent here): {', '.join(missing)}.\n" if missing else ""
    return f"""# mmpose: Human3.6M 3D body (`Human36mDataset`)

The files of mmpose's `tools/dataset_converters/preprocess_h36m.py --sample-rate {rate}`,
made from this pipeline's `convert` and `frames` outputs.

- `annotation_body3d/cameras.pkl`: {{(subject, camera id): {{R (camera to world), T (centre, m, 3x1),
  c, f (2x1), k (3x1), p (2x1, metadata order), w, h, name, id}}}}.
- `annotation_body3d/{fps}/h36m_train.npz` ({rows['train']} rows; {', '.join(splits['train']) or 'none'}) and
  `h36m_test.npz` ({rows['test']} rows; {', '.join(splits['test']) or 'none'}): `imgname`, `center`, `scale`,
  `part` (N, 17, 3), `S` (N, 17, 4, camera frame, metres). Rows: subject, sequence, camera, frame.
- `annotation_body3d/{fps}/joint{{2,3}}d{{,_rel}}_stats.pkl`: mean and std of the training rows.
- `images/` ({images} JPEGs): `S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg` (1-based frame).
{gone}
## Use

Put the contents of this folder at `data/h36m/` of an mmpose checkout (or link it there), then:

```
python tools/train.py {cfg}{over}
```

mmpose's Human3.6M configs name `annotation_body3d/fps50/...`. The 2D-to-3D lifting configs
with ground-truth 2D (`keypoint_2d_src='gt'`) need only the npz files (and `cameras.pkl` for
the video-pose-lift ones); the `cpn-ft` configs also need mmpose's CPN detections, which are
not made here. The normalisation constants in the image-pose-lift config come from mmpose's own
fps50 statistics; ours are in the `*_stats.pkl` files.

## What differs from mmpose's converter

- Rows: every {rate}th frame of every view our 2D/3D poses hold. Sequences and views removed by
  `dataset.exclude` (sequences.csv) are absent; mmpose's converter excludes nothing.
- `part` is our 2D ground truth (float32 `D2_Positions`); `S` is our world 3D (float32 metres)
  moved into each camera in float64, not a read of `D3_Positions_mono`. `R` and `T` come from
  VideoPose3D's float32 quaternion and centre (about 1e-7 from the metadata's values).
- `w`/`h` in `cameras.pkl` are the converter's hard-coded sizes (1000x1002 or 1000x1000 per
  camera), as mmpose expects; S7 images are 1002 rows high on all four cameras.
- Images exist only for the frames `frames` kept (every 5th frame of training subjects, every
  64th of test subjects, by default), so an image of a test row exists only where both steps
  meet. Each is a full camera-size frame made from our crop: the person's square, black outside.
  Configs that read images (none of the lifting ones does) need the missing ones from the videos.
"""
