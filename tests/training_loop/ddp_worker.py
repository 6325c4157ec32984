"""One rank of a ``torchrun`` launch for tests/training_loop/test_distributed.py.

    python -m torch.distributed.run --standalone --nproc_per_node 2 ddp_worker.py POSES OUT

Trains a small lifter without BatchNorm or dropout (so that one process with the whole
batch and two with half each must end with the same weights) for two epochs.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

from pose3d.training.batching import WindowBatcher
from pose3d.training.data import PoseData
from pose3d.training.distributed import from_env, setup, teardown
from pose3d.training.loop import TrainConfig, fit

CONFIG = TrainConfig(epochs=2, batch_size=256, lr=1e-3, loss="l1", seed=3, bn_recalibrate=0)


class PlainLifter(nn.Module):
    receptive_field = 1

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(34, 64), nn.ReLU(), nn.Linear(64, 51))

    def forward(self, x):
        b, t = x.shape[:2]
        return self.net(x.reshape(b * t, -1)).reshape(b, t, 17, 3)


def views(poses: Path):
    data = PoseData(poses)
    return data.views([(s, k, c) for s in ("S1", "S5") for k in list(data.available[s])[:4] for c in range(2)])


def train(poses: Path, out: Path, info=None) -> nn.Module:
    torch.manual_seed(0)
    model = PlainLifter()
    kwargs = {} if info is None else {"dist_info": info}
    fit(model, WindowBatcher(views(poses), 1), CONFIG, out, lambda m: 0.0, **kwargs)
    return model


if __name__ == "__main__":
    info = from_env()
    setup(info, torch.device("cpu"))
    try:
        train(Path(sys.argv[1]), Path(sys.argv[2]), info)
    finally:
        teardown()
