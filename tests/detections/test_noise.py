"""The detector-like 2D noise model: statistics, swaps, determinism, parameter checks."""
from __future__ import annotations

import numpy as np
import pytest

from pose3d.detections.load import DetectionsError, load_detections
from pose3d.detections.noise import SWAP_CHAINS, NoiseParams, corrupt, noisy_positions_2d, sequence_rng


def clean(n=20000, seed=0):
    return np.random.default_rng(seed).uniform(0, 1000, size=(n, 17, 2)).astype(np.float32)


def test_gaussian_jitter_has_the_per_joint_sigma():
    scale = np.linspace(0.5, 2.0, 17)
    p = NoiseParams(sigma_px=4.0, joint_sigma_scale=tuple(scale), outlier_prob=0, swap_prob=0)
    x = clean()
    c = corrupt(x, p, np.random.default_rng(1))
    assert c.points.dtype == np.float32 and c.points.shape == x.shape
    std = (c.points - x).std(axis=0).mean(axis=-1)
    np.testing.assert_allclose(std, 4.0 * scale, rtol=0.03)
    assert not c.outliers.any() and not c.swapped.any()


def test_outliers_have_the_probability_and_magnitude():
    p = NoiseParams(sigma_px=0.0, outlier_prob=0.02, outlier_px=200.0, swap_prob=0)
    x = clean()
    c = corrupt(x, p, np.random.default_rng(2))
    assert c.outliers.mean() == pytest.approx(0.02, abs=0.002)
    d = np.linalg.norm(c.points.astype(np.float64) - x, axis=-1)
    assert (d[c.outliers] >= 100.0 - 1e-3).all() and (d[c.outliers] <= 300.0 + 1e-3).all()
    assert (d[~c.outliers] == 0).all()


def test_swaps_exchange_left_and_right_chains():
    p = NoiseParams(sigma_px=0.0, outlier_prob=0, swap_prob=1.0)
    x = clean(50)
    out = corrupt(x, p, np.random.default_rng(3)).points
    for left, right in SWAP_CHAINS:
        np.testing.assert_array_equal(out[:, list(left)], x[:, list(right)])
        np.testing.assert_array_equal(out[:, list(right)], x[:, list(left)])
    np.testing.assert_array_equal(out[:, [0, 7, 8, 9, 10]], x[:, [0, 7, 8, 9, 10]])
    half = corrupt(clean(20000), NoiseParams(sigma_px=0, outlier_prob=0, swap_prob=0.1), np.random.default_rng(4))
    assert half.swapped[:, 4].mean() == pytest.approx(0.1, abs=0.01)


def test_seeded_and_independent_of_other_sequences():
    gt = {"S1": {"Walking 1": [clean(30, s) for s in range(4)]}, "S5": {"Eating": [clean(30, s + 9) for s in range(4)]}}
    p = NoiseParams(seed=7)
    a, b = noisy_positions_2d(gt, p), noisy_positions_2d({"S1": gt["S1"]}, p)
    for cam in range(4):
        np.testing.assert_array_equal(a["S1"]["Walking 1"][cam], b["S1"]["Walking 1"][cam])
        assert not np.array_equal(a["S1"]["Walking 1"][cam], gt["S1"]["Walking 1"][cam])
    assert [v.shape for v in a["S5"]["Eating"]] == [(30, 17, 2)] * 4
    c = noisy_positions_2d(gt, NoiseParams(seed=8))
    assert not np.array_equal(a["S1"]["Walking 1"][0], c["S1"]["Walking 1"][0])
    # different cameras of one sequence get different noise
    r0, r1 = sequence_rng(p, "S1", "Walking 1", 0), sequence_rng(p, "S1", "Walking 1", 1)
    assert r0.random() != r1.random()


def test_params_from_dict_checks_keys_and_values():
    p = NoiseParams.from_dict({"sigma_px": "2.5", "outlier_prob": 0.1, "seed": 3, "joint_sigma_scale": [1] * 17})
    assert p.sigma_px == 2.5 and p.seed == 3 and p.joint_sigma_scale == (1.0,) * 17
    assert NoiseParams.from_dict(None) == NoiseParams()
    with pytest.raises(ValueError, match=r"unknown noise parameter.*'sigma'"):
        NoiseParams.from_dict({"sigma": 3})
    with pytest.raises(ValueError, match="outlier_prob"):
        NoiseParams.from_dict({"outlier_prob": 1.5})
    with pytest.raises(ValueError, match="17 joints"):
        corrupt(clean(5), NoiseParams(joint_sigma_scale=(1.0,) * 16), np.random.default_rng(0))


def test_load_detections_checks_against_the_mocap(tmp_path):
    gt = {"S1": {"Walking 1": [clean(30, s) for s in range(4)], "Eating": [clean(30, 5)] * 4}}
    frames = {"S1": {"Walking 1": 20}}
    path = tmp_path / "data_2d_h36m_det.npz"
    meta = {"layout_name": "h36m", "num_joints": 17,
            "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    np.savez(path, positions_2d=np.array(gt, dtype=object), metadata=np.array(meta, dtype=object))
    det = load_detections(path, frames)
    assert det["S1"].keys() == {"Walking 1"}
    assert [v.shape for v in det["S1"]["Walking 1"]] == [(20, 17, 2)] * 4  # truncated to the pose frames
    with pytest.raises(DetectionsError, match=r"data_2d_h36m_det\.npz: has no subject S9"):
        load_detections(path, {"S9": {"Walking 1": 20}})
    with pytest.raises(DetectionsError, match=r"has no action S1/Sitting 1"):
        load_detections(path, {"S1": {"Sitting 1": 20}})
    with pytest.raises(DetectionsError, match="fewer than the 40 pose frames"):
        load_detections(path, {"S1": {"Walking 1": 40}})
    with pytest.raises(DetectionsError, match="does not exist"):
        load_detections(tmp_path / "none.npz", frames)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DetectionsError, match=r"bad\.npz: not a VideoPose3D 2D file"):
        load_detections(tmp_path / "bad.npz", frames)
    coco = tmp_path / "coco.npz"
    np.savez(coco, positions_2d=np.array(gt, dtype=object),
             metadata=np.array({**meta, "layout_name": "coco"}, dtype=object))
    with pytest.raises(DetectionsError, match="layout 'coco'"):
        load_detections(coco, frames)
