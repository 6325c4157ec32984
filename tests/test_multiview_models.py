"""Multi-view volume models: V2V, ContextPose's context V2V (priors, attention target) and the confidence head."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d.models.confidence import ConfidenceHead
from pose3d.models.v2v import V2V, min_size
from pose3d.models.v2v_context import ContextAttention, ContextV2V, attention_target, pairwise_priors
from pose3d.priors.limbs import CONTEXTPOSE_LIMBS

LIMB_MEAN = np.linspace(120.0, 450.0, 16)
LIMB_STD = np.linspace(8.0, 30.0, 16)


def count(m: torch.nn.Module, prefixes: tuple[str, ...] = ()) -> int:
    return sum(p.numel() for n, p in m.named_parameters() if not prefixes or n.startswith(prefixes))


def build(cls, *args, **kwargs):
    """Shapes only: the meta device allocates nothing."""
    with torch.device("meta"):
        return cls(*args, **kwargs)


def context_v2v(**kwargs) -> ContextV2V:
    return ContextV2V(32, 17, CONTEXTPOSE_LIMBS, LIMB_MEAN, LIMB_STD, **kwargs)


def test_v2v_parameter_counts():
    m = build(V2V, 32, 17)
    assert count(m) == 11_944_353
    assert count(m, ("front_layers.",)) == 328_912
    assert count(m, ("encoder_decoder.",)) == 11_557_152
    assert count(m, ("back_layers.",)) == 57_728
    assert count(m, ("output_layer.",)) == 561
    assert not any("encoder_res5" in n for n, _ in build(V2V, 32, 17, levels=4).named_parameters())


def test_context_v2v_parameter_counts():
    m = build(context_v2v)
    assert count(m) == 916_164
    parts = {"front_layers.": 62_441, "encoder_res1.": 119_238, "encoder_res2.": 140_760, "mid_res.": 73_287,
             "mid_res.attention.": 2_805, "decoder_res2.": 140_760, "decoder_upsample2.": 20_961,
             "decoder_res1.": 140_760, "decoder_upsample1.": 13_974, "skip_res1.": 62_628, "skip_res2.": 140_760,
             "output_layer.": 595}
    assert {p: count(m, (p,)) for p in parts} == parts


def test_confidence_head_parameter_count():
    assert count(build(ConfidenceHead)) == 10_886_417


def test_v2v_shapes():
    assert min_size(5) == 32 and min_size(4) == 16
    with torch.no_grad():
        assert V2V(32, 17).eval()(torch.randn(1, 32, 32, 32, 32)).shape == (1, 17, 32, 32, 32)
        assert V2V(32, 17, levels=4).eval()(torch.randn(1, 32, 16, 16, 16)).shape == (1, 17, 16, 16, 16)


@pytest.mark.parametrize("levels, shape", [(5, (1, 32, 16, 16, 16)), (4, (1, 32, 24, 24, 24)), (4, (32, 16, 16, 16))])
def test_v2v_rejects_bad_cubes(levels, shape):
    with pytest.raises(ValueError):
        V2V(32, 17, levels=levels)(torch.zeros(shape))


def test_v2v_rejects_bad_levels():
    with pytest.raises(ValueError):
        V2V(32, 17, levels=6)


def test_context_v2v_shapes_and_attention():
    m = context_v2v()
    volumes, attention = m(torch.randn(2, 32, 16, 16, 16))
    assert volumes.shape == (2, 17, 16, 16, 16)
    assert attention.shape == (2, 17, 64)
    torch.testing.assert_close(attention.sum(-1), torch.ones(2, 17))
    assert not any("prior" in k for k in m.state_dict())


@pytest.mark.parametrize("shape", [(1, 32, 12, 12, 10), (1, 32, 4, 4, 4), (1, 32, 16, 16, 8)])
def test_context_v2v_rejects_bad_cubes(shape):
    with pytest.raises(ValueError):
        context_v2v()(torch.zeros(shape))


@pytest.mark.parametrize("limbs", [[(0, 0)], [(0, 17)], [(0, 1), (1, 0)]])
def test_context_v2v_rejects_bad_limbs(limbs):
    with pytest.raises(ValueError):
        ContextV2V(32, 17, limbs, [300.0] * len(limbs), [20.0] * len(limbs))


@pytest.mark.parametrize("coarse", [2, 3])
def test_pairwise_priors_formula(coarse):
    mean, std, temperature, spacing = [150.0, 400.0], [10.0, 25.0], 2.0, 200.0
    got = pairwise_priors(coarse, spacing, mean, std, temperature, "cpu", torch.float64).numpy()
    idx = [(i, j, k) for i in range(coarse) for j in range(coarse) for k in range(coarse)]
    pts = np.array(idx, dtype=np.float64) * spacing
    dist = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))
    for l, (mu, sigma) in enumerate(zip(mean, std)):
        logits = -(dist - mu) ** 2 / (temperature * 2 * sigma ** 2 + 0.1)
        e = np.exp(logits - logits.max(1, keepdims=True))
        np.testing.assert_allclose(got[l], e / e.sum(1, keepdims=True), rtol=1e-10, atol=1e-12)


def test_priors_cached_per_dtype():
    att = context_v2v().mid_res.attention
    a = att.priors(3, torch.device("cpu"), torch.float32)
    assert att.priors(3, torch.device("cpu"), torch.float32) is a
    b = att.priors(3, torch.device("cpu"), torch.float64)
    assert b.dtype == torch.float64 and a.shape == b.shape == (16, 27, 27)


def test_attention_target_sums_to_one_and_peaks_at_nearest_voxel():
    coarse, side, size = 4, 2500.0, 16
    spacing = (side - 3 * side / (size - 1)) / (coarse - 1)
    joints = torch.tensor([[[-1250.0, -1250.0, -1250.0], [0.0, 0.0, 0.0], [700.0, -300.0, 100.0]]], dtype=torch.float64)
    target = attention_target(joints, coarse, side, size)
    assert target.shape == (1, 3, 64)
    torch.testing.assert_close(target.sum(-1), torch.ones(1, 3, dtype=torch.float64))
    nearest = np.clip(np.rint((joints[0].numpy() + side / 2) / spacing), 0, coarse - 1).astype(int)
    expected = [int(np.ravel_multi_index(tuple(v), (coarse,) * 3)) for v in nearest]
    assert target[0].argmax(-1).tolist() == expected
    assert expected[0] == 0  # the grid starts at the cube's lower corner


def reference_context(att: ContextAttention, x: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """ContextAttention's features written out slot by slot with explicit (B, c, n, n) products."""
    b, _, d, h, w = x.shape
    j, n = att.joints, d * h * w
    f = att.embed(x).reshape(b, j, 3, n)
    g = torch.softmax(att.attend(x).reshape(b, j, n), -1)
    weights = att.joint_convs.weight.reshape(j, 3, j, 3)
    outs = []
    for r in range(j):
        slots = []
        for s in range(j):
            limb = [l for l, pair in enumerate(att.limbs) if set(pair) == {r, s}]
            if limb:
                p = priors[limb[0]]  # (v, v')
                num = (p[None, None] * (g[:, s, None, None] * f[:, s, :, None])).sum(-1)
                den = (p[None] * g[:, s, None]).sum(-1)
                slots.append(num / den[:, None])
            else:
                slots.append((g[:, s, None] * f[:, s]).sum(-1, keepdim=True).expand(b, 3, n))
        outs.append(torch.einsum("osc,bscn->bon", weights[r], torch.stack(slots, 1)))
    return (torch.cat(outs, 1) + f.reshape(b, 3 * j, n)).reshape(b, 3 * j, d, h, w)


def test_context_assembly_matches_slot_by_slot_reference():
    torch.manual_seed(0)
    limbs = [(0, 1), (1, 2), (3, 1), (3, 4)]
    att = ContextAttention(5, limbs, [300.0, 500.0, 200.0, 400.0], [20.0, 30.0, 10.0, 40.0], 1000.0, 1.0).double()
    for p in att.parameters():
        torch.nn.init.normal_(p, 0.0, 0.5)
    x = torch.randn(2, 15, 3, 3, 3, dtype=torch.float64)
    out, attention = att(x)
    priors = pairwise_priors(3, 500.0, att.limb_mean_mm, att.limb_std_mm, 1.0, "cpu", torch.float64)
    torch.testing.assert_close(out, reference_context(att, x, priors))
    assert attention.shape == (2, 5, 27)


def test_confidence_head_on_small_map():
    out = ConfidenceHead(512, 17)(torch.randn(3, 512, 2, 2))
    assert out.shape == (3, 17)
    assert bool(((out > 0) & (out < 1)).all())


def test_attention_loss_reaches_attention_weights():
    torch.manual_seed(0)
    m = context_v2v()
    _, attention = m(torch.randn(2, 32, 16, 16, 16))
    joints = torch.randn(2, 17, 3) * 400.0
    loss = 1e6 * torch.nn.functional.mse_loss(attention, attention_target(joints, 4, 2500.0, 16))
    loss.backward()
    grad = m.mid_res.attention.attend.weight.grad
    assert grad is not None and bool(torch.isfinite(grad).all()) and grad.abs().sum() > 0


@pytest.mark.parametrize("model, total, trainable", [
    ("algebraic", 79_521_890, 79_521_890),  # PoseResNet-152 68,635,473 + confidence head 10,886,417
    ("volumetric", 80_588_050, 80_583_681),  # + process_features 8,224 + V2V 11,944,353; final layer frozen
    ("contextpose", 69_559_861, 69_555_492),  # + process_features 8,224 + V2VNet 916,164; final layer frozen
])
def test_seed_configurations_have_the_seeds_parameter_counts(model, total, trainable):
    """learnable-triangulation's and ContextPose's configurations (ResNet-152, 256 deconvolution filters, 64^3)."""
    from pose3d.models.registry import count_parameters
    from pose3d.multiview.config import MultiViewRun

    run = MultiViewRun(model=model, resnet=152, head_filters=256, input_size=384, cube_size=64)
    net = run.network(np.full(16, 300.0), np.full(16, 20.0)) if model == "contextpose" else run.network()
    assert (count_parameters(net), count_parameters(net, trainable_only=True)) == (total, trainable)


def test_cpu_defaults_are_smaller_and_say_so():
    """The CPU defaults (ResNet-18, 64 deconvolution filters, a 16^3 cube) are a fraction of the seeds' size."""
    import yaml

    from pose3d.models.registry import count_parameters
    from pose3d.multiview.config import multiview_run
    from tests.helpers import ROOT

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    counts = {}
    for name in ("alg_r18", "vol_r18", "ctx_r18"):
        run = multiview_run(params, name)
        assert (run.resnet, run.head_filters, run.input_size) == (18, 64, 64)
        net = run.network(np.full(16, 300.0), np.full(16, 20.0)) if run.model == "contextpose" else run.network()
        counts[run.model] = count_parameters(net)
    assert counts["algebraic"] < 79_521_890 / 3 and counts["volumetric"] < 80_588_050 / 3
    assert counts["contextpose"] < 69_559_861 / 3
