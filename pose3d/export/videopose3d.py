"""VideoPose3D's own files (also read unchanged by SRNet and RIE): the two npz files ``convert`` wrote.

``convert`` already writes them in VideoPose3D's format, so they are hard-linked, not copied:
the export costs no bytes. 2D detection files in the same format (``data_2d_h36m_<name>.npz``
beside the ground truth) are linked with them.
"""
from __future__ import annotations

from pathlib import Path

from pose3d.export.common import ExportSettings, Inputs, link_or_copy, require, write_text

NAME = "videopose3d"

README = """# VideoPose3D-format files (VideoPose3D, SRNet, RIE)

{files}

Copy or link them into the seed's `data/` folder; then, for example:

- VideoPose3D: `python run.py -k gt -arc 3,3,3 -e 80` (train), `python run.py -k gt -arc 3,3,3 -c checkpoint --evaluate <epoch>.bin` (evaluate)
- SRNet: `python run.py -k gt ...` with its `config/*.sh` settings
- RIE: `python run.py -k gt ...` as its README lists

`data_3d_h36m.npz`: `positions_3d[subject][action]` (N, 32, 3) float32, world metres.
`data_2d_h36m_gt.npz`: `positions_2d[subject][action]` = 4 x (N, 17, 2) float32 pixels, one per camera in
index order, and `metadata`. A `data_2d_h36m_<name>.npz` is a 2D source in the same layout, for `-k <name>`.
Sequences excluded by `dataset.exclude` in params.yaml are not in the files (by default S11 `Directions`,
as VideoPose3D drops it).
"""


def export(inputs: Inputs, out: Path, settings: ExportSettings) -> dict:
    sources = [require(inputs.poses_3d_path, "3D poses", "convert"), *inputs.poses_2d_files()]
    out.mkdir(parents=True, exist_ok=True)
    for src in sources:
        link_or_copy(src, out / src.name)
    write_text(out / "README.md", README.format(files="\n".join(f"- `{p.name}`" for p in sources)))
    return {"files": [p.name for p in sources], "linked": True}
