"""Command line of :mod:`pose3d.detections`.

``python -m pose3d.detections import --format {mmpose,coco,csv} FILE --name NAME
[--annotations FILE] [--poses data_3d_h36m.npz] [--out-dir data/raw/detections]``
writes ``<out-dir>/data_2d_h36m_<NAME>.npz`` (formats in :mod:`pose3d.detections.importers`).
Bad input prints one line naming the file and the problem, exits 1 and writes nothing.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from pose3d.detections.importers import FORMATS, import_detections
from pose3d.detections.load import DetectionsError

OUT_DIR = Path("data/raw/detections")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def output_path(out_dir: Path, name: str) -> Path:
    """``<out_dir>/data_2d_h36m_<name>.npz``; the name must be usable in a file name."""
    if not _NAME.match(name):
        raise ValueError(f"--name {name!r}: use letters, digits, '_', '.' or '-'")
    return Path(out_dir) / f"data_2d_h36m_{name}.npz"


def _import(args: argparse.Namespace) -> None:
    out = output_path(args.out_dir, args.name)
    summary = import_detections(args.format, args.file, out, args.annotations, args.poses)
    print(summary.line(out))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pose3d.detections", description=__doc__.splitlines()[0])
    commands = p.add_subparsers(dest="command", required=True)
    imp = commands.add_parser("import", help="convert another detector's 2D output to VideoPose3D's npz")
    # no argparse choices: an unknown format is reported with the file it was meant for
    imp.add_argument("--format", required=True, help=f"one of {', '.join(FORMATS)}")
    imp.add_argument("file", type=Path, help="the detections file")
    imp.add_argument("--name", required=True, help="source name: writes data_2d_h36m_<name>.npz")
    imp.add_argument("--annotations", type=Path, help="mmpose annotation npz (mmpose .npy) or COCO json (coco)")
    imp.add_argument("--poses", type=Path, help="data_3d_h36m.npz: sequence lengths follow the mocap")
    imp.add_argument("--out-dir", type=Path, default=OUT_DIR, help=f"output folder (default {OUT_DIR})")
    imp.set_defaults(run=_import)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (DetectionsError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
