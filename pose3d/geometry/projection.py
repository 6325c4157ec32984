"""World <-> camera transforms, the Human3.6M distortion model and screen normalisation.

The distortion is the one that reproduces the official ``D2_Positions`` exactly
(VideoPose3D's ``project_to_2d``); it is not OpenCV's Brown model.
"""
from __future__ import annotations

import numpy as np

from pose3d.h36m.cameras import Camera


def world_to_camera(points_world: np.ndarray, camera: Camera) -> np.ndarray:
    """(..., 3) world points -> camera frame (x right, y down, z forward), same unit as input mm."""
    return (np.asarray(points_world, dtype=np.float64) - camera.centre_mm) @ camera.r_cam_to_world


def camera_to_world(points_cam: np.ndarray, camera: Camera) -> np.ndarray:
    """Inverse of :func:`world_to_camera`."""
    return np.asarray(points_cam, dtype=np.float64) @ camera.r_world_to_cam + camera.centre_mm


def distort_normalised(xy: np.ndarray, camera: Camera, clamp: bool = False) -> np.ndarray:
    """Apply the Human3.6M radial + tangential model to normalised image coordinates (..., 2).

    ``clamp`` limits x, y to [-1, 1] first, as VideoPose3D's torch projection does for
    points far off-axis (it never changes points inside the image).
    """
    xy = np.asarray(xy, dtype=np.float64)
    if clamp:
        xy = np.clip(xy, -1.0, 1.0)
    k1, k2, k3 = camera.radial_k123
    p1, p2 = camera.tangential_vp3d_p1p2
    r2 = np.sum(xy * xy, axis=-1, keepdims=True)
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    tan = xy[..., :1] * p1 + xy[..., 1:] * p2
    return xy * (radial + tan) + np.array([p1, p2]) * r2


def project_camera(points_cam: np.ndarray, camera: Camera, distort: bool = True) -> np.ndarray:
    """Camera-frame points (..., 3) -> pixel coordinates (..., 2) of the distorted image."""
    points_cam = np.asarray(points_cam, dtype=np.float64)
    xy = points_cam[..., :2] / points_cam[..., 2:3]
    if distort:
        xy = distort_normalised(xy, camera)
    return xy * camera.focal_px + camera.centre_px


def project_world(points_world: np.ndarray, camera: Camera, distort: bool = True) -> np.ndarray:
    """World points (..., 3) -> pixels (..., 2)."""
    return project_camera(world_to_camera(points_world, camera), camera, distort)


def undistort_pixels(uv: np.ndarray, camera: Camera, iterations: int = 20) -> np.ndarray:
    """Invert the distortion by fixed-point iteration: distorted pixels -> ideal pixels."""
    uv = np.asarray(uv, dtype=np.float64)
    xd = (uv - camera.centre_px) / camera.focal_px
    x = xd.copy()
    for _ in range(iterations):
        x = x + (xd - distort_normalised(x, camera))
    return x * camera.focal_px + camera.centre_px


def normalize_screen(uv: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixels -> VideoPose3D screen units: x in [-1, 1], y in [-h/w, h/w] (one scale for both)."""
    uv = np.asarray(uv)
    return uv / width * 2 - np.array([1, height / width], dtype=uv.dtype)


def image_coordinates(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Inverse of :func:`normalize_screen`."""
    xy = np.asarray(xy)
    return (xy + np.array([1, height / width], dtype=xy.dtype)) * width / 2
