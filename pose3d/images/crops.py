"""The frames stage's crops as examples: each kept crop with its joints in crop pixels and in 3D.

The 2D joints come from ``convert``'s ground truth (original-image pixels) moved into each crop
exactly as the frames stage cut it (:func:`pose3d.video.reader.joints_to_crop`); the 3D joints are
the mocap's world joints in the crop's camera frame (millimetres). Every crop also keeps what maps
its pixels back to the original image and the size of its person box, so that errors can be
reported in original-image pixels and as PCK of the box.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.geometry.camera import Camera
from pose3d.geometry.projection import undistort_pixels, world_to_camera
from pose3d.h36m.cameras import get_camera
from pose3d.h36m.sequences import action_group
from pose3d.h36m.skeleton import to_17
from pose3d.h36m.vp3d_format import load_2d, load_3d
from pose3d.video.crop import video_scale
from pose3d.video.reader import FrameShards, joints_to_crop

#: the frames stage's output and convert's ground truth
FRAMES_DIR = Path("data/processed/frames")
POSES_DIR = Path("data/processed/poses")


def take_rows(table, index, per_view: tuple[str, ...] = (), views=None):
    """A table dataclass with the rows ``index`` (mask or indices) of every array field; fields in
    ``per_view`` are (N, V, ...) and take ``[index, views]`` with a view axis of one kept."""
    values = {}
    for f in dataclasses.fields(table):
        value = getattr(table, f.name)
        if not isinstance(value, np.ndarray):
            continue
        values[f.name] = value[index, views][:, None] if f.name in per_view and views is not None else value[index]
    return dataclasses.replace(table, **values)


class CropsError(ValueError):
    """The crops cannot serve as examples (absent, or not matching the poses); the message names the file."""


@dataclass
class CropTable:
    """Crops of some subjects' frames folders, as parallel arrays (item i = crop i of ``shards``)."""

    shards: FrameShards
    items: np.ndarray  # (N,) item numbers in ``shards``
    subject: np.ndarray  # (N,) str
    key: np.ndarray  # (N,) str, VideoPose3D action key ("Walking 1")
    camera: np.ndarray  # (N,) int camera index 0..3
    frame: np.ndarray  # (N,) int pose frame
    uv: np.ndarray  # (N, 17, 2) float32, crop pixels (pixel centres at integers)
    xyz_mm: np.ndarray  # (N, 17, 3) float32, camera frame, millimetres
    px_scale: np.ndarray  # (N,) original-image pixels per crop pixel
    offset: np.ndarray  # (N, 2) crop corner in original-image pixels: u_orig = (u + 0.5) px_scale + offset - 0.5
    box_px: np.ndarray  # (N,) longer side of the person box, original-image pixels (PCK reference)
    undistorted: np.ndarray  # (N,) bool: the crop was cut from the undistorted image
    crop_size: int

    def __len__(self) -> int:
        return len(self.items)

    @property
    def action(self) -> np.ndarray:
        return np.array([action_group(k) for k in self.key])

    def subset(self, mask: np.ndarray) -> CropTable:
        """The crops where ``mask`` is true (same shards)."""
        return take_rows(self, mask)

    def to_original(self, uv_crop: np.ndarray) -> np.ndarray:
        """Crop pixels (N, J, 2) -> original-image pixels (pixel centres at integers)."""
        return (np.asarray(uv_crop, dtype=np.float64) + 0.5) * self.px_scale[:, None, None] + self.offset[:, None, :] - 0.5

    def cameras(self) -> list[Camera]:
        """The original camera of each crop (without distortion where the crop was undistorted)."""
        out = []
        for s, c, u in zip(self.subject, self.camera, self.undistorted):
            cam = get_camera(str(s), int(c))
            if u:
                cam = dataclasses.replace(cam, radial_k123=np.zeros(3), tangential_metadata_pApB=np.zeros(2))
            out.append(cam)
        return out

    def rays(self, uv_crop: np.ndarray) -> np.ndarray:
        """Crop pixels (N, J, 2) -> normalised camera rays (N, J, 2): x/z, y/z of the points they show."""
        uv = self.to_original(uv_crop)
        out = np.empty_like(uv)
        for i, cam in enumerate(self.cameras()):
            ideal = undistort_pixels(uv[i], cam)
            out[i] = (ideal - cam.centre_px) / cam.focal_px
        return out


def load_crops(subjects: list[str] | tuple[str, ...], frames_dir: Path = FRAMES_DIR,
               poses_dir: Path = POSES_DIR) -> CropTable:
    """Every crop of ``subjects`` with its joints; raises CropsError naming what is missing."""
    folders = [Path(frames_dir) / s for s in subjects]
    for folder in folders:
        if not (folder / "index.csv").is_file():
            raise CropsError(f"{folder}: no frames of subject {folder.name} (add it to frames.subjects and run "
                             f"its frames stage; with the stand-in, also to synthesize.videos.subjects)")
    shards = FrameShards(folders)
    if not len(shards):
        raise CropsError(f"{', '.join(map(str, folders))}: the frames stage kept no crop")
    pos2d, _ = load_2d(Path(poses_dir) / "data_2d_h36m_gt.npz")
    pos3d = load_3d(Path(poses_dir) / "data_3d_h36m.npz")
    n = len(shards)
    uv = np.empty((n, 17, 2), np.float32)
    xyz = np.empty((n, 17, 3), np.float32)
    px_scale, offset, box = np.empty(n), np.empty((n, 2)), np.empty(n)
    meta = {k: [] for k in ("subject", "key", "camera", "frame", "undistorted")}
    size = None
    world17 = {}
    for i, r in enumerate(shards.rows):
        s, key, cam_i, f = r["subject"], r["key"], r["camera_index"], r["frame"]
        try:
            uv_orig = pos2d[s][key][cam_i][f]
        except (KeyError, IndexError):
            raise CropsError(f"{frames_dir}/{s}/index.csv: crop of {s} {key!r} camera {cam_i} frame {f} has no "
                             f"ground-truth 2D in {poses_dir}/data_2d_h36m_gt.npz (frames older than the poses?)") from None
        if (s, key) not in world17:
            world17[(s, key)] = to_17(np.asarray(pos3d[s][key], dtype=np.float64)) * 1000.0
        cam = get_camera(s, cam_i)
        uv[i] = joints_to_crop(r, uv_orig[None, :, :2])[0]
        xyz[i] = world_to_camera(world17[(s, key)][f], cam)
        sx = video_scale(cam, r["video_width"], r["video_height"])[0]
        px_scale[i] = r["crop_side"] / r["crop_size"] / sx
        offset[i] = (np.array([r["crop_left"], r["crop_top"]], dtype=np.float64)) / sx
        box[i] = max(r["box_right"] - r["box_left"], r["box_bottom"] - r["box_top"]) / sx
        if size is not None and r["crop_size"] != size:
            raise CropsError(f"{frames_dir}: crops of {size} and {r['crop_size']} px are mixed; run the frames "
                             f"stage of every subject with the same frames.crop")
        size = r["crop_size"]
        for k, v in (("subject", s), ("key", key), ("camera", cam_i), ("frame", f), ("undistorted", r["undistorted"])):
            meta[k].append(v)
    return CropTable(
        shards=shards, items=np.arange(n), subject=np.array(meta["subject"]), key=np.array(meta["key"]),
        camera=np.array(meta["camera"], dtype=np.int64), frame=np.array(meta["frame"], dtype=np.int64),
        uv=uv, xyz_mm=xyz, px_scale=px_scale, offset=offset, box_px=box,
        undistorted=np.array(meta["undistorted"], dtype=bool), crop_size=int(size),
    )
