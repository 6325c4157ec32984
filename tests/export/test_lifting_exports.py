"""videopose3d and poseaug exports, read back the way the seeds' loaders read them."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from pose3d.export import poseaug, videopose3d
from pose3d.export.common import ExportError, ExportSettings, Inputs
from pose3d.io.npz import write_npz


def _vp3d_2d(path):
    data = np.load(path, allow_pickle=True)
    return data["positions_2d"].item(), data["metadata"].item()


def test_videopose3d_files_are_the_converted_ones(exported, export_inputs):
    out, summary = exported("videopose3d")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "data_2d_h36m_gt.npz", "data_3d_h36m.npz"]
    for name in ("data_3d_h36m.npz", "data_2d_h36m_gt.npz"):
        assert (out / name).read_bytes() == (export_inputs.poses_dir / name).read_bytes()
    p3 = np.load(out / "data_3d_h36m.npz", allow_pickle=True)["positions_3d"].item()
    p2, meta = _vp3d_2d(out / "data_2d_h36m_gt.npz")
    assert sorted(p3) == sorted(["S1", "S5", "S6", "S7", "S8", "S9", "S11"]) and "Directions" not in p3["S11"]
    assert p3["S9"]["Walking 1"].dtype == np.float32 and p3["S9"]["Walking 1"].shape[1:] == (32, 3)
    assert len(p2["S9"]["Walking 1"]) == 4 and p2["S9"]["Walking 1"][0].shape == (len(p3["S9"]["Walking 1"]), 17, 2)
    assert meta == {"num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    assert "python run.py -k gt" in (out / "README.md").read_text()


def test_poseaug_2d_has_16_joints_and_its_metadata(exported, export_inputs):
    out, _ = exported("poseaug")
    assert (out / "data_3d_h36m.npz").read_bytes() == export_inputs.poses_3d_path.read_bytes()
    p2, meta = _vp3d_2d(out / "data_2d_h36m_gt.npz")
    assert meta == {"num_joints": 16, "keypoints_symmetry": [[4, 5, 6, 10, 11, 12], [1, 2, 3, 13, 14, 15]]}
    gt = export_inputs.poses_2d
    assert sorted(p2) == sorted(gt)
    for s in gt:
        assert sorted(p2[s]) == sorted(gt[s])
    views = p2["S1"]["Directions 1"]
    assert len(views) == 4 and views[2].dtype == np.float32 and views[2].shape[1:] == (16, 2)
    # Neck/Nose (17-joint index 9) is the joint that is gone; the rest keep their order
    np.testing.assert_array_equal(views[2][:, :9], gt["S1"]["Directions 1"][2][:, :9])
    np.testing.assert_array_equal(views[2][:, 9:], gt["S1"]["Directions 1"][2][:, 10:])


@pytest.fixture
def poses_with_detections(export_inputs, tmp_path):
    """A copy of the poses folder with a detections file beside the ground truth."""
    poses = tmp_path / "poses"
    shutil.copytree(export_inputs.poses_dir, poses)
    gt, meta = _vp3d_2d(poses / "data_2d_h36m_gt.npz")
    det = {s: {k: [v + 1.5 for v in views] for k, views in acts.items()} for s, acts in gt.items()}
    write_npz(poses / "data_2d_h36m_cpn_ft_h36m_dbb.npz",
              {"positions_2d": det, "metadata": {**meta, "layout_name": "h36m"}}, compress=True)
    return Inputs(poses, export_inputs.frames_dir, export_inputs.priors_dir)


def test_detections_files_travel_with_both_formats(poses_with_detections, tmp_path):
    vp = videopose3d.export(poses_with_detections, tmp_path / "vp", ExportSettings())
    assert "data_2d_h36m_cpn_ft_h36m_dbb.npz" in vp["files"]
    pa = poseaug.export(poses_with_detections, tmp_path / "pa", ExportSettings())
    assert "data_2d_h36m_cpn_ft_h36m_dbb.npz" in pa["files"]
    det16, _ = _vp3d_2d(tmp_path / "pa" / "data_2d_h36m_cpn_ft_h36m_dbb.npz")
    gt16, _ = _vp3d_2d(tmp_path / "pa" / "data_2d_h36m_gt.npz")
    np.testing.assert_allclose(det16["S9"]["Walking"][1] - gt16["S9"]["Walking"][1], 1.5, atol=1e-4)


def test_poseaug_export_is_byte_identical_when_repeated(export_inputs, tmp_path):
    poseaug.export(export_inputs, tmp_path / "a", ExportSettings())
    poseaug.export(export_inputs, tmp_path / "b", ExportSettings())
    assert (tmp_path / "a/data_2d_h36m_gt.npz").read_bytes() == (tmp_path / "b/data_2d_h36m_gt.npz").read_bytes()


def test_a_2d_file_that_is_not_17_joints_is_refused(poses_with_detections, tmp_path):
    path = poses_with_detections.poses_dir / "data_2d_h36m_sh.npz"
    write_npz(path, {"positions_2d": {"S1": {"Walking": [np.zeros((3, 16, 2), np.float32)] * 4}},
                     "metadata": {"num_joints": 16}}, compress=True)
    with pytest.raises(ExportError, match="data_2d_h36m_sh.npz: expected 17 joints"):
        poseaug.export(poses_with_detections, tmp_path / "pa", ExportSettings())
    assert not (tmp_path / "pa" / "data_2d_h36m_sh.npz").exists()


def test_missing_poses_are_named(tmp_path):
    with pytest.raises(ExportError, match="data_3d_h36m.npz: 3D poses missing"):
        videopose3d.export(Inputs(tmp_path / "none"), tmp_path / "out", ExportSettings())
