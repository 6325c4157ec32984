"""The triangulate and priors stages on the tiny stand-in: formats, accuracy, noisy 2D, bad detections,
and an algebraic experiment's predictions as the pelvis source (merged frame by frame, or refused)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from pose3d.h36m.skeleton import to_17
from pose3d.h36m.vp3d_format import load_2d, load_3d
from pose3d.priors.limbs import limb_lengths
from pose3d.priors.pelvis import FIELDS, SequencePrior, load_pelvis_priors, write_pelvis_priors
from tests.helpers import SUBJECTS, run_stage, write_params

TRAIN = ["S1", "S5", "S6", "S7", "S8"]
TRIANGULATION = "data/processed/pelvis/triangulation.npz"
PRIORS_OUTPUTS = ("data/processed/priors", "data/processed/priors.provenance.json", "data/metrics/pelvis_priors.json")


def workspace(tmp_path_factory, tiny_poses, name, inputs_2d=None, **priors):
    """A workspace with the converted poses and the priors' 2D source made (the inputs_2d stage)."""
    ws = tmp_path_factory.mktemp(name)
    shutil.copytree(tiny_poses, ws / "data/processed/poses")
    write_params(ws, priors={"workers": 1, **priors}, inputs_2d=inputs_2d or {})
    source = priors.get("input_2d")
    if source:
        proc = run_stage("inputs_2d", ws, "--source", source)
        assert proc.returncode == 0, proc.stderr
    return ws


@pytest.fixture(scope="module")
def gt_run(tiny_poses, tmp_path_factory):
    ws = workspace(tmp_path_factory, tiny_poses, "priors_gt", input_2d="gt", ransac=True, ransac_threshold_px=15.0)
    for stage in ("triangulate", "priors"):
        proc = run_stage(stage, ws)
        assert proc.returncode == 0, proc.stderr
    return ws


def test_outputs_and_pelvis_format(gt_run):
    out = gt_run / "data/processed/priors"
    assert sorted(p.name for p in out.iterdir()) == ["limb_stats.h5", "pelvis_priors.npz"]
    assert (gt_run / "data/processed/priors.provenance.json").is_file()
    assert sorted(p.name for p in (gt_run / "data/processed/pelvis").iterdir()) == [
        "triangulation.npz", "triangulation.provenance.json"]
    p3 = load_3d(gt_run / "data/processed/poses/data_3d_h36m.npz")
    with np.load(out / "pelvis_priors.npz", allow_pickle=False) as npz:  # no pickles inside
        assert list(npz["meta/subjects"]) == SUBJECTS
        assert list(npz["meta/camera_ids"]) == ["54138969", "55011271", "58860488", "60457274"]
        assert npz["meta/h36m17_from_lt17"][6] == 0
        assert str(npz["meta/pelvis_source"]) == "triangulation" and str(npz["meta/source_2d"]) == "gt"
        pelvis = npz["S9/Walking 1/pelvis"]
    assert pelvis.dtype == np.float32 and pelvis.shape == (len(p3["S9"]["Walking 1"]), 3)
    priors = load_pelvis_priors(out / "pelvis_priors.npz")
    assert list(priors) == SUBJECTS
    for s in SUBJECTS:
        assert set(priors[s]) == set(p3[s])
        for a, fields in priors[s].items():
            assert set(fields) == set(FIELDS) | {"from_source"}
            assert fields["from_source"].dtype == bool and fields["from_source"].all()  # every pelvis valid
            n = len(p3[s][a])
            assert fields["keypoints_3d"].shape == (n, 17, 3) and fields["inlier_views"].shape == (n, 17, 4)
            gt_mm = to_17(p3[s][a].astype(np.float64)) * 1000
            assert fields["valid"].all()
            # ground-truth 2D: triangulation equals the mocap up to float32 pixel rounding
            assert np.abs(fields["keypoints_3d"] - gt_mm).max() < 0.5
            np.testing.assert_array_equal(fields["pelvis"], fields["keypoints_3d"][:, 0])


def test_with_the_triangulation_as_source_the_priors_are_the_triangulation_plus_two_fields(gt_run):
    with np.load(gt_run / TRIANGULATION) as tri, np.load(gt_run / "data/processed/priors/pelvis_priors.npz") as out:
        extra = set(out.files) - set(tri.files)
        assert extra == {"meta/pelvis_source"} | {k.rsplit("/", 1)[0] + "/from_source" for k in tri.files
                                                   if k.endswith("/keypoints_3d")}
        for key in tri.files:
            assert out[key].dtype == tri[key].dtype, key
            np.testing.assert_array_equal(out[key], tri[key], err_msg=key)


def test_metrics(gt_run):
    m = json.loads((gt_run / "data/metrics/priors.json").read_text())
    assert m["mpjpe_mm"] < 0.2 and m["pelvis_error_mm"] < 0.2
    assert m["ransac_inlier_fraction"] == 1.0 and m["valid_joint_fraction"] == 1.0
    assert len(m["per_action"]) == 15 and "Sitting" in m["per_action"] and "SittingDown" in m["per_action"]
    assert set(m["per_subject"]) == set(SUBJECTS)
    assert m["frames"] == sum(v["frames"] for v in m["per_action"].values())
    merged = json.loads((gt_run / "data/metrics/pelvis_priors.json").read_text())
    assert merged["source"] == "triangulation" and merged["frames"] == m["frames"] == merged["from_source_frames"]
    assert merged["from_source_fraction"] == 1.0 and merged["valid_pelvis_fraction"] == 1.0
    assert merged["pelvis_error_mm"] == pytest.approx(m["pelvis_error_mm"], rel=1e-9)
    on = merged["on_source_frames"]
    assert on["frames"] == m["frames"] and on["source_pelvis_error_mm"] == on["triangulation_pelvis_error_mm"]
    assert set(merged["per_subject"]) == set(SUBJECTS)
    assert 80 < merged["limb_length_mean_mm"] < 400


def test_limb_stats_match_training_ground_truth(gt_run):
    p3 = load_3d(gt_run / "data/processed/poses/data_3d_h36m.npz")
    lengths = np.concatenate([limb_lengths(to_17(a.astype(np.float64)) * 1000) for s in TRAIN for a in p3[s].values()])
    with h5py.File(gt_run / "data/processed/priors/limb_stats.h5", "r") as f:
        np.testing.assert_allclose(f["mean"][:], lengths.mean(axis=0), rtol=1e-9)
        np.testing.assert_allclose(f["std"][:], lengths.std(axis=0), rtol=1e-6)
        assert 80 < f["mean"][:].mean() < 400  # millimetres
        assert set(f["per_subject"]) == set(SUBJECTS)


def test_noisy_source_costs_accuracy_and_ransac_drops_views(tiny_poses, tmp_path_factory):
    noise = {"sigma_px": 2.0, "outlier_prob": 0.05, "outlier_px": 150.0, "swap_prob": 0.0, "seed": 1}
    ws = workspace(tmp_path_factory, tiny_poses, "priors_noisy", input_2d="noisier",
                   inputs_2d={"noisier": {"file": "data/processed/poses/data_2d_h36m_gt.npz", "noise": noise}})
    proc = run_stage("triangulate", ws)
    assert proc.returncode == 0, proc.stderr
    m = json.loads((ws / "data/metrics/priors.json").read_text())
    assert 2.0 < m["mpjpe_mm"] < 40.0
    # about 5% of the views are planted outliers; RANSAC must drop at least most of them
    assert 0.90 < m["ransac_inlier_fraction"] < 0.97


def test_detections_missing_a_subject_fail_cleanly(tiny_poses, tmp_path_factory):
    ws = workspace(tmp_path_factory, tiny_poses, "priors_bad",
                   inputs_2d={"cpn": {"file": "det/data_2d_h36m_cpn.npz"}})
    gt, meta = load_2d(ws / "data/processed/poses/data_2d_h36m_gt.npz")
    del gt["S5"]
    (ws / "det").mkdir()
    np.savez(ws / "det/data_2d_h36m_cpn.npz", positions_2d=np.array(gt, dtype=object),
             metadata=np.array({**meta, "layout_name": "h36m"}, dtype=object))
    proc = run_stage("inputs_2d", ws, "--source", "cpn")
    assert proc.returncode != 0
    assert "det/data_2d_h36m_cpn.npz: has no subject S5" in proc.stderr
    assert not (ws / "data/processed/inputs_2d").exists() or not list((ws / "data/processed/inputs_2d").iterdir())
    proc = run_stage("triangulate", ws)  # no source file: the triangulation says which stage to run
    assert proc.returncode != 0 and "run the inputs_2d@noisy stage first" in proc.stderr
    assert not (ws / "data/processed/pelvis").exists()
    assert not (ws / "data/metrics/priors.json").exists()
    proc = run_stage("priors", ws)  # no triangulation: the priors say which stage to run
    assert proc.returncode != 0
    assert f"{TRIANGULATION}: missing (run the triangulate stage first)" in proc.stderr
    assert not (ws / "data/processed/priors").exists()
    assert not list((ws / "data/processed").glob(".priors*"))
    assert not (ws / "data/metrics/pelvis_priors.json").exists()


@pytest.mark.parametrize("stage", ["triangulate", "priors"])
def test_unknown_params_key_fails(tiny_poses, tmp_path_factory, stage):
    ws = workspace(tmp_path_factory, tiny_poses, "priors_typo", ransac_treshold_px=10)
    proc = run_stage(stage, ws)
    assert proc.returncode != 0 and "ransac_treshold_px" in proc.stderr
    assert not (ws / "data/processed/priors").exists() and not (ws / "data/processed/pelvis").exists()


def test_priors_file_is_deterministic_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    prior = SequencePrior(rng.normal(size=(6, 17, 3)).astype(np.float32), np.ones((6, 17), bool),
                          np.ones((6, 17, 4), bool), np.zeros((6, 17), np.float32))
    a, b = tmp_path / "a" / "pelvis_priors.npz", tmp_path / "b" / "pelvis_priors.npz"
    write_pelvis_priors(a, {"S9": {"Walking 1": prior}}, "gt", None)
    write_pelvis_priors(b, {"S9": {"Walking 1": prior}}, "gt", None)
    assert a.read_bytes() == b.read_bytes()  # no wall-clock timestamps inside
    back = load_pelvis_priors(a)["S9"]["Walking 1"]
    np.testing.assert_array_equal(back["pelvis"], prior.keypoints_3d[:, 0])
    with np.load(a) as npz:
        assert np.isnan(npz["meta/ransac_threshold_px"]) and str(npz["meta/source_2d"]) == "gt"
    assert [p.name for p in a.parent.iterdir()] == ["pelvis_priors.npz"]


def test_a_view_convert_excluded_takes_no_part(tiny_poses_excluding, tmp_path_factory):
    ws = tmp_path_factory.mktemp("priors_camera_rule")
    shutil.copytree(tiny_poses_excluding("s11_directions_cam54138969"), ws / "data/processed/poses")
    write_params(ws, dataset={"subjects": ["S1", "S11"], "train_subjects": ["S1"], "test_subjects": ["S11"]},
                 priors={"workers": 1, "input_2d": "gt", "ransac": True})
    assert run_stage("inputs_2d", ws, "--source", "gt").returncode == 0
    for stage in ("triangulate", "priors"):
        proc = run_stage(stage, ws)
        assert proc.returncode == 0, proc.stderr
    with np.load(ws / "data/processed/priors/pelvis_priors.npz") as npz:
        broken, other = npz["S11/Directions/inlier_views"], npz["S11/Directions 1/inlier_views"]
        assert np.abs(npz["S11/Directions/error_mm"]).max() < 0.5  # three views still triangulate exactly
    assert not broken[..., 0].any() and broken[..., 1:].all() and other.all()
    (ws / "data/processed/poses/sequences.csv").unlink()
    proc = run_stage("triangulate", ws)
    assert proc.returncode != 0
    assert "data/processed/poses/sequences.csv: sequence table is missing" in proc.stderr


SHIFT_MM = np.array([10.0, -5.0, 20.0], dtype=np.float32)
ALG = "data/processed/pelvis/algebraic:alg.npz"


def fresh_copy(gt_run, tmp_path, source: str) -> Path:
    """``gt_run``'s workspace after ``triangulate`` only, with ``priors.source`` set."""
    ws = tmp_path / "ws"
    shutil.copytree(gt_run, ws)
    for rel in PRIORS_OUTPUTS:
        path = ws / rel
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["priors"]["source"] = source
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return ws


def algebraic_source(ws, edit=None) -> dict:
    """A real source npz from the triangulation: every 3rd frame unpredicted (NaN, not valid), the
    others shifted by SHIFT_MM with their error against the ground truth and view 4 not an inlier;
    ``edit(priors)`` may then spoil it. Returns the written sequences."""
    p3 = load_3d(ws / "data/processed/poses/data_3d_h36m.npz")
    priors = {}
    for s, actions in load_pelvis_priors(ws / TRIANGULATION).items():
        for a, f in actions.items():
            n = len(f["keypoints_3d"])
            predicted = np.arange(n) % 3 != 0
            kp = np.where(predicted[:, None, None], f["keypoints_3d"] + SHIFT_MM, np.nan).astype(np.float32)
            error = np.linalg.norm(kp - to_17(p3[s][a].astype(np.float64)) * 1000, axis=-1).astype(np.float32)
            valid = np.repeat(predicted[:, None], 17, axis=1)
            inliers = valid[..., None] & np.array([True, True, True, False])
            priors.setdefault(s, {})[a] = SequencePrior(kp, valid, inliers, error)
    if edit:
        edit(priors)
    write_pelvis_priors(ws / ALG, priors, "algebraic:alg", None)
    return priors


@pytest.fixture(scope="module")
def alg_run(gt_run, tmp_path_factory):
    ws = fresh_copy(gt_run, tmp_path_factory.mktemp("priors_alg"), "algebraic:alg")
    source = algebraic_source(ws)
    proc = run_stage("priors", ws)
    assert proc.returncode == 0, proc.stderr
    return ws, source


def test_an_algebraic_source_replaces_exactly_its_valid_frames(alg_run):
    ws, source = alg_run
    tri = load_pelvis_priors(ws / TRIANGULATION)
    merged = load_pelvis_priors(ws / "data/processed/priors/pelvis_priors.npz")
    assert list(merged) == SUBJECTS
    for s in SUBJECTS:
        assert set(merged[s]) == set(tri[s])
        for a, m in merged[s].items():
            src, t = source[s][a], tri[s][a]
            take = src.valid[:, 0]
            assert 0 < take.sum() < len(take)
            np.testing.assert_array_equal(m["from_source"], take)
            for field, value in (("keypoints_3d", src.keypoints_3d), ("valid", src.valid),
                                 ("inlier_views", src.inlier_views), ("error_mm", src.error_mm)):
                assert m[field].dtype == t[field].dtype
                np.testing.assert_array_equal(m[field][take], value[take], err_msg=f"{s}/{a} {field}")
                np.testing.assert_array_equal(m[field][~take], t[field][~take], err_msg=f"{s}/{a} {field}")
            np.testing.assert_array_equal(m["pelvis"], m["keypoints_3d"][:, 0])
            assert np.isfinite(m["pelvis"]).all()  # unpredicted frames keep the triangulated pelvis
    with np.load(ws / "data/processed/priors/pelvis_priors.npz") as npz:
        assert str(npz["meta/pelvis_source"]) == "algebraic:alg" and str(npz["meta/source_2d"]) == "gt"
    prov = json.loads((ws / "data/processed/priors.provenance.json").read_text())
    assert prov["pelvis_source"] == "algebraic:alg" and prov["source_2d"] == "gt"


def test_the_metrics_count_the_source_frames(alg_run):
    ws, source = alg_run
    m = json.loads((ws / "data/metrics/pelvis_priors.json").read_text())
    takes = [p.valid[:, 0] for actions in source.values() for p in actions.values()]
    frames, taken = sum(len(t) for t in takes), int(sum(t.sum() for t in takes))
    assert m["source"] == "algebraic:alg" and m["frames"] == frames and m["from_source_frames"] == taken
    assert m["from_source_fraction"] == pytest.approx(taken / frames)
    on = m["on_source_frames"]
    assert on["frames"] == taken and on["triangulation_valid_frames"] == taken
    shift = float(np.linalg.norm(SHIFT_MM))
    assert on["source_pelvis_error_mm"] == pytest.approx(shift, abs=0.5)
    assert on["triangulation_pelvis_error_mm"] < 0.2  # ground-truth 2D: the triangulation is exact
    assert m["pelvis_error_mm"] == pytest.approx(shift * taken / frames, abs=0.5)
    s9 = [p.valid[:, 0] for p in source["S9"].values()]
    assert m["per_subject"]["S9"]["frames"] == sum(len(t) for t in s9)
    assert m["per_subject"]["S9"]["from_source_fraction"] == pytest.approx(sum(t.sum() for t in s9) / sum(map(len, s9)))


def _drop_subject(priors):
    del priors["S9"]


def _drop_sequence(priors):
    del priors["S9"]["Walking 1"]


def _halve_sequence(priors):
    p = priors["S9"]["Walking 1"]
    n = len(p.valid) // 2
    priors["S9"]["Walking 1"] = SequencePrior(p.keypoints_3d[:n], p.valid[:n], p.inlier_views[:n], p.error_mm[:n])


@pytest.mark.parametrize("source, edit, message", [
    ("algebraic:none", None, "data/processed/pelvis/algebraic:none.npz: missing"),
    ("algebraic:alg", _drop_subject, f"{ALG}: has no subject S9 (the triangulation has S9/"),
    ("algebraic:alg", _drop_sequence, f"{ALG}: has no sequence S9/Walking 1, which the triangulation has"),
    ("algebraic:alg", _halve_sequence, f"{ALG}: S9/Walking 1 has {{half}} frames, the triangulation {{n}}"),
    ("algebraic", None, "priors.source must be 'triangulation' or 'algebraic:<experiment>', got 'algebraic'"),
])
def test_a_bad_source_fails_naming_the_file_and_sequence_and_writes_nothing(gt_run, tmp_path, source, edit, message):
    ws = fresh_copy(gt_run, tmp_path, source)
    if source == "algebraic:alg":
        algebraic_source(ws, edit)
    n = len(load_pelvis_priors(ws / TRIANGULATION)["S9"]["Walking 1"]["valid"])
    proc = run_stage("priors", ws)
    assert proc.returncode != 0
    assert message.format(half=n // 2, n=n) in proc.stderr
    for rel in PRIORS_OUTPUTS:
        assert not (ws / rel).exists(), rel
    assert not list((ws / "data/processed").glob(".priors*")) and not list((ws / "data/metrics").glob(".tmp-*"))
