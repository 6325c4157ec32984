"""Reading and writing the official pose CDF files (variable ``Pose``, one record of N x 32*D).

Every problem with a file is raised as :class:`PoseFileError`, naming the file, so
that a stage can stop with one clear line instead of a cdflib traceback.
"""
from __future__ import annotations

from pathlib import Path

import cdflib
import numpy as np
from cdflib.cdfwrite import CDF as CDFWriter

from pose3d.io.atomic import replacing

NUM_JOINTS = 32
VARIABLE = "Pose"


class PoseFileError(ValueError):
    """A pose file is missing, unreadable or does not hold what the table says."""

    def __init__(self, path: Path | str, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self):  # keeps path and problem when raised inside a worker process
        return (type(self), (self.path, self.problem))


def read_pose(path: Path | str, dims: int, expected_frames: int | None = None) -> np.ndarray:
    """The ``Pose`` variable as a (N, 32, dims) float32 array, validated.

    Accepts the stored (1, N, 32*dims) record as well as an (N, 32*dims) variable,
    float32 or float64, so that any cdflib version and either CDF type read the same.
    """
    path = Path(path)
    if not path.is_file():
        raise PoseFileError(path, "file is missing")
    try:
        cdf = cdflib.CDF(str(path))
        names = cdf.cdf_info().zVariables + cdf.cdf_info().rVariables
        if VARIABLE not in names:
            raise PoseFileError(path, f"no variable {VARIABLE!r} (variables: {names})")
        data = _read_single_block(cdf, path)
        if data is None:
            data = np.asarray(cdf.varget(VARIABLE))
    except PoseFileError:
        raise
    except Exception as exc:  # cdflib raises many types for damaged files
        raise PoseFileError(path, f"not a readable CDF file ({type(exc).__name__}: {exc})") from exc
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    width = NUM_JOINTS * dims
    if data.ndim != 2 or data.shape[1] != width:
        raise PoseFileError(path, f"variable {VARIABLE!r} has shape {data.shape}, expected (N, {width})")
    if not np.issubdtype(data.dtype, np.floating):
        raise PoseFileError(path, f"variable {VARIABLE!r} has type {data.dtype}, expected floating point")
    if expected_frames is not None and data.shape[0] != expected_frames:
        raise PoseFileError(path, f"{data.shape[0]} frames, the sequence table says {expected_frames}")
    if not np.isfinite(data.sum(dtype=np.float64)):  # one pass, no temporary; any NaN/inf propagates
        raise PoseFileError(path, "contains NaN or infinite values")
    return data.reshape(-1, NUM_JOINTS, dims).astype(np.float32, copy=False)


_FLOAT_TYPES = {21: "f4", 44: "f4", 22: "f8", 45: "f8"}  # CDF_REAL4, CDF_FLOAT, CDF_REAL8, CDF_DOUBLE


def _read_single_block(cdf: cdflib.CDF, path: Path) -> np.ndarray | None:
    """The ``Pose`` values read straight from disk into one array, or None to use ``varget``.

    cdflib locates the data (variable descriptor and index records); when the variable
    is one uncompressed float block, as pose files are, the bytes go from the file into
    the array in one copy. ``varget`` copies them four times, which at Human3.6M scale
    (1.5 GB) costs more than all the checks of ``convert``. Anything unusual
    (compression, several blocks, other types) takes the ``varget`` path.
    """
    try:
        if cdf.cdfversion != 3 or cdf.compressed_file is not None:
            return None
        vdr = cdf.vdr_info(VARIABLE)
        kind = _FLOAT_TYPES.get(vdr.data_type)
        if kind is None or vdr.num_elements != 1 or vdr.sparse != 0:
            return None
        offsets, first, last = cdf._read_vxrs(vdr.head_vxr, vvr_offsets=[], vvr_start=[], vvr_end=[])
        if len(offsets) != 1 or first[0] != 0 or last[0] != vdr.max_rec:
            return None
        with open(path, "rb") as f:
            f.seek(offsets[0])
            head = f.read(12)
        if int.from_bytes(head[8:12], "big") != 7:  # 7 = plain VVR, 13 = compressed
            return None
        shape = (vdr.max_rec + 1, *vdr.dim_sizes)
        dtype = np.dtype(("<" if cdf._endian() == "little-endian" else ">") + kind)
        count = int(np.prod(shape))
        if int.from_bytes(head[:8], "big") - 12 != count * dtype.itemsize:
            return None
        data = np.fromfile(path, dtype=dtype, count=count, offset=offsets[0] + 12)
        return data.reshape(shape).astype(dtype.newbyteorder("="), copy=False)
    except Exception:  # cdflib internals changed: the public path still works
        return None


def write_pose(path: Path | str, poses: np.ndarray, dtype: type = np.float32) -> None:
    """Write (N, 32, D) poses as the official layout does: one record of (N, 32*D).

    Written to a temporary file in the same folder and renamed, so a crash never
    leaves half a CDF behind. ``path`` must end in ``.cdf``: cdflib adds it to a name without.
    """
    path = Path(path)
    poses = np.asarray(poses)
    if path.suffix != ".cdf":
        raise ValueError(f"{path}: a pose file must end in .cdf")
    if poses.ndim != 3 or poses.shape[1] != NUM_JOINTS:
        raise ValueError(f"{path}: poses must be (N, 32, D), got {poses.shape}")
    n, _, d = poses.shape
    data = np.ascontiguousarray(poses.reshape(1, n, NUM_JOINTS * d), dtype=dtype)
    cdf_type = CDFWriter.CDF_FLOAT if data.dtype == np.float32 else CDFWriter.CDF_DOUBLE
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        writer = CDFWriter(tmp, {"Majority": "Row_major", "Encoding": 6})
        writer.write_var(
            {
                "Variable": VARIABLE,
                "Data_Type": cdf_type,
                "Num_Elements": 1,
                "Rec_Vary": True,
                "Dim_Sizes": [n, NUM_JOINTS * d],
                "Compress": 0,
            },
            var_attrs={},
            var_data=data,
        )
        writer.close()
