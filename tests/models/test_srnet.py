"""SRNet against models.md §4: groups, channel splits, parameter counts, layer maths, both forms."""
from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from pose3d.h36m.skeleton import H36M17
from pose3d.models import GROUPS, SRNet, SplitRecombineConv, build_model, count_parameters
from pose3d.models.srnet import RECOMBINE, SPLIT, GroupLayout, split_channels
from tests.models.model_checks import overfit_drop, randomise_bn, windows, single_thread  # noqa: F401

pytestmark = pytest.mark.usefixtures("single_thread")

# §4.2, in H36M17 indices: the joints each group owns (the root is copied into groups 2..G)
REF_GP5 = [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9, 10], [11, 12, 13], [14, 15, 16]]
REF_GP3 = [list(range(7)), [7, 8, 9, 10], list(range(11, 17))]
REF_GP2 = [list(range(8)), list(range(8, 17))]
REF_FINAL_WIDTH = {5: 64, 3: 58, 2: 55, 1: 51}
# §4.4 / §10 [calc] figures given to 0.01M ("about"): tolerance ±0.005M, i.e. equal after rounding
REF_PARAMS_M = {(1, 1, 1): 0.90, (1, 1, 1, 1): 1.33, (3, 3, 3, 3, 3): 3.61}
# the same counts worked out by hand from the layer description of §4.2-4.4 (see test below)
EXACT = {(1, 1, 1): 899_029, (1, 1, 1, 1): 1_334_427, (3, 3, 3, 3, 3): 3_612_067}


@pytest.mark.parametrize("g", sorted(GROUPS))
def test_groups_cover_every_joint_once(g):
    owned = [j for group in GROUPS[g] for j in group]
    assert sorted(owned) == list(range(H36M17.num_joints))


def test_groups_match_reference():
    assert [list(x) for x in GROUPS[5]] == REF_GP5
    assert [list(x) for x in GROUPS[3]] == REF_GP3
    assert [list(x) for x in GROUPS[2]] == REF_GP2
    assert GROUPS[1] == (tuple(range(17)),)


def test_channel_splits_match_reference():
    layout = GroupLayout(5, 17, 17)
    assert layout.in_sizes == [8, 8, 10, 8, 8]
    assert split_channels(1024, layout.in_sizes) == [195, 195, 243, 195, 196]
    assert layout.out_sizes == [12, 12, 15, 12, 13]
    # the reference splits the final width in proportion to the hidden groups: same numbers
    assert split_channels(64, [195, 195, 243, 195, 196]) == layout.out_sizes
    for g, width in REF_FINAL_WIDTH.items():
        assert sum(GroupLayout(g, 17, 17).out_sizes) == width


@pytest.mark.parametrize("arc", list(REF_PARAMS_M))
def test_parameter_counts(arc):
    with torch.device("meta"):
        n = count_parameters(build_model("srnet", {"arc": list(arc)}))
    assert abs(n - REF_PARAMS_M[arc] * 1e6) <= 0.005e6
    assert n == EXACT[arc]


def test_exact_count_by_hand_gp5_single_frame():
    """Group convs (no bias) + per-group gates (weight, bias, BN over 1 tap) + the 1024-channel BNs."""
    hidden = [195, 195, 243, 195, 196]
    gate = lambda context: context + 1 + 2  # noqa: E731  (k = 1)
    expand = sum(8 * o for o in hidden[:2]) + 10 * 243 + 8 * 195 + 8 * 196 + sum(gate(42 - i) for i in [8, 8, 10, 8, 8])
    middle = sum(c * c for c in hidden) + sum(gate(1024 - c) for c in hidden)
    final = sum(c * o for c, o in zip(hidden, [12, 12, 15, 12, 13])) + sum(gate(1024 - c) for c in hidden)
    assert expand + 4 * middle + final + 5 * 2048 == EXACT[(1, 1, 1)]


@pytest.mark.parametrize("groups, recombine, split",
                         list(itertools.product(sorted(GROUPS), RECOMBINE, SPLIT)))
def test_every_option_builds_and_runs(groups, recombine, split):
    torch.manual_seed(0)
    model = SRNet(groups=groups, recombine=recombine, split=split, channels=40)
    y = model(torch.randn(4, 1, 17, 2))
    assert y.shape == (4, 1, 17, 3)
    y.abs().mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_temporal_shapes():
    model = SRNet(arc=(3, 3, 3), channels=40).eval()
    assert model.receptive_field == 27
    with torch.no_grad():
        assert model(torch.randn(2, 40, 17, 2)).shape == (2, 14, 17, 3)
        model.strided = True
        assert model(torch.randn(2, 27, 17, 2)).shape == (2, 1, 17, 3)


def test_output_joints_come_from_their_group():
    """Without context (split 'none') a joint's 3D depends only on its group's 2D and the root."""
    torch.manual_seed(0)
    model = SRNet(groups=5, split="none", channels=40).double().eval()
    randomise_bn(model)
    x = torch.randn(1, 1, 17, 2, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: model(v)[0, 0], x)[:, :, 0, 0]  # (17, 3, 17, 2)
    uses = jac.abs().sum(dim=(1, 3)) > 0  # (out joint, in joint)
    for group in GROUPS[5]:
        inputs = sorted(set(group) | {0})
        for j in group:
            assert uses[j].nonzero().flatten().tolist() == inputs


def test_layer_matches_group_convolution():
    """split 'none' is a block-diagonal convolution; a zero-weight multiply gate is a constant per
    temporal tap, i.e. the same convolution with each tap's weights scaled by its gate."""
    torch.manual_seed(0)
    x = torch.randn(2, 10, 30, dtype=torch.float64)
    plain = SplitRecombineConv([4, 6], [3, 5], kernel=3, split="none").double()
    gated = SplitRecombineConv([4, 6], [3, 5], kernel=3, recombine="multiply", split="others").double().eval()
    gated.load_state_dict(plain.state_dict(), strict=False)
    weights = [plain.group_convs[0].weight, plain.group_convs[1].weight]
    with torch.no_grad():
        taps = [torch.sigmoid(g.bn(g.bias.view(1, -1, 1))).view(1, 1, -1) for g in gated.gates]
    parts = (x[:, :4], x[:, 4:])
    for dilation, stride in [(1, 1), (3, 1), (1, 3)]:
        expected = torch.cat([F.conv1d(p, w, dilation=dilation, stride=stride) for p, w in zip(parts, weights)], 1)
        torch.testing.assert_close(plain(x, dilation, stride), expected)
        expected = torch.cat([F.conv1d(p, w * t, dilation=dilation, stride=stride)
                              for p, w, t in zip(parts, weights, taps)], 1)
        torch.testing.assert_close(gated(x, dilation, stride), expected)


@pytest.mark.parametrize("split, sees_own", [("others", False), ("all", True)])
def test_context_comes_from_the_split(split, sees_own):
    """Through the concat channel alone, group 0 sees the other group ('others') or everything ('all')."""
    torch.manual_seed(0)
    layer = SplitRecombineConv([2, 3], [2, 2], kernel=1, recombine="concat", split=split).double()
    with torch.no_grad():
        layer.group_convs[0].weight[:, :2] = 0.0  # keep only the appended context channel
        for gate in layer.gates:
            gate.weight.normal_()
    x = torch.randn(1, 5, 4, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: layer(v)[0, :2], x)  # (2, 4, 1, 5, 4)
    used = jac.abs().sum(dim=(0, 1, 2, 4)) > 0
    assert used.tolist() == [sees_own] * 2 + [True] * 3


@pytest.mark.parametrize("recombine, split", [("multiply", "others"), ("add", "all"), ("concat", "others")])
def test_twin_and_evaluation_form_agree(recombine, split):
    torch.manual_seed(0)
    twin = SRNet(arc=(3, 3, 3), recombine=recombine, split=split, channels=40, strided=True).double()
    randomise_bn(twin)
    with torch.no_grad():
        for p in twin.parameters():  # gate weights start at zero; make the context matter
            p.add_(torch.randn_like(p) * 0.05)
    full = SRNet(arc=(3, 3, 3), recombine=recombine, split=split, channels=40).double()
    full.load_state_dict(twin.state_dict())
    twin.eval(), full.eval()
    x = torch.randn(2, 40, 17, 2, dtype=torch.float64)
    with torch.no_grad():
        seq = full(x)
        per_window = twin(windows(x, 27)).reshape(seq.shape)
    torch.testing.assert_close(per_window, seq, rtol=1e-10, atol=1e-10)


def test_bn_momentum_reaches_the_gates():
    model = SRNet(channels=40)
    model.set_bn_momentum(0.003)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(bns) == 5 + 6 * 5 and {m.momentum for m in bns} == {0.003}


@pytest.mark.parametrize("kwargs, match", [
    ({"groups": 4}, "groups=4"),
    ({"recombine": "max"}, "recombine='max'"),
    ({"split": "some"}, "split='some'"),
    ({"arc": (3, 1, 3)}, r"arc \[3, 1, 3\]"),
    ({"arc": (3, 2, 3)}, "width 2"),
])
def test_invalid_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SRNet(channels=40, **kwargs)


def test_groups_need_h36m17_joints():
    with pytest.raises(ValueError, match="16 in"):
        SRNet(16, 16, groups=5, channels=40)
    assert SRNet(16, 16, groups=1, channels=40)(torch.randn(2, 1, 16, 2)).shape == (2, 1, 16, 3)


def test_autocast_bfloat16():
    model = SRNet(arc=(3, 3), recombine="concat", channels=40, strided=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(torch.randn(4, 9, 17, 2))
    assert y.shape == (4, 1, 17, 3) and torch.isfinite(y).all()


def test_overfits_a_small_batch():
    torch.manual_seed(0)
    model = SRNet(channels=256)
    before, after = overfit_drop(model, frames=1, steps=30, lr=3e-3)
    assert after < 0.6 * before
