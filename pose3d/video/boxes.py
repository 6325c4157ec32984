"""Person boxes: from the official ``ground_truth_bb`` masks, or from the 2D joints; and the square crop.

Boxes are ``(left, top, right, bottom)`` in pixel coordinates of the original frame with
pixel centres at integers (OpenCV's convention, the one the 2D poses use): a box spans
the continuous region ``[left, right] x [top, bottom]``. A mask covering pixel columns
``c0 .. c1-1`` therefore gives ``left = c0 - 0.5`` and ``right = c1 - 0.5``.

The ``.mat`` files are MATLAB v7.3 (HDF5): a dataset ``Masks`` of N object references,
one per video frame, each to a binary mask. h5py sees MATLAB's column-major arrays
transposed, so a mask of an H x W frame reads as shape (W, H) and is indexed ``[x, y]``
(learnable-triangulation's ``collect-bboxes.py`` takes rows from axis 1 for the same
reason). The shape is checked against the frame size so a wrong orientation cannot pass.
"""
from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np


class MaskFileError(Exception):
    """A bounding-box ``.mat`` file that is absent or unreadable as the official layout."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def read_mask_boxes(path: Path | str, frames: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Boxes of the masks of video ``frames`` (0-based) of a ``width`` x ``height`` video.

    Returns ``(boxes (K, 4) float64, found (K,) bool, n_masks)``. ``found`` is False where
    the file has no mask for that frame or the mask is empty; those rows are NaN.
    Raises MaskFileError when the file is absent or not in the official layout.
    """
    path = Path(path)
    frames = np.asarray(frames, dtype=np.int64)
    boxes = np.full((len(frames), 4), np.nan)
    found = np.zeros(len(frames), dtype=bool)
    if not path.is_file():
        raise MaskFileError(path, "bounding-box mask file is absent")
    try:
        with h5py.File(path, "r") as f:
            refs = _mask_refs(path, f)
            for k, i in enumerate(frames):
                if i >= len(refs):
                    continue
                mask = f[refs[i]]
                if mask.shape != (width, height):
                    raise MaskFileError(
                        path, f"mask {i} has shape {mask.shape}; a {width}x{height} video needs (W, H) = "
                        f"({width}, {height}) as MATLAB v7.3 stores it",
                    )
                box = mask_box(np.asarray(mask))
                if box is not None:
                    boxes[k], found[k] = box, True
            return boxes, found, len(refs)
    except MaskFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise MaskFileError(path, f"not a readable MATLAB v7.3 mask file ({exc})") from exc


def _mask_refs(path: Path, f: h5py.File) -> np.ndarray:
    if "Masks" not in f:
        raise MaskFileError(path, f"has no 'Masks' dataset (found: {', '.join(f.keys()) or 'nothing'})")
    ds = f["Masks"]
    if ds.dtype != h5py.ref_dtype or ds.ndim != 2 or min(ds.shape) != 1:
        raise MaskFileError(path, f"'Masks' must be an (N, 1) array of object references, is {ds.dtype} {ds.shape}")
    return ds[...].ravel()


def mask_box(mask_xy: np.ndarray) -> np.ndarray | None:
    """Box of the non-zero pixels of a mask indexed ``[x, y]``; None for an empty mask."""
    cols = np.flatnonzero(mask_xy.any(axis=1))
    if not len(cols):
        return None
    rows = np.flatnonzero(mask_xy.any(axis=0))
    return np.array([cols[0] - 0.5, rows[0] - 0.5, cols[-1] + 0.5, rows[-1] + 0.5])


def joint_boxes(uv: np.ndarray) -> np.ndarray:
    """(K, J, 2) pixel joints -> (K, 4) tight boxes around them."""
    uv = np.asarray(uv, dtype=np.float64)
    return np.concatenate([uv.min(axis=1), uv.max(axis=1)], axis=1)


def square_crop(box: np.ndarray, margin: float, min_side: int = 16) -> tuple[int, int, int]:
    """The square of whole pixels ``(left, top, side)`` centred on ``box``, its longer side enlarged by ``margin``.

    The square covers pixel columns ``left .. left+side-1`` and may reach outside the frame
    (that part of the crop is black, as in learnable-triangulation's padded crop).
    """
    left, top, right, bottom = (float(v) for v in box)
    side = max(min_side, math.ceil(max(right - left, bottom - top) * (1.0 + margin) - 1e-9))
    cx, cy = (left + right) / 2, (top + bottom) / 2
    # pixel centres left .. left+side-1 are centred on cx when left = cx - (side - 1) / 2
    return int(math.floor(cx - (side - 1) / 2 + 0.5)), int(math.floor(cy - (side - 1) / 2 + 0.5)), int(side)


def box_outline(box: np.ndarray, points_per_side: int = 8) -> np.ndarray:
    """Points along a box's border (P, 2): mapped through the undistortion, their extent is the new box."""
    left, top, right, bottom = box
    t = np.linspace(0.0, 1.0, points_per_side)
    xs, ys = left + t * (right - left), top + t * (bottom - top)
    return np.concatenate([
        np.stack([xs, np.full_like(xs, top)], 1), np.stack([xs, np.full_like(xs, bottom)], 1),
        np.stack([np.full_like(ys, left), ys], 1), np.stack([np.full_like(ys, right), ys], 1),
    ])
