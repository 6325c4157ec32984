"""World <-> camera transforms, the Human3.6M distortion model and screen normalisation.

The distortion is the one that reproduces the official ``D2_Positions`` exactly
(VideoPose3D's ``project_to_2d``); it is not OpenCV's Brown model.
"""
from __future__ import annotations

import numpy as np

from pose3d.geometry.camera import Camera


def _float(x: np.ndarray) -> np.ndarray:
    """Keep float32 inputs float32 (bulk checks at Human3.6M scale); anything else -> float64."""
    x = np.asarray(x)
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)


def world_to_camera(points_world: np.ndarray, camera: Camera) -> np.ndarray:
    """(..., 3) world points -> camera frame (x right, y down, z forward), same unit as input mm."""
    x = _float(points_world)
    r = camera.r_cam_to_world
    # one (M, 3) x (3, 3) product instead of a batch of tiny ones; the centre folded into an offset
    out = x.reshape(-1, 3) @ r.astype(x.dtype)
    out -= (camera.centre_mm @ r).astype(x.dtype)
    return out.reshape(x.shape)


def world_to_camera_planar(points_world: np.ndarray, camera: Camera) -> np.ndarray:
    """(M, 3) world points -> (3, M) camera-frame coordinates, one contiguous row per axis.

    The planar layout lets :func:`project_planar` run on contiguous rows; bulk checks
    over millions of points are limited by memory traffic, not arithmetic.
    """
    x = _float(points_world)
    dt = x.dtype
    out = camera.r_world_to_cam.astype(dt) @ x.T
    out -= (camera.r_world_to_cam @ camera.centre_mm).astype(dt)[:, None]
    return out


def camera_to_world(points_cam: np.ndarray, camera: Camera) -> np.ndarray:
    """Inverse of :func:`world_to_camera`."""
    x = _float(points_cam)
    out = x.reshape(-1, 3) @ camera.r_world_to_cam.astype(x.dtype)
    out += camera.centre_mm.astype(x.dtype)
    return out.reshape(x.shape)


def _distort_xy(x: np.ndarray, y: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """The model on separate contiguous x, y arrays (SIMD-friendly, few temporaries)."""
    dt = x.dtype.type
    k1, k2, k3 = (dt(k) for k in camera.radial_k123)
    p1, p2 = (dt(p) for p in camera.tangential_vp3d_p1p2)
    r2 = x * x
    r2 += y * y
    f = r2 * k3  # f = radial + tangential factor, built in place
    f += k2
    f *= r2
    f += k1
    f *= r2
    f += 1
    f += x * p1
    f += y * p2
    xd = x * f
    xd += p1 * r2
    yd = y * f
    yd += p2 * r2
    return xd, yd


def distort_normalised(xy: np.ndarray, camera: Camera, clamp: bool = False) -> np.ndarray:
    """Apply the Human3.6M radial + tangential model to normalised image coordinates (..., 2).

    ``clamp`` limits x, y to [-1, 1] first, as VideoPose3D's torch projection does for
    points far off-axis (it never changes points inside the image).
    """
    xy = _float(xy)
    if clamp:
        xy = np.clip(xy, -1.0, 1.0)
    xd, yd = _distort_xy(np.ascontiguousarray(xy[..., 0]), np.ascontiguousarray(xy[..., 1]), camera)
    return np.stack([xd, yd], axis=-1)


def project_camera(points_cam: np.ndarray, camera: Camera, distort: bool = True) -> np.ndarray:
    """Camera-frame points (..., 3) -> pixel coordinates (..., 2) of the distorted image."""
    return np.stack(project_planar(np.moveaxis(_float(points_cam), -1, 0), camera, distort), axis=-1)


def project_planar(xyz: np.ndarray, camera: Camera, distort: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(3, ...) camera-frame coordinates -> pixel planes (u, v), each (...)."""
    x = xyz[0] / xyz[2]
    y = xyz[1] / xyz[2]
    if distort:
        x, y = _distort_xy(x, y, camera)
    dt = x.dtype.type
    x *= dt(camera.focal_px[0])
    x += dt(camera.centre_px[0])
    y *= dt(camera.focal_px[1])
    y += dt(camera.centre_px[1])
    return x, y


def project_world(points_world: np.ndarray, camera: Camera, distort: bool = True) -> np.ndarray:
    """World points (..., 3) -> pixels (..., 2)."""
    return project_camera(world_to_camera(points_world, camera), camera, distort)


def undistort_pixels(uv: np.ndarray, camera: Camera, iterations: int = 20) -> np.ndarray:
    """Invert the distortion by fixed-point iteration: distorted pixels -> ideal pixels."""
    uv = np.asarray(uv, dtype=np.float64)
    xd = (uv - camera.centre_px) / camera.focal_px  # float64: the iteration needs the precision
    x = xd.copy()
    for _ in range(iterations):
        x = x + (xd - distort_normalised(x, camera))
    return x * camera.focal_px + camera.centre_px


def normalize_screen(uv: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixels -> VideoPose3D screen units: x in [-1, 1], y in [-h/w, h/w] (one scale for both)."""
    uv = np.asarray(uv)
    if not np.issubdtype(uv.dtype, np.floating):  # integer pixels would truncate h/w to 1
        uv = uv.astype(np.float64)
    return uv / width * 2 - np.array([1, height / width], dtype=uv.dtype)


def image_coordinates(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Inverse of :func:`normalize_screen`."""
    xy = np.asarray(xy)
    if not np.issubdtype(xy.dtype, np.floating):
        xy = xy.astype(np.float64)
    return (xy + np.array([1, height / width], dtype=xy.dtype)) * width / 2
