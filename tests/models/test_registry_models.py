"""What the registry reads from a model itself (skeleton, training twin, camera, named outputs),
and models named by import path (``package.module:Class``)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from pose3d.experiments import experiment_config
from pose3d.h36m.skeleton import H36M16, H36M17
from pose3d.models.registry import (build_model, has_named_outputs, has_training_form, hyperparameter_names,
                                    model_skeleton, takes_camera)
from pose3d.training.residual import Residual2D
from tests.models.model_checks import single_thread  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("single_thread")

HERE = "tests.models.test_registry_models"


class TinyLifter(nn.Module):
    """A model outside the registry: 17 joints by default, one hyper-parameter."""

    receptive_field = 1

    def __init__(self, num_joints_in: int = 17, num_joints_out: int = 17, width: int = 8):
        super().__init__()
        self.num_joints_in, self.num_joints_out, self.width = num_joints_in, num_joints_out, width
        self.net = nn.Sequential(nn.Linear(2 * num_joints_in, width), nn.ReLU(), nn.Linear(width, 3 * num_joints_out))

    def forward(self, x):
        b, t = x.shape[:2]
        return self.net(x.reshape(b * t, -1)).reshape(b, t, self.num_joints_out, 3)


class TinyCameraLifter(nn.Module):
    """16 joints by default, a camera condition and named outputs, as RS-Net has."""

    receptive_field = 1

    def __init__(self, num_joints_in: int = 16, num_joints_out: int = 16, width: int = 8):
        super().__init__()
        self.num_joints_in, self.num_joints_out = num_joints_in, num_joints_out
        self.layers = nn.Sequential(nn.Linear(2 * num_joints_in, width), nn.ReLU(), nn.Linear(width, 3 * num_joints_out))

    def forward(self, x, camera=None, outputs: bool = False):
        b, t = x.shape[:2]
        pose = self.layers(x.reshape(b * t, -1)).reshape(b, t, self.num_joints_out, 3)
        return {"pose": pose} if outputs else pose


class CameraLifterWithNet(TinyCameraLifter):
    """The same, its layers under the attribute name ``net`` (as tests/training_loop's TinyLifter has)."""

    def __init__(self, num_joints_in: int = 16, num_joints_out: int = 16, width: int = 8):
        super().__init__(num_joints_in, num_joints_out, width)
        self.net = self.layers


class Lifter15(TinyLifter):
    def __init__(self, num_joints_in: int = 15, num_joints_out: int = 15):
        super().__init__(num_joints_in, num_joints_out)


NOT_CALLABLE = 3


@pytest.mark.parametrize("name, params, skeleton", [
    ("rsnet", {}, H36M16),
    ("fc", {}, H36M17),
    ("fc", {"variant": "srnet"}, H36M17),
    ("videopose", {}, H36M17),
    ("srnet", {}, H36M17),
    ("rie", {}, H36M17),
    (f"{HERE}:TinyLifter", {}, H36M17),
    (f"{HERE}:TinyCameraLifter", {}, H36M16),
])
def test_model_skeleton(name, params, skeleton):
    assert model_skeleton(name, params) is skeleton
    if ":" not in name and name != "fc":
        assert model_skeleton(name) is skeleton  # params are optional


def test_a_skeleton_of_unknown_size_is_refused():
    with pytest.raises(ValueError, match=f"model '{HERE}:Lifter15': no skeleton of 15 joints"):
        model_skeleton(f"{HERE}:Lifter15")


@pytest.mark.parametrize("name, expected", [
    ("videopose", True), ("srnet", True), ("rie", True), ("fc", False), ("rsnet", False),
    (f"{HERE}:TinyLifter", False),
])
def test_has_training_form(name, expected):
    assert has_training_form(name) is expected


def test_camera_and_named_outputs_are_read_from_forward():
    rsnet = build_model("rsnet", {"hidden": 4, "post_refine": True, "refine_hidden": 8})
    videopose = build_model("videopose", {"arc": [1], "channels": 8})
    assert takes_camera(rsnet) and has_named_outputs(rsnet)
    assert not takes_camera(videopose) and not has_named_outputs(videopose)
    assert not takes_camera(Residual2D(videopose)) and not has_named_outputs(Residual2D(videopose))
    custom = build_model(f"{HERE}:TinyCameraLifter")
    assert takes_camera(custom) and has_named_outputs(custom)
    assert not takes_camera(build_model(f"{HERE}:TinyLifter"))


def test_a_submodule_called_net_does_not_hide_the_models_own_forward():
    model = build_model(f"{HERE}:CameraLifterWithNet")
    assert takes_camera(model) and has_named_outputs(model)


def test_the_lcn_head_passes_named_outputs_through():
    from pose3d.training.loop import model_outputs

    model = Residual2D(build_model("rsnet", {"hidden": 4}))
    assert has_named_outputs(model)
    outputs = model_outputs(model, model, torch.randn(2, 1, 16, 2), {})
    assert set(outputs) == {"pose", "coarse"}


def test_rsnet_named_outputs():
    torch.manual_seed(0)
    model = build_model("rsnet", {"hidden": 4}).eval()
    x = torch.randn(2, 1, 16, 2)
    out = model(x, outputs=True)
    assert set(out) == {"pose", "coarse"} and torch.equal(out["pose"], model(x))


def test_a_model_by_import_path():
    model = build_model(f"{HERE}:TinyLifter", {"width": 4})
    assert type(model).__name__ == "TinyLifter" and type(model).__module__.endswith("test_registry_models")
    assert (model.num_joints_in, model.num_joints_out, model.width) == (17, 17, 4)
    assert model(torch.randn(3, 1, 17, 2)).shape == (3, 1, 17, 3)
    sixteen = build_model(f"{HERE}:TinyCameraLifter")  # joint counts from its own default
    assert (sixteen.num_joints_in, sixteen.num_joints_out) == (16, 16)
    assert hyperparameter_names(f"{HERE}:TinyLifter") == {"width"}


def test_a_model_by_import_path_checks_its_keys():
    with pytest.raises(ValueError, match="'channels' is not a hyper-parameter of this model; it takes \\['width'\\]"):
        build_model(f"{HERE}:TinyLifter", {"channels": 8})  # another model's key
    with pytest.raises(ValueError, match="unknown key 'widths'; did you mean 'width'"):
        build_model(f"{HERE}:TinyLifter", {"widths": 8})
    # keys no model knows (an experiment's training settings) are left to others
    assert build_model(f"{HERE}:TinyLifter", {"width": 4, "lr": 0.1}).width == 4


def test_an_experiment_may_name_a_model_by_import_path():
    params = {"experiments": {"custom": {"model": f"{HERE}:TinyLifter", "width": 4, "lr": 0.01}}}
    cfg = experiment_config(params, "custom")
    assert cfg["width"] == 4 and cfg["model"] == f"{HERE}:TinyLifter"
    with pytest.raises(ValueError, match="unknown key 'widt'; did you mean 'width'"):
        experiment_config({"experiments": {"custom": {"model": f"{HERE}:TinyLifter", "widt": 4}}}, "custom")


@pytest.mark.parametrize("path, match", [
    ("tests.models.no_such_module:Net", "model 'tests.models.no_such_module:Net': cannot import it"),
    (f"{HERE}:NoSuchClass", f"model '{HERE}:NoSuchClass': cannot import it"),
    (f"{HERE}:", f"model '{HERE}:': cannot import it"),
    (f"{HERE}:NOT_CALLABLE", f"model '{HERE}:NOT_CALLABLE' is not a class or function"),
])
def test_a_bad_import_path_is_named(path, match):
    with pytest.raises(ValueError, match=match):
        build_model(path)
    with pytest.raises(ValueError, match=match):
        model_skeleton(path)
