"""Experiment entries of params.yaml: overlay on `train`, typos refused by name, phases (`from`) and
`init_from`."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import pose3d.experiments as experiments
from pose3d.models.rie import DECODERS, ENCODERS, FUSION_BLOCKS, name_matches
from pose3d.training.data import PoseData
from pose3d.training.protocols import PROTOCOLS
from pose3d.training.residual import Residual2D
from pose3d.experiments import (InitSpec, build_experiment_model, experiment_config, experiment_names, init_spec,
                                initialise, split_for, train_config)

PARAMS = {
    "train": {"epochs": 3, "lr": 0.001, "batch_size": 512, "frame_stride": 10},
    "experiments": {
        "a": {"model": "srnet", "arc": [1, 1, 1], "groups": 5, "lr": 0.0005},
        "typo": {"model": "srnet", "group": 5},
        "other_model": {"model": "videopose", "groups": 5},
        "bad_norm": {"model": "fc", "norm": "screen"},
        "no_model": {"epochs": 2},
        "lcn": {"model": "srnet", "norm": "lcn", "channels": 32},
    },
}


def test_overlay():
    cfg = experiment_config(PARAMS, "a")
    assert cfg["lr"] == 0.0005 and cfg["epochs"] == 3 and cfg["groups"] == 5


@pytest.mark.parametrize("name, message", [
    ("typo", "unknown key 'group'; did you mean 'groups'"),
    ("other_model", "unknown key 'groups' for model 'videopose'"),
    ("bad_norm", "norm 'screen' is not one of base, proj, weak_proj, lcn"),
    ("no_model", "no 'model'"),
])
def test_bad_entries_are_refused(name, message):
    with pytest.raises(ValueError, match=message):
        experiment_config(PARAMS, name)


def test_unknown_experiment():
    with pytest.raises(KeyError, match="no experiment 'b'"):
        experiment_config(PARAMS, "b")


def test_lcn_gets_the_residual_head_in_both_forms():
    cfg = experiment_config(PARAMS, "lcn")
    train, evaluate = build_experiment_model(cfg, True), build_experiment_model(cfg, False)
    assert isinstance(train, Residual2D) and train.net.strided and not evaluate.net.strided
    evaluate.load_state_dict(train.state_dict())


BROKEN = ("S11", "Directions", 0)  # the view s11_directions_cam54138969 drops
PROTOCOL_CFG = {
    "cross_subject": {},
    "cross_action": {"train_action": "Directions"},
    "cross_camera": {"train_cameras": [0, 1], "test_cameras": [0, 2]},
}


@pytest.mark.parametrize("s11", ["train", "test"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_excluded_camera_is_in_no_training_or_test_view(tiny_poses_excluding, protocol, s11):
    """With the camera rule, S11's broken view leaves every set and nothing else does; without it, it is there."""
    cfg = {"protocol": protocol, **PROTOCOL_CFG[protocol]}
    ds = {"train_subjects": ["S1", "S11"], "test_subjects": ["S9"]} if s11 == "train" else \
         {"train_subjects": ["S1"], "test_subjects": ["S9", "S11"]}
    splits = {}
    for rules in (("s11_directions_cam54138969",), ()):
        poses = tiny_poses_excluding(*rules)
        split = split_for(cfg, {"dataset": ds}, PoseData(poses).available, poses / "sequences.csv")
        splits[rules] = {"train": split.train, **split.tests}
    with_rule, without = splits[("s11_directions_cam54138969",)], splits[()]
    holds_s11 = "train" if s11 == "train" or protocol == "cross_action" else "test"
    assert BROKEN in without[holds_s11]
    for name, views in without.items():
        assert with_rule[name] == [v for v in views if v != BROKEN], name
        assert BROKEN not in with_rule[name]
    assert any(v[:2] == BROKEN[:2] for v in with_rule[holds_s11])  # the sequence's other views stay


def test_split_for_names_a_missing_sequence_table(tiny_poses, tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path / 'sequences.csv'}: sequence table is missing"):
        split_for({"protocol": "cross_subject"}, {"dataset": {"train_subjects": ["S1"], "test_subjects": ["S9"]}},
                  PoseData(tiny_poses).available, tmp_path / "sequences.csv")


# --- phases: `from`, inheritance, and where a run's starting weights come from ---------------------

RIE_SMALL = {"model": "rie", "arc": [3], "channels": 8, "latent": 8, "hidden": 16}
ENCODER_PATTERNS = ["LocalLayer_*", "GlobalInfo.*"]
PHASES = {
    "train": {"epochs": 3, "lr": 0.001, "batch_size": 512},
    "experiments": {
        "stage1": {**RIE_SMALL, "optimizer": "adamw", "weight_decay": 0.01, "bn_schedule": ["LocalLayer_*"],
                   "freeze": ["GlobalInfo.*"], "init_from": {"file": "seed.bin", "format": "rie"}},
    },
    "phases": {
        "stage2": {"from": "stage1", "fusion": True, "freeze": ENCODER_PATTERNS,
                   "init_from": {"include": ENCODER_PATTERNS}},
        "stage3": {"from": "stage2", "lr": 0.0005},
        "cycle_a": {"from": "cycle_b"},
        "cycle_b": {"from": "cycle_a"},
        "self_loop": {"from": "self_loop"},
        "orphan": {"fusion": True},
        "lost": {"from": "no_such_run"},
    },
}


def test_a_phase_inherits_everything_but_how_it_starts():
    parent = experiment_config(PHASES, "stage1")
    child = experiment_config(PHASES, "stage2")
    assert child["from"] == "stage1" and child["fusion"] is True
    for key in ("model", "arc", "channels", "latent", "hidden", "optimizer", "weight_decay", "bn_schedule",
                "lr", "epochs", "batch_size"):
        assert child[key] == parent[key], key
    assert child["freeze"] == ENCODER_PATTERNS  # its own, not the parent's ["GlobalInfo.*"]
    assert child["init_from"] == {"include": ENCODER_PATTERNS}
    assert train_config(child).freeze == ENCODER_PATTERNS and train_config(child).optimizer == "adamw"


def test_a_chain_of_three_resolves():
    cfg = experiment_config(PHASES, "stage3")
    assert cfg["from"] == "stage2" and cfg["lr"] == 0.0005
    assert cfg["fusion"] is True and cfg["arc"] == [3] and cfg["optimizer"] == "adamw" and cfg["epochs"] == 3
    assert "freeze" not in cfg and "init_from" not in cfg  # stage 3 trains everything
    assert init_spec(cfg) == InitSpec(experiment="stage2")  # from stage 2's last weights


@pytest.mark.parametrize("name, error, match", [
    ("cycle_a", ValueError, "phases form a cycle: cycle_a -> cycle_b -> cycle_a"),
    ("self_loop", ValueError, "phases form a cycle: self_loop -> self_loop"),
    ("orphan", ValueError, "phase 'orphan' needs 'from: <experiment or phase>'"),
    ("lost", KeyError, "no experiment 'no_such_run'"),
])
def test_broken_phases_are_refused(name, error, match):
    with pytest.raises(error, match=match):
        experiment_config(PHASES, name)


def test_from_belongs_under_phases():
    params = {"experiments": {"a": RIE_SMALL, "b": {**RIE_SMALL, "from": "a"}}}
    with pytest.raises(ValueError, match="b: 'from' belongs under phases:"):
        experiment_config(params, "b")


def test_experiment_names():
    assert experiment_names(PHASES) == ["stage1", "stage2", "stage3", "cycle_a", "cycle_b", "self_loop", "orphan",
                                        "lost"]
    with pytest.raises(ValueError, match=r"phases\.rie\.s2: a name may not contain '\.'"):
        experiment_names({"experiments": {"rie": RIE_SMALL}, "phases": {"rie.s2": {"from": "rie"}}})
    with pytest.raises(ValueError, match="'a' is both an experiment and a phase"):
        experiment_names({"experiments": {"a": RIE_SMALL}, "phases": {"a": {"from": "a"}}})


# init_spec

def test_init_spec_defaults_to_the_parents_last_weights():
    assert init_spec({"model": "rie"}) is None  # an experiment without init_from starts fresh
    assert init_spec({"model": "rie", "from": "stage1"}) == InitSpec(experiment="stage1", checkpoint="last")
    spec = init_spec(experiment_config(PHASES, "stage2"))
    assert spec == InitSpec(experiment="stage1", include=tuple(ENCODER_PATTERNS))
    assert spec.path == experiments.MODELS_DIR / "stage1"
    assert spec.describe() == "stage1 (last checkpoint), include LocalLayer_*, GlobalInfo.*"


@pytest.mark.parametrize("cfg, expected", [
    ({"init_from": "other"}, InitSpec(experiment="other")),
    ({"init_from": {"experiment": "other", "checkpoint": "best", "exclude": ["x.*"]}},
     InitSpec(experiment="other", checkpoint="best", exclude=("x.*",))),
    ({"from": "p", "init_from": {"checkpoint": "best"}}, InitSpec(experiment="p", checkpoint="best")),
    ({"from": "p", "init_from": {"file": "w.bin", "format": "rie"}}, InitSpec(file="w.bin", format="rie")),
    ({"init_from": {"file": "w.bin"}}, InitSpec(file="w.bin", format="pose3d")),
])
def test_init_spec_forms(cfg, expected):
    assert init_spec(cfg) == expected


@pytest.mark.parametrize("raw, match", [
    ({"file": "w.bin", "format": "caffe"}, "init_from.format 'caffe' is not one of pose3d, videopose3d, srnet, rie"),
    ({"experiment": "a", "checkpoint": "first"}, "init_from.checkpoint 'first' is not one of last, best"),
    ({"experiment": "a", "file": "w.bin"}, "exactly one of 'experiment' and 'file'"),
    ({"include": ["x.*"]}, "exactly one of 'experiment' and 'file'"),  # no parent to default to
    ({"experiment": "a", "patterns": ["x"]}, "unknown key\\(s\\) patterns"),
    (["a"], "init_from must be an experiment name or a mapping"),
])
def test_bad_init_specs_are_refused(raw, match):
    with pytest.raises(ValueError, match=match):
        init_spec({"model": "rie", "init_from": raw})


def test_experiment_config_checks_init_from():
    params = {"experiments": {"a": {**RIE_SMALL, "init_from": {"file": "w.bin", "format": "caffe"}}}}
    with pytest.raises(ValueError, match="format 'caffe'"):
        experiment_config(params, "a")


# initialise on a real RIE

def randomised(model: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Every floating tensor of ``model`` replaced by seeded random values: its state dict."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=g) + 0.5 if key.endswith("running_var")
                        else torch.randn(t.shape, generator=g))
            else:
                t.fill_(seed)
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    root = tmp_path / "data" / "models"
    monkeypatch.setattr(experiments, "MODELS_DIR", root)
    return root


def test_initialise_a_fusion_rie_from_stage_one(models_dir):
    torch.manual_seed(0)
    stage1 = build_experiment_model(experiment_config(PHASES, "stage1"), training=True)
    saved = randomised(stage1, seed=3)
    (models_dir / "stage1").mkdir(parents=True)
    torch.save({"model": saved, "history": {"epoch": 1}, "config": {"epochs": 1}}, models_dir / "stage1" / "latest.pt")

    cfg = experiment_config(PHASES, "stage2")
    torch.manual_seed(1)
    stage2 = build_experiment_model(cfg, training=True)
    fresh = {k: v.clone() for k, v in stage2.state_dict().items()}
    report = initialise(stage2, cfg)

    after = stage2.state_dict()
    encoders = [k for k in after if name_matches(k, ENCODERS)]
    decoders = [k for k in after if name_matches(k, DECODERS)]
    assert len(encoders) == 5 * 8 + 37 and decoders  # arc [3]: 8 entries per local encoder; GlobalInfo 37
    assert sorted(report.loaded) == sorted(encoders)
    for k in encoders:
        assert torch.equal(after[k], saved[k]), k
    for k in decoders + [k for k in after if name_matches(k, FUSION_BLOCKS)]:
        assert torch.equal(after[k], fresh[k]), k  # as initialised, not the file's
        if k in saved and saved[k].shape == after[k].shape:
            assert not torch.equal(after[k], saved[k]), k
    assert sorted(report.skipped) == sorted(k for k in saved if name_matches(k, DECODERS))
    assert not report.missing and not report.unexpected and not report.mismatched
    assert report.source == str(models_dir / "stage1" / "latest.pt")
    assert "skipped (Integration_Torso." in report.describe()


def test_initialise_names_an_unfinished_source(models_dir):
    (models_dir / "stage1").mkdir(parents=True)
    torch.save({"model": {}, "history": {"epoch": 1}, "config": {"epochs": 3}}, models_dir / "stage1" / "latest.pt")
    with pytest.raises(ValueError, match="latest.pt: training stopped after epoch 1 of 3"):
        initialise(build_experiment_model(experiment_config(PHASES, "stage2"), True), experiment_config(PHASES, "stage2"))


def test_initialise_without_init_from_loads_nothing():
    model = build_experiment_model(experiment_config({"experiments": {"a": RIE_SMALL}}, "a"), True)
    assert initialise(model, experiment_config({"experiments": {"a": RIE_SMALL}}, "a")) is None


@pytest.mark.parametrize("prefix", ["", "module."])
def test_initialise_from_an_rie_seed_file(tmp_path, prefix):
    cfg_fusion = {**RIE_SMALL, "fusion": True}
    torch.manual_seed(0)
    seed_model = build_experiment_model(experiment_config({"experiments": {"a": cfg_fusion}}, "a"), True)
    state = randomised(seed_model, seed=5)
    path = tmp_path / "epoch_80.bin"
    torch.save({"model_pos": {prefix + k: v for k, v in state.items()}, "epoch": 80, "lr": 1e-5,
                "random_state": np.random.RandomState(1).get_state(),
                "optimizer": {"state": {}, "param_groups": [{"lr": 1e-5, "params": [0]}]}}, path)
    params = {"experiments": {"b": {**cfg_fusion, "init_from": {"file": str(path), "format": "rie"}}}}
    cfg = experiment_config(params, "b")
    torch.manual_seed(1)
    model = build_experiment_model(cfg, training=True)
    report = initialise(model, cfg)
    assert report.complete and len(report.loaded) == len(state) and not report.skipped
    assert report.source == str(path)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_a_seed_file_read_as_a_project_checkpoint_is_refused(tmp_path):
    path = tmp_path / "epoch_80.bin"
    torch.save({"model_pos": {"w": torch.zeros(1)}, "epoch": 80}, path)
    params = {"experiments": {"b": {**RIE_SMALL, "init_from": {"file": str(path)}}}}
    cfg = experiment_config(params, "b")
    with pytest.raises(ValueError, match="no 'model' entry for format 'pose3d'.*a seed repository's file"):
        initialise(build_experiment_model(cfg, True), cfg)
