"""The recipe seams of the training loop: freeze, bn_schedule, composite losses, the optimizer,
``epochs: 0`` and RS-Net's post-refined training, on small models and a few synthetic frames."""
from __future__ import annotations

import math
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from pose3d.geometry.projection import project_world
from pose3d.h36m.cameras import get_camera
from pose3d.h36m.skeleton import H36M16, H36M17, to_16, to_17
from pose3d.models.rie import DECODERS, ENCODERS, FUSION_BLOCKS, GLOBAL_ENCODER, LOCAL_ENCODERS, PARTS, RIE
from pose3d.models.rsnet import RSNet
from pose3d.training.batching import WindowBatcher
from pose3d.training.checkpoints import load_checkpoint
from pose3d.training.data import PoseData
from pose3d.training.inference import predict_view
from pose3d.training.losses import (FINAL, CompositeLoss, bone_symmetry, l1_loss, loss_terms, mpjpe_loss, mse_loss,
                                    symmetric_bones)
from pose3d.training.loop import TrainConfig, bn_momentum, fit, make_optimizer
from pose3d.training.selection import batchnorms, freeze
from tests.models.model_checks import single_thread  # noqa: F401  (fixture)


pytestmark = pytest.mark.usefixtures("single_thread")


# --- tiny data: convert's two files for one subject, two sequences, four cameras, 40 frames ------

SEQUENCES = ("Walking", "Eating")


@pytest.fixture(scope="module")
def poses_dir(tmp_path_factory) -> Path:
    """data_3d_h36m.npz / data_2d_h36m_gt.npz as convert writes them: a jittered random 32-joint body
    near the capture volume's centre, projected with S1's cameras."""
    out = tmp_path_factory.mktemp("poses")
    rng = np.random.default_rng(0)
    p3, p2 = {"S1": {}}, {"S1": {}}
    for key in SEQUENCES:
        body = rng.normal(0, 0.3, (32, 3)) + (0.0, 0.0, 1.0)
        world = (body + rng.normal(0, 0.02, (40, 32, 3))).astype(np.float32)
        p3["S1"][key] = world
        p2["S1"][key] = [project_world(to_17(world).astype(np.float64) * 1000, get_camera("S1", c)).astype(np.float32)
                         for c in range(4)]
    np.savez(out / "data_3d_h36m.npz", positions_3d=p3)
    np.savez(out / "data_2d_h36m_gt.npz", positions_2d=p2, metadata={"num_joints": 17})
    return out


def views(poses_dir, skeleton=H36M17):
    return PoseData(poses_dir).views([("S1", k, c) for k in SEQUENCES for c in range(4)], skeleton=skeleton)


def mpjpe_mm(vs, rf):
    def validate(model):
        return 1000 * float(np.mean([np.linalg.norm(predict_view(model, v, rf, torch.device("cpu")) - v.pose3d,
                                                    axis=-1).mean() for v in vs]))
    return validate


class TinyLifter(nn.Module):
    """Single frame, an ``encoder`` and a ``head``, BatchNorm in the encoder."""

    receptive_field = 1

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(34, 16), nn.BatchNorm1d(16), nn.ReLU())
        self.head = nn.Linear(16, 51)

    def forward(self, x):
        b, t = x.shape[:2]
        return self.head(self.encoder(x.reshape(b * t, -1))).reshape(b, t, 17, 3)


def small_rie(fusion=False, seed=0, **kw) -> RIE:
    torch.manual_seed(seed)
    return RIE(arc=[3], channels=8, latent=8, hidden=16, fusion=fusion, **kw)


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def optimizer_params(opt) -> set[int]:
    return {id(p) for g in opt.param_groups for p in g["params"]}


def one_step(model: nn.Module, opt, x: torch.Tensor, y: torch.Tensor) -> None:
    model.train()
    loss = mpjpe_loss(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


# --- freeze ------------------------------------------------------------------------------------

@pytest.mark.parametrize("recipe", [dict(optimizer="adam"), dict(optimizer="adamw", weight_decay=0.01)])
def test_frozen_tensors_do_not_move_and_the_others_do(recipe):
    torch.manual_seed(0)
    model = TinyLifter()
    frozen = freeze(model, ["encoder.*"])
    assert frozen == ["encoder.0.weight", "encoder.0.bias", "encoder.1.weight", "encoder.1.bias"]
    opt = make_optimizer(model, TrainConfig(lr=1e-2, **recipe))
    assert optimizer_params(opt) == {id(model.head.weight), id(model.head.bias)}
    before = snapshot(model)
    g = torch.Generator().manual_seed(1)
    one_step(model, opt, torch.randn(8, 1, 17, 2, generator=g), torch.randn(8, 1, 17, 3, generator=g))
    for name, p in model.named_parameters():
        if name in frozen:
            assert not p.requires_grad and p.grad is None, name
            assert torch.equal(p, before[name]), name
        else:
            assert not torch.equal(p, before[name]), name


def test_a_pattern_that_matches_nothing_is_named():
    model = TinyLifter()
    with pytest.raises(ValueError, match=r"freeze pattern 'decoder\.\*' matches no name"):
        freeze(model, ["encoder.*", "decoder.*"])
    assert all(p.requires_grad for p in model.parameters())  # checked before anything is frozen


def test_no_patterns_freeze_nothing():
    model = TinyLifter()
    assert freeze(model, []) == [] and all(p.requires_grad for p in model.parameters())


def test_rie_encoder_patterns_freeze_exactly_the_encoders():
    model = small_rie(fusion=True)
    frozen = freeze(model, ENCODERS)
    encoders = [n for n, _ in model.named_parameters() if n.startswith(("LocalLayer_", "GlobalInfo."))]
    assert frozen == encoders
    assert len(frozen) == 5 * 5 + 22  # arc [3]: expand_conv, expand_bn (2), shrink (2) per part; GlobalInfo 22
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith(("FuseBlocks.", "Integration_")) for n in trainable)
    # one AdamW step (RIE's optimizer): the encoders' parameters stay, fusion and decoders move
    opt = make_optimizer(model, TrainConfig(optimizer="adamw", weight_decay=0.01, lr=1e-2))
    before = snapshot(model)
    g = torch.Generator().manual_seed(2)
    one_step(model, opt, torch.randn(8, 3, 17, 2, generator=g), torch.randn(8, 1, 17, 3, generator=g))
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name]) == (name in frozen), name


def test_rie_pattern_groups_partition_the_fusion_model():
    names = [n for n, _ in small_rie(fusion=True).named_parameters()]
    groups = [LOCAL_ENCODERS, GLOBAL_ENCODER, FUSION_BLOCKS, DECODERS]
    for n in names:
        assert sum(any(fnmatchcase(n, p) for p in g) for g in groups) == 1, n


# --- bn_schedule ---------------------------------------------------------------------------------

def test_batchnorms_picks_the_local_encoders_only():
    model = small_rie(fusion=True)
    picked = batchnorms(model, ["LocalLayer_*"])
    assert [id(m) for m in picked] == [id(getattr(model, f"LocalLayer_{p}").expand_bn) for p in PARTS]
    every = batchnorms(model)
    assert len(every) == 40 and all(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in every)


def test_batchnorm_pattern_that_matches_nothing_is_named():
    with pytest.raises(ValueError, match=r"bn_schedule pattern 'Local_\*' matches no name"):
        batchnorms(small_rie(), ["Local_*"])
    with pytest.raises(ValueError, match="bn_schedule pattern 'LocalLayer_\\*'.*<no BatchNorm>"):
        batchnorms(nn.Linear(2, 2), ["LocalLayer_*"])
    assert batchnorms(nn.Linear(2, 2)) == []  # the default, "*", asks for nothing in particular


def test_fit_drives_only_the_scheduled_batchnorms(poses_dir, tmp_path):
    batcher = WindowBatcher(views(poses_dir), 3)
    model = small_rie(fusion=True, bn_momentum=0.3)  # a constructor value no schedule produces
    cfg = TrainConfig(epochs=2, batch_size=128, lr=1e-3, lr_decay=0.95, optimizer="adamw", weight_decay=0.01,
                      bn_schedule=("LocalLayer_*",), bn_recalibrate=2)
    local = set(map(id, batchnorms(model, ["LocalLayer_*"])))
    momenta = []  # per epoch: {module name: momentum} while that epoch's momentum is in force

    def record(epoch, loss, val):
        momenta.append({n: m.momentum for n, m in model.named_modules()
                        if isinstance(m, nn.modules.batchnorm._BatchNorm)})

    hist = fit(model, batcher, cfg, tmp_path, lambda m: 1.0, on_epoch=record)
    assert hist.epoch == 2 and all(math.isfinite(v) for v in hist.train_loss)
    # 0.1 at the start; then 0.1 exp(-ln(100)/2) = 0.01, held up by the floor lr / 0.05 = 9.5e-4 / 0.05
    expected = [0.1, 0.019]
    assert [bn_momentum(e, cfg, cfg.lr_schedule().lr_at(e)) for e in range(2)] == pytest.approx(expected)
    modules = dict(model.named_modules())
    for epoch, seen in enumerate(momenta):
        for name, momentum in seen.items():
            want = expected[epoch] if id(modules[name]) in local else 0.3
            assert momentum == pytest.approx(want), (epoch, name)


# --- losses ---------------------------------------------------------------------------------------

def test_loss_terms():
    assert loss_terms("mpjpe") == {(FINAL, "mpjpe"): 1.0}
    assert loss_terms({"coarse.mse": 0.9, "mpjpe": 1.0}) == {("coarse", "mse"): 0.9, ("pose", "mpjpe"): 1.0}
    assert loss_terms({"coarse.l1": 1, "symmetry": 0.01}) == {("coarse", "l1"): 1.0, ("pose", "symmetry"): 0.01}


@pytest.mark.parametrize("spec, match", [
    ("huber", "unknown loss 'huber'"),
    ({"coarse.huber": 1.0}, "loss term 'coarse.huber': unknown loss 'huber'"),
    ({"coarse.": 1.0}, "unknown loss ''"),
    ({"mpjpe": "1"}, "weight '1' is not a number"),
    ({"mpjpe": True}, "weight True is not a number"),
    ({}, "loss must be a name or a mapping"),
    (["mpjpe"], "loss must be a name or a mapping"),
])
def test_bad_loss_specs_are_refused(spec, match):
    with pytest.raises(ValueError, match=match):
        loss_terms(spec)


def test_composite_loss_is_the_weighted_sum():
    g = torch.Generator().manual_seed(0)
    final, coarse, target = (torch.randn(4, 1, 16, 3, generator=g, dtype=torch.float64) for _ in range(3))
    spec = {"coarse.mse": 0.9, "coarse.l1": 0.1, "mpjpe": 1.0, "symmetry": 0.01}
    got = CompositeLoss(spec, H36M16)({"pose": final, "coarse": coarse}, target)
    want = (0.9 * mse_loss(coarse, target) + 0.1 * l1_loss(coarse, target) + 1.0 * mpjpe_loss(final, target)
            + 0.01 * bone_symmetry(final, H36M16))
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    assert CompositeLoss(spec).outputs == {"pose", "coarse"}
    single = CompositeLoss("l1")({"pose": final}, target)
    assert single.item() == pytest.approx(l1_loss(final, target).item(), rel=1e-6)


def test_a_term_on_an_output_the_model_lacks_is_named():
    x = torch.zeros(2, 1, 17, 3)
    with pytest.raises(ValueError, match="loss term coarse.mse: the model has no output 'coarse' .*it has pose"):
        CompositeLoss({"mpjpe": 1.0, "coarse.mse": 0.9})({"pose": x}, x)


def test_a_term_on_an_output_the_model_lacks_is_named_by_fit(poses_dir, tmp_path):
    batcher = WindowBatcher(views(poses_dir), 1)
    cfg = TrainConfig(epochs=1, batch_size=128, loss={"coarse.mse": 1.0}, bn_recalibrate=0)
    with pytest.raises(ValueError, match="no output 'coarse'"):
        fit(TinyLifter(), batcher, cfg, tmp_path, lambda m: 1.0)


def symmetric_pose17() -> np.ndarray:
    """A mirror-symmetric standing pose (x = 0 is the mirror plane), 17 joints, metres."""
    pose = np.zeros((17, 3))
    centre = {0: (0, 0, 1.0), 7: (0, 0, 1.25), 8: (0, 0, 1.5), 9: (0, 0.05, 1.6), 10: (0, 0, 1.75)}
    left = {4: (0.12, 0, 1.0), 5: (0.13, 0.02, 0.55), 6: (0.13, 0, 0.1),      # hip, knee, foot
            11: (0.18, 0, 1.45), 12: (0.3, 0.05, 1.2), 13: (0.35, 0.1, 1.0)}  # shoulder, elbow, wrist
    for j, p in centre.items():
        pose[j] = p
    for (lj, p), rj in zip(left.items(), (1, 2, 3, 14, 15, 16)):
        pose[lj] = p
        pose[rj] = (-p[0], p[1], p[2])
    return pose


def test_symmetric_bones_pair_the_mirrored_limbs():
    assert symmetric_bones(H36M17) == ((4, 1), (5, 2), (6, 3), (11, 14), (12, 15), (13, 16))
    assert symmetric_bones(H36M16) == ((4, 1), (5, 2), (6, 3), (10, 13), (11, 14), (12, 15))


@pytest.mark.parametrize("skeleton", [H36M17, H36M16])
def test_bone_symmetry(skeleton):
    sym = symmetric_pose17()
    longer = sym.copy()
    longer[6, 2] -= 0.1  # the left foot 10 cm lower: a left shin (knee -> foot, vertical-ish) 10 cm longer
    shin = np.linalg.norm(sym[6] - sym[5])
    diff = np.linalg.norm(longer[6] - longer[5]) - shin  # hand: the one bone pair that differs
    assert 0.09 < diff < 0.1001
    pick = (lambda p: p) if skeleton is H36M17 else to_16
    poses = torch.tensor(np.stack([pick(sym), pick(longer)]))  # (2, J, 3): the mean is over both poses
    assert bone_symmetry(poses[:1], skeleton).item() == pytest.approx(0.0, abs=1e-12)
    assert bone_symmetry(poses[1:], skeleton).item() == pytest.approx(diff / 6, rel=1e-9)
    assert bone_symmetry(poses, skeleton).item() == pytest.approx(diff / 12, rel=1e-9)
    # mirrored the other way (a longer right shin) gives the same penalty: it is absolute
    right = torch.tensor(pick(longer[H36M17.flip_permutation()] * (-1, 1, 1)))
    assert bone_symmetry(right, skeleton).item() == pytest.approx(diff / 6, rel=1e-9)


def test_bone_symmetry_checks_the_joint_count():
    with pytest.raises(ValueError, match="symmetry on h36m16 needs 16 joints, got 17"):
        bone_symmetry(torch.zeros(1, 17, 3), H36M16)


# --- make_optimizer ----------------------------------------------------------------------------------

def test_make_optimizer():
    model = TinyLifter()
    adam = make_optimizer(model, TrainConfig(lr=3e-3))
    assert type(adam) is torch.optim.Adam
    assert adam.param_groups[0]["amsgrad"] is True and adam.param_groups[0]["weight_decay"] == 0.0
    assert adam.param_groups[0]["lr"] == 3e-3
    adamw = make_optimizer(model, TrainConfig(optimizer="adamw", amsgrad=False, weight_decay=0.01))
    assert type(adamw) is torch.optim.AdamW
    assert adamw.param_groups[0]["amsgrad"] is False and adamw.param_groups[0]["weight_decay"] == 0.01
    assert optimizer_params(adamw) == {id(p) for p in model.parameters()}


def test_make_optimizer_refuses_unknown_names_and_nothing_to_train():
    model = TinyLifter()
    with pytest.raises(ValueError, match="optimizer 'sgd' is not one of adam, adamw"):
        make_optimizer(model, TrainConfig(optimizer="sgd"))
    freeze(model, ["*"])
    with pytest.raises(ValueError, match="every parameter is frozen"):
        make_optimizer(model, TrainConfig())


# --- epochs: 0 -----------------------------------------------------------------------------------

def test_zero_epochs_saves_the_loaded_weights_unchanged(poses_dir, tmp_path):
    batcher = WindowBatcher(views(poses_dir), 1)
    torch.manual_seed(0)
    model = TinyLifter()
    with torch.no_grad():  # non-trivial BN statistics, which evaluation must not touch
        model.encoder[1].running_mean.uniform_(-1, 1)
        model.encoder[1].running_var.uniform_(0.5, 2)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    modes = []

    def validate(m):
        modes.append(m.training)
        return 123.0

    hist = fit(model, batcher, TrainConfig(epochs=0), tmp_path, validate)
    assert modes == [False] and hist.epoch == 0 and hist.best_mpjpe_mm == 123.0
    for which in ("last", "best"):
        ckpt = load_checkpoint(tmp_path, which)
        assert (ckpt.epoch, ckpt.epochs) == (0, 0), which
        assert list(ckpt.state_dict) == list(initial)
        for k, v in initial.items():
            assert torch.equal(ckpt.state_dict[k], v), (which, k)
    for k, v in model.state_dict().items():
        assert torch.equal(v, initial[k]), k
    assert torch.load(tmp_path / "best.pt", weights_only=False)["val_mpjpe_mm"] == 123.0


# --- RS-Net with post-refinement through fit ---------------------------------------------------------

def test_rsnet_post_refine_trains_on_the_composite_loss(poses_dir, tmp_path):
    vs = views(poses_dir, H36M16)
    assert vs[0].pose2d.shape == (40, 16, 2) and vs[0].pose3d.shape == (40, 16, 3)
    batcher = WindowBatcher(vs, 1, camera=True)
    assert batcher.skeleton is H36M16 and batcher.cond.shape == (len(batcher), 5)
    torch.manual_seed(0)
    model = RSNet(hidden=4, post_refine=True, refine_hidden=16)
    before = snapshot(model)
    cfg = TrainConfig(epochs=1, batch_size=64, lr=1e-3, schedule="step", step_size=4, gamma=0.9,
                      loss={"coarse.mse": 0.9, "coarse.l1": 0.1, "mpjpe": 1.0, "symmetry": 0.01}, bn_recalibrate=2)
    hist = fit(model, batcher, cfg, tmp_path, mpjpe_mm(vs[:2], 1))
    assert hist.epoch == 1 and math.isfinite(hist.train_loss[0]) and hist.train_loss[0] > 0
    assert math.isfinite(hist.val_mpjpe_mm[0])
    for name in ("post_refine.post_refine.0.weight", "gconv_input.gconv.W", "gconv_output.W"):
        assert not torch.equal(dict(model.named_parameters())[name], before[name]), name
    assert load_checkpoint(tmp_path).epoch == 1


def test_freeze_under_data_parallel(poses_dir, tmp_path):
    """A one-process gloo group standing in for torchrun (DistInfo(world=2) takes every 2nd example)."""
    import torch.distributed as dist

    from pose3d.training.distributed import DistInfo

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        batcher = WindowBatcher(views(poses_dir), 1)
        cfg = TrainConfig(epochs=1, batch_size=32, freeze=("encoder.*",), bn_recalibrate=0)
        hist = fit(TinyLifter(), batcher, cfg, tmp_path / "run", lambda m: 1.0, dist_info=DistInfo(0, 2, 0))
        assert hist.epoch == 1
    finally:
        dist.destroy_process_group()
