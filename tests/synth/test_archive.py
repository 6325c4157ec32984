"""The synthetic stand-in on disk: official names, shapes, units, quirks, and determinism."""
from __future__ import annotations

import json

import cdflib
import numpy as np

from pose3d.geometry.projection import project_world, world_to_camera
from pose3d.h36m.cameras import CAMERA_IDS, get_camera
from pose3d.h36m.cdf_io import read_pose
from pose3d.h36m.layout import pose_path
from pose3d.h36m.sequences import subject_sequences
from pose3d.synth.archive import SubjectJob, write_subject
from pose3d.synth.profiles import PROFILES, get_profile
from tests.helpers import SUBJECTS, run_stage, write_params


def test_official_file_names_and_counts(tiny_raw):
    for subject in SUBJECTS:
        feats = tiny_raw / subject / "MyPoseFeatures"
        d3 = sorted(p.name for p in (feats / "D3_Positions").iterdir())
        assert d3 == sorted(f"{s.file_base}.cdf" for s in subject_sequences(subject))
        assert len(d3) == 30
        for feature in ("D2_Positions", "D3_Positions_mono"):
            names = {p.name for p in (feats / feature).iterdir()}
            assert len(names) == 120
            assert {f"{s.file_base}.{c}.cdf" for s in subject_sequences(subject) for c in CAMERA_IDS} == names
    s1 = {p.name for p in (tiny_raw / "S1/MyPoseFeatures/D3_Positions").iterdir()}
    assert {"TakingPhoto 1.cdf", "WalkingDog.cdf", "WalkTogether 1.cdf", "SittingDown 2.cdf"} <= s1
    assert "Photo 1.cdf" not in s1
    assert not list(tiny_raw.rglob(".tmp-*"))


def test_cdf_layout_as_official(tiny_raw):
    path = pose_path(tiny_raw, "S9", "D2_Positions", "Waiting 1", "55011271")
    cdf = cdflib.CDF(str(path))
    assert cdf.cdf_info().zVariables == ["Pose"]
    raw = cdf.varget("Pose")
    assert raw.shape[0] == 1 and raw.shape[2] == 64  # one record of N x (32 joints * 2)


def test_manifest_matches_profile(tiny_raw):
    manifest = json.loads((tiny_raw / "synthetic_manifest.json").read_text())
    profile = get_profile("tiny")
    assert manifest["profile"] == "tiny" and manifest["subjects"] == SUBJECTS
    for subject in SUBJECTS:
        for seq in subject_sequences(subject):
            n = manifest["pose_frames"][subject][seq.file_base]
            assert n == profile.pose_frames(seq)
            assert read_pose(pose_path(tiny_raw, subject, "D3_Positions", seq), 3).shape[0] == n
    # relative lengths survive the scaling: S9 'Waiting 1' (damaged, half length) stays short
    s9 = manifest["pose_frames"]["S9"]
    assert s9["Waiting 1"] < s9["Waiting"]


def test_projections_are_consistent(tiny_raw):
    seq = "Discussion 3"
    world = read_pose(pose_path(tiny_raw, "S5", "D3_Positions", seq), 3).astype(np.float64)
    assert 300 < np.abs(world).max() < 6000  # millimetres, inside the capture room
    for cam_id in CAMERA_IDS:
        cam = get_camera("S5", cam_id)
        mono = read_pose(pose_path(tiny_raw, "S5", "D3_Positions_mono", seq, cam_id), 3)
        uv = read_pose(pose_path(tiny_raw, "S5", "D2_Positions", seq, cam_id), 2)
        np.testing.assert_allclose(mono, world_to_camera(world, cam), atol=5e-3)
        assert np.abs(project_world(world, cam) - uv).max() < 1e-3
        assert (mono[..., 2] > 0).all()  # in front of every camera
        inside = (uv[..., 0] >= 0) & (uv[..., 0] < cam.width_px) & (uv[..., 1] >= 0) & (uv[..., 1] < cam.height_px)
        assert inside.mean() > 0.99


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a, b, c = (tmp_path / n for n in "abc")
    for root, seed in ((a, 3), (b, 3), (c, 4)):
        write_subject(SubjectJob(str(root), "S6", "tiny", seed))
    f = "S6/MyPoseFeatures/D2_Positions/Posing 2.60457274.cdf"
    assert (a / f).read_bytes() == (b / f).read_bytes()
    assert (a / f).read_bytes() != (c / f).read_bytes()


def test_profiles_scale():
    assert PROFILES["full"].pose_frames(subject_sequences("S1")[0]) == 1383
    total = {name: sum(p.pose_frames(s) for subj in SUBJECTS for s in subject_sequences(subj))
             for name, p in PROFILES.items()}
    assert total["full"] == 527_599
    assert total["tiny"] < total["default"] < total["full"]


def test_real_source_generates_nothing(tmp_path):
    write_params(tmp_path, dataset={"source": "real", "raw_dir": "/data/h36m"})
    proc = run_stage("synthesize", tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "data/raw/synthetic"
    assert [p.name for p in out.iterdir()] == ["NOT_GENERATED.txt"]


def test_unknown_profile_fails(tmp_path):
    write_params(tmp_path, synthesize={"profile": "huge"})
    proc = run_stage("synthesize", tmp_path)
    assert proc.returncode != 0 and "unknown synthesize profile 'huge'" in proc.stderr
    assert not (tmp_path / "data/raw/synthetic").exists()
