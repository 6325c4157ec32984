"""MATLAB v5 ``.mat`` files that are the same bytes for the same arrays.

``scipy.io.savemat`` writes the wall-clock time into the 116-byte text header; DVC records
each output's hash and a re-run must reproduce it, so the header text is fixed here. The file
is written atomically (temporary file + rename).
"""
from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import scipy.io

from pose3d.io.atomic import write_bytes

HEADER_BYTES = 116
HEADER = b"MATLAB 5.0 MAT-file, written by pose3d"


def write_mat(path: Path | str, arrays: Mapping[str, np.ndarray], compress: bool = True) -> None:
    buf = io.BytesIO()
    scipy.io.savemat(buf, dict(arrays), format="5", do_compression=compress)
    data = bytearray(buf.getvalue())
    if not data.startswith(b"MATLAB 5.0 MAT-file"):
        raise RuntimeError("scipy.io.savemat wrote no MATLAB 5 header")
    data[:HEADER_BYTES] = HEADER.ljust(HEADER_BYTES, b" ")
    write_bytes(path, bytes(data))
