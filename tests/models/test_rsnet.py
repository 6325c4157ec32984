"""RS-Net and its post-refinement against next_models.md §2 (models.md §5): counts, graph, layer maths."""
from __future__ import annotations

import pytest
import torch

from pose3d.h36m.skeleton import LEFT_16, PARENTS_16, RIGHT_16
from pose3d.models.rsnet import (SYMMETRIC_BONES_16, NonLocalBlock, PostRefine, RSNet, RsNetGraphConv,
                                 back_project, hop_matrices, merge_seed_state_dicts, normalised_adjacency)
from tests.models.model_checks import overfit_drop, single_thread  # noqa: F401

pytestmark = pytest.mark.usefixtures("single_thread")

# next_models.md §2.3 [run]: every parameter, the never-used bias/bias_2 included
EXACT = {64: 1_768_079, 96: 3_924_847, 128: 6_933_583, 384: 61_674_319}
POST_REFINE_MLP = 132_128
H96_WITH_POST_REFINE = 4_056_975


def n_params(module: torch.nn.Module, frozen_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if not (frozen_only and p.requires_grad))


def camera(b: int, t: int | None = None, seed: int = 0) -> torch.Tensor:
    """[root_depth, fx, fy, cx, cy] in normalised screen units (H36M-like: f ≈ 2.3, c ≈ 0)."""
    g = torch.Generator().manual_seed(seed)
    shape = (b,) if t is None else (b, t)
    depth = 3 + 3 * torch.rand(*shape, 1, generator=g)
    f = 2.3 + 0.01 * torch.randn(*shape, 2, generator=g)
    c = 0.02 * torch.randn(*shape, 2, generator=g)
    return torch.cat((depth, f, c), dim=-1)


@pytest.mark.parametrize("hidden, total", EXACT.items())
def test_parameter_counts(hidden, total):
    with torch.device("meta"):
        model = RSNet(hidden=hidden)
    assert n_params(model) == total
    # §2.3 per layer: 12·in·out + 69·out + 1,024 (J = 16)
    conv = lambda i, o: 12 * i * o + 69 * o + 1024  # noqa: E731
    w = 4 * hidden
    non_local = 3 * (w * w // 2 + w // 2) + (w // 2 * w + w) + 2 * w
    assert total == conv(2, hidden) + 8 * conv(w, hidden) + 4 * 2 * w + non_local + conv(w, 3)


def test_post_refine_counts():
    with torch.device("meta"):
        model = RSNet(hidden=96, post_refine=True)
    assert n_params(model.post_refine) == POST_REFINE_MLP
    assert n_params(model) == H96_WITH_POST_REFINE


def test_unused_biases_are_frozen():
    with torch.device("meta"):
        model = RSNet(hidden=64)
    # bias_2 of the 9 concatenating convs (9 x 64) + bias of the summing output conv (4 x 3)
    assert n_params(model, frozen_only=True) == 588
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert "gconv_output.bias" in frozen and "gconv_output.bias_2" not in frozen
    assert "gconv_input.gconv.bias_2" in frozen and "gconv_input.gconv.bias" not in frozen
    assert len(frozen) == 10 and all(n.endswith(("bias", "bias_2")) for n in frozen)


def test_seed_parameter_names():
    model = RSNet(hidden=4, post_refine=True, refine_hidden=8)
    keys = set(model.state_dict())
    conv = ["W", "W2", "M", "adj2_0", "adj2_1", "adj2_2", "adj2_3", "bias", "bias_2"]
    assert {f"gconv_input.gconv.{p}" for p in conv} <= keys
    assert {f"gconv_layers.gconv{i}.gconv.{p}" for i in range(1, 9) for p in conv} <= keys
    assert {f"gconv_layers.gconv{i}.ln.weight" for i in (1, 3, 5, 7)} <= keys
    assert {f"gconv_output.{p}" for p in conv} <= keys
    assert {"non_local.g.weight", "non_local.theta.bias", "non_local.phi.weight", "non_local.W.0.weight",
            "non_local.W.1.running_var"} <= keys
    refine = {"post_refine.post_refine.0.weight", "post_refine.post_refine.0.bias",
              "post_refine.post_refine.3.weight", "post_refine.post_refine.3.bias"}
    assert refine <= keys
    assert not any("adj_" in k for k in keys)  # hop matrices are non-persistent buffers
    seed_files = {k: v for k, v in model.state_dict().items() if not k.startswith("post_refine.")}
    seed_refine = {k[len("post_refine."):]: v for k, v in model.state_dict().items() if k.startswith("post_refine.")}
    assert set(merge_seed_state_dicts(seed_files, seed_refine)) == keys


def test_hop_matrices():
    a = torch.zeros(16, 16)
    for child, parent in enumerate(PARENTS_16):
        if parent >= 0:
            a[child, parent] = a[parent, child] = 1
    d = a.sum(1).rsqrt()
    a1 = d[:, None] * a * d[None, :]
    torch.testing.assert_close(normalised_adjacency(), a1)
    hops = hop_matrices()
    assert hops.shape == (4, 16, 16)
    torch.testing.assert_close(hops[0], torch.eye(16))
    torch.testing.assert_close(hops[1], a1)
    assert torch.equal(hops[1], hops[1].T) and torch.all(hops[1].diagonal() == 0)
    assert (hops[1] > 0).sum() == 30  # 15 edges, both directions
    torch.testing.assert_close(hops[2], a1 @ a1)
    torch.testing.assert_close(hops[3], a1 @ a1 @ a1)
    conv = RSNet(hidden=4).gconv_output
    for k in range(4):
        torch.testing.assert_close(getattr(conv, f"adj_{k}"), hops[k])
        assert f"adj_{k}" not in conv.state_dict()
        assert dict(conv.named_buffers())[f"adj_{k}"] is getattr(conv, f"adj_{k}")


def test_graph_conv_matches_the_formula():
    torch.manual_seed(0)
    hops = hop_matrices()
    for sum_hops in (False, True):
        conv = RsNetGraphConv(5, 3, hops, sum_hops=sum_hops)
        with torch.no_grad():
            for k in range(4):
                getattr(conv, f"adj2_{k}").normal_(0, 0.1)  # asymmetric offsets exercise the symmetrisation
        x, x0 = torch.randn(2, 16, 5), torch.randn(2, 16, 5)
        eye = torch.eye(16)
        outs = []
        for k in range(4):
            a = hops[k] + getattr(conv, f"adj2_{k}")
            a = (a + a.T) / 2
            outs.append((a * eye) @ (conv.M[k] * (x @ conv.W[2 * k]))
                        + (a * (1 - eye)) @ (conv.M[k] * (x @ conv.W[2 * k + 1])) + x0 @ conv.W2[k])
        expected = sum(outs) + conv.bias_2 if sum_hops else torch.cat(outs, -1) + conv.bias
        torch.testing.assert_close(conv(x, x0), expected)


def test_initialisation():
    torch.manual_seed(0)
    model = RSNet(hidden=8)
    conv = model.gconv_layers.gconv3.gconv
    for k in range(4):
        assert torch.all(getattr(conv, f"adj2_{k}") == 1e-6)
    bound = 1.414 * (6 / (32 * 8 + 8 * 8)) ** 0.5  # xavier on (8, in, out): fans in·out and 8·out
    assert conv.W.abs().max() <= bound and conv.W.abs().max() > 0.9 * bound
    assert conv.bias.abs().max() <= 8 ** -0.5
    bn = model.non_local.W[1]
    assert torch.all(bn.weight == 0) and torch.all(bn.bias == 0)
    x = torch.randn(3, 16, 32)
    torch.testing.assert_close(NonLocalBlock(32)(x), x)  # identity at start


@pytest.mark.parametrize("b", [1, 4])
@pytest.mark.parametrize("refine", [False, True])
def test_shapes(b, refine):
    model = RSNet(hidden=8, post_refine=refine, refine_hidden=32)
    x = torch.randn(b, 1, 16, 2)
    cam = camera(b) if refine else None
    for mode in (model.train, model.eval):
        mode()
        out = model(x, camera=cam, outputs=True)
        assert set(out) == {"pose", "coarse"}
        assert out["pose"].shape == out["coarse"].shape == (b, 1, 16, 3)
        assert model(x, camera=cam).shape == (b, 1, 16, 3)
        if not refine:
            assert out["pose"] is out["coarse"]


def test_frames_are_independent_and_camera_forms_agree():
    torch.manual_seed(0)
    model = RSNet(hidden=8, post_refine=True, refine_hidden=32).eval()
    x = torch.randn(2, 3, 16, 2)
    cam = camera(2, 3)
    with torch.no_grad():
        y = model(x, camera=cam)
        per_frame = torch.cat([model(x[:, t:t + 1], camera=cam[:, t]) for t in range(3)], dim=1)
        torch.testing.assert_close(y, per_frame)
        same_cam = model(x, camera=cam[:, 0])
        torch.testing.assert_close(same_cam, model(x, camera=cam[:, :1].expand(2, 3, 5)))


def test_post_refine_changes_only_x_and_y():
    torch.manual_seed(0)
    model = RSNet(hidden=8, post_refine=True, refine_hidden=32).eval()
    x = torch.randn(4, 1, 16, 2) * 0.3
    with torch.no_grad():
        out = model(x, camera=camera(4), outputs=True)
    assert torch.equal(out["pose"][..., 2], out["coarse"][..., 2])
    assert not torch.allclose(out["pose"][..., :2], out["coarse"][..., :2])


def test_post_refine_blend():
    torch.manual_seed(0)
    refine = PostRefine(hidden=16).eval()
    lifted, back = torch.randn(3, 16, 3), torch.randn(3, 16, 3)
    s = refine.post_refine(torch.cat((lifted, back), -1).reshape(3, 96)).reshape(3, 16, 2)
    out = refine(lifted, back)
    torch.testing.assert_close(out[..., :2], s * lifted[..., :2] + (1 - s) * back[..., :2])
    assert torch.equal(out[..., 2], lifted[..., 2])
    assert not any(getattr(m, "inplace", False) for m in refine.modules())


def test_back_projection_recovers_the_pose():
    """Project a camera-frame pose with the intrinsics, lift it back with its true depths."""
    torch.manual_seed(0)
    rel = torch.randn(2, 16, 3) * 0.3
    rel[:, 0] = 0
    cam = camera(2)
    xyz = rel + torch.stack((torch.zeros(2), torch.zeros(2), cam[:, 0]), -1)[:, None]
    uv = cam[:, None, 1:3] * xyz[..., :2] / xyz[..., 2:] + cam[:, None, 3:5]
    depth = rel[..., 2] + torch.randn(2, 1)  # joint 0's predicted depth is ignored
    depth[:, 1:] = rel[:, 1:, 2]
    torch.testing.assert_close(back_project(uv, depth, cam), rel)


def test_validation():
    model = RSNet(hidden=4, post_refine=True, refine_hidden=8)
    with pytest.raises(ValueError, match="camera"):
        model(torch.randn(2, 1, 16, 2))
    with pytest.raises(ValueError, match="camera must have shape"):
        model(torch.randn(2, 1, 16, 2), camera=torch.randn(2, 4))
    with pytest.raises(ValueError, match="16"):
        model(torch.randn(2, 1, 15, 2), camera=camera(2))
    with pytest.raises(ValueError, match="16-joint"):
        RSNet(num_joints_in=17)
    with pytest.raises(ValueError, match="num_joints_out"):
        RSNet(num_joints_out=15)
    with pytest.raises(ValueError, match="hidden"):
        RSNet(hidden=0)
    with pytest.raises(ValueError, match="dropout"):
        RSNet(dropout=1.0)
    with pytest.raises(ValueError, match="post_refine"):
        RSNet(post_refine=1)
    RSNet(hidden=4)(torch.randn(2, 1, 16, 2))  # camera is optional without post-refinement


def test_backward_reaches_every_trainable_parameter():
    torch.manual_seed(0)
    model = RSNet(hidden=8, post_refine=True, refine_hidden=32).train()
    with torch.no_grad():
        model.non_local.W[1].weight.fill_(1.0)  # at its zero init the BN gamma blocks the non-local branch
    out = model(torch.randn(4, 1, 16, 2), camera=camera(4), outputs=True)
    target = torch.randn(4, 1, 16, 3)
    loss = (out["coarse"] - target).pow(2).mean() + (out["pose"] - target).norm(dim=-1).mean()
    loss.backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
            assert p.grad.abs().sum() > 0, name
        else:
            assert p.grad is None, name


def test_dropout_zero_removes_dropout_layers():
    model = RSNet(hidden=4, dropout=0.0)
    assert not any(isinstance(m, torch.nn.Dropout) for m in model.modules())
    model = RSNet(hidden=4, dropout=0.2)
    assert sum(isinstance(m, torch.nn.Dropout) for m in model.modules()) == 9


def test_state_dict_round_trip():
    torch.manual_seed(0)
    a = RSNet(hidden=8, post_refine=True, refine_hidden=32)
    torch.manual_seed(1)
    b = RSNet(hidden=8, post_refine=True, refine_hidden=32)
    with torch.no_grad():
        a.non_local.W[1].weight.fill_(0.5)
        a.non_local.W[1].running_var.fill_(2.0)
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    x, cam = torch.randn(3, 1, 16, 2), camera(3)
    with torch.no_grad():
        torch.testing.assert_close(a(x, camera=cam), b(x, camera=cam))
    assert not b.gconv_output.bias.requires_grad  # loading keeps the frozen flags
    # the network alone (the original's first file) loads into a model without post-refinement
    c = RSNet(hidden=8)
    c.load_state_dict({k: v for k, v in a.state_dict().items() if not k.startswith("post_refine.")})


def test_symmetric_bones():
    assert SYMMETRIC_BONES_16 == (((4, 0), (1, 0)), ((5, 4), (2, 1)), ((6, 5), (3, 2)),
                                  ((10, 8), (13, 8)), ((11, 10), (14, 13)), ((12, 11), (15, 14)))
    for (lc, lp), (rc, rp) in SYMMETRIC_BONES_16:
        assert lc in LEFT_16 and rc in RIGHT_16
        assert PARENTS_16[lc] == lp and PARENTS_16[rc] == rp


def test_learns():
    first, last = overfit_drop(RSNet(hidden=8, dropout=0.0), frames=1, joints_in=16, joints_out=16,
                               steps=15, lr=3e-3)
    assert last < 0.9 * first
