"""The ``export@<format>`` stage: where it writes, what it logs, and the inputs and params it refuses."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from tests.helpers import run_stage, write_params


@pytest.fixture
def workspace(export_inputs, tmp_path):
    for name, src in (("poses", export_inputs.poses_dir), ("priors", export_inputs.priors_dir)):
        shutil.copytree(src, tmp_path / "data/processed" / name)
    # the test subject's frames only: few crops, so the image formats write few images
    shutil.copytree(export_inputs.frames_dir / "S9", tmp_path / "data/processed/frames/S9")
    write_params(tmp_path)
    return tmp_path


def test_stage_writes_the_format_folder_and_logs_its_size(workspace):
    proc = run_stage("export", workspace, "--format", "poseaug")
    assert proc.returncode == 0, proc.stderr
    out = workspace / "data/exports/poseaug"
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "data_2d_h36m_gt.npz", "data_3d_h36m.npz"]
    assert "data/exports/poseaug: 3 files" in proc.stderr and " MB in " in proc.stderr
    prov = json.loads((workspace / "data/exports/poseaug.provenance.json").read_text())
    assert prov["files"] == 3 and prov["bytes"] > 0 and prov["summary"]["files"][0] == "data_3d_h36m.npz"


def test_image_format_logs_the_images(workspace):
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["export"]["learnable_triangulation"]["jpeg_qscale"] = 9
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))
    proc = run_stage("export", workspace, "--format", "learnable_triangulation")
    assert proc.returncode == 0, proc.stderr
    assert "images, " in proc.stderr and "made from the frames' crops" in proc.stderr
    assert list((workspace / "data/exports/learnable_triangulation/processed").rglob("*.jpg"))


def test_unknown_format_is_refused(workspace):
    proc = run_stage("export", workspace, "--format", "openpose")
    assert proc.returncode == 1 and "unknown export format 'openpose'" in proc.stderr
    assert not (workspace / "data/exports").exists()


def test_bad_quality_is_refused_before_writing(workspace):
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["export"]["integral"]["jpeg_qscale"] = 0
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))
    proc = run_stage("export", workspace, "--format", "integral")
    assert proc.returncode == 1 and "export.integral.jpeg_qscale: 0 is not within 1..31" in proc.stderr
    assert not (workspace / "data/exports/integral").exists()


def test_missing_priors_fail_naming_the_file_and_leave_nothing(workspace):
    shutil.rmtree(workspace / "data/processed/priors")
    proc = run_stage("export", workspace, "--format", "learnable_triangulation")
    assert proc.returncode == 1
    assert "data/processed/priors/pelvis_priors.npz: pelvis priors missing (run the priors stage first)" in proc.stderr
    assert not (workspace / "data/exports/learnable_triangulation").exists()
    assert not [p for p in (workspace / "data/exports").iterdir() if p.name.startswith(".")]
