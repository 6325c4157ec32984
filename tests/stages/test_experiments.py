"""Experiment entries of params.yaml: overlay on `train`, and typos refused by name."""
from __future__ import annotations

import pytest

from pose3d.training.data import PoseData
from pose3d.training.protocols import PROTOCOLS
from pose3d.training.residual import Residual2D
from stages.experiments import build_experiment_model, experiment_config, split_for

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
