"""Lifting examples from ``convert``'s files: normalised 2D in, normalised 3D out, per camera view.

Follows VideoPose3D's preparation: world poses (metres) move into each camera's frame and
the 17 standard joints are kept. With ``norm="base"`` (VideoPose3D) the 2D pixels are
mapped to screen units and the 3D target is root-relative metres; SRNet's other modes
(:mod:`pose3d.training.normalization`) keep per-frame parameters that
:meth:`ViewData.metres` uses to bring predictions and targets back to metres for scoring.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.geometry.projection import world_to_camera
from pose3d.h36m.cameras import get_camera
from pose3d.h36m.skeleton import to_17
from pose3d.h36m.vp3d_format import load_2d, load_3d
from pose3d.training.normalization import denormalize, intrinsics, normalize
from pose3d.training.protocols import View


@dataclass
class ViewData:
    """One sequence seen by one camera."""

    subject: str
    key: str
    camera: int
    pose2d: np.ndarray  # (N, 17, 2) float32 network input (base: screen units)
    pose3d: np.ndarray  # (N, 17, 3) float32 network target (base: camera frame, metres, root at the origin)
    root: np.ndarray  # (N, 3) float32, camera-frame root trajectory, metres
    norm: str = "base"
    params: np.ndarray | None = None  # (N, 5) float64 per-frame normalisation parameters
    intrinsics: np.ndarray | None = None  # (4,) fx, fy, cx, cy in pixels

    def metres(self, pose: np.ndarray) -> np.ndarray:
        """Network-space poses (N, J, 3) of this view -> root-relative camera-frame metres.

        Applied to predictions and to :attr:`pose3d` alike before errors are measured
        (SRNet's protocol; for ``weak_proj`` the round trip distorts both the same way).
        """
        if self.norm == "base":
            return pose
        return denormalize(pose, self.params, self.intrinsics, self.norm).astype(np.float32)


class PoseData:
    """The converted Human3.6M arrays, loaded once, sliced into views on demand."""

    def __init__(self, poses_dir: Path):
        poses_dir = Path(poses_dir)
        self.positions_3d = load_3d(poses_dir / "data_3d_h36m.npz")
        self.positions_2d, self.metadata = load_2d(poses_dir / "data_2d_h36m_gt.npz")

    @property
    def available(self) -> dict[str, list[str]]:
        return {s: list(keys) for s, keys in self.positions_3d.items()}

    def view(self, subject: str, key: str, camera: int, norm: str = "base") -> ViewData:
        cam = get_camera(subject, camera)
        world_m = self.positions_3d[subject][key]
        n = world_m.shape[0]
        cam_m = world_to_camera(to_17(world_m).astype(np.float64) * 1000, cam) / 1000
        uv = self.positions_2d[subject][key][camera][:n]  # 2D may run longer than the mocap
        sample = normalize(uv, cam_m, cam, norm)
        return ViewData(
            subject, key, camera,
            pose2d=sample.inputs_2d.astype(np.float32),
            pose3d=sample.target_3d.astype(np.float32),
            root=cam_m[:, 0].astype(np.float32),
            norm=norm, params=sample.params, intrinsics=intrinsics(cam),
        )

    def views(self, selection: list[View], norm: str = "base") -> list[ViewData]:
        return [self.view(*v, norm=norm) for v in selection]
