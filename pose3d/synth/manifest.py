"""The marker of a synthetic tree: ``synthetic_manifest.json`` at its root.

Kept apart from the generator so that readers of the archive (``convert``) do not
import, or depend on, the motion code.
"""
from __future__ import annotations

import json
from pathlib import Path

from pose3d.io.atomic import write_bytes

MANIFEST = "synthetic_manifest.json"


def write_manifest(root: Path, profile: str, seed: int, frames: dict[str, dict[str, int]],
                   videos: dict | None = None) -> None:
    """Written last by the generator, so its presence means the tree is complete.

    ``videos`` (when any were rendered): scale, size, codec, fps and, per subject,
    {'<Seq>.<camera>': video frames}.
    """
    data = {
        "generator": "pose3d synthetic Human3.6M stand-in",
        "profile": profile,
        "seed": seed,
        "subjects": list(frames),
        "pose_frames": frames,
    }
    if videos:
        data["videos"] = videos
    write_bytes(Path(root) / MANIFEST, json.dumps(data, indent=1).encode())


def read_manifest(root: Path) -> dict | None:
    """The manifest of a synthetic tree, or None for a real download."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text())
