"""The tiny stand-in through convert, frames (S1, S9) and priors, once per session: what the exports read."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pose3d.export.common import ExportSettings, Inputs
from tests.helpers import run_stage, write_params

FRAME_SUBJECTS = ("S1", "S9")


@pytest.fixture(scope="session")
def export_inputs(tiny_raw, tiny_poses, tmp_path_factory) -> Inputs:
    """:class:`Inputs` of a workspace holding the tiny run's poses, frames of S1 and S9, and priors."""
    ws = tmp_path_factory.mktemp("export_inputs")
    shutil.copytree(tiny_poses, ws / "data/processed/poses")
    write_params(ws, dataset={"raw_dir": str(tiny_raw)}, frames={"workers": 1}, priors={"workers": 1})
    for subject in FRAME_SUBJECTS:
        proc = run_stage("frames", ws, "--subject", subject)
        assert proc.returncode == 0, proc.stderr
    # the priors' 2D, its triangulation, then the priors
    for stage, args in (("inputs_2d", ("--source", "noisy")), ("triangulate", ()), ("priors", ())):
        proc = run_stage(stage, ws, *args)
        assert proc.returncode == 0, proc.stderr
    root = Path(ws)
    return Inputs(root / "data/processed/poses", root / "data/processed/frames", root / "data/processed/priors")


@pytest.fixture(scope="session")
def export_settings() -> ExportSettings:
    return ExportSettings()


@pytest.fixture(scope="session")
def exported(export_inputs, export_settings, tmp_path_factory):
    """``exported(name)``: the folder that format's ``export`` wrote from :func:`export_inputs` (once per format)."""
    from pose3d.export.formats import FORMATS

    done: dict[str, tuple[Path, dict]] = {}

    def run(name: str) -> tuple[Path, dict]:
        if name not in done:
            out = tmp_path_factory.mktemp(f"export_{name}") / name
            summary = FORMATS[name].export(export_inputs, out, export_settings)
            done[name] = (out, summary)
        return done[name]

    return run
