"""Other detectors' 2D outputs -> VideoPose3D's ``data_2d_h36m_<name>.npz`` (x, y, score).

The formats are read by :mod:`pose3d.detections.readers`. Every sequence becomes VideoPose3D's
list of 4 float32 (N, 17, 3) arrays in camera-index order, in pixels of the original image. N is the mocap length when the 3D poses are given
(detections past it are dropped; VideoPose3D truncates there too), else the last detected
frame + 1. Undetected frames are NaN rows; a camera without any detection in a sequence is
an empty (0, 17, 3) array, so that the loader reports it as missing instead of reading NaNs.
Bad input raises :class:`~pose3d.detections.load.DetectionsError` naming the file.
"""
from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.detections.load import save_2d, vp3d_metadata
from pose3d.detections.parsing import Detections, Slot, existing, fail
from pose3d.detections.readers import FORMATS, NUM_JOINTS, read_detections
from pose3d.h36m.cameras import CAMERA_IDS
from pose3d.h36m.vp3d_format import load_3d

__all__ = ["FORMATS", "Summary", "assemble", "import_detections", "metadata", "mocap_lengths"]

Positions2D = dict[str, dict[str, list[np.ndarray]]]


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


def mocap_lengths(path: Path) -> dict[str, dict[str, int]]:
    """{subject: {action: N}} of a ``data_3d_h36m.npz``."""
    path = existing(path, "3D poses file")
    try:
        positions = load_3d(path)
        return {s: {a: int(np.shape(v)[0]) for a, v in acts.items()} for s, acts in positions.items()}
    except (OSError, ValueError, KeyError, EOFError, TypeError, AttributeError, IndexError,
            zipfile.BadZipFile, pickle.UnpicklingError) as exc:
        raise fail(path, f"not a VideoPose3D data_3d_h36m.npz ({type(exc).__name__}: {exc})") from None


def _group(dets: Detections) -> dict[tuple[str, str], dict[int, tuple[np.ndarray, np.ndarray]]]:
    """{(subject, action): {camera: (frames, rows)}}, refusing two detections in one slot."""
    seen: dict[Slot, int] = {}
    for row, slot in enumerate(dets.slots):
        if slot in seen:
            raise fail(dets.source, f"entries {seen[slot]} and {row} are both {slot.subject}/{slot.action}/"
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
        raise fail(dets.source, "holds no detections")
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
    return vp3d_metadata(True, f"{fmt}:{Path(path).name}")


def import_detections(fmt: str, path: Path, out: Path, annotations: Path | None = None,
                      poses: Path | None = None) -> Summary:
    """Read, assemble and atomically write ``out``; nothing is written when the input is bad."""
    lengths = mocap_lengths(poses) if poses is not None else None
    dets = read_detections(fmt, path, annotations)
    positions, summary = assemble(dets, lengths)
    save_2d(Path(out), positions, metadata(fmt, path))
    return summary
