"""SimpleBaseline (models.md §3) and SRNet's dense ``--model fc`` baseline (§4.7)."""
from __future__ import annotations

import pytest
import torch

from pose3d.models import MaxNormLinear, SimpleBaseline, VideoPose3D, build_model, count_parameters
from tests.models.model_checks import overfit_drop, randomise_bn, single_thread  # noqa: F401

pytestmark = pytest.mark.usefixtures("single_thread")

# models.md §3.2 / §4.4 / §10: [calc] figures given to 0.01M, so compare after rounding to 0.01M
SIMPLEBASELINE_M = 4.29        # 16 joints in, 16 out
SRNET_FC_M = {(1, 1, 1): 4.29, (1, 1, 1, 1): 6.39, (3, 3, 3, 3, 3): 16.95}


def test_parameter_count_published_layout():
    with torch.device("meta"):
        model = build_model("fc", {}, num_joints_in=16, num_joints_out=16)
    n = count_parameters(model)
    assert round(n / 1e6, 2) == SIMPLEBASELINE_M
    linear = lambda i, o: i * o + o  # noqa: E731
    assert n == linear(32, 1024) + 4 * linear(1024, 1024) + 5 * 2 * 1024 + linear(1024, 48)


@pytest.mark.parametrize("arc, millions", SRNET_FC_M.items())
def test_srnet_fc_parameter_counts(arc, millions):
    with torch.device("meta"):
        model = build_model("fc", {"variant": "srnet", "arc": list(arc)})
    assert isinstance(model, VideoPose3D)
    assert round(count_parameters(model) / 1e6, 2) == millions


def test_srnet_fc_is_videopose_with_srnet_defaults():
    model = build_model("fc", {"variant": "srnet"})
    assert isinstance(model.act, torch.nn.LeakyReLU) and model.act.negative_slope == 0.01
    assert model.drop.p == 0.0 and model.receptive_field == 1


@pytest.mark.parametrize("variant", ["simplebaseline", "srnet"])
def test_shapes_and_frames_are_independent(variant):
    torch.manual_seed(0)
    model = build_model("fc", {"variant": variant, "channels": 64}).eval()
    randomise_bn(model)
    x = torch.randn(3, 5, 17, 2)
    with torch.no_grad():
        assert model(x[:, :1]).shape == (3, 1, 17, 3)
        y = model(x)
        per_frame = torch.cat([model(x[:, t:t + 1]) for t in range(5)], dim=1)
    assert y.shape == (3, 5, 17, 3)
    torch.testing.assert_close(y, per_frame)


def test_depth_follows_arc():
    assert len(SimpleBaseline(arc=(1, 1, 1, 1), channels=8).blocks) == 3
    with pytest.raises(ValueError, match="single-frame"):
        SimpleBaseline(arc=(3, 3, 3))


def test_max_norm_bounds_the_used_weight():
    torch.manual_seed(0)
    layer = MaxNormLinear(8, 4)
    x = torch.randn(5, 8)
    w = layer.weight.detach()
    expected = x @ (w / max(1.0, w.norm().item())).T + layer.bias.detach()
    torch.testing.assert_close(layer(x), expected)
    with torch.no_grad():
        layer.weight.mul_(1e-3)  # already inside the ball: used as is
    torch.testing.assert_close(layer(x), x @ layer.weight.detach().T + layer.bias.detach())
    assert MaxNormLinear(8, 4, max_norm=None)(x).shape == (5, 4)


def test_kaiming_truncated_initialisation():
    torch.manual_seed(0)
    layer = MaxNormLinear(512, 1024)
    w_std, b_std = (2 / 512) ** 0.5, (2 / 1024) ** 0.5
    assert layer.weight.abs().max() <= 2 * w_std and layer.bias.abs().max() <= 2 * b_std
    # a normal truncated at 2 sigma has std 0.88 sigma
    assert abs(layer.weight.std().item() / w_std - 0.88) < 0.02


def test_autocast_bfloat16():
    model = build_model("fc", {"channels": 64}).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(torch.randn(8, 1, 17, 2))
    assert y.shape == (8, 1, 17, 3) and torch.isfinite(y).all()


def test_overfits_a_small_batch():
    torch.manual_seed(0)
    # lr 1e-2: Adam moves the stored weight, max-norm then shrinks the step by the weight's norm
    model = build_model("fc", {"channels": 256, "dropout": 0.0}, num_joints_in=16, num_joints_out=16)
    before, after = overfit_drop(model, frames=1, joints_in=16, joints_out=16, steps=30, lr=1e-2)
    assert after < 0.5 * before


def test_srnet_fc_overfits_a_small_batch():
    torch.manual_seed(0)
    model = build_model("fc", {"variant": "srnet", "channels": 256})
    before, after = overfit_drop(model, frames=1, steps=30, lr=1e-3)
    assert after < 0.5 * before
