"""Experiment entries of params.yaml: overlay on `train`, and typos refused by name."""
from __future__ import annotations

import pytest

from pose3d.training.residual import Residual2D
from stages.experiments import build_experiment_model, experiment_config

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
