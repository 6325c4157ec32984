"""Square crop + resize of a frame, optional undistortion, and the camera of the crop.

Pixel centres sit at integer coordinates. The crop covers source pixels
``left .. left+side-1`` (and ``top ..``) and is resized by ``s = size / side``, so a
point ``u`` of the frame lands at ``u' = (u - left + 0.5) * s - 0.5`` in the crop. The
crop camera is the frame's camera with ``f' = f * s`` and ``c' = (c - left + 0.5) * s - 0.5``;
learnable-triangulation's ``update_after_crop/resize`` drops the two half-pixel terms
(a shift of ``0.5 * (1 - s)`` px). The distortion coefficients act on normalised
coordinates and are unchanged by a crop; after undistortion they are zero.

Down-scaling averages the source pixels under each output pixel (area filter, as
OpenCV's INTER_AREA that learnable-triangulation uses), up-scaling is bilinear. Both are
separable, computed on the few source rows/columns each output pixel touches, so a crop
costs a few milliseconds without OpenCV. Parts of the square outside the frame are black.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from pose3d.geometry.camera import Camera
from pose3d.geometry.projection import distort_normalised, undistort_pixels


#: A video within this many pixels of its camera's nominal size is taken as the camera image itself
#: (Human3.6M lists 1000 or 1002 rows; the extra rows are at the bottom, nothing is rescaled).
NATIVE_TOLERANCE_PX = 2


def video_scale(camera: Camera, width: int, height: int) -> np.ndarray:
    """(sx, sy) from the camera's image to a ``width`` x ``height`` video of it.

    A video within NATIVE_TOLERANCE_PX of the nominal size is the image itself (1, 1). A
    smaller one (the synthetic stand-in renders at a fraction of the resolution) is the
    whole image resized, pixel centres mapping as ``x_video = (u + 0.5) * sx - 0.5``.
    Raises ValueError when the video's aspect ratio is not the camera's.
    """
    if abs(width - camera.width_px) <= NATIVE_TOLERANCE_PX and abs(height - camera.height_px) <= NATIVE_TOLERANCE_PX:
        return np.ones(2)
    sx, sy = width / camera.width_px, height / camera.height_px
    if abs(sx - sy) > 0.01 * max(sx, sy):
        raise ValueError(f"frames are {width}x{height}, not a resized {camera.width_px}x{camera.height_px} "
                         f"image of camera {camera.camera_id} of {camera.subject}; the 2D poses are in that camera's pixels")
    return np.array([sx, sy])


def video_camera(camera: Camera, scale: np.ndarray, width: int, height: int) -> Camera:
    """The camera whose pixels are the video's (same distortion, same pose)."""
    scale = np.asarray(scale, dtype=np.float64)
    if (scale == 1).all():
        return dataclasses.replace(camera, width_px=int(width), height_px=int(height))
    return dataclasses.replace(camera, focal_px=camera.focal_px * scale, centre_px=(camera.centre_px + 0.5) * scale - 0.5,
                               width_px=int(width), height_px=int(height))


def to_video(uv: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Pixels of the camera's image (..., 2) -> pixels of a video at ``scale`` (see :func:`video_scale`)."""
    uv = np.asarray(uv, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    return uv if (scale == 1).all() else (uv + 0.5) * scale - 0.5


def crop_scale(side: int, size: int) -> float:
    return size / side


def to_crop(uv: np.ndarray, left: float, top: float, side: int, size: int) -> np.ndarray:
    """Frame pixels (..., 2) -> crop pixels (same image, distorted or not)."""
    s = crop_scale(side, size)
    return (np.asarray(uv, dtype=np.float64) - [left, top] + 0.5) * s - 0.5


def crop_intrinsics(focal_px: np.ndarray, centre_px: np.ndarray, left: int, top: int, side: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(f', c') of the crop camera; see the module docstring."""
    s = crop_scale(side, size)
    return np.asarray(focal_px, dtype=np.float64) * s, to_crop(centre_px, left, top, side, size)


def undistort_points(uv: np.ndarray, camera: Camera) -> np.ndarray:
    """Distorted frame pixels (..., 2) -> pixels of the undistorted frame (same K)."""
    uv = np.asarray(uv, dtype=np.float64)
    return undistort_pixels(uv.reshape(-1, 2), camera).reshape(uv.shape)


def resample_taps(start: float, side: float, size: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """1-D resampling of source pixels ``start .. start+side-1`` to ``size`` pixels.

    Returns ``(index (size, T) int, weight (size, T) float32)``; taps outside ``0 .. limit-1``
    get weight 0 (black padding) and a valid index.
    """
    s = size / side
    j = np.arange(size, dtype=np.float64)
    if s <= 1.0:  # area: output pixel j covers source [start + j/s, start + (j+1)/s) in pixel-edge units
        lo, hi = start + j / s, start + (j + 1) / s
        taps = int(math.ceil(1.0 / s)) + 1
        first = np.floor(lo).astype(np.int64)
        idx = first[:, None] + np.arange(taps)[None, :]
        w = np.clip(np.minimum(idx + 1, hi[:, None]) - np.maximum(idx, lo[:, None]), 0.0, None) * s
    else:  # bilinear between pixel centres
        x = start + (j + 0.5) / s - 0.5
        first = np.floor(x).astype(np.int64)
        idx = first[:, None] + np.arange(2)[None, :]
        frac = x - first
        w = np.stack([1.0 - frac, frac], axis=1)
    w[(idx < 0) | (idx >= limit)] = 0.0
    return np.clip(idx, 0, max(limit - 1, 0)), w.astype(np.float32)


def crop_square(image: np.ndarray, left: int, top: int, side: int, size: int) -> np.ndarray:
    """(H, W, C) uint8 or float frame -> (size, size, C) uint8 crop of the square at (left, top)."""
    h, w = image.shape[:2]
    return resample(image, resample_taps(top, side, size, h), resample_taps(left, side, size, w))


def resample(image: np.ndarray, rows: tuple[np.ndarray, np.ndarray], cols: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(H, W, C) image -> (len(rows), len(cols), C) uint8 through separable taps from :func:`resample_taps`."""
    (ri, rw), (ci, cw) = rows, cols
    r0, r1 = int(ri.min()), int(ri.max()) + 1
    c0, c1 = int(ci.min()), int(ci.max()) + 1
    region = image[r0:r1, c0:c1].astype(np.float32)
    ri, ci = ri - r0, ci - c0
    tmp = np.zeros((len(ri), region.shape[1], region.shape[2]), dtype=np.float32)
    for t in range(ri.shape[1]):
        tmp += rw[:, t, None, None] * region[ri[:, t]]
    out = np.zeros((len(ri), len(ci), region.shape[2]), dtype=np.float32)
    for t in range(ci.shape[1]):
        out += cw[None, :, t, None] * tmp[:, ci[:, t]]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def undistorted_square(image: np.ndarray, camera: Camera, left: int, top: int, side: int) -> np.ndarray:
    """The ``side`` x ``side`` square at (left, top) of the *undistorted* frame, float32, at full resolution.

    Each ideal pixel is mapped through the Human3.6M distortion model to the distorted
    frame and sampled bilinearly (learnable-triangulation's ``undistort-h36m.py`` remaps
    whole frames the same way, with bicubic sampling); only the square is computed.
    """
    u = np.arange(left, left + side, dtype=np.float64)
    v = np.arange(top, top + side, dtype=np.float64)
    f, c = camera.focal_px, camera.centre_px
    xy = np.stack(np.meshgrid((u - c[0]) / f[0], (v - c[1]) / f[1]), axis=-1)  # (side, side, 2) normalised
    src = distort_normalised(xy, camera) * f + c
    return _bilinear(image, src[..., 0], src[..., 1])


def _bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = (x - x0).astype(np.float32)[..., None], (y - y0).astype(np.float32)[..., None]
    out = np.zeros(x.shape + image.shape[2:], dtype=np.float32)
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            inside = ((xi >= 0) & (xi < w) & (yi >= 0) & (yi < h))[..., None]
            px = image[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)].astype(np.float32)
            out += np.where(inside, wy * wx * px, 0.0)
    return out


def crop_frame(image: np.ndarray, left: int, top: int, side: int, size: int, camera: Camera | None = None) -> np.ndarray:
    """Crop (``camera`` given: from the undistorted frame) and resize to ``size``; uint8 RGB."""
    if camera is None:
        return crop_square(image, left, top, side, size)
    return crop_square(undistorted_square(image, camera, left, top, side), 0, 0, side, size)
