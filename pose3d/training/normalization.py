"""SRNet's four input/target normalisations (``--norm base|proj|weak_proj|lcn``) and their inverses.

Every mode maps one camera's 2D keypoints (pixels) and camera-frame 3D joints (metres,
absolute, root = joint 0) to a network input and target, plus five numbers per frame
that undo it. Errors are always measured after :func:`denormalize`, in root-relative
camera-frame metres, so the four modes are scored alike.

``params[..., :]`` columns (:data:`PARAM_NAMES`), SRNet's layout and units:
``depth_ratio`` = fx/Z_r (fx/Z_r + 1 in ``lcn``), ``bbox_ratio`` = Z_r/(1000 fx),
``root_u_px``, ``root_v_px`` = the root's pinhole projection, ``root_z_mm`` = Z_r.
They are computed in every mode (``base`` ignores them) so that batches share one layout.

- ``base`` (VideoPose3D): 2D screen-normalised over the full image; target = 3D
  root-relative metres with the root at 0. Inverse: identity (a predicted root is kept
  and scored, as VideoPose3D/SRNet do).
- ``proj``: x, y of every joint = its pinhole projection with its own depth (no
  distortion); depth = (Z_j - Z_r) fx/Z_r. Then pose and 2D input are scaled by
  ``bbox_ratio`` (a 2 m square at the root's depth spans 2 units; one ratio from fx for
  both axes, so y carries fy/fx) and root-subtracted (all three coordinates). Target
  z = (Z_j - Z_r) in metres exactly; x, y = projected offsets from the root, in metres
  at the root's depth. The 2D input is root-centred on its own root joint.
- ``weak_proj``: as ``proj`` but x, y are divided by the ROOT depth. The inverse still
  back-projects each joint with its own depth, so even the ground truth does not come
  back: it returns X_j Z_j/Z_r - X_r (same for Y). SRNet inverts prediction and target
  alike and measures errors between the two identically distorted poses; we reproduce it.
- ``lcn`` (Ci et al.): stage 1 as ``proj`` with depth ratio fx/Z_r + 1; no bbox stage;
  x, y of pose and 2D input are screen-normalised with image size (2 cx, 2 cy), i.e.
  u/cx - 1 and (v - cy)/cx; depth /1000; nothing root-subtracted except depth. The model
  predicts x, y as a residual on its input 2D: see :func:`add_2d_residual`.

SRNet truncates the ``lcn`` image size to ``int(2 cx)``; we keep 2 cx exactly, so that
negating x mirrors about the principal point and flip augmentation is exact (the network
input moves by at most about 1.5e-3 units at the image border; round trips are exact
either way, since both directions use the same size).

``proj``, ``weak_proj`` and ``lcn`` invert with the ground-truth root depth Z_r, and
``proj``/``weak_proj`` also scale the 2D input by it, at test time too: SRNet's
protocol, not a monocular one.

:func:`normalize` is numpy (float64 out). :func:`denormalize`, :func:`flip_params`,
:func:`flip_poses` and :func:`add_2d_residual` accept numpy arrays or torch tensors (any
device, any float dtype) and return the same kind; numpy inputs to :func:`denormalize`
and :func:`flip_params` are computed in float64.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pose3d.geometry.projection import normalize_screen, project_camera
from pose3d.geometry.camera import Camera
from pose3d.h36m.skeleton import H36M17, Skeleton

MODES: tuple[str, ...] = ("base", "proj", "weak_proj", "lcn")
PARAM_NAMES: tuple[str, ...] = ("depth_ratio", "bbox_ratio", "root_u_px", "root_v_px", "root_z_mm")
#: Side of the square (mm) centred on the root whose projected width defines ``bbox_ratio``.
BOX_MM: float = 2000.0
#: Width of that square in normalised units.
BOX_UNITS: float = 2.0


@dataclass(frozen=True)
class Normalized:
    """A normalised sequence: network input (N, J, 2), target (N, J, 3), params (N, 5)."""

    mode: str
    inputs_2d: np.ndarray
    target_3d: np.ndarray
    params: np.ndarray


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown normalisation {mode!r}; expected one of {', '.join(MODES)}")


def intrinsics(camera: Camera) -> np.ndarray:
    """(fx, fy, cx, cy) in pixels, the form :func:`denormalize` takes per sample."""
    return np.concatenate([camera.focal_px, camera.centre_px]).astype(np.float64)


def normalize(pose2d_px: np.ndarray, pose3d_cam_m: np.ndarray, camera: Camera, mode: str) -> Normalized:
    """Normalise one camera's sequence: 2D pixels (N, J, 2), camera-frame metres (N, J, 3).

    The 3D poses are absolute (every joint in the camera frame, root = joint 0); float64 out.
    """
    _check_mode(mode)
    uv = np.asarray(pose2d_px, dtype=np.float64)
    p_mm = np.asarray(pose3d_cam_m, dtype=np.float64) * 1000.0
    if p_mm.ndim != 3 or p_mm.shape[-1] != 3 or uv.shape != p_mm.shape[:-1] + (2,):
        raise ValueError(f"expected 2D (N, J, 2) and 3D (N, J, 3) of the same N, J; got {uv.shape} and {p_mm.shape}")
    z_root = p_mm[:, 0, 2]
    if np.any(z_root <= 0):
        raise ValueError(f"root depth must be positive (camera-frame poses in metres); min is {z_root.min() / 1000} m")
    fx, fy, cx, cy = intrinsics(camera)

    depth_ratio = fx / z_root + (1.0 if mode == "lcn" else 0.0)
    bbox_ratio = BOX_UNITS / (BOX_MM * fx / z_root)
    root_uv = project_camera(p_mm[:, 0], camera, distort=False)
    params = np.stack([depth_ratio, bbox_ratio, root_uv[:, 0], root_uv[:, 1], z_root], axis=-1)

    if mode == "base":
        target = (p_mm - p_mm[:, :1]) / 1000.0
        inputs = normalize_screen(uv, camera.width_px, camera.height_px)
        return Normalized(mode, inputs, target, params)

    pixel = np.empty_like(p_mm)
    if mode == "weak_proj":
        pixel[..., :2] = p_mm[..., :2] / z_root[:, None, None] * (fx, fy) + (cx, cy)
    else:
        pixel[..., :2] = project_camera(p_mm, camera, distort=False)
    pixel[..., 2] = (p_mm[..., 2] - z_root[:, None]) * depth_ratio[:, None]

    if mode == "lcn":
        target = np.concatenate([normalize_screen(pixel[..., :2], 2 * cx, 2 * cy), pixel[..., 2:] / 1000.0], -1)
        inputs = normalize_screen(uv, 2 * cx, 2 * cy)
        return Normalized(mode, inputs, target, params)

    s = bbox_ratio[:, None, None]
    target = (pixel - pixel[:, :1]) * s
    inputs = (uv - uv[:, :1]) * s
    return Normalized(mode, inputs, target, params)


# ---- numpy / torch agnostic helpers ---------------------------------------------------------
def _is_numpy(x: Any) -> bool:
    return isinstance(x, np.ndarray)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _array(x: Any) -> Any:
    """A torch tensor as it is; anything else as a float64 numpy array."""
    return x if _is_torch(x) else np.asarray(x, dtype=np.float64)


def _as_like(values: Any, like: Any) -> Any:
    """``values`` as an array of ``like``'s kind, dtype and device."""
    if _is_numpy(like):
        return np.asarray(values, dtype=like.dtype)
    import torch

    return torch.as_tensor(values, dtype=like.dtype, device=like.device)


def _stack_last(parts: list, like: Any) -> Any:
    if _is_numpy(like):
        return np.stack(parts, axis=-1)
    import torch

    return torch.stack(parts, dim=-1)


def _intrinsics_like(camera: Camera | Any, like: Any) -> Any:
    k = intrinsics(camera) if isinstance(camera, Camera) else camera
    return _as_like(k, like)


def denormalize(pose3d: Any, params: Any, camera: Camera | Any, mode: str) -> Any:
    """Normalised 3D poses (..., J, 3) -> root-relative camera-frame metres (..., J, 3).

    Apply it to predictions and targets alike before computing errors. ``params`` is
    (..., 5) and ``camera`` a :class:`Camera` or (fx, fy, cx, cy) of shape (4,) or (..., 4),
    both broadcasting against the poses' leading axes (one row per frame / sample).
    In ``proj``/``weak_proj``/``lcn`` the reconstructed root is subtracted (SRNet), so a
    predicted root offset is not scored there; ``base`` returns its input unchanged.
    """
    _check_mode(mode)
    pose3d = _array(pose3d)
    if mode == "base":
        return pose3d
    params = _as_like(params, pose3d)
    k = _intrinsics_like(camera, pose3d)
    fx, fy, cx, cy = (k[..., i, None] for i in range(4))  # (..., 1): broadcast over joints
    depth_ratio, bbox_ratio, root_u, root_v, z_root = (params[..., i, None] for i in range(5))

    if mode == "lcn":
        u = (pose3d[..., 0] + 1.0) * cx
        v = pose3d[..., 1] * cx + cy
        dz_px = pose3d[..., 2] * 1000.0
    else:
        u = pose3d[..., 0] / bbox_ratio + root_u
        v = pose3d[..., 1] / bbox_ratio + root_v
        dz_px = pose3d[..., 2] / bbox_ratio
    z = dz_px / depth_ratio + z_root
    cam_mm = _stack_last([(u - cx) / fx * z, (v - cy) / fy * z, z], pose3d)
    return (cam_mm - cam_mm[..., :1, :]) / 1000.0


def flip_params(params: Any, camera: Camera | Any) -> Any:
    """Per-frame params of the mirrored image: the root's u mirrored about cx; the rest unchanged."""
    params = _array(params)
    k = _intrinsics_like(camera, params)
    flipped = params.copy() if _is_numpy(params) else params.clone()
    flipped[..., 2] = 2 * k[..., 2] - params[..., 2]
    return flipped


def flip_poses(poses: Any, skeleton: Skeleton = H36M17) -> Any:
    """Negate x and swap left/right joints of (..., J, D) poses, numpy or torch."""
    perm = skeleton.flip_permutation()
    if _is_torch(poses):
        import torch

        out = poses[..., torch.as_tensor(perm, device=poses.device), :]  # advanced indexing copies
    else:
        out = np.asarray(poses)[..., perm, :]
    out[..., 0] = -out[..., 0]
    return out


def flip(sample: Normalized, camera: Camera | Any, skeleton: Skeleton = H36M17) -> Normalized:
    """Horizontal flip of a normalised sample, valid in every mode.

    Negating x mirrors the 2D input about the image centre (``base``, VideoPose3D's
    approximation), about the root (``proj``, ``weak_proj``) or about cx (``lcn``), and
    the target about the camera's vertical plane; the stored root u moves to 2 cx - u, so
    that ``denormalize(flip(s))`` is the mirrored pose of ``denormalize(s)``.
    """
    return Normalized(sample.mode, flip_poses(sample.inputs_2d, skeleton), flip_poses(sample.target_3d, skeleton),
                      flip_params(sample.params, camera))


def add_2d_residual(output_3d: Any, inputs_2d: Any) -> Any:
    """The ``lcn`` model output: network x, y added to the input 2D of the same frame; z as predicted.

    ``output_3d`` (..., J, 3) and ``inputs_2d`` (..., J, 2) of the predicted frame(s) (the
    centre of a temporal window). Other modes use the raw network output.
    """
    xy = output_3d[..., :2] + inputs_2d[..., :2]  # a score column, when present, is not a coordinate
    if _is_numpy(output_3d):
        return np.concatenate([xy, output_3d[..., 2:]], axis=-1)
    import torch

    return torch.cat([xy, output_3d[..., 2:]], dim=-1)
