"""The convert stage on the tiny stand-in: VideoPose3D's formats, checks, and bad input."""
from __future__ import annotations

import csv
import json
import shutil

import cdflib
import numpy as np
import pytest
from cdflib.cdfwrite import CDF as CDFWriter

from pose3d.geometry.projection import project_world
from pose3d.h36m.cameras import CAMERA_IDS, get_camera
from pose3d.h36m.cdf_io import read_pose, write_pose
from pose3d.h36m.layout import pose_path
from pose3d.h36m.sequences import lookup, subject_sequences
from pose3d.h36m.skeleton import H36M17_FROM_32, VP3D_2D_METADATA
from tests.helpers import SUBJECTS, run_stage, write_params

OUT = "data/processed/poses"


@pytest.fixture(scope="module")
def converted(tiny_raw, tmp_path_factory):
    ws = tmp_path_factory.mktemp("convert")
    write_params(ws, dataset={"raw_dir": str(tiny_raw)}, convert={"check_mono": True})
    proc = run_stage("convert", ws)
    assert proc.returncode == 0, proc.stderr
    return ws / OUT


def load(path, key):
    return np.load(path, allow_pickle=True)[key].item()


def test_outputs_exist(converted):
    names = {p.name for p in converted.iterdir()}
    assert names == {"data_3d_h36m.npz", "data_2d_h36m_gt.npz", "cameras.json", "sequences.csv"}
    assert (converted.parent / "poses.provenance.json").is_file()


def test_3d_format_units_and_keys(converted, tiny_raw):
    p3 = load(converted / "data_3d_h36m.npz", "positions_3d")
    assert list(p3) == SUBJECTS
    for subject in SUBJECTS:
        expected = {s.key for s in subject_sequences(subject)} - ({"Directions"} if subject == "S11" else set())
        assert set(p3[subject]) == expected
    assert "Photo 1" in p3["S1"] and "WalkDog" in p3["S1"] and "TakingPhoto 1" not in p3["S1"]
    arr = p3["S5"]["Discussion 2"]
    assert arr.dtype == np.float32 and arr.ndim == 3 and arr.shape[1:] == (32, 3)
    raw_mm = read_pose(pose_path(tiny_raw, "S5", "D3_Positions", "Discussion 2"), 3)
    np.testing.assert_allclose(arr, raw_mm / 1000, rtol=0, atol=1e-6)  # metres, world frame
    assert 0.5 < np.median(arr[:, 15, 2]) < 2.2  # head-top height in metres


def test_2d_format_joint_order_and_metadata(converted, tiny_raw):
    npz = np.load(converted / "data_2d_h36m_gt.npz", allow_pickle=True)
    assert set(npz.files) == {"positions_2d", "metadata"}
    meta = npz["metadata"].item()
    assert meta == VP3D_2D_METADATA and "layout_name" not in meta
    p2 = npz["positions_2d"].item()
    views = p2["S7"]["Walking 1"]
    assert isinstance(views, list) and len(views) == 4
    for c, cam in enumerate(CAMERA_IDS):
        raw2d = read_pose(pose_path(tiny_raw, "S7", "D2_Positions", "Walking 1", cam), 2)
        assert views[c].dtype == np.float32 and views[c].shape == (raw2d.shape[0], 17, 2)
        np.testing.assert_array_equal(views[c], raw2d[:, list(H36M17_FROM_32)])
    # the 2D really is the projection of the 3D with this subject's camera (joint order agrees)
    p3 = load(converted / "data_3d_h36m.npz", "positions_3d")
    uv = project_world(p3["S7"]["Walking 1"][:, list(H36M17_FROM_32)].astype(np.float64) * 1000, get_camera("S7", 2))
    assert np.abs(uv - views[2]).max() < 1e-2


def test_videopose3d_loader_contract(converted):
    """What VideoPose3D's run.py asserts when it pairs 2D with 3D."""
    p3 = load(converted / "data_3d_h36m.npz", "positions_3d")
    p2 = load(converted / "data_2d_h36m_gt.npz", "positions_2d")
    for subject in p3:
        assert subject in p2
        for action in p3[subject]:
            assert action in p2[subject]
            for cam_idx in range(len(p2[subject][action])):
                assert p2[subject][action][cam_idx].shape[0] >= p3[subject][action].shape[0]


def test_sequences_csv_and_cameras(converted, tiny_raw):
    rows = list(csv.DictReader(open(converted / "sequences.csv")))
    assert len(rows) == 7 * 30
    manifest = json.loads((tiny_raw / "synthetic_manifest.json").read_text())
    for r in rows:
        assert int(r["pose_frames"]) == manifest["pose_frames"][r["subject"]][r["file_base"]]
        assert int(r["table_pose_frames"]) == lookup(r["subject"], r["file_base"]).pose_frames
        assert float(r["max_reprojection_px"]) < 1e-3
        assert float(r["max_mono_error_mm"]) < 1e-2
    excluded = [(r["subject"], r["key"]) for r in rows if r["excluded"] == "True"]
    assert excluded == [("S11", "Directions")]
    cams = json.loads((converted / "cameras.json").read_text())
    s7 = cams["subjects"]["S7"]["55011271"]
    assert s7["res_h"] == 1002 and s7["res_w"] == 1000
    assert s7["tangential_vp3d_p1p2"] == s7["tangential_metadata_pApB"][::-1]


# ---------------------------------------------------------------- bad input


def _convert_s1(raw, ws):
    write_params(ws, dataset={"raw_dir": str(raw), "subjects": ["S1"]})
    return run_stage("convert", ws)


def _assert_failed_cleanly(proc, ws, *needles):
    assert proc.returncode != 0
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (ws / OUT).exists()
    assert not list((ws / "data/processed").glob(".poses.tmp-*")) if (ws / "data/processed").exists() else True


def test_good_single_subject_passes(archive_copy, tmp_path):
    proc = _convert_s1(archive_copy(), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert list(load(tmp_path / OUT / "data_3d_h36m.npz", "positions_3d")) == ["S1"]


def test_truncated_cdf(archive_copy, tmp_path):
    raw = archive_copy()
    bad = pose_path(raw, "S1", "D2_Positions", "Eating 2", "58860488")
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    _assert_failed_cleanly(_convert_s1(raw, tmp_path), tmp_path, str(bad))


def test_corrupt_cdf(archive_copy, tmp_path):
    raw = archive_copy()
    bad = pose_path(raw, "S1", "D3_Positions", "Sitting 2")
    bad.write_bytes(np.random.default_rng(0).bytes(bad.stat().st_size))
    _assert_failed_cleanly(_convert_s1(raw, tmp_path), tmp_path, str(bad), "not a readable CDF")


def test_missing_file(archive_copy, tmp_path):
    raw = archive_copy()
    gone = pose_path(raw, "S1", "D3_Positions", "WalkingDog 1")
    gone.unlink()
    _assert_failed_cleanly(_convert_s1(raw, tmp_path), tmp_path, "WalkingDog 1.cdf", "missing")


def test_wrong_variable_shape(archive_copy, tmp_path):
    raw = archive_copy()
    bad = pose_path(raw, "S1", "D3_Positions", "Greeting")
    n = read_pose(bad, 3).shape[0]
    bad.unlink()
    writer = CDFWriter(str(bad), {"Majority": "Row_major", "Encoding": 6})
    writer.write_var(
        {"Variable": "Pose", "Data_Type": CDFWriter.CDF_FLOAT, "Num_Elements": 1, "Rec_Vary": True,
         "Dim_Sizes": [n, 17 * 3], "Compress": 0},
        var_attrs={}, var_data=np.zeros((1, n, 51), np.float32),
    )
    writer.close()
    assert cdflib.CDF(str(bad)).varinq("Pose").Dim_Sizes == [n, 51]
    _assert_failed_cleanly(_convert_s1(raw, tmp_path), tmp_path, str(bad), "expected (N, 96)")


def test_frame_count_disagrees_with_table(archive_copy, tmp_path):
    raw = archive_copy()
    seq = lookup("S1", "Posing")
    bad = pose_path(raw, "S1", "D3_Positions", seq)
    poses = read_pose(bad, 3)
    write_pose(bad, poses[:-3])
    _assert_failed_cleanly(_convert_s1(raw, tmp_path), tmp_path, str(bad), f"{poses.shape[0] - 3} frames")


def test_real_archive_frame_counts_come_from_the_official_table(archive_copy, tmp_path):
    """Without the synthetic manifest, the tiny files disagree with Appendix A and are refused."""
    raw = archive_copy()
    (raw / "synthetic_manifest.json").unlink()
    _assert_failed_cleanly(_convert_s1(raw, tmp_path), tmp_path, "the sequence table says 1383")


def test_2d_file_of_another_camera(archive_copy, tmp_path):
    raw = archive_copy()
    a = pose_path(raw, "S1", "D2_Positions", "Smoking", "54138969")
    b = pose_path(raw, "S1", "D2_Positions", "Smoking", "60457274")
    tmp = a.with_suffix(".swap")
    shutil.move(a, tmp)
    shutil.move(b, a)
    shutil.move(tmp, b)
    _assert_failed_cleanly(_convert_s1(raw, tmp_path), tmp_path, "does not match the projection")


def test_nan_values(archive_copy, tmp_path):
    raw = archive_copy()
    bad = pose_path(raw, "S1", "D2_Positions", "Purchases", "55011271")
    poses = read_pose(bad, 2)
    poses[5, 3, 1] = np.nan
    write_pose(bad, poses)
    _assert_failed_cleanly(_convert_s1(raw, tmp_path), tmp_path, str(bad), "NaN")


def test_mono_files_checked_only_when_asked(archive_copy, tmp_path):
    raw = archive_copy()
    bad = pose_path(raw, "S1", "D3_Positions_mono", "Purchases", "55011271")
    poses = read_pose(bad, 3)
    poses[:, :, 2] += 2.0  # 2 mm off along the optical axis
    write_pose(bad, poses)
    assert _convert_s1(raw, tmp_path).returncode == 0  # default: VideoPose3D needs no mono files
    shutil.rmtree(tmp_path / OUT)
    write_params(tmp_path, dataset={"raw_dir": str(raw), "subjects": ["S1"]}, convert={"check_mono": True})
    _assert_failed_cleanly(run_stage("convert", tmp_path), tmp_path, str(bad), "moved into camera 55011271")


def test_mono_folder_not_needed_by_default(archive_copy, tmp_path):
    raw = archive_copy()
    shutil.rmtree(raw / "S1/MyPoseFeatures/D3_Positions_mono")
    assert _convert_s1(raw, tmp_path).returncode == 0


def test_unknown_exclusion_rule_and_subject(archive_copy, tmp_path):
    raw = archive_copy()
    write_params(tmp_path, dataset={"raw_dir": str(raw), "subjects": ["S1"], "exclude": ["s11_directons"]})
    _assert_failed_cleanly(run_stage("convert", tmp_path), tmp_path, "unknown exclusion rule 's11_directons'")
    write_params(tmp_path, dataset={"raw_dir": str(raw), "subjects": ["S2"]})
    _assert_failed_cleanly(run_stage("convert", tmp_path), tmp_path, "S2")
