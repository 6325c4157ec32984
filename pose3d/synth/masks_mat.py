"""The official bounding-box masks, ``MySegmentsMat/ground_truth_bb/<Seq>.<camera>.mat``.

The real files are MATLAB v7.3 (HDF5 behind a 512-byte MATLAB header). Their variable
``Masks`` is a 1 x N cell array; h5py sees it as an (N, 1) dataset of object
references, each to one frame's mask under ``#refs#``. MATLAB stores arrays column-major,
so an H x W mask reads in h5py as (W, H): learnable-triangulation's ``mask.max(0)`` then
runs along y (top, bottom) and ``mask.max(1)`` along x (left, right). Each mask is the
person's box filled with ones (a MATLAB logical, stored as uint8).
"""
from __future__ import annotations

import string
from pathlib import Path

import h5py
import numpy as np

from pose3d.io.atomic import replacing

#: Bytes reserved for the MATLAB header in front of the HDF5 data.
USERBLOCK = 512
#: Fixed creation date, so that equal masks give equal bytes.
_HEADER_TEXT = "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 1970 HDF5 schema 1.00 ."


def matlab_header() -> bytes:
    """The 512-byte header of a v7.3 MAT-file: text, subsystem offset, version 0x0200, 'IM'."""
    text = _HEADER_TEXT.ljust(116).encode("ascii")
    head = text + b" " * 8 + (0x0200).to_bytes(2, "little") + b"IM"
    return head.ljust(USERBLOCK, b"\0")


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of a mask's set pixels, bottom/right exclusive; zeros if empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return (0, 0, 0, 0)
    return (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


def box_mask(box: tuple[int, int, int, int], height: int, width: int) -> np.ndarray:
    """The (height, width) uint8 image of a filled box (top, left, bottom, right), exclusive ends."""
    top, left, bottom, right = box
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[top:bottom, left:right] = 1
    return mask


def _ref_names():
    """MATLAB's names for ``#refs#`` entries: a..z, A..Z, then two letters (ba, bb, ...)."""
    letters = string.ascii_lowercase + string.ascii_uppercase
    n = 0
    while True:
        k, name = n, ""
        while True:
            name = letters[k % len(letters)] + name
            k //= len(letters)
            if k == 0:
                break
        yield name
        n += 1


def _set_class(obj, matlab_class: str) -> None:
    obj.attrs.create("MATLAB_class", np.bytes_(matlab_class))


def write_bbox_mat(path: Path | str, boxes: np.ndarray, height: int, width: int) -> None:
    """Write per-frame boxes (N, 4) (top, left, bottom, right) as the official masks file."""
    path = Path(path)
    boxes = np.asarray(boxes)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
        raise ValueError(f"{path}: boxes must be (N>0, 4) top, left, bottom, right; got {boxes.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        # HDF5 1.10 objects: a one-chunk mask then needs no B-tree node (0.8 kB a frame, not 3.5 kB).
        with h5py.File(tmp, "w", userblock_size=USERBLOCK, libver=("v110", "v110")) as f:
            refs = f.create_group("#refs#")
            names = _ref_names()
            # MATLAB keeps an empty placeholder as the first entry of #refs#.
            empty = refs.create_dataset(next(names), data=np.zeros(2, dtype=np.uint64), track_times=False)
            _set_class(empty, "canonical empty")
            empty.attrs.create("MATLAB_empty", np.uint8(1))
            references = np.empty((len(boxes), 1), dtype=h5py.ref_dtype)
            for i, box in enumerate(boxes):
                # h5py writes C order; MATLAB reads the reverse, so (W, H) here is H x W there.
                data = box_mask(tuple(int(v) for v in box), height, width).T
                ds = refs.create_dataset(
                    next(names), data=data, chunks=data.shape, compression="gzip", compression_opts=3,
                    track_times=False,
                )
                _set_class(ds, "logical")
                ds.attrs.create("MATLAB_int_decode", np.int32(1))
                references[i, 0] = ds.ref
            masks = f.create_dataset("Masks", data=references, track_times=False)
            _set_class(masks, "cell")
        with open(tmp, "r+b") as fh:
            fh.write(matlab_header())


def read_bbox_mat(path: Path | str) -> np.ndarray:
    """(N, 4) int32 boxes (top, left, bottom, right; exclusive) read the way learnable-triangulation does."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            refs = f["Masks"][:, 0]
            out = np.empty((len(refs), 4), dtype=np.int32)
            for i, ref in enumerate(refs):
                mask = np.asarray(f[ref])  # (W, H): MATLAB's H x W, transposed
                h_mask, w_mask = mask.max(0), mask.max(1)
                top, bottom = h_mask.argmax(), len(h_mask) - h_mask[::-1].argmax()
                left, right = w_mask.argmax(), len(w_mask) - w_mask[::-1].argmax()
                out[i] = (top, left, bottom, right)
            return out
    except (OSError, KeyError) as exc:
        raise ValueError(f"{path}: not a Human3.6M bounding-box .mat file ({exc})") from exc
