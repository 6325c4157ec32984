"""All videos of one subject: plan the jobs, run them in parallel, write the index and the report.

Videos are found through the official sequence table (``<Seq>.<camera>.mp4``), matched to
the VideoPose3D action keys of the 2D poses; the views that ``convert`` excluded (read from
its ``sequences.csv``) are not extracted. Output folder of a subject::

    shards/<key>.<camera>.npy   one per video (see pose3d.video.shards)
    index.csv                   one row per crop: where it is and the camera of the crop
    videos.csv                  one row per (sequence, camera): ok | cut | skipped | missing | excluded, and why
    cameras.json                the subject's four original cameras (extrinsics for the crop cameras)
    report.json                 settings, counts, decoder versions, every problem
"""
from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict
from pathlib import Path

import av
import numpy as np

from pose3d.h36m.cameras import CAMERA_IDS, subject_cameras
from pose3d.io.atomic import replacing, write_bytes
from pose3d.h36m.layout import bbox_path, video_path
from pose3d.h36m.sequences import subject_sequences
from pose3d.h36m.sequences_csv import Exclusions
from pose3d.parallel import pmap
from pose3d.video.extract import FrameSettings, VideoJob, VideoResult, extract_video, shard_name

log = logging.getLogger(__name__)

INDEX_FILE, VIDEOS_FILE, REPORT_FILE, CAMERAS_FILE = "index.csv", "videos.csv", "report.json", "cameras.json"
SPLITS: tuple[str, ...] = ("train", "test")


class FramesError(Exception):
    """The subject cannot be extracted at all (no videos, poses absent, ...)."""


def plan_subject(
    raw_dir: Path, subject: str, poses_2d: dict[str, list[np.ndarray]], split: str, settings: FrameSettings,
    out_dir: Path, exclusions: Exclusions | None = None, provided: set[str] | None = None,
) -> tuple[list[VideoJob], list[VideoResult]]:
    """Jobs for the videos to extract, and results for the views that are not (missing, excluded, ...).

    ``provided``: names ``<Seq>.<camera>`` of the videos the source is meant to contain
    (the synthetic stand-in renders a selection); None for the official archive (all).
    ``exclusions``: what convert excluded (``read_exclusions``); None: nothing.
    """
    exclusions = exclusions or Exclusions()
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    given, raw_abs, out_abs = Path(raw_dir), Path(raw_dir).resolve(), Path(out_dir).resolve()  # absolute: Dask workers
    every = settings.test_every_n if split == "test" else settings.every_n
    seqs = {q.key: q for q in subject_sequences(subject)}
    unknown = sorted(set(poses_2d) - set(seqs))
    if unknown:
        raise FramesError(f"{subject}: pose keys {unknown} are not sequences of the official table")
    jobs: list[VideoJob] = []
    others: list[VideoResult] = []
    for key, seq in seqs.items():
        if key not in poses_2d:
            continue  # dropped by convert (a whole-sequence exclusion rule)
        views = poses_2d[key]
        if len(views) != len(CAMERA_IDS):
            raise FramesError(f"{subject}/{key}: 2D poses have {len(views)} views, expected {len(CAMERA_IDS)}")
        dropped = exclusions.of(subject, key)
        for ci, cam in enumerate(CAMERA_IDS):
            uv = np.asarray(views[ci])
            label = video_path(given, subject, seq, cam)
            base = VideoResult(subject, key, seq.file_base, cam, split, str(label), "", n_pose=len(uv))
            if ci in dropped:
                why = exclusions.reason(subject, key) or "no reason recorded"
                base.status, base.problems = "excluded", [f"excluded by dataset.exclude: {why}"]
                others.append(base)
                continue
            if provided is not None and f"{seq.file_base}.{cam}" not in provided:
                base.status = "not_provided"  # not rendered by the stand-in: nothing is wrong
                others.append(base)
                continue
            if not video_path(raw_abs, subject, seq, cam).is_file():
                base.status, base.problems = "missing", [f"{label}: video file is absent"]
                others.append(base)
                continue
            frames = np.arange(0, len(uv), every, dtype=np.int64)
            name = shard_name(key, cam)
            jobs.append(VideoJob(
                subject, key, seq.file_base, cam, split,
                str(video_path(raw_abs, subject, seq, cam)), str(bbox_path(raw_abs, subject, seq, cam)), str(out_abs / name),
                str(label), str(bbox_path(given, subject, seq, cam)), name,
                frames, np.ascontiguousarray(uv[frames], dtype=np.float64), len(uv), settings,
            ))
    return jobs, others


def extract_subject(
    raw_dir: Path, subject: str, poses_2d: dict[str, list[np.ndarray]], split: str, settings: FrameSettings,
    out_dir: Path, exclusions: Exclusions | None = None, provided: set[str] | None = None,
    workers: int | None = None, dask_address: str | None = None,
) -> dict:
    """Extract every video of ``subject`` into ``out_dir``; returns the report (also written as report.json).

    Raises FramesError when there is nothing to extract from (no Videos folder, no video at all).
    """
    out_dir = Path(out_dir)
    videos_dir = Path(raw_dir) / subject / "Videos"
    if not videos_dir.is_dir():
        raise FramesError(f"{videos_dir}: folder is missing (extract Videos_{subject}.tgz into {raw_dir})")
    jobs, others = plan_subject(raw_dir, subject, poses_2d, split, settings, out_dir, exclusions, provided)
    if not jobs:
        raise FramesError(f"{videos_dir}: none of the videos of {subject}'s {len(others)} pose views is there")
    done = pmap(extract_video, jobs, workers=workers, dask_address=dask_address, desc=f"frames {subject}",
                weights=[j.n_pose for j in jobs])
    results = _table_order(subject, done + others)
    for r in results:
        for p in r.problems:
            (log.info if r.status == "excluded" else log.warning)("%s %s %s [%s]: %s", subject, r.key, r.camera_id, r.status, p)
    write_tables(out_dir, results)
    _write_json(out_dir / CAMERAS_FILE, {c.camera_id: c.to_json() for c in subject_cameras(subject)})
    report = _report(subject, split, settings, results, videos_dir)
    _write_json(out_dir / REPORT_FILE, report)
    return report


def _table_order(subject: str, results: list[VideoResult]) -> list[VideoResult]:
    keys = [q.key for q in subject_sequences(subject)]
    return sorted(results, key=lambda r: (keys.index(r.key), CAMERA_IDS.index(r.camera_id)))


def write_tables(out_dir: Path, results: list[VideoResult]) -> None:
    """index.csv (crops, row order = item order) and videos.csv (every view, with its status)."""
    rows = [row for r in results for row in r.rows]
    _write_csv(out_dir / INDEX_FILE, rows, INDEX_COLUMNS)
    summaries = [r.summary() for r in results]
    _write_csv(out_dir / VIDEOS_FILE, summaries, list(summaries[0]) if summaries else [])


INDEX_COLUMNS: list[str] = [
    "subject", "key", "file_base", "camera", "camera_index", "frame", "split", "video_width", "video_height", "shard", "row", "offset", "nbytes",
    "box_source", "box_left", "box_top", "box_right", "box_bottom", "crop_left", "crop_top", "crop_side",
    "crop_size", "undistorted", "fx", "fy", "cx", "cy", "k1", "k2", "k3", "p1_vp3d", "p2_vp3d",
]


def _write_json(path: Path, data: dict) -> None:
    write_bytes(path, (json.dumps(data, indent=1) + "\n").encode())


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with replacing(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        for row in rows:  # floats as repr: the shortest text that reads back to the same double
            w.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})


def _report(subject: str, split: str, settings: FrameSettings, results: list[VideoResult], videos_dir: Path) -> dict:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    used = {Path(r.video).name for r in results}
    unused = sorted(p.name for p in videos_dir.glob("*.mp4") if p.name not in used)
    return {
        "subject": subject,
        "split": split,
        "every_n": settings.test_every_n if split == "test" else settings.every_n,
        "settings": asdict(settings),
        "crops": sum(r.kept for r in results),
        "crops_planned": sum(r.planned for r in results),
        "videos": counts,
        "problems": [
            {"key": r.key, "camera": r.camera_id, "status": r.status, "problems": r.problems}
            for r in results if r.problems
        ],
        "videos_without_poses": unused,  # e.g. the `_ALL` recordings, or sequences dropped by convert
        "decoder": {"pyav": av.__version__, **{k: ".".join(map(str, v)) for k, v in av.library_versions.items()}},
        "conventions": {
            "pixels": "pixel centres at integer coordinates; crop u' = (u - crop_left + 0.5) * crop_size / crop_side - 0.5",
            "boxes": "box_* and crop_* in pixels of the video frame (of the undistorted frame when undistorted=1); "
                     "a video smaller than its camera's image is that image resized: x_video = (u + 0.5) * sx - 0.5",
            "camera": "crop camera = fx, fy, cx, cy + distortion k1, k2, k3, p1_vp3d, p2_vp3d (zero when undistorted); "
                      "extrinsics unchanged, in cameras.json",
        },
    }
