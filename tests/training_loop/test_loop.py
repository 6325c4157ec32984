"""Real torch training on the tiny stand-in: the loss falls, and resume reproduces the run."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pose3d.training.batching import WindowBatcher
from pose3d.training.data import PoseData
from pose3d.training.inference import predict_sequence
from pose3d.training.loop import TrainConfig, bn_momentum, fit


class TinyLifter(nn.Module):
    """A small single-frame lifter with BatchNorm and dropout, so that the recipe's parts matter."""

    receptive_field = 1

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(34, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 51))

    def forward(self, x):
        b, t = x.shape[:2]
        return self.net(x.reshape(b * t, -1)).reshape(b, t, 17, 3)


@pytest.fixture(scope="module")
def setup(tiny_poses):
    data = PoseData(tiny_poses)
    train = data.views([(s, k, c) for s in ("S1", "S5") for k in list(data.available[s])[:6] for c in range(4)])
    val = data.views([("S9", k, 0) for k in list(data.available["S9"])[:4]])
    return WindowBatcher(train, 1), val


def validate_fn(val):
    def validate(model):
        errs = [np.linalg.norm(predict_sequence(model, v.pose2d, 1, torch.device("cpu"), tta=True) - v.pose3d, axis=-1).mean()
                for v in val]
        return 1000 * float(np.mean(errs))
    return validate


def test_loss_falls_and_checkpoints_are_written(setup, tmp_path):
    batcher, val = setup
    torch.manual_seed(0)
    model = TinyLifter()
    cfg = TrainConfig(epochs=4, batch_size=256, lr=1e-3, loss="mpjpe", seed=0)
    hist = fit(model, batcher, cfg, tmp_path, validate_fn(val))
    assert hist.epoch == 4 and len(hist.val_mpjpe_mm) == 4
    assert hist.train_loss[-1] < 0.7 * hist.train_loss[0]
    assert hist.val_mpjpe_mm[-1] < hist.val_mpjpe_mm[0]
    assert (tmp_path / "latest.pt").is_file() and (tmp_path / "best.pt").is_file()
    best = torch.load(tmp_path / "best.pt", weights_only=False)
    assert best["val_mpjpe_mm"] == min(hist.val_mpjpe_mm)


def test_resume_gives_the_same_weights(setup, tmp_path):
    batcher, val = setup
    cfg = TrainConfig(epochs=3, batch_size=256, lr=1e-3, loss="l1", seed=5)
    torch.manual_seed(1)
    straight = TinyLifter()
    fit(straight, batcher, cfg, tmp_path / "a", validate_fn(val))

    torch.manual_seed(1)
    interrupted = TinyLifter()
    fit(interrupted, batcher, cfg, tmp_path / "b", validate_fn(val), stop_after=1)
    torch.manual_seed(123)  # a new process: other RNG state, fresh weights
    resumed = TinyLifter()
    hist = fit(resumed, batcher, cfg, tmp_path / "b", validate_fn(val))
    assert hist.epoch == 3 and len(hist.train_loss) == 3
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name


def straight_weights(batcher, val, cfg, out, identity=None):
    torch.manual_seed(1)
    model = TinyLifter()
    fit(model, batcher, cfg, out, validate_fn(val), identity=identity)
    return model.state_dict()


def assert_same_weights(a, b):
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.mark.parametrize("change", ["settings", "identity"])
def test_checkpoint_of_other_settings_or_data_is_not_resumed(setup, tmp_path, change):
    batcher, val = setup
    cfg = TrainConfig(epochs=2, batch_size=256, seed=3)
    old_cfg = TrainConfig(epochs=2, batch_size=512, seed=3) if change == "settings" else cfg
    old_identity = {"inputs": "old data"} if change == "identity" else None
    fit(TinyLifter(), batcher, old_cfg, tmp_path / "run", validate_fn(val), stop_after=1, identity=old_identity)
    restarted = straight_weights(batcher, val, cfg, tmp_path / "run")
    assert_same_weights(restarted, straight_weights(batcher, val, cfg, tmp_path / "fresh"))


def test_matching_identity_is_resumed_and_replayed_to_the_logger(setup, tmp_path):
    batcher, val = setup
    cfg = TrainConfig(epochs=3, batch_size=256, seed=2)
    identity = {"experiment": {"model": "tiny"}, "inputs": {"poses.npz": "abc"}}
    torch.manual_seed(1)
    first = fit(TinyLifter(), batcher, cfg, tmp_path, validate_fn(val), stop_after=1, identity=identity)
    logged = []
    torch.manual_seed(1)
    resumed = TinyLifter()
    hist = fit(resumed, batcher, cfg, tmp_path, validate_fn(val), identity=identity,
               on_epoch=lambda *row: logged.append(row))
    assert [row[0] for row in logged] == [1, 2, 3]
    assert logged[0] == (1, first.train_loss[0], first.val_mpjpe_mm[0])  # replayed, not retrained
    assert [row[1] for row in logged] == hist.train_loss
    assert_same_weights(resumed.state_dict(), straight_weights(batcher, val, cfg, tmp_path / "fresh", identity))


def test_bn_momentum_schedule():
    cfg = TrainConfig(epochs=60)
    assert bn_momentum(0, cfg) == pytest.approx(0.1)
    assert bn_momentum(60, cfg) == pytest.approx(0.001)
    assert bn_momentum(30, cfg) == pytest.approx(0.01)
