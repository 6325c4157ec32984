"""Random access to extracted crops: open one or more subject folders, get item i -> image + metadata.

The index is read once into memory (a subject has at most some tens of thousands of
rows); shards are memory-mapped lazily and the handles are cached, so an item costs a
slice (raw) or a slice plus a JPEG decode (jpeg). Safe to create in a data-loader worker
process; create it (or call :meth:`FrameShards.reopen`) after forking, not before.
"""
from __future__ import annotations

import csv
import json
from collections import OrderedDict
from pathlib import Path

import numpy as np

from pose3d.h36m.cameras import get_camera
from pose3d.video.crop import to_crop, to_video, undistort_points, video_camera, video_scale
from pose3d.video.shards import read_shard_item
from pose3d.video.subject import CAMERAS_FILE, INDEX_FILE, REPORT_FILE

_INT = {"camera_index", "frame", "video_width", "video_height", "row", "offset", "nbytes", "crop_left", "crop_top", "crop_side", "crop_size", "undistorted"}
_FLOAT = {"box_left", "box_top", "box_right", "box_bottom", "fx", "fy", "cx", "cy", "k1", "k2", "k3", "p1_vp3d", "p2_vp3d"}


def read_index(folder: Path | str) -> list[dict]:
    """The rows of a subject's ``index.csv`` with numbers parsed."""
    path = Path(folder) / INDEX_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no frame index here (run the frames stage for this subject)")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in _INT:
            r[k] = int(r[k])
        for k in _FLOAT:
            r[k] = float(r[k])
    return rows


def joints_to_crop(meta: dict, uv: np.ndarray) -> np.ndarray:
    """2D poses of the frame (..., 2), in pixels of the camera's image as ``convert`` writes them,
    -> pixels of the crop that ``meta`` (an index row) describes."""
    cam = get_camera(meta["subject"], meta["camera"])
    scale = video_scale(cam, meta["video_width"], meta["video_height"])
    uv = to_video(uv, scale)
    if meta["undistorted"]:
        uv = undistort_points(uv, video_camera(cam, scale, meta["video_width"], meta["video_height"]))
    return to_crop(uv, meta["crop_left"], meta["crop_top"], meta["crop_side"], meta["crop_size"])


class FrameShards:
    """Items of one or more ``data/processed/frames/<S>`` folders, in index order."""

    def __init__(self, folders: Path | str | list[Path | str], max_open: int = 64):
        folders = [folders] if isinstance(folders, (str, Path)) else list(folders)
        self.folders = [Path(f) for f in folders]
        self.rows: list[dict] = []
        self._folder_of: list[int] = []
        self._encoding: list[str] = []
        self._cameras: list[dict] = []
        for n, folder in enumerate(self.folders):
            report = json.loads((folder / REPORT_FILE).read_text())
            self._encoding.append(report["settings"]["encoding"])
            self._cameras.append(json.loads((folder / CAMERAS_FILE).read_text()))
            rows = read_index(folder)
            self.rows += rows
            self._folder_of += [n] * len(rows)
        self._lookup = {(r["subject"], r["key"], r["camera"], r["frame"]): i for i, r in enumerate(self.rows)}
        self._max_open = max_open
        self._open: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self.rows)

    def find(self, subject: str, key: str, camera: str, frame: int) -> int:
        """Item number of one crop; KeyError if that frame was not kept."""
        try:
            return self._lookup[(subject, key, str(camera), int(frame))]
        except KeyError:
            raise KeyError(f"no crop of {subject} {key!r} camera {camera} frame {frame} (not kept, or skipped)") from None

    def image(self, i: int) -> np.ndarray:
        """(S, S, 3) uint8 RGB crop of item ``i``."""
        r = self.rows[i]
        n = self._folder_of[i]
        return read_shard_item(self._shard(n, r["shard"]), self._encoding[n], r["row"], r["offset"], r["nbytes"])

    def __getitem__(self, i: int) -> tuple[np.ndarray, dict]:
        return self.image(i), self.meta(i)

    def meta(self, i: int) -> dict:
        """The index row plus the crop camera as arrays: ``K`` (3, 3), ``dist`` (k1, k2, k3, p1, p2 VideoPose3D
        order), ``R`` world->camera (3, 3) and ``t_mm`` (3,)."""
        r = dict(self.rows[i])
        cam = self._cameras[self._folder_of[i]][r["camera"]]
        r["K"] = np.array([[r["fx"], 0.0, r["cx"]], [0.0, r["fy"], r["cy"]], [0.0, 0.0, 1.0]])
        r["dist"] = np.array([r["k1"], r["k2"], r["k3"], r["p1_vp3d"], r["p2_vp3d"]])
        r["R"] = np.array(cam["r_world_to_cam"])
        r["t_mm"] = np.array(cam["t_world_to_cam_mm"])
        return r

    def reopen(self) -> None:
        """Drop cached memory maps (call in each data-loader worker after a fork)."""
        self._open.clear()

    def _shard(self, n: int, name: str) -> np.ndarray:
        key = (n, name)
        arr = self._open.get(key)
        if arr is None:
            path = self.folders[n] / name
            arr = np.load(path, mmap_mode="r")
            self._open[key] = arr
            if len(self._open) > self._max_open:
                self._open.popitem(last=False)
        else:
            self._open.move_to_end(key)
        return arr
