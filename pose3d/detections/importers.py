"""Other detectors' 2D outputs -> VideoPose3D's ``data_2d_h36m_<name>.npz`` (x, y, score).

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

Every sequence becomes VideoPose3D's list of 4 float32 (N, 17, 3) arrays in camera-index
order, in pixels of the original image. N is the mocap length when the 3D poses are given
(detections past it are dropped; VideoPose3D truncates there too), else the last detected
frame + 1. Undetected frames are NaN rows; a camera without any detection in a sequence is
an empty (0, 17, 3) array, so that the loader reports it as missing instead of reading NaNs.
Bad input raises :class:`~pose3d.detections.load.DetectionsError` naming the file.
"""
from __future__ import annotations

import csv
import json
import pickle
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from pose3d.detections.coco import coco_to_h36m
from pose3d.detections.load import DetectionsError, save_2d
from pose3d.h36m.cameras import CAMERA_IDS, SUBJECTS_ALL
from pose3d.h36m.sequences import canonical_key, load_table
from pose3d.h36m.skeleton import H36M17, JOINT_NAMES_17
from pose3d.h36m.vp3d_format import load_3d

FORMATS: tuple[str, ...] = ("mmpose", "coco", "csv")
NUM_JOINTS = H36M17.num_joints
#: Keys of an mmpose result json entry that may hold the image path, in order of preference.
IMAGE_KEYS: tuple[str, ...] = ("img_path", "image_name", "imgname")
CSV_KEY_COLUMNS: tuple[str, ...] = ("subject", "action", "camera", "frame")
#: Frame numbers beyond this are typos, not detections (the longest video has 6,353 frames); it
#: keeps one bad row from allocating gigabytes of NaN rows.
MAX_FRAME = 50_000

Positions2D = dict[str, dict[str, list[np.ndarray]]]
_IMAGE_NAME = re.compile(r"^(S\d+)_(.+)\.(\d+)_(\d+)\.[A-Za-z]+$")


class Slot(NamedTuple):
    """Where one detection belongs: subject, VideoPose3D action key, camera index, 0-based frame."""

    subject: str
    action: str
    camera: int
    frame: int


@dataclass
class Detections:
    """Poses (M, 17, 3) (x, y, score; Human3.6M-17) and the slot of each row, read from ``source``."""

    source: Path
    slots: list[Slot]
    poses: np.ndarray


@dataclass
class Summary:
    """What an import wrote, for the one-line report."""

    subjects: int = 0
    sequences: int = 0
    frames: int = 0  # rows of the non-empty camera arrays
    missing: int = 0  # of those, rows without a detection (NaN)
    empty_views: int = 0  # (sequence, camera) pairs without any detection
    dropped: int = 0  # detections past the mocap length

    def line(self, path: Path) -> str:
        text = (f"{path}: {self.subjects} subjects, {self.sequences} sequences, {self.frames} frames, "
                f"{self.missing} frames missing, {self.empty_views} camera views empty")
        return text + (f", {self.dropped} detections past the mocap dropped" if self.dropped else "")


def _fail(path: Path, problem: str) -> DetectionsError:
    return DetectionsError(f"{path}: {problem}")


# --- names -------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _subject_keys(subject: str) -> frozenset[str]:
    """VideoPose3D action keys of a subject's recorded actions (no ``_ALL``)."""
    return frozenset(s.key for s in load_table() if s.subject == subject and s.is_action)


def action_key(subject: str, sequence: str) -> str:
    """VideoPose3D key of ``sequence`` (archive name or key); ValueError if the subject has no such action."""
    if subject not in SUBJECTS_ALL:
        raise ValueError(f"unknown subject {subject!r}")
    key = canonical_key(sequence.strip())
    if key not in _subject_keys(subject):
        raise ValueError(f"{subject} has no sequence {sequence!r}")
    return key


def camera_index(camera: str) -> int:
    """Camera index from an index 0..3 or a camera id."""
    camera = camera.strip()
    if camera in CAMERA_IDS:
        return CAMERA_IDS.index(camera)
    if camera.isdigit() and int(camera) < len(CAMERA_IDS):
        return int(camera)
    raise ValueError(f"camera {camera!r} is neither an index 0..{len(CAMERA_IDS) - 1} "
                     f"nor one of {', '.join(CAMERA_IDS)}")


@lru_cache(maxsize=4096)
def _parse_video(subject: str, sequence: str, camera: str) -> tuple[str, str, int]:
    if camera not in CAMERA_IDS:
        raise ValueError(f"unknown camera id {camera!r}")
    return subject, action_key(subject, sequence.replace("_", " ")), CAMERA_IDS.index(camera)


def parse_image_name(name: str) -> Slot:
    """Slot of an mmpose/COCO image path ``[dirs/]S1_Directions_1.54138969_000001.jpg`` (1-based frame)."""
    match = _IMAGE_NAME.match(name.replace("\\", "/").rsplit("/", 1)[-1])
    if match is None:
        raise ValueError(f"image name {name!r} is not <S>_<sequence>.<camera id>_<frame>.<ext>")
    subject, sequence, camera, frame = match.groups()
    if not 1 <= int(frame) <= MAX_FRAME:
        raise ValueError(f"image name {name!r} has frame {frame}; frames are numbered from 1 to at most {MAX_FRAME}")
    return Slot(*_parse_video(subject, sequence, camera), int(frame) - 1)


def _slots(path: Path, names: list[str], first: int = 0) -> list[Slot]:
    """Slots of image names, failing on the first unparseable one (naming ``path`` and the entry)."""
    slots = []
    for i, name in enumerate(names, start=first):
        try:
            slots.append(parse_image_name(str(name)))
        except ValueError as exc:
            raise _fail(path, f"entry {i}: {exc}") from None
    return slots


# --- files ---------------------------------------------------------------------------------


def _existing(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise _fail(path, f"{what} does not exist")
    return path


def _read_json(path: Path) -> object:
    try:
        return json.loads(_existing(path, "file").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"not readable as json ({exc})") from None


def _array(path: Path, value: object, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``value`` as a float array of ``shape``, or an error naming ``what``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _fail(path, f"{what} is not numeric") from None
    if arr.size != int(np.prod(shape)):
        raise _fail(path, f"{what} has shape {arr.shape}, expected {shape}")
    return arr.reshape(shape)


# --- readers -------------------------------------------------------------------------------


def _mmpose_imgnames(path: Path) -> list[str]:
    path = _existing(path, "mmpose annotation npz")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise _fail(path, f"not an mmpose annotation npz ({exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise _fail(path, "is a single array, not an mmpose annotation npz with 'imgname'")
    with data:
        if "imgname" not in data.files:
            raise _fail(path, f"has no 'imgname' array (keys: {', '.join(data.files)})")
        try:
            return [str(n) for n in data["imgname"]]
        except ValueError as exc:  # e.g. an object array, which allow_pickle=False refuses
            raise _fail(path, f"'imgname' is not readable ({exc})") from None


def read_mmpose_npy(path: Path, annotations: Path | None) -> Detections:
    """mmpose ``joint_2d_det_file``: rows (x, y, score) aligned with the annotation's ``imgname``."""
    path = _existing(path, "file")
    if annotations is None:
        raise _fail(path, "a .npy of mmpose detections needs its annotation npz (--annotations)")
    names = _mmpose_imgnames(annotations)
    try:
        poses = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise _fail(path, f"not a numpy array file ({exc})") from None
    if poses.ndim != 3 or poses.shape[1:] != (NUM_JOINTS, 3):
        raise _fail(path, f"array has shape {poses.shape}, expected (N, {NUM_JOINTS}, 3) of x, y, score")
    if len(poses) != len(names):
        raise _fail(path, f"has {len(poses)} rows but {annotations} lists {len(names)} images")
    return Detections(path, _slots(Path(annotations), names), poses.astype(np.float64))


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
    data = _read_json(path)
    if not isinstance(data, list):
        raise _fail(path, "expected a list of mmpose results")
    entries = []
    for i, item in enumerate(data):
        image = next((item[k] for k in IMAGE_KEYS if isinstance(item, dict) and k in item), None)
        if image is None or "keypoints" not in item or "keypoint_scores" not in item:
            raise _fail(path, f"entry {i} lacks an image path ({'/'.join(IMAGE_KEYS)}), "
                              "'keypoints' or 'keypoint_scores'")
        xy = _array(path, item["keypoints"], (NUM_JOINTS, 2), f"entry {i} 'keypoints'")
        scores = _array(path, item["keypoint_scores"], (NUM_JOINTS,), f"entry {i} 'keypoint_scores'")
        slot = _slots(path, [str(image)], first=i)[0]
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
    raise _fail(path, "mmpose detections must be a .npy (with --annotations) or a .json result file")


def _coco_images(path: Path) -> dict[object, str]:
    data = _read_json(_existing(path, "COCO annotations json"))
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list) or not all(isinstance(im, dict) and {"id", "file_name"} <= im.keys()
                                               for im in images):
        raise _fail(path, "has no 'images' list of {id, file_name}")
    return {im["id"]: im["file_name"] for im in images}


def read_coco(path: Path, annotations: Path | None) -> Detections:
    """COCO keypoint results (COCO-17 order) named through the annotations' ``images``."""
    path = _existing(path, "file")
    if annotations is None:
        raise _fail(path, "COCO results need the COCO json with their 'images' (--annotations)")
    images = _coco_images(annotations)
    data = _read_json(path)
    if not isinstance(data, list):
        raise _fail(path, "expected a list of COCO keypoint results (an annotation file is not a results file)")
    entries = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not {"image_id", "keypoints"} <= item.keys():
            raise _fail(path, f"entry {i} lacks 'image_id' or 'keypoints'")
        if not isinstance(item["image_id"], (int, str)) or item["image_id"] not in images:
            raise _fail(path, f"entry {i}: image_id {item['image_id']!r} is not in {annotations}")
        kp = _array(path, item["keypoints"], (NUM_JOINTS, 3), f"entry {i} 'keypoints'")
        score = item.get("score", float(np.mean(kp[:, 2])))
        entries.append((item["image_id"], float(score), kp))
    ids, poses = _best(entries)
    try:
        slots = [parse_image_name(images[i]) for i in ids]
    except ValueError as exc:
        raise _fail(Path(annotations), f"'images': {exc}") from None
    return Detections(path, slots, coco_to_h36m(poses))


def _csv_columns(path: Path, header: list[str]) -> tuple[list[int], list[int] | None]:
    """Column indices of the x/y pairs (17 x 2) and of the scores (17, or None)."""
    index = {name: i for i, name in enumerate(header)}
    if len(index) != len(header):
        raise _fail(path, "header repeats a column name")
    missing = [c for c in CSV_KEY_COLUMNS if c not in index]
    missing += [f"{j}_{a}" for j in JOINT_NAMES_17 for a in "xy" if f"{j}_{a}" not in index]
    if missing:
        raise _fail(path, f"header lacks {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
    scores = [f"{j}_score" for j in JOINT_NAMES_17]
    present = [s for s in scores if s in index]
    if present and len(present) != len(scores):
        absent = [s for s in scores if s not in index]
        raise _fail(path, f"has score columns for some joints only (missing {', '.join(absent)})")
    known = set(CSV_KEY_COLUMNS) | {f"{j}_{a}" for j in JOINT_NAMES_17 for a in ("x", "y", "score")}
    extra = [c for c in header if c not in known]
    if extra:
        raise _fail(path, f"unknown column {', '.join(extra)}")
    xy = [index[f"{j}_{a}"] for j in JOINT_NAMES_17 for a in "xy"]
    return xy, ([index[s] for s in scores] if present else None)


def _csv_slot(row: list[str], key_at: list[int]) -> Slot:
    subject, action, camera, frame = (row[i].strip() for i in key_at)
    if not frame.isdigit() or int(frame) >= MAX_FRAME:
        raise ValueError(f"frame {frame!r} is not a 0-based frame number below {MAX_FRAME}")
    return Slot(subject, action_key(subject, action), camera_index(camera), int(frame))


def read_csv(path: Path, annotations: Path | None = None) -> Detections:
    """One row per (subject, action, camera, frame); see the module docstring."""
    path = _existing(path, "file")
    if annotations is not None:
        raise _fail(path, "the csv format takes no --annotations")
    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _fail(path, f"not readable as csv ({exc})") from None
    if not rows:
        raise _fail(path, "is empty")
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
            raise _fail(path, f"line {n + 2}: {exc}") from None
    return Detections(path, slots, poses)


READERS: dict[str, Callable[[Path, Path | None], Detections]] = {
    "mmpose": read_mmpose,
    "coco": read_coco,
    "csv": read_csv,
}


def read_detections(fmt: str, path: Path, annotations: Path | None = None) -> Detections:
    """Read ``path`` in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in READERS:
        raise _fail(Path(path), f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return READERS[fmt](Path(path), None if annotations is None else Path(annotations))


# --- assembly and writing ------------------------------------------------------------------


def mocap_lengths(path: Path) -> dict[str, dict[str, int]]:
    """{subject: {action: N}} of a ``data_3d_h36m.npz``."""
    path = _existing(path, "3D poses file")
    try:
        positions = load_3d(path)
        return {s: {a: int(np.shape(v)[0]) for a, v in acts.items()} for s, acts in positions.items()}
    except (OSError, ValueError, KeyError, EOFError, TypeError, AttributeError, IndexError,
            zipfile.BadZipFile, pickle.UnpicklingError) as exc:
        raise _fail(path, f"not a VideoPose3D data_3d_h36m.npz ({type(exc).__name__}: {exc})") from None


def _group(dets: Detections) -> dict[tuple[str, str], dict[int, tuple[np.ndarray, np.ndarray]]]:
    """{(subject, action): {camera: (frames, rows)}}, refusing two detections in one slot."""
    seen: dict[Slot, int] = {}
    for row, slot in enumerate(dets.slots):
        if slot in seen:
            raise _fail(dets.source, f"entries {seen[slot]} and {row} are both {slot.subject}/{slot.action}/"
                                     f"camera {slot.camera}/frame {slot.frame}")
        seen[slot] = row
    groups: dict[tuple[str, str], dict[int, list[tuple[int, int]]]] = {}
    for slot, row in seen.items():
        groups.setdefault((slot.subject, slot.action), {}).setdefault(slot.camera, []).append((slot.frame, row))
    return {seq: {cam: _frames_rows(pairs) for cam, pairs in cams.items()} for seq, cams in groups.items()}


def _frames_rows(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    frames, rows = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    return frames, rows


def assemble(dets: Detections, lengths: Mapping[str, Mapping[str, int]] | None = None
             ) -> tuple[Positions2D, Summary]:
    """VideoPose3D's ``positions_2d`` of ``dets``; sequence lengths from ``lengths`` where it has them."""
    if not dets.slots:
        raise _fail(dets.source, "holds no detections")
    summary, positions = Summary(), {}
    for (subject, action), cams in sorted(_group(dets).items()):
        n = (lengths or {}).get(subject, {}).get(action)
        if n is None:
            n = 1 + max(int(frames.max()) for frames, _ in cams.values())
        views = []
        for cam in range(len(CAMERA_IDS)):
            if cam not in cams:
                views.append(np.empty((0, NUM_JOINTS, 3), np.float32))
                summary.empty_views += 1
                continue
            frames, rows = cams[cam]
            keep = frames < n
            summary.dropped += int((~keep).sum())
            view = np.full((n, NUM_JOINTS, 3), np.nan, np.float32)
            view[frames[keep]] = dets.poses[rows[keep]]
            summary.frames += n
            summary.missing += n - int(keep.sum())
            views.append(view)
        positions.setdefault(subject, {})[action] = views
        summary.sequences += 1
    summary.subjects = len(positions)
    return positions, summary


def metadata(fmt: str, path: Path) -> dict:
    """``metadata`` of the written file: Human3.6M-17 layout with scores, and where it came from."""
    return {
        "layout_name": "h36m",
        "num_joints": NUM_JOINTS,
        "keypoints_symmetry": [list(H36M17.joints_left), list(H36M17.joints_right)],
        "scores": True,
        "source": f"{fmt}:{Path(path).name}",
    }


def import_detections(fmt: str, path: Path, out: Path, annotations: Path | None = None,
                      poses: Path | None = None) -> Summary:
    """Read, assemble and atomically write ``out``; nothing is written when the input is bad."""
    lengths = mocap_lengths(poses) if poses is not None else None
    dets = read_detections(fmt, path, annotations)
    positions, summary = assemble(dets, lengths)
    save_2d(Path(out), positions, metadata(fmt, path))
    return summary
