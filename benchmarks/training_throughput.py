"""Training throughput: device-side window batches against a numpy gather loop, same model and batch.

    .venv/bin/python benchmarks/training_throughput.py [--models rie_243f rsnet_1f] [--steps 20]
        [--batch-size 1024] [--device auto]

For VideoPose3D and RIE at 243 frames, SRNet single-frame (gp5) and RS-Net (16 joints, with and
without post-refinement; its camera condition travels with each example), times the training
loop's own step (:func:`pose3d.training.loop.model_outputs`, ``CompositeLoss`` over the named
outputs, backward, ``make_optimizer``'s optimizer; bfloat16 autocast on CUDA) fed two ways:

- **device**: :class:`pose3d.training.batching.WindowBatcher`: all sequences held on the
  device, a batch is one gather of window indices, flipping a ``torch.where``;
- **reference**: the VideoPose3D way: a Python loop over the batch's examples slices each
  window (and the camera condition) from the CPU arrays with numpy (edge padding at sequence
  ends, flipping by copy), then the batch is copied to the device.

Both run on the default cross-subject training views (every frame a target) in one process,
alternating, and the ratio of samples/s is printed. To say where the ratio comes from, batch
preparation alone (no model) and the model step alone (one pre-built batch, repeated) are timed
too; ``parts`` is the ratio those predict, (reference prep + step) / (device prep + step). On
CUDA the host's numpy work can overlap device work still queued, so the parts are an upper
bound there and the full step is the measurement. Device ``auto`` picks CUDA when present.
On a CPU one VideoPose3D 243-frame step at batch 1024 takes over a minute (RIE's half a minute),
so the defaults there are batch 128 and 3 timed steps (a few minutes for all five); the ratio
compares per-batch costs that both grow with the batch, so a smaller batch still shows where
the time goes. Needs the converted poses (``make repro``).
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

from pose3d.experiments import (SEQUENCES_CSV, build_experiment_model, skeleton_for, split_for,  # noqa: E402
                                train_config)
from pose3d.models.registry import takes_camera  # noqa: E402
from pose3d.threads import limit_threads  # noqa: E402
from pose3d.training.batching import WindowBatcher  # noqa: E402
from pose3d.training.data import PoseData, ViewData  # noqa: E402
from pose3d.training.losses import CompositeLoss  # noqa: E402
from pose3d.training.loop import make_optimizer, model_outputs, resolve_device  # noqa: E402

RSNET_REFINE_LOSS = {"coarse.mse": 0.9, "coarse.l1": 0.1, "mpjpe": 1.0, "symmetry": 0.01}
#: the seeds' published sizes; recipe keys (loss, optimizer) as in params.yaml
CONFIGS = {
    "videopose_243f": {"model": "videopose", "arc": [3, 3, 3, 3, 3], "loss": "mpjpe"},
    "srnet_1f": {"model": "srnet", "arc": [1, 1, 1], "groups": 5, "loss": "l1"},
    "rie_243f": {"model": "rie", "arc": [3, 3, 3, 3, 3], "channels": 256, "latent": 256, "hidden": 1024,
                 "fusion": False, "loss": "mpjpe", "optimizer": "adamw", "weight_decay": 0.01},
    "rsnet_1f": {"model": "rsnet", "hidden": 64, "loss": {"mse": 0.9, "l1": 0.1}},
    "rsnet_1f_refine": {"model": "rsnet", "hidden": 64, "post_refine": True, "loss": RSNET_REFINE_LOSS},
}


class NumpyWindows:
    """VideoPose3D-style batches: windows (and camera rows) cut one by one from CPU arrays, then copied over."""

    def __init__(self, views: list[ViewData], rf: int, device: torch.device, camera: bool = False):
        self.x = [v.pose2d for v in views]
        self.y = [v.pose3d for v in views]
        self.cond = [v.camera_condition() for v in views] if camera else None
        self.pad, self.rf, self.device = (rf - 1) // 2, rf, device
        self.pairs = [(i, f) for i, v in enumerate(views) for f in range(len(v.pose3d))]
        self.perm = np.asarray(views[0].skeleton.flip_permutation())
        self.joints = len(self.perm)

    def epoch(self, batch_size: int, seed: int):
        rng = np.random.default_rng(seed)
        order = rng.permutation(2 * len(self.pairs))
        xb = np.empty((batch_size, self.rf, self.joints, 2), np.float32)  # reused, as VideoPose3D's generator does
        yb = np.empty((batch_size, 1, self.joints, 3), np.float32)
        cb = np.empty((batch_size, 1, 5), np.float32) if self.cond is not None else None
        for b in range(0, len(order) - batch_size + 1, batch_size):
            for n, k in enumerate(order[b:b + batch_size]):
                i, f = self.pairs[k % len(self.pairs)]
                seq = self.x[i]
                lo, hi = f - self.pad, f + self.pad + 1
                win = seq[max(lo, 0):min(hi, len(seq))]
                if lo < 0 or hi > len(seq):
                    win = np.pad(win, ((max(-lo, 0), max(hi - len(seq), 0)), (0, 0), (0, 0)), "edge")
                target = self.y[i][f:f + 1]
                cond = self.cond[i][f:f + 1] if cb is not None else None
                if k >= len(self.pairs):  # mirrored copy
                    win = win[:, self.perm].copy()
                    win[..., 0] *= -1
                    target = target[:, self.perm].copy()
                    target[..., 0] *= -1
                    if cond is not None:
                        cond = cond.copy()
                        cond[..., 3] *= -1  # cx in screen units mirrors to -cx
                xb[n], yb[n] = win, target
                if cb is not None:
                    cb[n] = cond
            extra = {"camera": torch.from_numpy(cb).to(self.device)} if cb is not None else {}
            yield torch.from_numpy(xb).to(self.device), torch.from_numpy(yb).to(self.device), extra


class Step:
    """One training step exactly as :func:`pose3d.training.loop.fit` takes it."""

    def __init__(self, cfg: dict, model: torch.nn.Module, skeleton, device: torch.device):
        tc = train_config(cfg)
        self.model, self.opt = model, make_optimizer(model, tc)
        self.criterion = CompositeLoss(tc.loss, skeleton)
        self.amp = tc.amp and device.type == "cuda"

    def __call__(self, x: torch.Tensor, y: torch.Tensor, extra: dict) -> None:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.amp):
            outputs = model_outputs(self.model, self.model, x, extra)
        loss = self.criterion(outputs, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(device: torch.device, run, warmup: int, count: int) -> float:
    """Seconds per call of ``run()`` after ``warmup`` untimed calls (allocator, kernels, caches)."""
    for _ in range(warmup):
        run()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(count):
        run()
    _sync(device)
    return (time.perf_counter() - t0) / count


def full_steps(step: Step, batches, steps: int, warmup: int, device: torch.device) -> float:
    it = iter(batches)
    return _timed(device, lambda: step(*next(it)), warmup, steps)


def preparation(batches, count: int, device: torch.device) -> float:
    it = iter(batches)
    return _timed(device, lambda: next(it), 1, count)


def measure(name: str, cfg: dict, views: list[ViewData], args, device: torch.device, steps: int) -> dict:
    torch.manual_seed(0)
    model = build_experiment_model(cfg, training=True).to(device).train()
    step = Step(cfg, model, skeleton_for(cfg), device)
    rf, camera = model.receptive_field, takes_camera(model)  # as stages/train.py builds its batcher
    fast = WindowBatcher(views, rf, device, camera=camera)
    slow = NumpyWindows(views, rf, device, camera=camera)
    bs = args.batch_size
    # CUDA: kernels and the allocator settle over a few steps, cheap there; on a CPU one step settles
    # the allocator and each step costs seconds, so later calls start timing at once
    warmup, again = (2, 2) if device.type == "cuda" else (1, 0)
    batch = next(iter(fast.epoch(bs, 20, 0)))
    alone = _timed(device, lambda: step(*batch), warmup, steps)
    full = {"device": [], "reference": []}
    for rep in range(2):  # alternate, so drift in machine speed hits both alike
        full["device"].append(full_steps(step, fast.epoch(bs, rep, 0), steps, again, device))
        full["reference"].append(full_steps(step, slow.epoch(bs, rep), steps, again, device))
    prep_count = max(3 * steps, 10)
    prep = {"device": [], "reference": []}
    for rep in range(2):
        prep["device"].append(preparation(fast.epoch(bs, 10 + rep, 0), prep_count, device))
        prep["reference"].append(preparation(slow.epoch(bs, 10 + rep), prep_count, device))
    best = {k: min(v) for k, v in full.items()}
    return {"name": name, "rf": rf, "camera": camera, "device": bs / best["device"],
            "reference": bs / best["reference"], "prep_device": min(prep["device"]),
            "prep_reference": min(prep["reference"]), "step": alone}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--models", nargs="+", choices=list(CONFIGS), default=list(CONFIGS), metavar="NAME",
                    help=f"configurations to time (default all: {', '.join(CONFIGS)})")
    ap.add_argument("--steps", type=int, default=None, help="timed steps per method (default 20 on CUDA, 3 on CPU)")
    ap.add_argument("--batch-size", type=int, default=None, help="default 1024 on CUDA (the seeds'), 128 on CPU")
    args = ap.parse_args()
    threads = limit_threads()
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    steps = args.steps or (20 if cuda else 3)
    args.batch_size = args.batch_size or (1024 if cuda else 128)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    data = PoseData(ROOT / "data/processed/poses")
    split = split_for({"protocol": "cross_subject"}, params, data.available, ROOT / SEQUENCES_CSV)
    views: dict[str, list[ViewData]] = {}
    print(f"device {device} ({threads} threads), batch {args.batch_size}, {steps} timed steps per method; "
          f"prep: ms per batch without a model, step: ms per step on one pre-built batch; "
          f"parts: the ratio prep + step predicts")
    print(f"{'model':16s} {'rf':>4s} {'J':>3s} {'cam':>3s} {'device':>9s} {'reference':>10s} {'ratio':>6s} | "
          f"{'prep dev':>9s} {'prep ref':>9s} {'step':>9s} {'parts':>6s}")
    print(f"{'':16s} {'':>4s} {'':>3s} {'':>3s} {'samples/s':>9s} {'samples/s':>10s} {'':>6s} | "
          f"{'ms':>9s} {'ms':>9s} {'ms':>9s} {'':>6s}")
    t0 = time.perf_counter()
    for name in args.models:
        cfg = CONFIGS[name]
        skeleton = skeleton_for(cfg)
        if skeleton.name not in views:
            views[skeleton.name] = data.views(split.train, skeleton=skeleton)
        r = measure(name, cfg, views[skeleton.name], args, device, steps)
        ms = {k: 1000 * r[k] for k in ("prep_device", "prep_reference", "step")}
        parts = (ms["prep_reference"] + ms["step"]) / (ms["prep_device"] + ms["step"])
        cam = "yes" if r["camera"] else "no"
        print(f"{name:16s} {r['rf']:4d} {len(skeleton.parents):3d} {cam:>3s} {r['device']:9.0f} {r['reference']:10.0f} "
              f"{r['device'] / r['reference']:5.2f}x | {ms['prep_device']:9.1f} {ms['prep_reference']:9.1f} "
              f"{ms['step']:9.1f} {parts:5.2f}x", flush=True)
    frames = {k: sum(len(v.pose3d) for v in vs) for k, vs in views.items()}
    print(f"training frames {', '.join(f'{k}: {n}' for k, n in frames.items())}; "
          f"timing took {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
