"""Reading a 2D file in VideoPose3D's format and checking it against the mocap, and writing one.

Ground truth and detections alike use VideoPose3D's ``data_2d_h36m_<source>.npz`` format (keys
``positions_2d`` and ``metadata``, nested dicts in 0-d object arrays). Arrays are (N, 17, 2)
pixels, or (N, 17, 3) with a confidence per joint (Detectron, mmpose and HRNet exports).
Detection arrays may be longer than the mocap (VideoPose3D's ``run.py`` truncates them to the
3D length); shorter ones, missing subjects, actions or cameras, and other joint layouts are
errors that name the file and what is missing.
"""
from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from pose3d.h36m.skeleton import H36M17
from pose3d.h36m.vp3d_format import load_2d
from pose3d.io.npz import write_npz

Positions2D = dict[str, dict[str, list[np.ndarray]]]


class DetectionsError(ValueError):
    """An imported detections file that cannot serve as 2D input; the message names the file."""


def listing(items: list[str], limit: int = 8) -> str:
    """The first ``limit`` items, then how many more: error messages stay one readable line."""
    head = ", ".join(items[:limit])
    return head + (f" and {len(items) - limit} more" if len(items) > limit else "")


def load_detections(path: Path, frames: Mapping[str, Mapping[str, int]], num_cameras: int = 4) -> Positions2D:
    """Detections covering ``frames`` ({subject: {action: pose frames}}), truncated to those lengths.

    Only the requested subjects and actions are returned, each as ``num_cameras`` float32
    arrays (N, 17, C) in pixels (C = 3 when the file has scores; every array of a file has the
    same C); anything missing or malformed raises DetectionsError.
    """
    path = Path(path)
    if not path.is_file():
        raise DetectionsError(f"{path}: detections file does not exist")
    try:
        positions, metadata = load_2d(path)
    except (OSError, ValueError, KeyError, EOFError, TypeError, AttributeError, zipfile.BadZipFile,
            pickle.UnpicklingError) as exc:
        raise DetectionsError(
            f"{path}: not a VideoPose3D 2D file with 'positions_2d' and 'metadata' ({type(exc).__name__}: {exc})"
        ) from None
    layout = (metadata or {}).get("layout_name", "h36m")
    if layout != "h36m" or (metadata or {}).get("num_joints", H36M17.num_joints) != H36M17.num_joints:
        raise DetectionsError(
            f"{path}: joint layout {layout!r} with {metadata.get('num_joints')} joints; "
            f"the Human3.6M 17-joint layout is needed"
        )
    missing_s = [s for s in frames if s not in positions]
    if missing_s:
        raise DetectionsError(f"{path}: has no subject {listing(missing_s)} (file has {listing(sorted(positions))})")
    missing_a = [f"{s}/{a}" for s, acts in frames.items() for a in acts if a not in positions[s]]
    if missing_a:
        raise DetectionsError(f"{path}: has no action {listing(missing_a)}")
    out: Positions2D = {}
    problems, widths = [], set()
    for s, acts in frames.items():
        out[s] = {}
        for a, n in acts.items():
            views = positions[s][a]
            if len(views) < num_cameras:
                problems.append(f"{s}/{a} has {len(views)} cameras, not {num_cameras}")
                continue
            kept = []
            for cam, v in enumerate(views[:num_cameras]):
                v = np.asarray(v)
                if v.ndim != 3 or v.shape[1] != H36M17.num_joints or v.shape[2] not in (2, 3):
                    problems.append(f"{s}/{a} camera {cam} has shape {v.shape}, expected (N, 17, 2) or (N, 17, 3)")
                elif v.shape[0] < n:
                    problems.append(f"{s}/{a} camera {cam} has {v.shape[0]} frames, fewer than the {n} pose frames")
                else:
                    kept.append(v[:n].astype(np.float32, copy=False))
                    widths.add(v.shape[2])
            out[s][a] = kept
    if problems:
        raise DetectionsError(f"{path}: {listing(problems, 5)}")
    if len(widths) > 1:
        raise DetectionsError(f"{path}: some arrays have scores (N, 17, 3) and some do not (N, 17, 2)")
    return out


def vp3d_metadata(scores: bool, source: str) -> dict:
    """``metadata`` of a written 2D file: VideoPose3D's 17-joint keys, whether it has scores, where it came from."""
    return {"layout_name": "h36m", "num_joints": H36M17.num_joints,
            "keypoints_symmetry": [list(H36M17.joints_left), list(H36M17.joints_right)],
            "scores": scores, "source": source}


def save_2d(path: Path, positions: Mapping, metadata: Mapping) -> None:
    """Write ``positions`` and ``metadata`` in the layout :func:`load_2d` (and VideoPose3D) reads.

    Same arrays, same bytes (fixed zip dates); written atomically.
    """
    box, meta = np.empty((), dtype=object), np.empty((), dtype=object)
    box[()], meta[()] = dict(positions), dict(metadata)
    write_npz(path, {"positions_2d": box, "metadata": meta})


def frame_counts(
    positions_3d: Mapping[str, Mapping[str, np.ndarray]], subjects: list[str] | None = None
) -> dict[str, dict[str, int]]:
    """{subject: {action: N}} of a ``positions_3d`` dict (optionally only ``subjects``)."""
    subjects = list(positions_3d) if subjects is None else subjects
    return {s: {a: int(arr.shape[0]) for a, arr in positions_3d[s].items()} for s in subjects}
