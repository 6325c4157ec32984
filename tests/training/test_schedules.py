"""Learning-rate schedules against hand-written rates, and the rates a (resumed) ``fit`` really uses."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pose3d.training import loop
from pose3d.training.batching import WindowBatcher
from pose3d.training.data import ViewData
from pose3d.training.loop import TrainConfig, fit
from pose3d.training.schedules import SCHEDULES, Schedule
from tests.models.model_checks import single_thread  # noqa: F401  (fixture)


pytestmark = pytest.mark.usefixtures("single_thread")


# Every list below is written out by hand (products of the factors, not the formula under test).
EXPONENTIAL = [1e-3, 9.5e-4, 9.025e-4, 8.57375e-4, 8.1450625e-4]  # epochs 0..4: x0.95 per epoch
# RS-Net README, ground-truth 2D: its epochs count from 1 and the rate decays after each one, x0.5 after
# epochs 5 and 10, x0.95 after the others; 0-based epoch e runs at the rate left after e completed epochs.
RSNET = [
    1e-3,                    # 0: nothing completed
    9.5e-4,                  # 1: after epoch 1 (x0.95)
    9.025e-4,                # 2: after epoch 2
    8.57375e-4,              # 3: after epoch 3
    8.1450625e-4,            # 4: after epoch 4
    4.07253125e-4,           # 5: after epoch 5 (x0.5)
    3.8689046875e-4,         # 6
    3.675459453125e-4,       # 7
    3.49168648046875e-4,     # 8
    3.3171021564453125e-4,   # 9
    1.65855107822265625e-4,  # 10: after epoch 10 (x0.5)
    1.5756235243115234375e-4,  # 11
]
STEP = [5e-3] * 4 + [4.5e-3] * 4 + [4.05e-3] * 2  # x0.9 every 4 epochs, epochs 0..9
MULTISTEP = [1e-3] * 14 + [1e-4] * 2 + [1e-5] * 4  # Integral: x0.1 at epochs 14 and 16, epochs 0..19


def rates(schedule: Schedule, n: int) -> list[float]:
    return [schedule.lr_at(e) for e in range(n)]


def test_exponential():
    assert rates(Schedule("exponential", lr=1e-3, lr_decay=0.95), 5) == pytest.approx(EXPONENTIAL, rel=1e-12)


def test_rsnet_readme_gt_recipe():
    s = Schedule("rsnet", lr=1e-3, lr_decay=0.95, lr_decay_large=0.5, large_decay_epoch=5)
    assert rates(s, 12) == pytest.approx(RSNET, rel=1e-12)


def test_step():
    assert rates(Schedule("step", lr=5e-3, step_size=4, gamma=0.9), 10) == pytest.approx(STEP, rel=1e-12)


def test_multistep_integral():
    s = Schedule("multistep", lr=1e-3, milestones=(14, 16), gamma=0.1)
    assert rates(s, 20) == pytest.approx(MULTISTEP, rel=1e-12)


def test_multistep_without_milestones_is_constant():
    assert rates(Schedule("multistep", lr=2e-3), 4) == [2e-3] * 4


def test_default_is_exponential():
    assert Schedule().name == "exponential" and SCHEDULES == ("exponential", "rsnet", "step", "multistep")


def test_train_config_passes_every_schedule_setting():
    cfg = TrainConfig(schedule="rsnet", lr=1e-3, lr_decay=0.95, lr_decay_large=0.5, large_decay_epoch=5)
    assert rates(cfg.lr_schedule(), 12) == pytest.approx(RSNET, rel=1e-12)
    cfg = TrainConfig(schedule="multistep", lr=1e-3, milestones=[14, 16], gamma=0.1)  # a list, as YAML gives it
    assert cfg.lr_schedule().milestones == (14, 16)
    assert rates(cfg.lr_schedule(), 20) == pytest.approx(MULTISTEP, rel=1e-12)
    cfg = TrainConfig(schedule="step", lr=5e-3, step_size=4, gamma=0.9)
    assert rates(cfg.lr_schedule(), 10) == pytest.approx(STEP, rel=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "cosine"}, "schedule 'cosine' is not one of exponential, rsnet, step, multistep"),
    ({"name": "rsnet", "large_decay_epoch": 0}, "large_decay_epoch must be >= 1, got 0"),
    ({"name": "step", "step_size": 0}, "step_size must be >= 1, got 0"),
])
def test_bad_schedules_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Schedule(**kwargs)


def test_unknown_schedule_through_train_config():
    with pytest.raises(ValueError, match="'cosine'"):
        TrainConfig(schedule="cosine").lr_schedule()


# --- the rates fit() sets, straight and resumed -------------------------------------------------

class TinyLifter(nn.Module):
    receptive_field = 1

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(34, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 51))

    def forward(self, x):
        b, t = x.shape[:2]
        return self.net(x.reshape(b * t, -1)).reshape(b, t, 17, 3)


def tiny_batcher() -> WindowBatcher:
    rng = np.random.default_rng(0)
    n = 24
    view = ViewData("S1", "Walking", 0, pose2d=rng.normal(size=(n, 17, 2)).astype(np.float32),
                    pose3d=rng.normal(size=(n, 17, 3)).astype(np.float32),
                    root=np.tile(np.float32([0, 0, 5]), (n, 1)))
    return WindowBatcher([view], 1)


# rsnet schedule with a large decay after every 2nd epoch: x0.95 after epochs 1, 3, 5; x0.5 after 2, 4
FIT_RATES = [1e-3, 9.5e-4, 4.75e-4, 4.5125e-4, 2.25625e-4, 2.1434375e-4]
FIT_CFG = TrainConfig(epochs=6, batch_size=64, lr=1e-3, lr_decay=0.95, schedule="rsnet", lr_decay_large=0.5,
                      large_decay_epoch=2, flip=False, seed=3, bn_recalibrate=0)  # one step per epoch


@pytest.fixture
def seen_rates(monkeypatch):
    """The learning rate of every optimizer step fit() takes (one step per epoch here)."""
    seen: list[float] = []
    original = loop.make_optimizer

    def recording(model, cfg, *args):
        opt = original(model, cfg, *args)
        opt.register_step_pre_hook(lambda o, args, kwargs: seen.append(o.param_groups[0]["lr"]))
        return opt

    monkeypatch.setattr(loop, "make_optimizer", recording)
    return seen


def test_fit_uses_the_schedule_and_a_resumed_run_the_same_rates(seen_rates, tmp_path):
    batcher = tiny_batcher()
    assert batcher.num_batches(FIT_CFG.batch_size, FIT_CFG.flip) == 1
    torch.manual_seed(0)
    fit(TinyLifter(), batcher, FIT_CFG, tmp_path / "straight", lambda m: 1.0)
    straight = list(seen_rates)
    assert straight == pytest.approx(FIT_RATES, rel=1e-12)

    seen_rates.clear()
    torch.manual_seed(0)
    fit(TinyLifter(), batcher, FIT_CFG, tmp_path / "resumed", lambda m: 1.0, stop_after=3)
    latest = torch.load(tmp_path / "resumed" / "latest.pt", weights_only=False)
    assert latest["optimizer"]["param_groups"][0]["lr"] == pytest.approx(FIT_RATES[2], rel=1e-12)
    torch.manual_seed(99)
    hist = fit(TinyLifter(), batcher, FIT_CFG, tmp_path / "resumed", lambda m: 1.0)
    assert hist.epoch == 6
    assert seen_rates == pytest.approx(FIT_RATES, rel=1e-12)  # 3 before the interruption, 3 after


def test_lr_factors_scale_the_matching_parameters_at_every_scheduled_rate(seen_rates, tmp_path):
    """The multi-view seeds' backbone group: a pattern's parameters learn at the scheduled lr times its factor."""
    model = TinyLifter()
    opt = loop.make_optimizer(model, FIT_CFG, (("net.0.*", 0.1),))
    factors = sorted(g["lr_factor"] for g in opt.param_groups)
    assert factors == [0.1, 1.0]
    small = next(g for g in opt.param_groups if g["lr_factor"] == 0.1)
    assert {id(p) for p in small["params"]} == {id(p) for p in model.net[0].parameters()}
    torch.manual_seed(0)
    fit(model, tiny_batcher(), FIT_CFG, tmp_path / "groups", lambda m: 1.0, lr_factors=(("net.0.*", 0.1),))
    latest = torch.load(tmp_path / "groups" / "latest.pt", weights_only=False)
    rates = {g["lr_factor"]: g["lr"] for g in latest["optimizer"]["param_groups"]}
    assert rates[0.1] == pytest.approx(0.1 * rates[1.0], rel=1e-12) and rates[1.0] == pytest.approx(FIT_RATES[-1])
