"""learnable-triangulation's and ContextPose's files: labels, boxes, images, limb statistics, pelvis priors.

Their dataset class reads one pickled labels dict (cameras and a table with one row per
(subject, action, frame)), the images of the table's frames under ``processed/``, and, for
the volumetric models, ``results/{train,val}.pkl``: a prediction per table row of that
split, which it asserts row for row. Those pickles are made here from the pipeline's
pelvis priors (every frame triangulated), so they match the table by construction; the
check before writing names the first sequence whose priors do not cover its rows (priors
made from another ``convert`` run). Frames are the ones ``frames`` kept, taken per sequence
from the first camera that has any, as the seeds' label script lists the first camera's
image folder; a view without a crop of that frame gets the (0, 0, 0, 0) box that marks a
missing view. The seeds hard-code their split (train S1, S5, S6, S7, S8; val S9, S11),
so the pickles follow it, whatever ``dataset.train_subjects`` says.
"""
from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.export.common import ExportError, ExportSettings, Inputs, link_or_copy, require, write_text
from pose3d.export.images import export_images
from pose3d.h36m.cameras import CAMERA_IDS, get_camera
from pose3d.h36m.sequences import subject_sequences
from pose3d.h36m.skeleton import LT17_FROM_32
from pose3d.io.atomic import replacing
from pose3d.priors.limbs import H36M17_FROM_LT17
from pose3d.priors.pelvis import load_pelvis_priors
from pose3d.video.crop import video_scale
from pose3d.video.reader import FrameShards

NAME = "learnable_triangulation"
SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
VAL_SUBJECTS: tuple[str, ...] = ("S9", "S11")
ACTIONS: tuple[str, ...] = tuple(
    f"{a}-{n}" for a in ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing", "Purchases", "Sitting",
                         "SittingDown", "Smoking", "TakingPhoto", "Waiting", "Walking", "WalkingDog", "WalkingTogether")
    for n in (1, 2))
LABELS = "extra/human36m-multiview-labels-GTbboxes.npy"
BBOXES = "extra/bboxes-Human36M-GT.npy"
LIMBS = "extra/mean_and_std_limb_length.h5"
CAMERA_DTYPE = np.dtype([("R", np.float32, (3, 3)), ("t", np.float32, (3, 1)), ("K", np.float32, (3, 3)),
                         ("dist", np.float32, 5)])
TABLE_DTYPE = np.dtype([("subject_idx", np.int8), ("action_idx", np.int8), ("frame_idx", np.int16),
                        ("keypoints", np.float32, (17, 3)), ("bbox_by_camera_tlbr", np.int16, (len(CAMERA_IDS), 4))])

README = """# learnable-triangulation / ContextPose files

Put this folder's contents in the seeds' Human3.6M root (the folder holding `processed/` and `extra/`), then
set in the experiment config (e.g. `experiments/human36m/train/human36m_vol_softmax.yaml`):

    dataset.{{train,val}}.h36m_root: <root>/processed/
    dataset.{{train,val}}.labels_path: <root>/{labels}
    dataset.{{train,val}}.undistort_images: {undistorted}
    dataset.train.pred_results_path: <root>/results/train.pkl
    dataset.val.pred_results_path: <root>/results/val.pkl

and run `python train.py --config <config> --logdir ./logs` (add `--eval --eval_dataset val` to evaluate).
ContextPose reads the same files plus `{limbs}` (`mean`, `std` of 16 limb lengths, mm).

- `{labels}`: `subject_names`, `camera_names`, `action_names`, `cameras` (7 x 4: `R` world->camera,
  `t` = -R T in mm, `K` pixels, `dist` = k1, k2, p (metadata order), k3), `table` ({rows} rows: one per frame with
  images; `keypoints` world mm, 16 MPII joints + Neck/Nose; `bbox_by_camera_tlbr` squared, (0, 0, 0, 0) = no image).
- `{bboxes}`: `[subject][action][camera]` (N, 4) int32 boxes (top, left, bottom, right), pixels, for every pose
  frame; frames without a kept crop are (0, 0, 0, 0).
- `processed/<S>/<Action>-<n>/{folder}/<camera>/img_%06d.jpg` ({images} images, {image_mb:.1f} MB): the frames
  `frames` kept (every {every_train}th of the training subjects, every {every_test}th of the test subjects), at
  the camera's full size, built from the pipeline's crops: the person's square is filled, the rest is black.
  Every GT box lies inside the square, so the seeds' crops (`scale_bbox: 1.0`) see real pixels.
- `results/train.pkl`, `results/val.pkl` ({train_rows} and {val_rows} rows): `keypoints_3d` (N, 17, 3) float32,
  world mm, in the labels' joint order, from the pipeline's pelvis priors ({source_2d} 2D, triangulated from
  the four views); `indexes` the rows' dataset indices. The seeds' split is fixed: train {train}, val {val}.
  {invalid}
"""


@dataclass(frozen=True)
class _Crop:
    frame: int
    box_tlbr: tuple[int, int, int, int]


def cameras_array() -> np.ndarray:
    """(7, 4) structured array of the labels' cameras, subjects and cameras in the seeds' order."""
    out = np.zeros((len(SUBJECTS), len(CAMERA_IDS)), dtype=CAMERA_DTYPE)
    for si, s in enumerate(SUBJECTS):
        for ci in range(len(CAMERA_IDS)):
            cam = get_camera(s, ci)
            rec = out[si, ci]
            rec["R"] = cam.r_world_to_cam
            rec["t"] = cam.t_world_to_cam_mm.reshape(3, 1)
            rec["K"] = cam.K
            pa, pb = cam.tangential_metadata_pApB
            rec["dist"] = [cam.radial_k123[0], cam.radial_k123[1], pa, pb, cam.radial_k123[2]]
    return out


def mask_box_tlbr(row: dict) -> tuple[int, int, int, int]:
    """The crop's person box as (top, left, bottom, right) integer pixels of the camera image, end
    exclusive: the rows and columns a mask covers, as the seeds' box script reads them."""
    cam = get_camera(row["subject"], row["camera"])
    sx, sy = video_scale(cam, row["video_width"], row["video_height"])
    # index boxes are in video pixels, pixel centres at integers: a covered column c0 gives left = c0 - 0.5
    return (round((row["box_top"] + 0.5) / sy), round((row["box_left"] + 0.5) / sx),
            round((row["box_bottom"] + 0.5) / sy), round((row["box_right"] + 0.5) / sx))


def square_tlbr(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The box's shorter side widened about its centre to the longer one (the seeds' rounding)."""
    top, left, bottom, right = box
    width, height = right - left, bottom - top
    if height < width:
        top = int(round((top + bottom) * 0.5 - width * 0.5))
        return top, left, top + width, right
    left = int(round((left + right) * 0.5 - height * 0.5))
    return top, left, bottom, left + height


def _crops(folders: list[Path]) -> tuple[dict[tuple[str, str, int], list[_Crop]], bool]:
    """{(subject, key, camera index): crops in frame order} of every frames folder; whether crops are undistorted."""
    crops: dict[tuple[str, str, int], list[_Crop]] = {}
    undistorted = set()
    for folder in folders:
        for row in FrameShards(folder).rows:
            crops.setdefault((row["subject"], row["key"], row["camera_index"]), []).append(
                _Crop(row["frame"], mask_box_tlbr(row)))
            undistorted.add(bool(row["undistorted"]))
    if len(undistorted) > 1:
        raise ExportError(folders[0].parent, "some subjects' crops are undistorted and some are not; re-run frames")
    return crops, bool(undistorted and undistorted.pop())


def build_labels(inputs: Inputs, crops: dict[tuple[str, str, int], list[_Crop]]) -> tuple[dict, dict, list]:
    """The labels dict, the boxes dict, and the table's sequences as (subject, key, folder, frames, pose frames)."""
    poses = inputs.poses_3d
    segments, sequences, boxes = [], [], {}
    for si, s in enumerate(SUBJECTS):
        by_folder = {q.folder: q for q in subject_sequences(s)}
        for ai, folder in enumerate(ACTIONS):
            seq = by_folder[folder]
            if s not in poses or seq.key not in poses[s]:
                continue
            n = len(poses[s][seq.key])
            views = [{c.frame: c.box_tlbr for c in crops.get((s, seq.key, ci), [])} for ci in range(len(CAMERA_IDS))]
            all_boxes = {}
            for ci, cam_id in enumerate(CAMERA_IDS):
                arr = np.zeros((n, 4), dtype=np.int32)
                for f, b in views[ci].items():
                    if f < n:
                        arr[f] = b
                all_boxes[cam_id] = arr
            boxes.setdefault(s, {})[folder] = all_boxes
            first = next((v for v in views if v), None)
            if first is None:
                continue
            frames = np.array(sorted(f for f in first if f < n), dtype=np.int64)
            seg = np.zeros(len(frames), dtype=TABLE_DTYPE)
            seg["subject_idx"], seg["action_idx"], seg["frame_idx"] = si, ai, frames
            seg["keypoints"] = poses[s][seq.key][frames][:, list(LT17_FROM_32)].astype(np.float64) * 1000.0
            for ci, view in enumerate(views):
                seg["bbox_by_camera_tlbr"][:, ci] = [square_tlbr(view[f]) if f in view else (0, 0, 0, 0) for f in frames]
            segments.append(seg)
            sequences.append((s, seq.key, folder, frames, n))
    table = np.concatenate(segments) if segments else np.zeros(0, dtype=TABLE_DTYPE)
    labels = {"subject_names": list(SUBJECTS), "camera_names": list(CAMERA_IDS), "action_names": list(ACTIONS),
              "cameras": cameras_array(), "table": table}
    return labels, boxes, sequences


def prior_rows(priors: dict, priors_path: Path, sequences: list, subjects: tuple[str, ...]) -> tuple[np.ndarray, int]:
    """(rows, 17, 3) world-mm priors (``load_pelvis_priors`` of ``priors_path``) for the table rows of
    ``subjects``, in table order and the labels' joint order, and the number of invalid joints. Raises
    ExportError naming the first sequence the priors do not match."""
    parts = []
    for s, key, folder, frames, n in sequences:
        if s not in subjects:
            continue
        seq = priors.get(s, {}).get(key)
        if seq is None:
            raise ExportError(priors_path, f"has no priors of {s} {folder} ({key!r}), which the labels table holds: "
                                           "re-run the priors stage on the current convert output")
        kp = seq["keypoints_3d"]
        if len(kp) != n:
            raise ExportError(priors_path, f"{s} {folder} ({key!r}) has {len(kp)} frames of priors but {n} pose "
                                           f"frames, so its {len(frames)} table rows cannot be matched: re-run the "
                                           "priors stage on the current convert output")
        parts.append(kp[frames][:, list(H36M17_FROM_LT17)])
    rows = np.concatenate(parts) if parts else np.zeros((0, 17, 3), dtype=np.float32)
    return rows.astype(np.float32), int(np.isnan(rows).any(axis=-1).sum())


def _save_npy(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp, open(tmp, "wb") as f:
        np.save(f, obj, allow_pickle=True)


def _save_pickle(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp, open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol=4)


def export(inputs: Inputs, out: Path, settings: ExportSettings) -> dict:
    priors_path = require(inputs.priors_dir / "pelvis_priors.npz", "pelvis priors", "priors")
    limbs = require(inputs.priors_dir / "limb_stats.h5", "limb-length statistics", "priors")
    folders = inputs.frame_folders()
    crops, undistorted = _crops(folders)
    labels, boxes, sequences = build_labels(inputs, crops)
    table = labels["table"]
    priors = load_pelvis_priors(priors_path)
    split_rows = {}
    invalid = 0
    for name, subjects in (("train", TRAIN_SUBJECTS), ("val", VAL_SUBJECTS)):
        rows, bad = prior_rows(priors, priors_path, sequences, subjects)
        expected = int(np.isin(table["subject_idx"], [SUBJECTS.index(s) for s in subjects]).sum())
        if len(rows) != expected:  # cannot happen unless the table and the sequences disagree
            raise ExportError(priors_path, f"{len(rows)} {name} priors for {expected} {name} rows of the labels table")
        split_rows[name], invalid = rows, invalid + bad

    out.mkdir(parents=True, exist_ok=True)
    _save_npy(out / LABELS, labels)
    _save_npy(out / BBOXES, boxes)
    link_or_copy(limbs, out / LIMBS)
    for name, rows in split_rows.items():
        _save_pickle(out / "results" / f"{name}.pkl",
                     {"keypoints_3d": rows, "indexes": np.arange(len(rows), dtype=np.int64)})

    in_table = {(s, key) for s, key, *_ in sequences}
    folder_of = {(s, key): folder for s, key, folder, *_ in sequences}
    image_dir = "imageSequence-undistorted" if undistorted else "imageSequence"

    def name_of(row: dict) -> str | None:
        sk = (row["subject"], row["key"])
        if sk not in in_table:
            return None
        return f"processed/{row['subject']}/{folder_of[sk]}/{image_dir}/{row['camera']}/img_{row['frame'] + 1:06d}.jpg"

    stats = export_images(folders, out, name_of, settings.jpeg_qscale)
    every = _every(folders)
    with np.load(priors_path, allow_pickle=False) as data:
        source_2d = str(data["meta/source_2d"])  # one small member; the arrays were read above
    write_text(out / "README.md", README.format(
        labels=LABELS, bboxes=BBOXES, limbs=LIMBS, undistorted=str(undistorted).lower(), rows=len(table),
        folder=image_dir, images=stats.images, image_mb=stats.bytes / 1e6, every_train=every.get("train", "-"),
        every_test=every.get("test", "-"), train_rows=len(split_rows["train"]), val_rows=len(split_rows["val"]),
        source_2d=source_2d, train=", ".join(TRAIN_SUBJECTS), val=", ".join(VAL_SUBJECTS),
        invalid=f"{invalid} joints could not be triangulated and are NaN." if invalid else "Every joint is valid."))
    return {"table_rows": int(len(table)), "train_rows": int(len(split_rows["train"])),
            "val_rows": int(len(split_rows["val"])), "invalid_prior_joints": invalid, "images": stats.images,
            "image_bytes": stats.bytes, "image_seconds": stats.seconds}


def _every(folders: list[Path]) -> dict[str, int]:
    """{split: every_n} of the frames folders (from their report.json)."""
    out = {}
    for folder in folders:
        report = json.loads((folder / "report.json").read_text())
        out[report["split"]] = report["every_n"]
    return out
