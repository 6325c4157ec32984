"""Readers of other detectors' 2D outputs, each giving :class:`~pose3d.detections.parsing.Detections`.

Formats (``python -m pose3d.detections import --format <fmt>``):

- ``mmpose``: mmpose's ``joint_2d_det_file``, a ``.npy`` float array (N, 17, 3) of x, y,
  score in Human3.6M-17 order whose rows follow the ``imgname`` of an mmpose 3D-body
  annotation npz (``h36m_{train,test}.npz``, given as ``annotations``); or an mmpose result
  ``.json``: a list of ``{img_path | image_name | imgname, keypoints (17 x 2),
  keypoint_scores (17)}``, several per image allowed (the highest mean score is kept).
- ``coco``: a COCO keypoint *results* json, a list of ``{image_id, keypoints (51 = 17 x
  (x, y, score)), score}`` in COCO-17 order, with a COCO json whose ``images`` map ``id`` to
  ``file_name`` as ``annotations``. The highest ``score`` per image is kept; joints are
  mapped by :mod:`pose3d.detections.coco`.
- ``csv``: one row per (subject, camera, action, frame). Header ``subject,action,camera,
  frame`` then, for each Human3.6M-17 joint name ``J`` of :data:`~pose3d.h36m.skeleton.JOINT_NAMES_17`
  in any order, ``J_x,J_y`` and optionally ``J_score`` (all joints or none; without them every
  score is 1.0, i.e. "detected"). ``subject`` is ``S<n>``; ``action`` the archive's sequence
  name (``TakingPhoto 1``) or VideoPose3D's key (``Photo 1``); ``camera`` an index 0..3 or
  a camera id (``54138969``); ``frame`` the 0-based video frame. Other columns are errors.

Image names (mmpose, coco) follow mmpose's ``preprocess_h36m.py``:
``[dirs/]S1_Directions_1.54138969_000001.jpg`` = subject S1, sequence ``Directions 1``
(underscores are spaces), camera 54138969, **1-based** frame 1 (stored as frame 0).
"""
from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pose3d.detections.coco import coco_to_h36m
from pose3d.detections.parsing import (MAX_FRAME, Detections, Slot, action_key, as_array, camera_index, existing, fail,
                                      parse_image_name, read_json, slots_of)
from pose3d.h36m.skeleton import H36M17, JOINT_NAMES_17

FORMATS: tuple[str, ...] = ("mmpose", "coco", "csv")
NUM_JOINTS = H36M17.num_joints
#: Keys of an mmpose result json entry that may hold the image path, in order of preference.
IMAGE_KEYS: tuple[str, ...] = ("img_path", "image_name", "imgname")
CSV_KEY_COLUMNS: tuple[str, ...] = ("subject", "action", "camera", "frame")


def _mmpose_imgnames(path: Path) -> list[str]:
    path = existing(path, "mmpose annotation npz")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise fail(path, f"not an mmpose annotation npz ({exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise fail(path, "is a single array, not an mmpose annotation npz with 'imgname'")
    with data:
        if "imgname" not in data.files:
            raise fail(path, f"has no 'imgname' array (keys: {', '.join(data.files)})")
        try:
            return [str(n) for n in data["imgname"]]
        except ValueError as exc:  # e.g. an object array, which allow_pickle=False refuses
            raise fail(path, f"'imgname' is not readable ({exc})") from None


def read_mmpose_npy(path: Path, annotations: Path | None) -> Detections:
    """mmpose ``joint_2d_det_file``: rows (x, y, score) aligned with the annotation's ``imgname``."""
    path = existing(path, "file")
    if annotations is None:
        raise fail(path, "a .npy of mmpose detections needs its annotation npz (--annotations)")
    names = _mmpose_imgnames(annotations)
    try:
        poses = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise fail(path, f"not a numpy array file ({exc})") from None
    if poses.ndim != 3 or poses.shape[1:] != (NUM_JOINTS, 3):
        raise fail(path, f"array has shape {poses.shape}, expected (N, {NUM_JOINTS}, 3) of x, y, score")
    if len(poses) != len(names):
        raise fail(path, f"has {len(poses)} rows but {annotations} lists {len(names)} images")
    return Detections(path, slots_of(Path(annotations), names), poses.astype(np.float64))


def _best(entries: list[tuple[object, float, np.ndarray]]) -> tuple[list, np.ndarray]:
    """Per key (an image's slot or id), the pose with the highest score (the first on ties), in first-seen order."""
    best: dict[object, tuple[float, np.ndarray]] = {}
    for key, score, pose in entries:
        if key not in best or score > best[key][0]:
            best[key] = (score, pose)
    keys = list(best)
    poses = np.stack([best[k][1] for k in keys]) if keys else np.empty((0, NUM_JOINTS, 3))
    return keys, poses


def read_mmpose_json(path: Path) -> Detections:
    """mmpose result json: ``[{img_path, keypoints (17x2), keypoint_scores (17)}, ...]``."""
    data = read_json(path)
    if not isinstance(data, list):
        raise fail(path, "expected a list of mmpose results")
    entries = []
    for i, item in enumerate(data):
        image = next((item[k] for k in IMAGE_KEYS if isinstance(item, dict) and k in item), None)
        if image is None or "keypoints" not in item or "keypoint_scores" not in item:
            raise fail(path, f"entry {i} lacks an image path ({'/'.join(IMAGE_KEYS)}), "
                              "'keypoints' or 'keypoint_scores'")
        xy = as_array(path, item["keypoints"], (NUM_JOINTS, 2), f"entry {i} 'keypoints'")
        scores = as_array(path, item["keypoint_scores"], (NUM_JOINTS,), f"entry {i} 'keypoint_scores'")
        slot = slots_of(path, [str(image)], first=i)[0]
        entries.append((slot, float(np.mean(scores)), np.column_stack([xy, scores])))
    slots, poses = _best(entries)
    return Detections(path, slots, poses)


def read_mmpose(path: Path, annotations: Path | None = None) -> Detections:
    """``.npy`` (with the annotation npz) or ``.json`` by the file's suffix."""
    path = Path(path)
    if path.suffix == ".npy":
        return read_mmpose_npy(path, annotations)
    if path.suffix == ".json":
        return read_mmpose_json(path)
    raise fail(path, "mmpose detections must be a .npy (with --annotations) or a .json result file")


def _coco_images(path: Path) -> dict[object, str]:
    data = read_json(existing(path, "COCO annotations json"))
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list) or not all(isinstance(im, dict) and {"id", "file_name"} <= im.keys()
                                               for im in images):
        raise fail(path, "has no 'images' list of {id, file_name}")
    return {im["id"]: im["file_name"] for im in images}


def read_coco(path: Path, annotations: Path | None) -> Detections:
    """COCO keypoint results (COCO-17 order) named through the annotations' ``images``."""
    path = existing(path, "file")
    if annotations is None:
        raise fail(path, "COCO results need the COCO json with their 'images' (--annotations)")
    images = _coco_images(annotations)
    data = read_json(path)
    if not isinstance(data, list):
        raise fail(path, "expected a list of COCO keypoint results (an annotation file is not a results file)")
    entries = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not {"image_id", "keypoints"} <= item.keys():
            raise fail(path, f"entry {i} lacks 'image_id' or 'keypoints'")
        if not isinstance(item["image_id"], (int, str)) or item["image_id"] not in images:
            raise fail(path, f"entry {i}: image_id {item['image_id']!r} is not in {annotations}")
        kp = as_array(path, item["keypoints"], (NUM_JOINTS, 3), f"entry {i} 'keypoints'")
        score = item.get("score", float(np.mean(kp[:, 2])))
        entries.append((item["image_id"], float(score), kp))
    ids, poses = _best(entries)
    try:
        slots = [parse_image_name(images[i]) for i in ids]
    except ValueError as exc:
        raise fail(Path(annotations), f"'images': {exc}") from None
    return Detections(path, slots, coco_to_h36m(poses))


def _csv_columns(path: Path, header: list[str]) -> tuple[list[int], list[int] | None]:
    """Column indices of the x/y pairs (17 x 2) and of the scores (17, or None)."""
    index = {name: i for i, name in enumerate(header)}
    if len(index) != len(header):
        raise fail(path, "header repeats a column name")
    missing = [c for c in CSV_KEY_COLUMNS if c not in index]
    missing += [f"{j}_{a}" for j in JOINT_NAMES_17 for a in "xy" if f"{j}_{a}" not in index]
    if missing:
        raise fail(path, f"header lacks {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
    scores = [f"{j}_score" for j in JOINT_NAMES_17]
    present = [s for s in scores if s in index]
    if present and len(present) != len(scores):
        absent = [s for s in scores if s not in index]
        raise fail(path, f"has score columns for some joints only (missing {', '.join(absent)})")
    known = set(CSV_KEY_COLUMNS) | {f"{j}_{a}" for j in JOINT_NAMES_17 for a in ("x", "y", "score")}
    extra = [c for c in header if c not in known]
    if extra:
        raise fail(path, f"unknown column {', '.join(extra)}")
    xy = [index[f"{j}_{a}"] for j in JOINT_NAMES_17 for a in "xy"]
    return xy, ([index[s] for s in scores] if present else None)


def _csv_slot(row: list[str], key_at: list[int]) -> Slot:
    subject, action, camera, frame = (row[i].strip() for i in key_at)
    if not frame.isdigit() or int(frame) >= MAX_FRAME:
        raise ValueError(f"frame {frame!r} is not a 0-based frame number below {MAX_FRAME}")
    return Slot(subject, action_key(subject, action), camera_index(camera), int(frame))


def read_csv(path: Path, annotations: Path | None = None) -> Detections:
    """One row per (subject, action, camera, frame); see the module docstring."""
    path = existing(path, "file")
    if annotations is not None:
        raise fail(path, "the csv format takes no --annotations")
    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise fail(path, f"not readable as csv ({exc})") from None
    if not rows:
        raise fail(path, "is empty")
    header = [c.strip() for c in rows[0]]
    xy_at, score_at = _csv_columns(path, header)
    key_at = [header.index(c) for c in CSV_KEY_COLUMNS]
    slots, poses = [], np.ones((len(rows) - 1, NUM_JOINTS, 3))
    for n, row in enumerate(rows[1:]):
        try:
            if len(row) != len(header):
                raise ValueError(f"has {len(row)} fields, the header {len(header)}")
            slots.append(_csv_slot(row, key_at))
            poses[n, :, :2] = np.array([float(row[i]) for i in xy_at]).reshape(NUM_JOINTS, 2)
            if score_at is not None:
                poses[n, :, 2] = [float(row[i]) for i in score_at]
        except ValueError as exc:
            raise fail(path, f"line {n + 2}: {exc}") from None
    return Detections(path, slots, poses)


READERS: dict[str, Callable[[Path, Path | None], Detections]] = {
    "mmpose": read_mmpose,
    "coco": read_coco,
    "csv": read_csv,
}


def read_detections(fmt: str, path: Path, annotations: Path | None = None) -> Detections:
    """Read ``path`` in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in READERS:
        raise fail(Path(path), f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return READERS[fmt](Path(path), None if annotations is None else Path(annotations))
