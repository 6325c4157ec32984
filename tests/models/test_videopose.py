"""VideoPose3D against models.md §2 and §0.4: receptive fields, parameter counts, the two forms."""
from __future__ import annotations

import pytest
import torch

from pose3d.models import VideoPose3D, build_model, count_parameters
from tests.models.model_checks import overfit_drop, randomise_bn, windows, single_thread  # noqa: F401

pytestmark = pytest.mark.usefixtures("single_thread")

# models.md §0.4 and §2.2 ([calc] figures; 243 frames is given exactly, the others to 0.01M)
RF = {(1, 1, 1): 1, (3, 3, 3): 27, (3, 3, 3, 3): 81, (3, 3, 3, 3, 3): 243}
PARAMS_EXACT_243 = 16_952_371
PARAMS_MILLIONS = {(3, 3, 3): 8.56, (3, 3, 3, 3): 12.75, (3, 3, 3, 3, 3): 16.95}


def small(arc=(3, 3, 3), **kw) -> VideoPose3D:
    torch.manual_seed(0)
    return VideoPose3D(arc=arc, channels=kw.pop("channels", 32), **kw)


@pytest.mark.parametrize("arc, rf", RF.items())
def test_receptive_field(arc, rf):
    model = small(arc)
    assert model.receptive_field == rf
    assert model.pad == (rf - 1) // 2 and model.causal_shift == 0
    assert small(arc, causal=True).causal_shift == (rf - 1) // 2


def test_parameter_count_243_exact():
    with torch.device("meta"):
        model = build_model("videopose", {"arc": [3, 3, 3, 3, 3]})
    assert count_parameters(model) == PARAMS_EXACT_243


@pytest.mark.parametrize("arc, millions", PARAMS_MILLIONS.items())
def test_parameter_counts_rounded(arc, millions):
    with torch.device("meta"):
        n = count_parameters(build_model("videopose", {"arc": list(arc), "channels": 1024}))
    assert round(n / 1e6, 2) == millions


def test_state_dict_uses_the_original_names():
    """The released VideoPose3D checkpoints use these keys; keeping them lets them load."""
    keys = set(small((3, 3)).state_dict())
    assert {"expand_conv.weight", "expand_bn.running_mean", "layers_conv.0.weight", "layers_conv.1.weight",
            "layers_bn.1.num_batches_tracked", "shrink.weight", "shrink.bias"} <= keys
    assert not any(k.startswith(("act", "drop")) for k in keys)


@pytest.mark.parametrize("arc", [(1, 1, 1), (3, 3, 3), (3, 3, 3, 3)])
def test_output_shapes(arc):
    model = small(arc).eval()
    rf = model.receptive_field
    with torch.no_grad():
        assert model(torch.randn(2, rf, 17, 2)).shape == (2, 1, 17, 3)
        assert model(torch.randn(2, rf + 10, 17, 2)).shape == (2, 11, 17, 3)
        model.strided = True
        assert model(torch.randn(2, rf, 17, 2)).shape == (2, 1, 17, 3)


def test_automatic_form_is_strided_only_for_one_window():
    """strided=None: one receptive field runs the cheap twin, longer inputs the dilated form; same numbers."""
    auto = small((3, 3, 3)).double()
    randomise_bn(auto)
    dilated = small((3, 3, 3), strided=False).double()
    dilated.load_state_dict(auto.state_dict())
    auto.eval(), dilated.eval()
    calls = []
    auto.expand_conv.register_forward_hook(lambda m, args, out: calls.append(out.shape[2]))
    x = torch.randn(3, 40, 17, 2, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(auto(x[:, :27]), dilated(x[:, :27]), rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(auto(x), dilated(x))
    assert calls == [9, 38]  # strided expand layer (27 / 3 frames), then dilated (40 - 2)


def test_other_joint_counts():
    model = VideoPose3D(16, 15, arc=(3, 3), channels=16).eval()
    assert model(torch.randn(1, 12, 16, 2)).shape == (1, 4, 15, 3)


@pytest.mark.parametrize("causal", [False, True])
def test_twin_and_evaluation_form_agree(causal):
    """Strided training twin and dilated evaluation form: same weights, same output per window."""
    twin = small((3, 3, 3), causal=causal, strided=True).double()
    randomise_bn(twin)
    full = small((3, 3, 3), causal=causal, strided=False).double()
    full.load_state_dict(twin.state_dict())
    twin.eval(), full.eval()
    x = torch.randn(2, 60, 17, 2, dtype=torch.float64)
    with torch.no_grad():
        seq = full(x)  # (2, 34, 17, 3)
        per_window = twin(windows(x, 27)).reshape(2, 34, 17, 3)
        first = twin(x[:, :27])
    assert seq.shape == (2, 34, 17, 3)
    torch.testing.assert_close(first, seq[:, :1], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(per_window, seq, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("causal, source", [(False, slice(3, 6)), (True, slice(6, 9))])
def test_residual_path_follows_the_target_frame(causal, source):
    """With the blocks silenced, output frame 0 is the expand features of the frame the model stands
    for: the centre of the 9-frame window (frames 3-5 feed it), or its newest frame when causal."""
    model = small((3, 3), causal=causal).double().eval()
    with torch.no_grad():
        for conv in model.layers_conv:
            conv.weight.zero_()
    x = torch.randn(1, 9, 17, 2, dtype=torch.float64)
    grads = torch.autograd.functional.jacobian(lambda v: model(v).sum(), x)
    used = grads.abs().sum(dim=(0, 2, 3)) > 0
    expected = torch.zeros(9, dtype=torch.bool)
    expected[source] = True
    assert torch.equal(used, expected)


def test_set_bn_momentum():
    model = small((3, 3))
    model.set_bn_momentum(0.02)
    moms = {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)}
    assert moms == {0.02}
    with pytest.raises(ValueError, match="bn_momentum"):
        model.set_bn_momentum(1.5)


def test_bad_inputs():
    model = small((3, 3))
    with pytest.raises(ValueError, match="receptive field 9"):
        model(torch.randn(1, 8, 17, 2))
    with pytest.raises(ValueError, match=r"\(B, T, 17, 2\)"):
        model(torch.randn(1, 9, 16, 2))


def test_autocast_bfloat16():
    model = small((3, 3)).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(torch.randn(4, 9, 17, 2))
    assert y.shape == (4, 1, 17, 3) and torch.isfinite(y).all()
    y.float().abs().mean().backward()
    assert model.expand_conv.weight.grad is not None


def test_overfits_a_small_batch():
    model = small((3, 3), channels=256, dropout=0.0, strided=True)
    before, after = overfit_drop(model, frames=9, steps=30, lr=1e-3)
    assert after < 0.5 * before
