"""A calibrated camera: intrinsics, the Human3.6M distortion coefficients, pose in the world.

The type the projection and triangulation code works with, kept apart from the dataset: the
Human3.6M calibration that fills it in (``h36m/cameras.py``) depends on geometry, not the reverse.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from pose3d.geometry.rotations import quat_to_matrix


@dataclass(frozen=True)
class Camera:
    """One calibrated view of one subject's sessions.

    ``orientation_wxyz`` rotates camera-frame vectors into the world; ``centre_mm`` is
    the optical centre in world millimetres (VideoPose3D's ``orientation``/``translation``).
    """

    subject: str
    camera_id: str
    index: int
    focal_px: np.ndarray  # (2,) fx, fy
    centre_px: np.ndarray  # (2,) cx, cy
    radial_k123: np.ndarray  # (3,) k1, k2, k3
    tangential_metadata_pApB: np.ndarray  # (2,) order of metadata.xml, cameras.h5, mmpose, LT
    orientation_wxyz: np.ndarray  # (4,)
    centre_mm: np.ndarray  # (3,)
    width_px: int
    height_px: int

    @property
    def tangential_vp3d_p1p2(self) -> np.ndarray:
        """VideoPose3D's ``tangential_distortion`` order: the metadata pair reversed."""
        return self.tangential_metadata_pApB[::-1].copy()

    @cached_property  # bulk checks call this thousands of times
    def r_cam_to_world(self) -> np.ndarray:
        return quat_to_matrix(self.orientation_wxyz)

    @cached_property
    def r_world_to_cam(self) -> np.ndarray:
        return self.r_cam_to_world.T.copy()

    @property
    def t_world_to_cam_mm(self) -> np.ndarray:
        """t such that X_cam = R_w2c @ X + t (learnable-triangulation's ``t``)."""
        return -self.r_world_to_cam @ self.centre_mm

    @property
    def K(self) -> np.ndarray:
        k = np.eye(3)
        k[0, 0], k[1, 1] = self.focal_px
        k[0, 2], k[1, 2] = self.centre_px
        return k

    @property
    def intrinsic_vector(self) -> np.ndarray:
        """fx, fy, cx, cy, k1, k2, k3, p1, p2 (VideoPose3D order, pixels)."""
        return np.concatenate([self.focal_px, self.centre_px, self.radial_k123, self.tangential_vp3d_p1p2])

    def to_json(self) -> dict:
        return {
            "subject": self.subject,
            "id": self.camera_id,
            "index": self.index,
            "focal_px": self.focal_px.tolist(),
            "centre_px": self.centre_px.tolist(),
            "radial_k123": self.radial_k123.tolist(),
            "tangential_metadata_pApB": self.tangential_metadata_pApB.tolist(),
            "tangential_vp3d_p1p2": self.tangential_vp3d_p1p2.tolist(),
            "orientation_wxyz": self.orientation_wxyz.tolist(),
            "centre_mm": self.centre_mm.tolist(),
            "r_world_to_cam": self.r_world_to_cam.tolist(),
            "t_world_to_cam_mm": self.t_world_to_cam_mm.tolist(),
            "res_w": self.width_px,
            "res_h": self.height_px,
        }
