"""Where a detection belongs (subject, action key, camera, frame) and the file helpers of the readers.

Image names follow mmpose's ``preprocess_h36m.py``: ``[dirs/]S1_Directions_1.54138969_000001.jpg``
= subject S1, sequence ``Directions 1`` (underscores are spaces), camera 54138969, **1-based**
frame 1 (stored as frame 0). Subjects and sequences are checked against the official table.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from pose3d.detections.load import DetectionsError
from pose3d.h36m.cameras import CAMERA_IDS, SUBJECTS_ALL
from pose3d.h36m.sequences import canonical_key, load_table

#: Frame numbers beyond this are typos, not detections (the longest video has 6,353 frames); it
#: keeps one bad row from allocating gigabytes of NaN rows.
MAX_FRAME = 50_000
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


def fail(path: Path, problem: str) -> DetectionsError:
    """The error for ``path``: its name first, then the problem."""
    return DetectionsError(f"{path}: {problem}")


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


def slots_of(path: Path, names: list[str], first: int = 0) -> list[Slot]:
    """Slots of image names, failing on the first unparseable one (naming ``path`` and the entry)."""
    slots = []
    for i, name in enumerate(names, start=first):
        try:
            slots.append(parse_image_name(str(name)))
        except ValueError as exc:
            raise fail(path, f"entry {i}: {exc}") from None
    return slots


def existing(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise fail(path, f"{what} does not exist")
    return path


def read_json(path: Path) -> object:
    try:
        return json.loads(existing(path, "file").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(path, f"not readable as json ({exc})") from None


def as_array(path: Path, value: object, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``value`` as a float array of ``shape``, or an error naming ``what``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise fail(path, f"{what} is not numeric") from None
    if arr.size != int(np.prod(shape)):
        raise fail(path, f"{what} has shape {arr.shape}, expected {shape}")
    return arr.reshape(shape)
