"""DVC stage ``inputs_2d@<name>``: one 2D source of params.yaml's ``inputs_2d``, checked and made into a file.

Reads the entry's VideoPose3D-format ``file`` (ground truth or detections) and the 3D data,
checks it as VideoPose3D's ``run.py`` does (every subject, action and camera of the mocap
present, at least as long as the mocap; truncated to it), applies the noise model and the
missing-joint fill when the entry asks, and writes ``data/processed/inputs_2d/<name>.npz`` in
the same format. Lifting experiments and the priors read that file, so DVC re-runs only the
stages whose source changed.
"""
from __future__ import annotations

import time
from pathlib import Path

from pose3d.detections.load import DetectionsError, save_2d
from pose3d.detections.sources import Source2D, materialise
from pose3d.h36m.vp3d_format import load_3d
from stages.common import fail, provenance, start, write_json

POSES = Path("data/processed/poses")


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(__doc__, argv, "inputs_2d@{source}", source={"required": True})
    try:
        source = Source2D.from_params(params, args.source)
    except (KeyError, ValueError) as exc:
        fail(log, f"params.yaml inputs_2d: {exc}")
    poses_file = POSES / "data_3d_h36m.npz"
    if not poses_file.is_file():
        fail(log, f"{poses_file}: missing (run the convert stage first)")
    t0 = time.time()
    try:
        views, metadata = materialise(source, load_3d(poses_file))
    except (DetectionsError, ValueError) as exc:
        fail(log, f"inputs_2d.{args.source}: {exc}")
    save_2d(source.path, views, metadata)
    frames = sum(v[0].shape[0] for acts in views.values() for v in acts.values())
    write_json(source.path.with_suffix(".provenance.json"),
               provenance(seconds=time.time() - t0, source=metadata["source"], frames_per_camera=frames))
    log.info("%s: %d subjects, %d frames per camera, %s%s -> %s", args.source, len(views), frames, metadata["source"],
             " (with scores)" if metadata["scores"] else "", source.path)


if __name__ == "__main__":
    main()
