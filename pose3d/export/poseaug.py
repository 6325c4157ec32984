"""PoseAug's layout (also read by RS-Net and SemGCN): VideoPose3D's npz files with 16 2D joints.

These seeds drop Neck/Nose (17-joint index 9) so that ground truth and stacked-hourglass
detections have the same joints; their 2D file says so in its metadata (16 joints, the
symmetry lists renumbered). The 3D file keeps its 32 joints (the 16 are taken at load
time) and is hard-linked.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pose3d.export.common import ExportError, ExportSettings, Inputs, link_or_copy, require, write_text
from pose3d.h36m.skeleton import LEFT_16, RIGHT_16, to_16
from pose3d.h36m.vp3d_format import load_2d
from pose3d.io.npz import write_npz

NAME = "poseaug"
METADATA_16: dict = {"num_joints": 16, "keypoints_symmetry": [list(LEFT_16), list(RIGHT_16)]}

README = """# PoseAug-format files (PoseAug, RS-Net, SemGCN)

{files}

- PoseAug / SemGCN: put them in the seed's `data/` folder; e.g. `python run_baseline.py --note pretrain --keypoints gt ...`
  or `python run_poseaug.py --keypoints gt ...` as its README lists.
- RS-Net: put them in its `dataset/` folder and run `python main.py -k gt` (its `opt1.py` reads
  `./dataset/data_2d_h36m_<k>.npz` and `data_3d_h36m.npz`).

`data_3d_h36m.npz`: `positions_3d[subject][action]` (N, 32, 3) float32, world metres (the seeds keep 16 joints at load).
`data_2d_h36m_<name>.npz`: `positions_2d[subject][action]` = 4 x (N, 16, 2) float32 pixels (the 17 joints without
Neck/Nose), `metadata` = `{metadata}`.
Sequences excluded by `dataset.exclude` in params.yaml are not in the files.
"""


def to_16_joint_file(src: Path, dst: Path) -> None:
    """A 17-joint VideoPose3D 2D file -> the same file with 16 joints and PoseAug's metadata."""
    poses, meta = load_2d(src)
    if int(meta.get("num_joints", 17)) != 17:
        raise ExportError(src, f"expected 17 joints in the 2D file, its metadata says {meta.get('num_joints')}")
    out = {}
    for subject, actions in poses.items():
        out[subject] = {}
        for key, views in actions.items():
            if any(v.shape[1:] != (17, 2) for v in views):
                raise ExportError(src, f"{subject} {key!r}: views are not (N, 17, 2)")
            out[subject][key] = [np.ascontiguousarray(to_16(v)) for v in views]
    write_npz(dst, {"positions_2d": out, "metadata": dict(METADATA_16)}, compress=True)


def export(inputs: Inputs, out: Path, settings: ExportSettings) -> dict:
    p3 = require(inputs.poses_3d_path, "3D poses", "convert")
    sources_2d = inputs.poses_2d_files()
    out.mkdir(parents=True, exist_ok=True)
    link_or_copy(p3, out / p3.name)
    for src in sources_2d:
        to_16_joint_file(src, out / src.name)
    names = [p3.name] + [p.name for p in sources_2d]
    write_text(out / "README.md", README.format(files="\n".join(f"- `{n}`" for n in names), metadata=METADATA_16))
    return {"files": names}
