"""2D sources (inputs_2d), confidences of the noise model, missing-joint fills, robustness corruptions,
and scores as an input channel of every lifting model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d.detections.corruptions import CLEAN, perturbations
from pose3d.detections.fill import fill_missing
from pose3d.detections.load import DetectionsError, save_2d
from pose3d.detections.noise import NoiseParams, corrupt, noisy_positions_2d
from pose3d.detections.sources import Source2D, materialise
from pose3d.experiments import build_experiment_model, experiment_config
from pose3d.h36m.vp3d_format import load_2d

ZERO = {"sigma_px": 0.0, "outlier_prob": 0.0, "swap_prob": 0.0}


def walk(n=60, seed=0):
    """A smooth random 2D track of the 17 joints, pixels."""
    rng = np.random.default_rng(seed)
    return (500 + np.cumsum(rng.normal(0, 2, size=(n, 17, 2)), axis=0)).astype(np.float32)


def gt_tree(n=60):
    return {"S1": {"Walking 1": [walk(n, c) for c in range(4)]}, "S9": {"Eating": [walk(n, 10 + c) for c in range(4)]}}


def mocap(frames: dict) -> dict:
    return {s: {a: np.zeros((n, 32, 3), np.float32) for a, n in acts.items()} for s, acts in frames.items()}


def test_zero_noise_is_the_ground_truth_and_scores_fall_with_the_error():
    gt = gt_tree()
    same = noisy_positions_2d(gt, NoiseParams(**ZERO))
    for s, acts in gt.items():
        for a, views in acts.items():
            for v, w in zip(views, same[s][a]):
                np.testing.assert_array_equal(v, w)
    x = walk(20000)
    plain = corrupt(x, NoiseParams(sigma_px=6.0, outlier_prob=0.05), np.random.default_rng(5))
    scored = corrupt(x, NoiseParams(sigma_px=6.0, outlier_prob=0.05), np.random.default_rng(5), scores=True)
    np.testing.assert_array_equal(plain.points, scored.points)  # scores draw after the positions
    err = np.linalg.norm(scored.points - x, axis=-1)
    s = scored.scores
    assert s.shape == err.shape and 0 <= s.min() and s.max() <= 1
    assert s[scored.outliers].mean() < 0.05 < 0.7 < s[~scored.outliers].mean()
    assert np.corrcoef(err.ravel(), s.ravel())[0, 1] < -0.5


def test_missing_joints_are_nan_with_zero_score():
    c = corrupt(walk(5000), NoiseParams(**ZERO, missing_prob=0.1), np.random.default_rng(1), scores=True)
    assert c.missing.mean() == pytest.approx(0.1, abs=0.01)
    assert np.isnan(c.points[c.missing]).all() and not np.isnan(c.points[~c.missing]).any()
    assert (c.scores[c.missing] == 0).all()


def test_fill_rules():
    x = np.zeros((5, 17, 3), np.float32)
    x[:, :, 0] = np.arange(5)[:, None] * 10.0
    x[..., 2] = 0.9
    x[1:4, 3, :2] = np.nan
    x[:, 5, :2] = np.nan  # never seen
    interp = fill_missing(x, "interpolate", (1000, 1002))
    np.testing.assert_allclose(interp[:, 3, 0], [0, 10, 20, 30, 40])
    last = fill_missing(x, "last", (1000, 1002))
    np.testing.assert_allclose(last[:, 3, 0], [0, 0, 0, 0, 40])
    zero = fill_missing(x, "zero", (1000, 1002))
    np.testing.assert_allclose(zero[1:4, 3, :2], [[500, 501]] * 3)  # the image centre: the network's zero input
    for out in (interp, last, zero):
        np.testing.assert_allclose(out[:, 5, :2], [[500, 501]] * 5)
        assert out[2, 3, 2] == 0 and out[0, 3, 2] == pytest.approx(0.9) and not np.isnan(out).any()
    with pytest.raises(ValueError, match="unknown fill rule 'mean'"):
        fill_missing(x, "mean", (1000, 1002))


def _write(path, tree, scores=False):
    meta = {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    save_2d(path, tree, meta)
    return path


def test_materialise_checks_truncates_noises_and_fills(tmp_path):
    tree = gt_tree(60)
    frames = {"S1": {"Walking 1": 50}, "S9": {"Eating": 60}}
    path = _write(tmp_path / "data_2d_h36m_det.npz", tree)
    views, meta = materialise(Source2D("det", path), mocap(frames))
    assert [v.shape for v in views["S1"]["Walking 1"]] == [(50, 17, 2)] * 4  # truncated to the mocap
    np.testing.assert_array_equal(views["S1"]["Walking 1"][2], tree["S1"]["Walking 1"][2][:50])
    assert meta["scores"] is False and meta["num_joints"] == 17
    noisy = Source2D("noisy", path, NoiseParams(sigma_px=2.0), scores=True)
    views, meta = materialise(noisy, mocap(frames))
    assert views["S9"]["Eating"][0].shape == (60, 17, 3) and meta["scores"] is True

    short = {**tree, "S9": {"Eating": [v[:40] for v in tree["S9"]["Eating"]]}}
    with pytest.raises(DetectionsError, match=r"short\.npz: S9/Eating camera 0 has 40 frames, fewer than the 60"):
        materialise(Source2D("short", _write(tmp_path / "short.npz", short)), mocap(frames))
    three = {**tree, "S9": {"Eating": tree["S9"]["Eating"][:3]}}
    with pytest.raises(DetectionsError, match=r"three\.npz: S9/Eating has 3 cameras, not 4"):
        materialise(Source2D("three", _write(tmp_path / "three.npz", three)), mocap(frames))

    holed = {s: {a: [v.copy() for v in vs] for a, vs in acts.items()} for s, acts in tree.items()}
    holed["S1"]["Walking 1"][1][10, 4] = np.nan
    hole_file = _write(tmp_path / "holes.npz", holed)
    with pytest.raises(DetectionsError, match=r"holes\.npz: missing joints \(NaN\) in S1/Walking 1 camera 1: 1 joints"):
        materialise(Source2D("holes", hole_file), mocap(frames))
    views, _ = materialise(Source2D("holes", hole_file, fill="interpolate"), mocap(frames))
    track = holed["S1"]["Walking 1"][1][:, 4]
    np.testing.assert_allclose(views["S1"]["Walking 1"][1][10, 4], (track[9] + track[11]) / 2, rtol=1e-6)


def test_a_partial_source_covers_the_sequences_its_file_holds(tmp_path):
    """Detections of the videos there are: the sequences the file holds, each still checked; PoseData
    then offers only those sequences to a protocol."""
    from pose3d.training.data import PoseData

    tree = gt_tree(60)
    frames = {"S1": {"Walking 1": 50, "Eating": 55}, "S9": {"Eating": 60, "Walking": 45}}
    path = _write(tmp_path / "data_2d_h36m_det.npz", tree)
    with pytest.raises(DetectionsError, match="has no action S1/Eating"):
        materialise(Source2D("det", path), mocap(frames))
    views, _ = materialise(Source2D("det", path, partial=True), mocap(frames))
    assert {s: set(a) for s, a in views.items()} == {"S1": {"Walking 1"}, "S9": {"Eating"}}
    assert views["S1"]["Walking 1"][0].shape == (50, 17, 2)
    short = {**tree, "S9": {"Eating": [v[:40] for v in tree["S9"]["Eating"]]}}
    with pytest.raises(DetectionsError, match="S9/Eating camera 0 has 40 frames"):
        materialise(Source2D("short", _write(tmp_path / "short.npz", short), partial=True), mocap(frames))
    with pytest.raises(DetectionsError, match="holds none of the mocap's sequences"):
        materialise(Source2D("none", path, partial=True), mocap({"S5": {"Eating": 10}}))
    assert Source2D.from_params({"inputs_2d": {"d": {"file": "a.npz", "partial": True}}}, "d").partial
    poses = tmp_path / "poses"
    poses.mkdir()
    np.savez(poses / "data_3d_h36m.npz", positions_3d=np.array(mocap(frames), dtype=object))
    save_2d(tmp_path / "partial.npz", views, {"layout_name": "h36m", "num_joints": 17})
    assert PoseData(poses, tmp_path / "partial.npz").available == {"S1": ["Walking 1"], "S9": ["Eating"]}


def test_source_entries_are_checked():
    params = {"inputs_2d": {"gt": {"file": "a.npz"}, "bad": {"file": "a.npz", "sigma_px": 2},
                            "lonely": {"file": "a.npz", "scores": True}, "nofile": {"noise": {}}}}
    assert Source2D.from_params(params, "gt").path.as_posix() == "data/processed/inputs_2d/gt.npz"
    with pytest.raises(KeyError, match="2D source 'cpn' is not an entry of inputs_2d"):
        Source2D.from_params(params, "cpn")
    with pytest.raises(ValueError, match=r"inputs_2d.bad: unknown key\(s\) \['sigma_px'\]"):
        Source2D.from_params(params, "bad")
    with pytest.raises(ValueError, match="scores come from the noise model"):
        Source2D.from_params(params, "lonely")
    with pytest.raises(ValueError, match="'file'"):
        Source2D.from_params(params, "nofile")


def test_perturbations_start_from_the_ground_truth_and_are_seeded_per_view():
    cases = perturbations({"j": {"sigma_px": 5}, "mix": {"sigma_px": 1, "swap_prob": 0.1},
                           "m": {"missing_prob": 0.3, "fill": "last"}})
    assert [c.name for c in cases] == [CLEAN, "j", "mix", "m"]
    assert [c.kind for c in cases] == ["none", "jitter", "mixed", "missing"]
    assert cases[1].level == 5.0 and np.isnan(cases[2].level) and cases[3].fill == "last"
    gt = walk(200)
    np.testing.assert_array_equal(cases[0].apply(gt, "S9", "Walking", 0, (1000, 1002), False), gt)
    a = cases[1].apply(gt, "S9", "Walking", 0, (1000, 1002), True)
    assert a.shape == (200, 17, 3) and (a[..., :2] - gt).std() == pytest.approx(5.0, rel=0.05)
    np.testing.assert_array_equal(a, cases[1].apply(gt, "S9", "Walking", 0, (1000, 1002), True))
    assert not np.array_equal(a, cases[1].apply(gt, "S9", "Walking", 1, (1000, 1002), True))
    assert not np.isnan(cases[3].apply(gt, "S9", "Walking", 0, (1000, 1002), False)).any()  # filled
    with pytest.raises(ValueError, match="evaluate.robustness.j: unknown noise parameter"):
        perturbations({"j": {"sigma": 5}})
    with pytest.raises(ValueError, match="the name 'gt' is the uncorrupted row"):
        perturbations({"gt": {"sigma_px": 1}})


ENTRIES = {
    "fc": {"model": "fc", "channels": 32},
    "videopose": {"model": "videopose", "arc": [3, 3], "channels": 32},
    "srnet": {"model": "srnet", "arc": [1, 1, 1], "groups": 5, "channels": 40},
    "rie": {"model": "rie", "arc": [3], "channels": 8, "latent": 8, "hidden": 16},
    "rsnet": {"model": "rsnet", "hidden": 8, "post_refine": True},
}


@pytest.mark.parametrize("name", list(ENTRIES))
def test_scores_widen_the_input_and_change_nothing_else(name):
    shapes = {}
    for scores in (False, True):
        cfg = experiment_config({"experiments": {"e": {**ENTRIES[name], "use_scores": scores}}}, "e")
        torch.manual_seed(0)
        model = build_experiment_model(cfg, training=False).eval()
        shapes[scores] = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        j, rf = model.num_joints_in, getattr(model, "receptive_field", 1)
        x = torch.randn(2, rf + 2, j, 3 if scores else 2)
        extra = {"camera": torch.rand(2, 5) + 1} if name == "rsnet" else {}
        assert model(x, **extra).shape[-2:] == (j, 3)
        with pytest.raises(ValueError, match=f"expected input of shape .*{3 if scores else 2}\\)"):
            model(x[..., :2] if scores else torch.cat([x, x[..., :1]], -1), **extra)
    assert shapes[False].keys() == shapes[True].keys()
    changed = {k for k in shapes[False] if shapes[False][k] != shapes[True][k]}
    assert changed, "the score channel must reach the network"
    # only input layers widen, each by exactly the score channels (one per joint of its input)
    for k in changed:
        a, b = shapes[False][k], shapes[True][k]
        assert len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1, k


def test_a_model_without_in_channels_refuses_scores():
    cfg = experiment_config({"experiments": {"e": {"model": "tests.test_pipeline_dvc:TinyLifter", "use_scores": True}}}, "e")
    with pytest.raises(ValueError, match="takes no score channel"):
        build_experiment_model(cfg, training=False)


def test_a_written_source_reads_back_as_videopose3d_does(tmp_path):
    path = _write(tmp_path / "data_2d_h36m_x.npz", gt_tree(10))
    data = np.load(path, allow_pickle=True)  # VideoPose3D's own loader contract
    assert data["positions_2d"].item()["S1"]["Walking 1"][3].shape == (10, 17, 2)
    assert data["metadata"].item()["layout_name"] == "h36m"
    again = tmp_path / "again.npz"
    _write(again, gt_tree(10))
    assert again.read_bytes() == path.read_bytes()
    positions, meta = load_2d(path)
    assert set(positions) == {"S1", "S9"}
