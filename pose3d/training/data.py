"""Lifting examples from ``convert``'s files: screen-normalised 2D in, root-relative camera-frame 3D out.

Follows VideoPose3D's preparation: world poses (metres) move into each camera's frame,
the 17 standard joints are kept, 2D pixels are mapped to screen units with the view's
resolution, and the 3D target is made root-relative (joint 0 at the origin).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.geometry.projection import normalize_screen, world_to_camera
from pose3d.h36m.cameras import get_camera
from pose3d.h36m.skeleton import to_17
from pose3d.h36m.vp3d_format import load_2d, load_3d
from pose3d.training.protocols import View


@dataclass
class ViewData:
    """One sequence seen by one camera."""

    subject: str
    key: str
    camera: int
    pose2d: np.ndarray  # (N, 17, 2) float32, screen units
    pose3d: np.ndarray  # (N, 17, 3) float32, camera frame, metres, root at the origin
    root: np.ndarray  # (N, 3) float32, camera-frame root trajectory, metres


class PoseData:
    """The converted Human3.6M arrays, loaded once, sliced into views on demand."""

    def __init__(self, poses_dir: Path):
        poses_dir = Path(poses_dir)
        self.positions_3d = load_3d(poses_dir / "data_3d_h36m.npz")
        self.positions_2d, self.metadata = load_2d(poses_dir / "data_2d_h36m_gt.npz")

    @property
    def available(self) -> dict[str, list[str]]:
        return {s: list(keys) for s, keys in self.positions_3d.items()}

    def view(self, subject: str, key: str, camera: int) -> ViewData:
        cam = get_camera(subject, camera)
        world_m = self.positions_3d[subject][key]
        n = world_m.shape[0]
        cam_m = world_to_camera(to_17(world_m).astype(np.float64) * 1000, cam) / 1000
        uv = self.positions_2d[subject][key][camera][:n]  # 2D may run longer than the mocap
        root = cam_m[:, :1]
        return ViewData(
            subject, key, camera,
            pose2d=normalize_screen(uv.astype(np.float32), cam.width_px, cam.height_px).astype(np.float32),
            pose3d=(cam_m - root).astype(np.float32),
            root=root[:, 0].astype(np.float32),
        )

    def views(self, selection: list[View]) -> list[ViewData]:
        return [self.view(*v) for v in selection]
