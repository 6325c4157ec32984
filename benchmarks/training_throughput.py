"""Training throughput: device-side window batches against a numpy gather loop, same model and batch.

    .venv/bin/python benchmarks/training_throughput.py [--device cuda] [--steps 20]

For VideoPose3D 243 frames and SRNet single-frame (gp5), times full training steps
(forward, L1/MPJPE loss, backward, AMSGrad step; bfloat16 autocast on CUDA) fed two ways:

- **device**: :class:`pose3d.training.batching.WindowBatcher`: all sequences held on the
  device, a batch is one gather of window indices, flipping a ``torch.where``;
- **reference**: the VideoPose3D way: a Python loop over the batch's examples slices
  each window from the CPU arrays with numpy (edge padding at sequence ends, flipping by
  copy), then the batch is copied to the device.

Both run on the default cross-subject training views in one process, alternating, and the
ratio of samples/s is printed. Needs the converted poses (``make repro``).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pose3d.h36m.skeleton import H36M17  # noqa: E402
from pose3d.training.batching import WindowBatcher  # noqa: E402
from pose3d.training.data import PoseData, ViewData  # noqa: E402
from pose3d.training.losses import get_loss  # noqa: E402
from pose3d.training.loop import resolve_device  # noqa: E402
from stages.experiments import build_experiment_model, split_for  # noqa: E402

CONFIGS = {
    "videopose_243f": {"model": "videopose", "arc": [3, 3, 3, 3, 3], "loss": "mpjpe"},
    "srnet_1f": {"model": "srnet", "arc": [1, 1, 1], "groups": 5, "loss": "l1"},
}


class NumpyWindows:
    """VideoPose3D-style batches: windows cut one by one from CPU arrays, then copied over."""

    def __init__(self, views: list[ViewData], rf: int, device: torch.device):
        self.x = [v.pose2d for v in views]
        self.y = [v.pose3d for v in views]
        self.pad, self.rf, self.device = (rf - 1) // 2, rf, device
        self.pairs = [(i, f) for i, v in enumerate(views) for f in range(len(v.pose3d))]
        self.perm = np.asarray(H36M17.flip_permutation())

    def epoch(self, batch_size: int, seed: int):
        rng = np.random.default_rng(seed)
        order = rng.permutation(2 * len(self.pairs))
        xb = np.empty((batch_size, self.rf, 17, 2), np.float32)
        yb = np.empty((batch_size, 1, 17, 3), np.float32)
        for b in range(0, len(order) - batch_size + 1, batch_size):
            for j, k in enumerate(order[b:b + batch_size]):
                i, f = self.pairs[k % len(self.pairs)]
                seq = self.x[i]
                lo, hi = f - self.pad, f + self.pad + 1
                win = seq[max(lo, 0):min(hi, len(seq))]
                if lo < 0 or hi > len(seq):
                    win = np.pad(win, ((max(-lo, 0), max(hi - len(seq), 0)), (0, 0), (0, 0)), "edge")
                target = self.y[i][f:f + 1]
                if k >= len(self.pairs):  # mirrored copy
                    win = win[:, self.perm].copy()
                    win[..., 0] *= -1
                    target = target[:, self.perm].copy()
                    target[..., 0] *= -1
                xb[j], yb[j] = win, target
            yield torch.from_numpy(xb).to(self.device), torch.from_numpy(yb).to(self.device)


def time_steps(model, opt, loss_fn, batches, steps: int, device: torch.device) -> float:
    amp = device.type == "cuda"
    it = iter(batches)
    for _ in range(2):  # warm-up: allocator, kernels, caches
        x, y = next(it)
        _step(model, opt, loss_fn, x, y, amp)
    _sync(device)
    t0 = time.perf_counter()
    n = 0
    for _ in range(steps):
        x, y = next(it)
        _step(model, opt, loss_fn, x, y, amp)
        n += x.shape[0]
    _sync(device)
    return n / (time.perf_counter() - t0)


def _step(model, opt, loss_fn, x, y, amp: bool) -> None:
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        pred = model(x)
    loss = loss_fn(pred.float(), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--steps", type=int, default=None, help="timed steps per method (default 20 on CUDA, 4 on CPU)")
    ap.add_argument("--batch-size", type=int, default=1024)
    args = ap.parse_args()
    device = resolve_device(args.device)
    steps = args.steps or (20 if device.type == "cuda" else 4)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    data = PoseData(ROOT / "data/processed/poses")
    split = split_for({"protocol": "cross_subject"}, params, data.available)
    views = data.views(split.train)
    print(f"device {device}, batch {args.batch_size}, {steps} timed steps per method, "
          f"{sum(len(v.pose3d) for v in views)} training frames")
    for name, cfg in CONFIGS.items():
        torch.manual_seed(0)
        model = build_experiment_model(cfg, training=True).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
        loss_fn = get_loss(cfg["loss"])
        rf = model.receptive_field
        fast = WindowBatcher(views, rf, device)
        slow = NumpyWindows(views, rf, device)
        rates = {"device": [], "reference": []}
        for rep in range(2):  # alternate, so drift in machine speed hits both alike
            rates["device"].append(time_steps(model, opt, loss_fn, fast.epoch(args.batch_size, rep, 0), steps, device))
            rates["reference"].append(time_steps(model, opt, loss_fn, slow.epoch(args.batch_size, rep), steps, device))
        dev, ref = max(rates["device"]), max(rates["reference"])
        print(f"{name:15s} device batches {dev:10.0f} samples/s | numpy reference {ref:10.0f} samples/s | "
              f"{dev / ref:.2f}x")


if __name__ == "__main__":
    main()
