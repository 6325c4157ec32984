"""``np.savez`` without its wall-clock zip timestamps: the same arrays give the same bytes.

DVC records each output's hash, and a re-run with the same inputs must reproduce it, so
zip members get a fixed date. Written atomically (temporary file + rename).
"""
from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from pose3d.io.atomic import replacing

_EPOCH = (1980, 1, 1, 0, 0, 0)


def write_npz(path: Path | str, arrays: Mapping[str, object], compress: bool = False) -> None:
    """``np.savez`` (``compress``: ``np.savez_compressed``) of ``arrays``; objects such as dicts are
    pickled into 0-d object arrays, exactly as numpy does, for ``np.load(..., allow_pickle=True)``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with replacing(path) as tmp:
        with zipfile.ZipFile(tmp, "w", method, allowZip64=True) as zf:
            for key, value in arrays.items():
                arr = np.asanyarray(value)
                info = zipfile.ZipInfo(f"{key}.npy", date_time=_EPOCH)
                info.compress_type = method
                with zf.open(info, "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, arr, allow_pickle=arr.dtype.hasobject)
