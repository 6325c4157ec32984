"""Full-size frames for the seeds that read images, made from the crops ``frames`` already decoded.

The seeds' loaders read whole frames named after the video frame and crop them with the
original camera (learnable-triangulation, Integral, mmpose). ``frames`` keeps square crops
around the person instead, in per-video shards. An exported image is the camera's full
image size with the crop put back where it was taken (resampled from the crop's pixels to
the camera's) and black elsewhere: projected joints land on the same pixels as in the
original frame, and no video is decoded again. learnable-triangulation's box (the ground-truth
box, ``scale_bbox: 1.0``) lies inside the kept square; Integral's 2000 mm box around the pelvis
is usually wider and sees black at its edges, as near an image border; ``frames.margin``
widens the square. The region's sharpness is the crop's (``frames.crop`` pixels across the
square); the synthetic stand-in's videos are rendered at a fraction of the camera's
resolution and come out at the camera's size the same way.
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.geometry.camera import Camera
from pose3d.h36m.cameras import get_camera
from pose3d.parallel import pmap
from pose3d.video.crop import resample, resample_taps, video_scale
from pose3d.video.jpeg import JpegEncoder
from pose3d.video.reader import FrameShards
from pose3d.video.subject import REPORT_FILE

#: a row of a ``frames`` index (pose3d.video.reader.read_index) -> path under the export root, or None: not exported
NameOf = Callable[[dict], "str | None"]


@dataclass(frozen=True)
class ImageStats:
    images: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def __add__(self, other: ImageStats) -> ImageStats:
        return ImageStats(self.images + other.images, self.bytes + other.bytes, self.seconds + other.seconds)


def crop_region(row: dict, camera: Camera) -> tuple[float, float, float]:
    """(left, top, side) of the crop's square in the camera's pixels, pixel-edge units
    (the square covers ``[left, left + side) x [top, top + side)``)."""
    sx, sy = video_scale(camera, row["video_width"], row["video_height"])
    return row["crop_left"] / sx, row["crop_top"] / sy, row["crop_side"] / sx


def _taps(start_edge: float, side: float, crop_size: int, limit: int) -> tuple[int, tuple[np.ndarray, np.ndarray]] | None:
    """First camera pixel and the 1-D taps from crop pixels for the camera pixels the square covers."""
    first = max(0, math.ceil(start_edge - 0.5))
    last = min(limit - 1, math.ceil(start_edge + side - 0.5) - 1)
    if last < first:
        return None
    n = last - first + 1
    k = side / crop_size  # camera pixels per crop pixel
    # camera pixel u samples crop x = (u + 0.5 - start_edge) / k - 0.5: resample_taps' x = start + (j + 0.5) / s - 0.5
    return first, resample_taps((first - start_edge) / k, n / k, n, crop_size)


def full_frame(crop: np.ndarray, row: dict, camera: Camera) -> np.ndarray:
    """(H, W, 3) uint8 image of the camera's size: the crop where it was taken, black elsewhere."""
    out = np.zeros((camera.height_px, camera.width_px, 3), dtype=np.uint8)
    left, top, side = crop_region(row, camera)
    size = crop.shape[0]
    rows, cols = _taps(top, side, size, camera.height_px), _taps(left, side, size, camera.width_px)
    if rows is None or cols is None:
        return out
    (r0, rt), (c0, ct) = rows, cols
    out[r0:r0 + len(rt[0]), c0:c0 + len(ct[0])] = resample(crop, rt, ct)
    return out


@dataclass(frozen=True)
class _Job:
    folder: str
    items: tuple[int, ...]
    names: tuple[str, ...]
    out_root: str
    qscale: int


def _write_video(job: _Job) -> ImageStats:
    t0 = time.perf_counter()
    shards = FrameShards(job.folder)
    encoder, camera, nbytes = None, None, 0
    for i, name in zip(job.items, job.names):
        crop, row = shards[i]
        if camera is None:
            camera = get_camera(row["subject"], row["camera"])
            encoder = JpegEncoder(camera.width_px, camera.height_px, job.qscale)
        data = encoder.encode(full_frame(crop, row, camera))
        path = Path(job.out_root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        nbytes += len(data)
    return ImageStats(len(job.items), nbytes, time.perf_counter() - t0)


def undistorted(folders: list[Path]) -> bool:
    """Whether ``frames`` cropped from undistorted frames (``frames.undistort``): such images suit only
    seeds that read undistorted images (learnable-triangulation), not the distorted 2D of the others."""
    return any(json.loads((Path(f) / REPORT_FILE).read_text())["settings"].get("undistort", False) for f in folders)


def export_images(folders: list[Path], out_root: Path, name_of: NameOf, qscale: int = 3,
                  workers: int | None = None) -> ImageStats:
    """Write one JPEG per kept crop that ``name_of`` names, one job per video, in parallel."""
    jobs = []
    for folder in folders:
        shards = FrameShards(folder)
        per_video: dict[str, tuple[list[int], list[str]]] = {}
        for i, row in enumerate(shards.rows):
            name = name_of(row)
            if name is not None:
                items, names = per_video.setdefault(row["shard"], ([], []))
                items.append(i)
                names.append(name)
        jobs += [_Job(str(folder), tuple(items), tuple(names), str(out_root), int(qscale))
                 for items, names in per_video.values()]
    results = pmap(_write_video, jobs, workers=workers, desc="images" if len(jobs) > 1 else "",
                   weights=[len(j.items) for j in jobs])
    return sum(results, ImageStats())
