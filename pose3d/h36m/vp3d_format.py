"""VideoPose3D's ``data_3d_h36m.npz`` / ``data_2d_h36m_gt.npz``: exact key layout, atomic writes.

Both files hold a 0-d object array wrapping a nested dict, which is what VideoPose3D's
loader does ``np.load(..., allow_pickle=True)['positions_3d'].item()`` on.
"""
from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from pose3d.h36m.skeleton import VP3D_2D_METADATA


def _savez_atomic(path: Path, compress: bool, **arrays) -> None:
    """Both zip flavours load the same way; compression costs ~10x the write time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", compression=method, allowZip64=True) as zf:
            for name, value in arrays.items():
                # A fixed timestamp (np.savez stamps "now") makes equal data give equal bytes,
                # so DVC does not see a changed output and re-run everything downstream.
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = method
                with zf.open(info, "w", force_zip64=True) as member:
                    _write_npy(member, np.asanyarray(value))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_npy(fp, array: np.ndarray) -> None:
    """``np.lib.format.write_array``, but object arrays are pickled with protocol 5.

    numpy uses protocol 4, which copies each contained array through ``tobytes`` and
    is ~10x slower; ``np.load`` reads either (any Python >= 3.8).
    """
    if array.dtype.hasobject:
        np.lib.format.write_array_header_1_0(fp, np.lib.format.header_data_from_array_1_0(array))
        pickle.dump(array, fp, protocol=5)
    else:
        np.lib.format.write_array(fp, array)


def _object(value) -> np.ndarray:
    arr = np.empty((), dtype=object)
    arr[()] = value
    return arr


def save_3d(path: Path, positions_3d: dict[str, dict[str, np.ndarray]], compress: bool = False) -> None:
    """``positions_3d[subject][key]`` = (N, 32, 3) float32 world metres."""
    _savez_atomic(Path(path), compress, positions_3d=_object(positions_3d))


def save_2d(
    path: Path,
    positions_2d: dict[str, dict[str, list[np.ndarray]]],
    metadata: dict | None = None,
    compress: bool = False,
) -> None:
    """``positions_2d[subject][key]`` = 4 x (N, 17, 2) float32 pixels, plus ``metadata``."""
    _savez_atomic(
        Path(path),
        compress,
        positions_2d=_object(positions_2d),
        metadata=_object(dict(VP3D_2D_METADATA if metadata is None else metadata)),
    )


def load_3d(path: Path) -> dict[str, dict[str, np.ndarray]]:
    return np.load(path, allow_pickle=True)["positions_3d"].item()


def load_2d(path: Path) -> tuple[dict[str, dict[str, list[np.ndarray]]], dict]:
    data = np.load(path, allow_pickle=True)
    return data["positions_2d"].item(), data["metadata"].item()
