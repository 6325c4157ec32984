"""train@ and evaluate@ stage modules on the tiny stand-in: checkpoints, DVCLive logs, metric files."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import torch
import yaml

from tests.helpers import run_stage, write_params

pytestmark = pytest.mark.slow

EXPERIMENT = {"model": "srnet", "arc": [1, 1, 1], "groups": 5, "channels": 128, "protocol": "cross_subject", "loss": "l1"}


@pytest.fixture(scope="module")
def workspace(tiny_poses, tmp_path_factory):
    ws = tmp_path_factory.mktemp("train")
    shutil.copytree(tiny_poses, ws / "data/processed/poses")
    write_params(ws, train={"device": "cpu", "epochs": 2, "batch_size": 2048, "lr": 0.001, "lr_decay": 0.95,
                            "seed": 1, "flip": True, "amp": True, "val_max_views": 8, "frame_stride": 4})
    params_text = (ws / "params.yaml").read_text()
    params_text += "\nexperiments:\n  srnet_tiny: " + json.dumps(EXPERIMENT) + "\nevaluate:\n  tta: true\n"
    (ws / "params.yaml").write_text(params_text)
    for source in ("gt", "noisy"):  # the 2D sources the experiments name
        proc = run_stage("inputs_2d", ws, "--source", source)
        assert proc.returncode == 0, proc.stderr
    return ws


def test_train_writes_checkpoints_and_dvclive_logs(workspace):
    proc = run_stage("train", workspace, "--experiment", "srnet_tiny")
    assert proc.returncode == 0, proc.stderr
    models = workspace / "data/models/srnet_tiny"
    assert {p.name for p in models.iterdir()} >= {"latest.pt", "best.pt", "config.json"}
    latest = torch.load(models / "latest.pt", weights_only=False)
    assert latest["history"]["epoch"] == 2 and len(latest["history"]["val_mpjpe_mm"]) == 2
    logged = json.loads((workspace / "data/metrics/srnet_tiny/train/metrics.json").read_text())
    assert logged["step"] == 1 and "val" in logged and "train" in logged
    assert (workspace / "data/metrics/srnet_tiny/train/plots/metrics").is_dir()


def test_evaluate_writes_metrics_per_action_and_joint(workspace):
    if not (workspace / "data/models/srnet_tiny/best.pt").is_file():
        assert run_stage("train", workspace, "--experiment", "srnet_tiny").returncode == 0
    proc = run_stage("evaluate", workspace, "--experiment", "srnet_tiny")
    assert proc.returncode == 0, proc.stderr
    out = workspace / "data/metrics/srnet_tiny"
    summary = json.loads((out / "eval.json").read_text())
    for key in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "pck150", "auc", "mpjpe_pooled"):
        assert key in summary
    assert summary["actions"] == 15 and summary["p_mpjpe"] < summary["mpjpe"]
    per_action = pd.read_csv(out / "per_action.csv")
    assert {"action", "mpjpe", "p_mpjpe", "frames", "test_set"} <= set(per_action.columns)
    groups = per_action[~per_action["action"].isin(["Average", "Pooled"])]
    assert len(groups) == 15
    average = per_action.loc[per_action["action"] == "Average", "mpjpe"].item()
    assert average == pytest.approx(groups["mpjpe"].mean(), rel=1e-3)
    assert average == pytest.approx(summary["mpjpe"], rel=1e-3)
    per_joint = pd.read_csv(out / "per_joint.csv")
    assert len(per_joint) == 17 and "mpjpe" in per_joint.columns
    assert summary["checkpoint"] == "last" and summary["checkpoint_epoch"] == summary["epochs"] == 2
    assert summary["headline_set"] == "test" and "S8" in summary["selection"] and "never a test subject" in summary["selection"]


def test_best_checkpoint_is_the_one_chosen_on_validation(workspace):
    if not (workspace / "data/models/srnet_tiny/latest.pt").is_file():
        assert run_stage("train", workspace, "--experiment", "srnet_tiny").returncode == 0
    config = json.loads((workspace / "data/models/srnet_tiny/config.json").read_text())
    params_text = (workspace / "params.yaml").read_text()
    params = yaml.safe_load(params_text)
    params["evaluate"]["checkpoint"] = "best"
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        proc = run_stage("evaluate", workspace, "--experiment", "srnet_tiny")
    finally:
        (workspace / "params.yaml").write_text(params_text)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((workspace / "data/metrics/srnet_tiny/eval.json").read_text())
    assert summary["checkpoint"] == "best" and summary["checkpoint_epoch"] == config["best_epoch"]
    assert f"best on validation (epoch {config['best_epoch']} of 2)" in proc.stderr


def test_training_validates_on_held_out_training_views_only(workspace):
    if not (workspace / "data/models/srnet_tiny/latest.pt").is_file():
        assert run_stage("train", workspace, "--experiment", "srnet_tiny").returncode == 0
    state = torch.load(workspace / "data/models/srnet_tiny/latest.pt", weights_only=False)
    split = state["identity"]["split"]
    assert set(split) == {"train", "validation"}  # the test views are evaluate's alone
    test_subjects = set(yaml.safe_load((workspace / "params.yaml").read_text())["dataset"]["test_subjects"])
    assert split["validation"] and not {s for s, _, _ in split["validation"]} & test_subjects
    assert not {s for s, _, _ in split["train"]} & test_subjects
    assert not set(map(tuple, split["validation"])) & set(map(tuple, split["train"]))


def test_unknown_experiment_and_missing_model(workspace):
    proc = run_stage("train", workspace, "--experiment", "nope")
    assert proc.returncode != 0 and "no experiment 'nope'" in proc.stderr
    shutil.rmtree(workspace / "data/models", ignore_errors=True)
    proc = run_stage("evaluate", workspace, "--experiment", "srnet_tiny")
    assert proc.returncode != 0 and "no trained model" in proc.stderr


@pytest.mark.parametrize("norm", ["proj", "lcn"])
def test_srnet_normalisations_train_and_score_in_millimetres(workspace, norm):
    """Each mode trains in its own space and is scored after its inverse, in mm like `base`."""
    name = f"srnet_{norm}"
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["experiments"][name] = {**EXPERIMENT, "norm": norm, "channels": 64, "epochs": 1}
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in ("train", "evaluate"):
        proc = run_stage(stage, workspace, "--experiment", name)
        assert proc.returncode == 0, proc.stderr
    summary = json.loads((workspace / f"data/metrics/{name}/eval.json").read_text())
    assert 10 < summary["mpjpe"] < 1000  # millimetres, not normalised units or metres
    assert summary["p_mpjpe"] < summary["mpjpe"]


def test_nproc_trains_under_torchrun(workspace):
    """`nproc: 2` re-launches the stage under torchrun: two gloo processes, one set of outputs."""
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["experiments"]["srnet_ddp"] = {**EXPERIMENT, "channels": 64, "epochs": 1, "nproc": 2}
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = run_stage("train", workspace, "--experiment", "srnet_ddp")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rank 1 of 2" in proc.stderr and "starting 2 processes under torchrun" in proc.stderr
    provenance = json.loads((workspace / "data/models/srnet_ddp.provenance.json").read_text())
    assert provenance["processes"] == 2
    assert torch.load(workspace / "data/models/srnet_ddp/latest.pt", weights_only=False)["history"]["epoch"] == 1


def test_cross_action_headline_is_the_unseen_actions(workspace):
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["experiments"]["xa_tiny"] = {**EXPERIMENT, "channels": 32, "epochs": 1, "protocol": "cross_action",
                                        "train_action": "Walking"}
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in ("train", "evaluate"):
        proc = run_stage(stage, workspace, "--experiment", "xa_tiny")
        assert proc.returncode == 0, proc.stderr
    summary = json.loads((workspace / "data/metrics/xa_tiny/eval.json").read_text())
    assert summary["headline_set"] == "unseen" and summary["actions"] == 14
    assert summary["mpjpe"] == summary["test_sets"]["unseen"]["mpjpe"] != summary["test_sets"]["all"]["mpjpe"]
    assert summary["test_sets"]["all"]["actions"] == 15


def _seed_checkpoint(path, model):
    """A file as VideoPose3D's run.py writes it: the weights under ``model_pos``, DataParallel names."""
    torch.save({"epoch": 80, "lr": 1e-5, "random_state": None, "optimizer": {},
                "model_pos": {f"module.{k}": v for k, v in model.state_dict().items()}}, path)


def test_a_seed_checkpoint_is_scored_as_it_is(workspace):
    """`init_from: {file, format}` with `epochs: 0`: train@ imports the weights, evaluate@ scores them."""
    from pose3d.models import build_model

    torch.manual_seed(5)
    seed_model = build_model("videopose", {"arc": [3, 3], "channels": 32})
    for bn in (m for m in seed_model.modules() if isinstance(m, torch.nn.BatchNorm1d)):
        bn.running_mean.normal_()  # statistics a trained model would have: they must travel too
    _seed_checkpoint(workspace / "pretrained_vp3d.bin", seed_model)
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["experiments"]["vp_imported"] = {"model": "videopose", "arc": [3, 3], "channels": 32, "epochs": 0,
                                            "init_from": {"file": "pretrained_vp3d.bin", "format": "videopose3d"}}
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = run_stage("train", workspace, "--experiment", "vp_imported")
    assert proc.returncode == 0, proc.stderr
    assert "pretrained_vp3d.bin" in proc.stderr and "loaded" in proc.stderr
    saved = torch.load(workspace / "data/models/vp_imported/latest.pt", weights_only=False)["model"]
    assert all(saved[k].equal(v) for k, v in seed_model.state_dict().items())
    proc = run_stage("evaluate", workspace, "--experiment", "vp_imported")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((workspace / "data/metrics/vp_imported/eval.json").read_text())
    assert summary["checkpoint_epoch"] == 0 and summary["mpjpe"] > 0


def test_a_checkpoint_that_does_not_fit_is_named(workspace):
    from pose3d.models import build_model

    _seed_checkpoint(workspace / "wrong.bin", build_model("videopose", {"arc": [3, 3], "channels": 16}))
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["experiments"]["vp_wrong"] = {"model": "videopose", "arc": [3, 3], "channels": 32, "epochs": 0,
                                         "init_from": {"file": "wrong.bin", "format": "videopose3d"}}
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = run_stage("train", workspace, "--experiment", "vp_wrong")
    assert proc.returncode != 0
    assert "wrong.bin" in proc.stderr and "expand_conv.weight" in proc.stderr
    assert not (workspace / "data/models/vp_wrong/latest.pt").exists()


def test_rsnet_with_post_refinement_is_scored_on_its_16_joints(workspace):
    """The camera condition reaches training and evaluation; RS-Net's 16 joints are what is scored."""
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["experiments"]["rsnet_tiny"] = {
        "model": "rsnet", "hidden": 4, "post_refine": True, "refine_hidden": 16, "schedule": "rsnet", "epochs": 1,
        "loss": {"coarse.mse": 0.9, "coarse.l1": 0.1, "mpjpe": 1.0, "symmetry": 0.01}}
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in ("train", "evaluate"):
        proc = run_stage(stage, workspace, "--experiment", "rsnet_tiny")
        assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((workspace / "data/metrics/rsnet_tiny/eval.json").read_text())
    assert summary["joints"] == 16 and 10 < summary["mpjpe"] < 1000
    joints = pd.read_csv(workspace / "data/metrics/rsnet_tiny/per_joint.csv")["joint"].unique()
    assert len(joints) == 16 and "Neck/Nose" not in set(joints)


def test_noisy_2d_with_scores_trains_and_is_swept_over_corruptions(workspace):
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["experiments"]["fc_noisy"] = {"model": "fc", "channels": 64, "loss": "l1", "epochs": 1, "input_2d": "noisy",
                                         "eval_input_2d": "noisy", "use_scores": True}
    params["experiments"]["fc_gt_scores"] = {**params["experiments"]["fc_noisy"], "input_2d": "gt", "eval_input_2d": "gt"}
    params["evaluate"] = {"tta": True, "robustness_stride": 4, "robustness": {
        "jitter_5px": {"sigma_px": 5.0}, "jitter_40px": {"sigma_px": 40.0}, "missing_20pct": {"missing_prob": 0.2, "fill": "last"}}}
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = run_stage("train", workspace, "--experiment", "fc_noisy")
    assert proc.returncode == 0, proc.stderr
    assert "from noisy 2D with scores" in proc.stderr
    weights = torch.load(workspace / "data/models/fc_noisy/latest.pt", weights_only=False)["model"]
    assert weights["input.linear.weight"].shape[1] == 3 * 17  # x, y and the score of each joint
    proc = run_stage("evaluate", workspace, "--experiment", "fc_noisy")
    assert proc.returncode == 0, proc.stderr
    out = workspace / "data/metrics/fc_noisy"
    summary = json.loads((out / "eval.json").read_text())
    assert summary["input_2d"] == summary["eval_input_2d"] == "noisy" and summary["scores"] is True
    table = pd.read_csv(out / "robustness.csv")
    assert list(table["corruption"]) == ["gt", "jitter_5px", "jitter_40px", "missing_20pct"]
    assert list(table["kind"]) == ["none", "jitter", "jitter", "missing"] and list(table["level"]) == [0, 5, 40, 0.2]
    assert (table["experiment"] == "fc_noisy").all() and table["fill"].fillna("").tolist() == ["", "", "", "last"]
    mpjpe = table.set_index("corruption")["mpjpe"]
    assert mpjpe["gt"] < mpjpe["jitter_40px"] and mpjpe["jitter_5px"] < mpjpe["jitter_40px"]
    # scores need a source that has them: the ground truth has none
    proc = run_stage("train", workspace, "--experiment", "fc_gt_scores")
    assert proc.returncode != 0
    assert "data/processed/inputs_2d/gt.npz: has no scores" in proc.stderr
    assert not (workspace / "data/models/fc_gt_scores").exists()
