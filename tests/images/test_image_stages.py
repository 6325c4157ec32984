"""The image stages on the tiny stand-in: training learns, evaluation and detections say the same, bad input fails cleanly."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml

from pose3d.h36m.vp3d_format import load_2d, load_3d
from tests.helpers import run_stage, write_params

pytestmark = pytest.mark.slow

#: small enough for a test, large enough to learn: 32 px input, 8x8 maps, every 3rd tiny frame of five subjects
TINY = {"resnet": 18, "input_size": 32, "head_filters": 32, "batch_size": 32, "epochs": 6, "milestones": [5],
        "workers": 0, "val_max_crops": 64, "device": "cpu", "lr": 0.002, "rotation_prob": 0.0, "scale_jitter": 0.1}
SUBJECTS = ["S1", "S5", "S6", "S7", "S8", "S9", "S11"]
EXPERIMENTS = {"kp": {"model": "keypoints2d", **TINY}, "integral": {"model": "integral", "depth_bins": 8, **TINY}}


@pytest.fixture(scope="module")
def ws(tiny_raw, tiny_poses, tmp_path_factory):
    ws = tmp_path_factory.mktemp("images")
    shutil.copytree(tiny_poses, ws / "data/processed/poses")
    params = write_params(ws, dataset={"raw_dir": str(tiny_raw)},
                          frames={"every_n": 3, "test_every_n": 4, "crop": 64, "subjects": SUBJECTS},
                          detect={"experiments": ["kp"], "workers": 1, "batch_size": 64})
    params["image_experiments"] = EXPERIMENTS
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for s in SUBJECTS:
        proc = run_stage("frames", ws, "--subject", s)
        assert proc.returncode == 0, proc.stderr
    for name in ("kp", "integral"):
        for stage in ("train_image", "evaluate_image"):
            proc = run_stage(stage, ws, "--experiment", name)
            assert proc.returncode == 0, proc.stderr
    proc = run_stage("detect", ws, "--experiment", "kp")
    assert proc.returncode == 0, proc.stderr
    return ws


def _json(path):
    return json.loads(path.read_text())


def test_keypoints2d_learns_and_beats_the_mean_pose_in_the_box(ws):
    config = _json(ws / "data/models/kp/config.json")
    assert config["train_loss"][-1] < 0.7 * config["train_loss"][0]
    ev = _json(ws / "data/metrics/kp/eval.json")
    assert ev["pck_0.1"] > ev["mean_pose"]["pck_0.1"] and ev["mean_px"] < ev["mean_pose"]["mean_px"], ev
    samples = np.load(ws / "data/metrics/kp/samples.npz")
    assert samples["crops"].shape[1:] == (64, 64, 3) and samples["pred_px"].shape[1:] == (17, 2)


def test_integral_learns_and_beats_the_mean_pose(ws):
    config = _json(ws / "data/models/integral/config.json")
    assert config["train_loss"][-1] < 0.7 * config["train_loss"][0]
    ev = _json(ws / "data/metrics/integral/eval.json")
    assert ev["mpjpe"] < ev["mean_pose_mpjpe"], ev
    assert ev["pa_mpjpe_noscale"] >= ev["p_mpjpe"] - 1e-6  # Procrustes with scale fits at least as well


def test_detections_follow_videopose3ds_loader_contract_and_match_their_report(ws):
    det, meta = load_2d(ws / "data/processed/detections/data_2d_h36m_kp.npz")
    poses3d = load_3d(ws / "data/processed/poses/data_3d_h36m.npz")
    gt, _ = load_2d(ws / "data/processed/poses/data_2d_h36m_gt.npz")
    left, right = meta["keypoints_symmetry"]
    assert len(left) == len(right) == 6 and meta["num_joints"] == 17
    errors = []
    assert set(det) == set(SUBJECTS)
    for subject, actions in det.items():
        assert set(actions) == {k for k in poses3d[subject] if k.split(" ")[0] in ("Directions", "Walking")}
        for action, views in actions.items():
            assert len(views) == 4
            for cam, v in enumerate(views):
                assert v.shape == (len(poses3d[subject][action]), 17, 3) and v.dtype == np.float32
                assert np.isfinite(v).all() and (v[..., 2] > 0).all() and (v[..., 2] <= 1).all()
                errors.append(np.linalg.norm(v[..., :2] - gt[subject][action][cam][: len(v)], axis=-1))
    report = _json(ws / "data/metrics/kp/detect.json")
    assert report["frames"] == sum(len(e) for e in errors)
    assert report["mean_px"] == pytest.approx(float(np.concatenate(errors).mean()), rel=1e-6)
    # the same network scored the test crops: detections on every frame of the same videos are as good, roughly
    crops = _json(ws / "data/metrics/kp/eval.json")
    assert report["by_split"]["test"]["mean_px"] < 2.5 * crops["mean_px"]


def test_detect_resumes_from_finished_videos(ws):
    proc = run_stage("detect", ws, "--experiment", "kp")
    assert proc.returncode == 0, proc.stderr
    videos = _json(ws / "data/metrics/kp/detect.json")["videos"]
    assert videos == 7 * 2 * 2 * 4 - 4  # Directions and Walking, two sub-actions each, four cameras; S11's
    # Directions (one sub-action) is excluded by dataset.exclude
    assert _json(ws / "data/processed/detections/kp.provenance.json")["reused"] == videos


def test_bad_inputs_fail_with_the_problem_named(ws):
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["image_experiments"]["typo"] = {"model": "keypoints2d", "head_filter": 8}
    params["image_experiments"]["no_frames"] = {"model": "keypoints2d", **TINY}
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = run_stage("train_image", ws, "--experiment", "typo")
    assert proc.returncode != 0 and "head_filter" in proc.stderr and "head_filters" in proc.stderr
    proc = run_stage("detect", ws, "--experiment", "integral")
    assert proc.returncode != 0 and "keypoints2d" in proc.stderr
    proc = run_stage("evaluate_image", ws, "--experiment", "no_frames")
    assert proc.returncode != 0 and "data/models/no_frames/latest.pt" in proc.stderr
    shutil.move(ws / "data/processed/frames/S5", ws / "S5.frames")
    try:
        proc = run_stage("train_image", ws, "--experiment", "no_frames")
    finally:
        shutil.move(ws / "S5.frames", ws / "data/processed/frames/S5")
    assert proc.returncode != 0 and "data/processed/frames/S5" in proc.stderr
    assert not (ws / "data/models/no_frames").exists()
