"""build_model: names, hyper-parameter dicts as params.yaml gives them, and clear errors."""
from __future__ import annotations

import pytest
import torch

from pose3d.models import (SRNet, SimpleBaseline, VideoPose3D, build_model, count_parameters, evaluation_form,
                           model_params, training_form)
from tests.models.model_checks import single_thread  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.mark.parametrize("name, params, cls, rf", [
    ("fc", {}, SimpleBaseline, 1),
    ("fc", {"variant": "srnet", "arc": [1, 1, 1]}, VideoPose3D, 1),
    ("videopose", {"arc": [3, 3, 3], "channels": 16}, VideoPose3D, 27),
    ("srnet", {"arc": [1, 1, 1], "groups": 5, "channels": 40}, SRNet, 1),
    ("srnet", {"arc": [3, 3, 3], "groups": 3, "recombine": "add", "split": "all", "channels": 40}, SRNet, 27),
])
def test_builds_by_name(name, params, cls, rf):
    model = build_model(name, params)
    assert type(model) is cls and model.receptive_field == rf


def test_defaults():
    vp = build_model("videopose")
    assert vp.arc == (3, 3, 3) and vp.channels == 1024 and vp.drop.p == 0.25 and not vp.causal
    sr = build_model("srnet", {"channels": 40})
    assert (sr.arc, sr.groups, sr.recombine, sr.split, sr.drop.p) == ((1, 1, 1), 5, "multiply", "others", 0.0)


def test_joint_counts_pass_through():
    model = build_model("videopose", {"arc": [1], "channels": 8}, num_joints_in=16, num_joints_out=14)
    assert model(torch.randn(2, 1, 16, 2)).shape == (2, 1, 14, 3)


@pytest.mark.parametrize("name, params, match", [
    ("gcn", {}, "unknown model 'gcn'"),
    ("videopose", {"arc": [3, 2, 3]}, "width 2"),
    ("videopose", {"arc": []}, "at least one"),
    ("videopose", {"arc": "3,3,3"}, "'3,3,3'"),
    ("videopose", {"arc": [3, 3.5]}, "3.5"),
    ("videopose", {"dropout": 1.2}, "dropout=1.2"),
    ("videopose", {"channels": 0}, "channels=0"),
    ("videopose", {"causal": "yes"}, "causal='yes'"),
    ("videopose", {"activation": "gelu"}, "activation='gelu'"),
    ("videopose", {"chanels": 512}, "did you mean 'channels'"),
    ("videopose", {"groups": 5}, "'groups' is not a hyper-parameter"),
    ("srnet", {"group": 3}, "did you mean 'groups'"),
    ("srnet", {"groups": 4}, "groups=4"),
    ("srnet", {"groups": True}, "groups=True"),
    ("srnet", {"recombine": "sum"}, "recombine='sum'"),
    ("srnet", {"split": "half"}, "split='half'"),
    ("fc", {"variant": "linear"}, "variant='linear'"),
    ("fc", {"arc": [1, 3, 1]}, "single-frame"),
    ("fc", {"causal": True}, "causal"),
    ("fc", {"variant": "srnet", "max_norm": True}, "max_norm"),
])
def test_errors_name_the_bad_value(name, params, match):
    with pytest.raises(ValueError, match=match):
        build_model(name, params)


def test_accepts_a_whole_experiment_entry():
    """train.py passes params.yaml's train section overlaid with the experiment: other keys are not ours."""
    train = {"device": "auto", "epochs": 6, "batch_size": 1024, "lr": 1e-3, "lr_decay": 0.95, "seed": 4321,
             "flip": True, "amp": True, "val_max_views": 48, "bn_momentum_start": 0.1, "bn_momentum_end": 0.001}
    srnet = {"model": "srnet", "arc": [1, 1, 1], "groups": 3, "recombine": "add", "split": "others", "norm": "base",
             "protocol": "cross_action", "train_action": "Discussion", "loss": "l1", "channels": 40}
    model = build_model("srnet", {**train, **srnet})
    assert (model.groups, model.recombine, model.channels) == (3, "add", 40)
    fc = build_model("fc", {**train, "model": "fc", "arc": [1, 1, 1], "protocol": "cross_subject", "loss": "l1",
                            "train_cameras": [0], "test_cameras": [1, 2, 3], "channels": 8})
    assert isinstance(fc, SimpleBaseline)


def test_forms():
    model = build_model("videopose", {"arc": [3, 3], "channels": 8})
    assert model.strided is None  # automatic: strided exactly when T equals the receptive field
    assert training_form(model) is model and model.strided is True
    assert evaluation_form(model) is model and model.strided is False
    fc = build_model("fc", {"channels": 8})
    assert evaluation_form(fc) is fc and training_form(fc) is fc


def test_model_params_picks_hyper_parameters_from_an_experiment():
    experiment = {"model": "srnet", "arc": [1, 1, 1], "groups": 5, "norm": "base", "protocol": "cross_subject"}
    assert model_params("srnet", experiment) == {"arc": [1, 1, 1], "groups": 5}
    fc = {"variant": "srnet", "arc": [1, 1, 1]}
    assert model_params("fc", {**fc, "lr": 1e-3, "max_norm": True}) == fc
    with pytest.raises(ValueError, match="unknown model"):
        model_params("gcn", experiment)


def test_count_parameters_trainable_only():
    model = build_model("videopose", {"arc": [1], "channels": 8})
    total = count_parameters(model)
    model.shrink.bias.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == total - 51
