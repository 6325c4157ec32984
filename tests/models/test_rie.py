"""RIE against next_models.md §1: encodings, parts, exact parameter counts, state-dict bookkeeping, forms."""
from __future__ import annotations

import pytest
import torch

from pose3d.models.registry import count_parameters
from pose3d.models.rie import (DECODERS, ENCODERS, FUSION_BLOCKS, GLOBAL_ENCODER, LOCAL_ENCODERS, PARTS, RIE,
                               name_matches)
from tests.models.model_checks import overfit_drop, randomise_bn, windows, single_thread  # noqa: F401

pytestmark = pytest.mark.usefixtures("single_thread")

ARC5 = (3, 3, 3, 3, 3)
# §1.3 [run]: C = 256, arc 3,3,3,3,3; (latent, fusion) -> parameters
TOTAL = {(256, False): 23_385_651, (256, True): 41_783_091, (512, False): 26_598_451, (512, True): 52_861_491}
# §1.3: other arcs, L = 256, stage 1
TOTAL_ARCS = {(3, 3, 3): 20_753_971, (3, 3, 3, 3): 22_069_811, (1, 1, 1): 19_391_027}
TRAINABLE_STAGE2 = 31_602_995
# §1.3 table, per part: latent -> (LFE torso, LFE limb, GFE, FFM, decoder torso s1 / s2, decoder limb s1 / s2)
PARTS_TABLE = {
    256: (1_142_016, 1_132_800, 4_506_880, 17_086_720, (2_646_031, 2_908_175), (2_639_881, 2_902_025)),
    512: (1_207_808, 1_198_592, 4_769_280, 23_641_600, (3_170_319, 3_694_607), (3_164_169, 3_688_457)),
}
# §1.2: VideoPose3D joint indices of each part, under the original's (mirrored) names
REF_PARTS = {"Torso": (0, 7, 8, 9, 10), "LArm": (14, 15, 16), "RArm": (11, 12, 13), "LLeg": (1, 2, 3),
             "RLeg": (4, 5, 6)}


def meta(**kw) -> RIE:
    with torch.device("meta"):
        return RIE(**kw)


def small(arc=(3, 3), fusion=False, **kw) -> RIE:
    torch.manual_seed(0)
    return RIE(arc=arc, channels=kw.pop("channels", 16), latent=kw.pop("latent", 8), hidden=kw.pop("hidden", 32),
               fusion=fusion, **kw)


def part_count(model: RIE, prefix: str) -> int:
    return count_parameters(getattr(model, prefix))


def test_parts_cover_every_joint_once():
    assert PARTS == REF_PARTS
    assert sorted(j for joints in PARTS.values() for j in joints) == list(range(17))


@pytest.mark.parametrize("latent, fusion", TOTAL)
def test_parameter_count_exact(latent, fusion):
    model = meta(latent=latent, fusion=fusion)
    assert model.receptive_field == 243 and model.pad == 121
    assert count_parameters(model) == TOTAL[latent, fusion]


@pytest.mark.parametrize("arc", TOTAL_ARCS)
def test_parameter_count_other_arcs(arc):
    model = meta(arc=arc)
    assert model.receptive_field == {(3, 3, 3): 27, (3, 3, 3, 3): 81, (1, 1, 1): 1}[arc]
    assert count_parameters(model) == TOTAL_ARCS[arc]


@pytest.mark.parametrize("latent", PARTS_TABLE)
def test_parameter_count_per_part(latent):
    torso, limb, gfe, ffm, dec_torso, dec_limb = PARTS_TABLE[latent]
    for stage, fusion in enumerate((False, True)):
        model = meta(latent=latent, fusion=fusion)
        assert part_count(model, "LocalLayer_Torso") == torso
        limbs = ("LArm", "RArm", "LLeg", "RLeg")
        assert [part_count(model, f"LocalLayer_{p}") for p in limbs] == [limb] * 4
        assert part_count(model, "GlobalInfo") == gfe
        assert part_count(model, "Integration_Torso") == dec_torso[stage]
        assert [part_count(model, f"Integration_{p}") for p in limbs] == [dec_limb[stage]] * 4
        if fusion:
            assert part_count(model, "FuseBlocks") == ffm
        else:
            assert not hasattr(model, "FuseBlocks")


def test_trainable_with_encoders_frozen():
    model = meta(fusion=True)
    for name, p in model.named_parameters():
        p.requires_grad_(not name_matches(name, ENCODERS))
    assert count_parameters(model, trainable_only=True) == TRAINABLE_STAGE2
    assert count_parameters(model) == TOTAL[256, True]


@pytest.mark.parametrize("fusion", [False, True])
def test_encoder_patterns_select_the_leading_state_entries(fusion):
    """The original's stage 2 keeps the first 317 state entries and freezes the first 167 parameters
    (positions); the patterns select exactly those, and every name falls under exactly one group."""
    model = meta(fusion=fusion)
    keys = list(model.state_dict())
    params = [n for n, _ in model.named_parameters()]
    assert [k for k in keys if name_matches(k, ENCODERS)] == keys[:317]
    assert [n for n in params if name_matches(n, ENCODERS)] == params[:167]
    for pattern in LOCAL_ENCODERS:
        assert sum(name_matches(k, (pattern,)) for k in keys) == 56
        assert sum(name_matches(n, (pattern,)) for n in params) == 29
    assert sum(name_matches(k, GLOBAL_ENCODER) for k in keys) == 37
    assert sum(name_matches(n, GLOBAL_ENCODER) for n in params) == 22
    groups = (LOCAL_ENCODERS, GLOBAL_ENCODER, FUSION_BLOCKS, DECODERS)
    assert all(sum(name_matches(k, g) for g in groups) == 1 for k in keys)
    assert any(name_matches(k, FUSION_BLOCKS) for k in keys) == fusion
    assert [k for k in keys if name_matches(k, DECODERS)] == keys[-5 * 23:]  # 23 entries each, last


def test_state_dict_uses_the_original_names():
    keys = set(meta(fusion=True).state_dict())
    assert {"LocalLayer_Torso.expand_conv.weight", "LocalLayer_LArm.expand_bn.running_mean",
            "LocalLayer_RLeg.layers_conv.7.weight", "LocalLayer_LLeg.layers_bn.7.num_batches_tracked",
            "LocalLayer_RArm.shrink.bias", "GlobalInfo.fc_1.weight", "GlobalInfo.bn_1.running_var",
            "GlobalInfo.layers.1.w2.weight", "GlobalInfo.layers.1.batch_norm2.bias", "GlobalInfo.fc_2.bias",
            "FuseBlocks.4.fc_1.weight", "Integration_Torso.fc_2.weight", "Integration_LArm.layers.0.w1.bias"} <= keys
    assert not any(".act" in k or ".drop" in k for k in keys)
    model = meta(fusion=True)
    assert model.LocalLayer_Torso.expand_conv.weight.shape == (256, 30, 3)
    assert model.LocalLayer_LArm.expand_conv.weight.shape == (256, 18, 3)
    assert model.Integration_Torso.fc_1.weight.shape == (1024, 3 * 256)
    assert model.FuseBlocks[0].fc_1.weight.shape == (1024, 4 * 256)


def test_encodings_and_part_channels():
    """§1.2: each local encoder sees [raw(joints), x - x_root (joints), x - x_centre (joints)], x/y
    interleaved per joint; the global encoder sees the raw centre frame."""
    model = small((3, 3)).double().eval()
    seen = {}
    for p in PARTS:
        getattr(model, f"LocalLayer_{p}").register_forward_pre_hook(lambda m, a, p=p: seen.__setitem__(p, a[0]))
    model.GlobalInfo.register_forward_pre_hook(lambda m, a: seen.__setitem__("global", a[0]))
    x = torch.randn(2, 9, 17, 2, dtype=torch.float64)
    with torch.no_grad():
        model(x)
    d_pos = x - x[:, :, :1]
    d_tmp = x - x[:, 4:5]
    for p, joints in REF_PARTS.items():
        j = list(joints)
        expected = torch.cat([v[:, :, j].reshape(2, 9, -1) for v in (x, d_pos, d_tmp)], 2).transpose(1, 2)
        assert seen[p].shape == (2, 6 * len(j), 9)
        torch.testing.assert_close(seen[p], expected, rtol=0, atol=0)
    torch.testing.assert_close(seen["global"], x[:, 4].reshape(2, 34), rtol=0, atol=0)


def test_fusion_blocks_take_the_other_four_parts():
    model = small((3,), fusion=True).double().eval()
    local, fused_in = {}, {}
    for g, p in enumerate(PARTS):
        getattr(model, f"LocalLayer_{p}").register_forward_hook(lambda m, a, out, g=g: local.__setitem__(g, out))
        model.FuseBlocks[g].register_forward_pre_hook(lambda m, a, g=g: fused_in.__setitem__(g, a[0]))
    with torch.no_grad():
        model(torch.randn(3, 3, 17, 2, dtype=torch.float64))
    for g in range(5):
        others = torch.cat([local[h] for h in range(5) if h != g], 1)
        torch.testing.assert_close(fused_in[g], others, rtol=0, atol=0)


@pytest.mark.parametrize("fusion", [False, True])
def test_output_assembly(fusion):
    """Each decoder's outputs land on its part's joints, in the 17-joint order."""
    model = small((1,), fusion=fusion).eval()
    with torch.no_grad():
        for p, joints in PARTS.items():
            fc = getattr(model, f"Integration_{p}").fc_2
            fc.weight.zero_()
            fc.bias.copy_(torch.tensor([[10.0 * j + c for c in range(3)] for j in joints]).flatten())
        y = model(torch.randn(2, 1, 17, 2))
    expected = torch.tensor([[10.0 * j + c for c in range(3)] for j in range(17)])
    assert y.shape == (2, 1, 17, 3)
    torch.testing.assert_close(y, expected.expand(2, 1, 17, 3))


@pytest.mark.parametrize("arc", [(1, 1, 1), (3, 3), (3, 5)])
def test_output_shapes(arc):
    model = small(arc).eval()
    rf = model.receptive_field
    with torch.no_grad():
        assert model(torch.randn(2, rf, 17, 2)).shape == (2, 1, 17, 3)
        assert model(torch.randn(2, rf + 10, 17, 2)).shape == (2, 11, 17, 3)
        model.strided = False
        assert model(torch.randn(2, rf, 17, 2)).shape == (2, 1, 17, 3)
        model.strided = True
        assert model(torch.randn(2, 4 * rf - 1, 17, 2)).shape == (2, 3, 17, 3)  # T // rf windows


@pytest.mark.parametrize("fusion", [False, True])
def test_sequence_form_equals_window_form(fusion):
    """One window per output frame, each with its own centre for the temporal difference; chunking
    does not change the numbers; strided=True over a long input takes non-overlapping windows."""
    model = small((3, 3), fusion=fusion).double()
    randomise_bn(model)
    model.eval()
    x = torch.randn(2, 30, 17, 2, dtype=torch.float64)
    with torch.no_grad():
        seq = model(x)
        per_window = model(windows(x, 9)).reshape(2, 22, 17, 3)
        model.chunk_size = 5
        chunked = model(x)
        model.strided = True
        strided = model(x)
        blocks = model(x[:, :27].reshape(2, 3, 9, 17, 2).flatten(0, 1)).reshape(2, 3, 17, 3)
    assert seq.shape == (2, 22, 17, 3)
    torch.testing.assert_close(per_window, seq, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(chunked, seq, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(strided, blocks, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(strided, seq[:, ::9], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fusion", [False, True])
def test_gradient_reaches_every_parameter(fusion):
    model = small((3, 3), fusion=fusion).train()
    model(torch.randn(4, 9, 17, 2)).square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_stage1_encoders_transfer_to_the_fusion_model():
    """Stage 2 starts from stage 1's encoders (by name) and fresh fusion blocks and decoders (3L inputs)."""
    stage1 = small((3, 3), latent=8)
    randomise_bn(stage1)
    stage2 = small((3, 3), latent=8, fusion=True)
    with pytest.raises(RuntimeError, match="size mismatch"):
        stage2.load_state_dict(stage1.state_dict())
    encoders = {k: v for k, v in stage1.state_dict().items() if name_matches(k, ENCODERS)}
    result = stage2.load_state_dict(encoders, strict=False)
    assert result.unexpected_keys == []
    assert all(name_matches(k, FUSION_BLOCKS + DECODERS) for k in result.missing_keys)
    assert stage1.Integration_Torso.fc_1.weight.shape == (32, 16)
    assert stage2.Integration_Torso.fc_1.weight.shape == (32, 24)
    for k, v in stage2.state_dict().items():
        if name_matches(k, ENCODERS):
            assert torch.equal(v, stage1.state_dict()[k]), k
    for name, p in stage2.named_parameters():
        p.requires_grad_(not name_matches(name, ENCODERS))
    stage2.train()(torch.randn(4, 9, 17, 2)).square().mean().backward()
    assert all((p.grad is None) == name_matches(n, ENCODERS) for n, p in stage2.named_parameters())


def test_bn_momentum():
    model = small((3, 3), fusion=True, bn_momentum=0.05)
    moms = {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)}
    assert moms == {0.05}
    model.set_bn_momentum(0.002)
    assert {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)} == {0.002}
    with pytest.raises(ValueError, match="bn_momentum"):
        model.set_bn_momentum(1.5)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="17 Human3.6M joints"):
        RIE(num_joints_in=16)
    with pytest.raises(ValueError, match="num_joints_out=16"):
        RIE(num_joints_out=16)
    with pytest.raises(ValueError, match="odd"):
        small((3, 2))
    with pytest.raises(ValueError, match="fc_dropout"):
        small((3,), fc_dropout=1.0)
    with pytest.raises(ValueError, match="hidden"):
        small((3,), hidden=0)
    model = small((3, 3))
    with pytest.raises(ValueError, match="receptive field 9"):
        model(torch.randn(1, 8, 17, 2))
    with pytest.raises(ValueError, match=r"\(B, T, 17, 2\)"):
        model(torch.randn(1, 9, 16, 2))


def test_autocast_bfloat16():
    model = small((3, 3), fusion=True).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(torch.randn(4, 9, 17, 2))
    assert y.shape == (4, 1, 17, 3) and torch.isfinite(y).all()
    y.float().abs().mean().backward()
    assert model.LocalLayer_Torso.expand_conv.weight.grad is not None


def test_overfits_a_small_batch():
    model = small((3, 3), channels=32, latent=16, hidden=64, dropout=0.0, fc_dropout=0.0)
    before, after = overfit_drop(model, frames=9, steps=30, lr=1e-3)
    assert after < 0.5 * before
