"""The evaluation-mode network is the trained one: at the end of a short run at the seeds'
recipe (lr 1e-3 x0.95, BatchNorm momentum decayed 0.1 -> 0.001) its error on the training
windows is no worse than the training loss. Running statistics averaged over weights from
epochs ago made it far worse (and worse every epoch) before ``bn_momentum`` bounded their window.
"""
from __future__ import annotations

import pytest
import torch

from pose3d.models import build_model, model_params
from pose3d.training.batching import WindowBatcher
from pose3d.training.data import PoseData
from pose3d.training.loop import TrainConfig, fit
from pose3d.training.protocols import make_split

pytestmark = pytest.mark.slow


def test_last_epoch_eval_mode_error_is_no_worse_than_the_training_loss(tiny_poses, tmp_path):
    data = PoseData(tiny_poses)
    split = make_split("cross_subject", data.available, ["S1", "S5", "S6", "S7", "S8"], ["S9", "S11"])
    torch.manual_seed(4321)
    params = model_params("videopose", {"arc": [3, 3, 3], "channels": 128, "dropout": 0.1})
    model = build_model("videopose", {**params, "strided": True})
    batcher = WindowBatcher(data.views(split.train), model.receptive_field)
    # VideoPose3D's recipe, four epochs; batch 256 gives ~300 steps per epoch, as the default stand-in
    # has at batch 1024: enough steps for the weights to outrun stale running statistics
    cfg = TrainConfig(epochs=4, batch_size=256, lr=1e-3, lr_decay=0.95, loss="mpjpe", seed=4321, flip=True,
                      bn_recalibrate=0)
    hist = fit(model, batcher, cfg, tmp_path, validate=lambda m: 0.0)
    model.eval()
    windows = batcher.x[batcher.start[::2, None] + batcher.offsets]
    with torch.no_grad():
        eval_mm = 1000 * torch.linalg.vector_norm(model(windows) - batcher.y[::2, None], dim=-1).mean().item()
    train_mm = 1000 * hist.train_loss[-1]  # training mode: batch statistics and dropout
    assert eval_mm <= 1.05 * train_mm, f"evaluation mode {eval_mm:.1f} mm, training loss {train_mm:.1f} mm"
