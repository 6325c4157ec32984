"""The multi-view chain on the tiny stand-in: a 2D backbone -> algebraic -> its pelvis as the priors -> volumetric and ContextPose.

Every model trains for real on the tiny profile's crops; the assertions are that each lowers
its loss, that the metrics carry their pelvis source, that the algebraic predictions become the
priors' pelvis, and that bad input fails with a message naming the file or the key.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml

from pose3d.h36m.sequences_csv import read_exclusions
from pose3d.multiview.samples import load_multiview
from pose3d.priors.pelvis import load_pelvis_priors
from tests.helpers import run_stage, write_params

pytestmark = pytest.mark.slow

SUBJECTS = ["S1", "S5", "S6", "S7", "S8", "S9", "S11"]
SMALL = {"resnet": 18, "input_size": 32, "head_filters": 32, "workers": 0, "device": "cpu"}
KP = {"model": "keypoints2d", **SMALL, "batch_size": 32, "epochs": 4, "milestones": [3], "lr": 0.002,
      "rotation_prob": 0.0, "scale_jitter": 0.1, "val_max_crops": 32}
MULTIVIEW = {"backbone": "kp", **SMALL, "epochs": 2, "batch_size": 4, "val_max_frames": 16}
ALGEBRAIC = {"alg": {"model": "algebraic", **MULTIVIEW, "frame_stride": 2, "lr": 0.0002}}
VOLUMETRIC = {"vol": {"model": "volumetric", **MULTIVIEW, "cube_size": 16, "frame_stride": 2, "backbone_lr": 0.0001},
              "ctx": {"model": "contextpose", **MULTIVIEW, "cube_size": 16, "single_view": True, "frame_stride": 2,
                      "backbone_lr": 0.0001}}


def _run(ws, stage, *args):
    proc = run_stage(stage, ws, *args)
    assert proc.returncode == 0, f"{stage} {args}: {proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def ws(tiny_raw, tiny_poses, tmp_path_factory):
    ws = tmp_path_factory.mktemp("multiview")
    shutil.copytree(tiny_poses, ws / "data/processed/poses")
    params = write_params(ws, dataset={"raw_dir": str(tiny_raw)},
                          frames={"every_n": 3, "test_every_n": 4, "crop": 64, "subjects": SUBJECTS},
                          priors={"input_2d": "gt", "workers": 1, "source": "algebraic:alg"})
    params["image_experiments"] = {"kp": KP}
    params["algebraic_experiments"] = ALGEBRAIC
    params["volumetric_experiments"] = VOLUMETRIC
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for s in SUBJECTS:
        _run(ws, "frames", "--subject", s)
    _run(ws, "inputs_2d", "--source", "gt")
    _run(ws, "triangulate")
    _run(ws, "train_image", "--experiment", "kp")
    for stage in ("train_multiview", "evaluate_multiview"):
        _run(ws, stage, "--experiment", "alg")
    _run(ws, "priors")
    for name in ("vol", "ctx"):
        for stage in ("train_multiview", "evaluate_multiview"):
            _run(ws, stage, "--experiment", name)
    return ws


def _json(path):
    return json.loads(path.read_text())


@pytest.mark.parametrize("name", ["alg", "vol", "ctx"])
def test_each_model_lowers_its_loss_and_reports_both_errors(ws, name):
    config = _json(ws / f"data/models/{name}/config.json")
    assert config["train_loss"][-1] < config["train_loss"][0], config["train_loss"]
    assert config["parameters"] > config["trainable_parameters"] or name == "alg"  # the heatmap layer is frozen
    ev = _json(ws / f"data/metrics/{name}/eval.json")
    for key in ("mpjpe_abs_mm", "mpjpe_rel_mm", "mpjpe_abs_actionwise_mm", "mpjpe_rel_actionwise_mm"):
        assert np.isfinite(ev[key]) and ev[key] > 0, (key, ev)
    assert ev["pelvis_source"] and set(ev["per_subject"]) == {"S9", "S11"}
    assert all(v["pelvis_source"] == ev["pelvis_source"] for v in ev["per_subject"].values())
    rows = (ws / f"data/metrics/{name}/per_action.csv").read_text().splitlines()
    assert rows[0] == "action,frames,mpjpe_abs_mm,mpjpe_rel_mm,pelvis_source" and len(rows) >= 2


def test_contextpose_scores_every_frame_and_camera(ws):
    ctx, vol = (_json(ws / f"data/metrics/{n}/eval.json") for n in ("ctx", "vol"))
    assert ctx["frames"] > 3 * vol["frames"]  # (frame, camera) samples against frames
    assert "algebraic:alg" in vol["pelvis_source"] and "algebraic:alg" in ctx["pelvis_source"]
    assert vol["pelvis_error_mm"] == pytest.approx(ctx["pelvis_error_mm"], rel=0.05)


def test_algebraic_predictions_become_the_pelvis_priors(ws):
    pred = load_pelvis_priors(ws / "data/processed/pelvis/algebraic:alg.npz")
    merged = load_pelvis_priors(ws / "data/processed/priors/pelvis_priors.npz")
    taken = 0
    for s, actions in pred.items():
        for k, fields in actions.items():
            ok = fields["valid"][:, 0]
            assert np.array_equal(merged[s][k]["from_source"], ok)
            np.testing.assert_allclose(merged[s][k]["pelvis"][ok], fields["pelvis"][ok])
            taken += int(ok.sum())
    assert taken > 0
    ev = _json(ws / "data/metrics/alg/eval.json")
    assert ev["predicted_frames"]["test"] == ev["frames"]


def test_an_excluded_view_leaves_three_views_for_that_sample_only(ws, monkeypatch):
    monkeypatch.chdir(ws)
    full = load_multiview(["S9"])
    row = int(np.flatnonzero(full.views.all(axis=1))[0])
    s, k = str(full.subject[row]), str(full.key[row])
    table = load_multiview(["S9"], excluded={(s, k, 2)})
    same = (table.subject == s) & (table.key == k)
    assert (table.views[same].sum(axis=1) == 3).all() and not table.views[same][:, 2].any()
    assert (table.views[~same] == full.views[~same]).all()
    assert read_exclusions(ws / "data/processed/poses/sequences.csv") is not None


def test_bad_inputs_are_named(ws, tmp_path):
    bad = tmp_path / "ws"
    shutil.copytree(ws, bad, ignore=shutil.ignore_patterns("frames"))
    params = yaml.safe_load((bad / "params.yaml").read_text())
    params["volumetric_experiments"]["vol"]["cube_sise"] = 8
    params["algebraic_experiments"]["nobackbone"] = {"model": "algebraic"}
    params["algebraic_experiments"]["wrongsection"] = {"model": "volumetric", "backbone": "kp"}
    (bad / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for name, words in (("vol", "did you mean 'cube_size'"), ("nobackbone", "needs a backbone"),
                        ("wrongsection", "belongs under volumetric_experiments"), ("ctx", "no frames of subject")):
        proc = run_stage("train_multiview", bad, "--experiment", name)
        assert proc.returncode != 0 and words in proc.stderr, (name, proc.stderr[-2000:])
