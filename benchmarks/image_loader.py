"""Image training throughput: the batch-wise crop loader against a plain per-item DataLoader, same crops and models.

    .venv/bin/python benchmarks/image_loader.py [--quick] [--images 1024] [--subjects S1 S9]
        [--models keypoints2d integral] [--input-size 64] [--batch-size 32] [--workers 1] [--device auto]

Both feed the frames stage's JPEG crop shards (:func:`pose3d.images.crops.load_crops`) to the
image models' training step (train mode, Adam, forward, ``joint_location_loss``, backward, step;
bfloat16 autocast on CUDA, as the training loop takes it):

- **batcher**: :class:`pose3d.images.batcher.ImageBatcher`, the training stage's input path: a
  worker process decodes a whole batch into one uint8 array
  (:class:`pose3d.images.loader.CropLoader`, pinned and copied asynchronously on CUDA), the batch
  is augmented at once on the device (one ``grid_sample`` for resize, scale, rotation and flip);
- **plain**: the usual PyTorch recipe: a ``Dataset`` whose ``__getitem__`` decodes one crop,
  resizes it with ``interpolate`` (antialiased), flips it at random, scales its colours and
  normalises it, and builds its target; default collate, ``num_workers`` workers. It does no
  scale or rotation jitter, so it does less work per image than the batcher;
- **compute**: one pre-made device batch reused, the step alone (what no loader can beat).

Loaders are also timed alone (no model): ``CropLoader`` with 1 and 0 workers (the decode-only
limit), the batcher's epoch (decode + augmentation + targets) and the plain loader. Each row
times the same number of images after one untimed warm-up batch (worker start, allocator,
Adam's state); a new loader per epoch, as in training, where the images outnumber the crops.
``channels_last`` rows convert the model and each input to NHWC, which convolutions on CUDA
(and oneDNN on a CPU) may run faster; ``--quick`` times it on the compute row only.

To say where the ratio comes from, one more batcher run and one more plain run time their parts
per batch with ``perf_counter`` (synchronising the device at each boundary on CUDA, which costs
the overlap the untimed rows keep): waiting for the loader, drawing and warping, building
targets, the step. On a CPU the batcher's augmentation runs in the training process, in series
with the step, while the plain path's per-item work runs in its worker beside the step; the
workers share the cores with the step, so their work can slow the step as well as the wait.

Threads: torch gets this process's share (``POSE3D_THREADS``, else every core; ``--threads``).
On cores busy with other work give it the share that is left: two processes each running a
thread per core spin-wait for each other and every step gets several times slower.
"""
from __future__ import annotations

import argparse
import copy
import itertools
import os
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pose3d.images.batcher as batcher_module  # noqa: E402
from pose3d.images.augment import FLIP_PERMUTATION, IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from pose3d.images.batcher import ImageBatcher  # noqa: E402
from pose3d.images.config import ImageRun, image_run  # noqa: E402
from pose3d.images.crops import FRAMES_DIR, POSES_DIR, CropTable, load_crops  # noqa: E402
from pose3d.images.loader import CropLoader  # noqa: E402
from pose3d.images.targets import joint_location_loss, keypoint_targets, volume_targets  # noqa: E402
from pose3d.threads import limit_threads  # noqa: E402
from pose3d.training.loop import resolve_device  # noqa: E402

FAMILIES = ("keypoints2d", "integral")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class PerItemCrops(Dataset):
    """One crop per call, augmented on the CPU: the per-item recipe the batch loader replaces."""

    def __init__(self, crops: CropTable, run: ImageRun, colour: float = 0.2):
        self.crops, self.run, self.colour = crops, run, colour
        self.mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
        self.perm = list(FLIP_PERMUTATION)

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        run, crops, size = self.run, self.crops, self.run.input_size
        img = torch.from_numpy(crops.shards.image(int(crops.items[i]))).permute(2, 0, 1).float().div_(255.0)
        x = F.interpolate(img[None], size=(size, size), mode="bilinear", align_corners=False, antialias=True)[0]
        uv = (torch.from_numpy(crops.uv[i]).double() + 0.5) * (size / crops.crop_size) - 0.5
        z = torch.from_numpy(crops.xyz_mm[i, :, 2] - crops.xyz_mm[i, :1, 2]).double()
        if torch.rand(()) < 0.5:
            x = x.flip(-1)
            uv = uv[self.perm]
            uv[:, 0] = size - 1 - uv[:, 0]
            z = z[self.perm]
        x = x * (1.0 + self.colour * (2 * torch.rand(3, 1, 1) - 1))
        x = (x.clamp_(0, 1) - self.mean) / self.std
        if run.model == "keypoints2d":
            target = keypoint_targets(uv[None], size, run.heatmap_size)[0]
        else:
            target = volume_targets(uv[None], z[None], size, run.heatmap_size, run.depth_bins, run.depth_range_mm)[0]
        return x, target.float()


def _reopen(worker_id: int) -> None:  # noqa: ARG001 - DataLoader's signature
    torch.utils.data.get_worker_info().dataset.crops.shards.reopen()  # memory maps are per process


def plain_epoch(dataset: PerItemCrops, batch_size: int, workers: int, device: torch.device, epoch: int):
    """One shuffled epoch of the per-item loader, batches copied to the device (pinned on CUDA)."""
    cuda = device.type == "cuda"
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, pin_memory=cuda,
                        generator=torch.Generator().manual_seed(1000 + epoch),
                        worker_init_fn=_reopen if workers else None)
    for x, t in loader:
        yield x.to(device, non_blocking=cuda), t.to(device, non_blocking=cuda), {}


def loader_epoch(loader: CropLoader, crops: CropTable, batch_size: int, epoch: int):
    order = np.random.default_rng([7, epoch]).permutation(len(crops))
    yield from loader.batches(crops.items[order[i:i + batch_size]] for i in range(0, len(order), batch_size))


def stream(make_epoch):
    """Epoch after epoch, each with a fresh loader, as training iterates them."""
    for epoch in itertools.count():
        yield from make_epoch(epoch)


class Step:
    """One training step as the training stage takes it (``fit`` with ``joint_location_loss``)."""

    def __init__(self, model: torch.nn.Module, run: ImageRun, device: torch.device, channels_last: bool = False):
        self.model = copy.deepcopy(model).to(device).train()
        self.fmt = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=run.lr)
        self.amp = run.amp and device.type == "cuda"

    def __call__(self, x: torch.Tensor, target: torch.Tensor, extra: dict | None = None) -> None:  # noqa: ARG002
        x = x.contiguous(memory_format=self.fmt)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.amp):
            pred = self.model(x)
        loss = joint_location_loss(pred, target)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


def timed(batches, images: int, device: torch.device, step=None) -> tuple[float, int]:
    """(images/s, images timed): one untimed warm-up batch, then batches until ``images`` are done."""
    it = iter(batches)
    try:
        first = next(it)
        if step is not None:
            step(*first)
        _sync(device)
        done, t0 = 0, time.perf_counter()
        while done < images:
            batch = next(it)
            if step is not None:
                step(*batch)
            done += len(batch[0]) if isinstance(batch, tuple) else len(batch)
        _sync(device)
        return done / (time.perf_counter() - t0), done
    finally:
        if hasattr(it, "close"):
            it.close()  # stops the epoch's loader workers now


class Clock:
    """Seconds spent in named parts, with the device synchronised at each boundary."""

    def __init__(self, device: torch.device):
        self.device, self.parts = device, {}

    def wrap(self, name: str, fn):
        def call(*args, **kwargs):
            _sync(self.device)
            t0 = time.perf_counter()
            out = fn(*args, **kwargs)
            _sync(self.device)
            self.parts[name] = self.parts.get(name, 0.0) + time.perf_counter() - t0
            return out
        return call

    def iterate(self, name: str, iterable):
        it = iter(iterable)
        nxt = self.wrap(name, lambda: next(it))
        try:
            while True:
                try:
                    yield nxt()
                except StopIteration:
                    return
        finally:
            if hasattr(it, "close"):
                it.close()


def batcher_parts(batcher: ImageBatcher, step: Step, batch_size: int, images: int,
                  device: torch.device) -> tuple[dict, tuple[float, int]]:
    """ms per batch of the batcher's epoch split into loader wait, warp, targets, the rest (draws) and the
    step; and (images/s, images) of the run."""
    clock = Clock(device)
    real_batches = batcher.loader.batches

    class TimedLoader:
        def batches(self, index_batches):
            return clock.iterate("loader wait", real_batches(index_batches))

    with mock.patch.object(batcher, "loader", TimedLoader()), \
            mock.patch.object(batcher, "targets", clock.wrap("targets", batcher.targets)), \
            mock.patch.object(batcher_module, "warp", clock.wrap("warp", batcher_module.warp)):
        return _split(clock, stream(lambda e: batcher.epoch(batch_size, 7, e)), step, images, device)


def plain_parts(dataset: PerItemCrops, step: Step, batch_size: int, workers: int, images: int,
                device: torch.device) -> tuple[dict, tuple[float, int]]:
    """ms per batch of the plain path split into loader wait (with the copy to the device) and the step;
    and (images/s, images) of the run."""
    clock = Clock(device)
    return _split(clock, clock.iterate("loader wait", stream(lambda e: plain_epoch(dataset, batch_size, workers,
                                                                                      device, e))),
                  step, images, device)


def _split(clock: Clock, batches, step: Step, images: int, device: torch.device) -> tuple[dict, tuple[float, int]]:
    it = iter(batches)
    outer = clock.wrap("epoch", lambda: next(it))
    timed_step = clock.wrap("step", step)
    try:
        timed_step(*outer())  # warm-up
        clock.parts.clear()
        done = count = 0
        while done < images:
            batch = outer()
            timed_step(*batch)
            done, count = done + len(batch[0]), count + 1
    finally:
        it.close()
    parts = {k: 1000 * v / count for k, v in clock.parts.items()}  # ms per batch
    inner = sum(v for k, v in parts.items() if k not in ("epoch", "step"))
    parts["other"] = parts.pop("epoch") - inner  # draws, generator hand-offs
    parts["total"] = parts["other"] + inner + parts["step"]
    return parts, (done / sum(v for k, v in clock.parts.items() if k in ("epoch", "step")), done)


def present_subjects() -> list[str]:
    folder = ROOT / FRAMES_DIR
    return sorted(p.name for p in folder.iterdir() if (p / "index.csv").is_file()) if folder.is_dir() else []


def row(name: str, rate: float, done: int, batch_size: int, ref: float | None) -> None:
    ratio = f"{rate / ref:6.2f}x" if ref else f"{'':>7s}"
    print(f"  {name:42s} {done:6d} {rate:9.1f} {1000 * batch_size / rate:9.1f} {ratio}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", nargs="+", default=None, help="default: the subjects under data/processed/frames")
    ap.add_argument("--models", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    ap.add_argument("--images", type=int, default=None, help="images timed per row (default 1024; --quick 256)")
    ap.add_argument("--input-size", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=None, help="default: ImageRun's batch_size")
    ap.add_argument("--resnet", type=int, default=18)
    ap.add_argument("--workers", type=int, default=1, help="decoding processes of both loaders")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: this process's share)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--quick", action="store_true", help="256 images per row; channels_last for the compute row only")
    args = ap.parse_args()
    images = args.images or (256 if args.quick else 1024)
    threads = limit_threads(args.threads)
    device = resolve_device(args.device)
    subjects = args.subjects or present_subjects()
    if not subjects:
        sys.exit(f"no crops under {ROOT / FRAMES_DIR}: run the frames stage first")
    crops = load_crops(subjects, ROOT / FRAMES_DIR, ROOT / POSES_DIR)
    overlay = {"input_size": args.input_size, "resnet": args.resnet,
               **({"batch_size": args.batch_size} if args.batch_size else {})}
    runs = {f: image_run({"image_experiments": {f: {"model": f, **overlay}}}, f) for f in args.models}
    bs = next(iter(runs.values())).batch_size
    print(f"device {device}, torch {torch.__version__}, {threads} threads, {args.workers} loader worker(s); "
          f"{len(crops)} crops of {', '.join(subjects)}, crop {crops.crop_size} px, input {args.input_size} px, "
          f"batch {bs}, {images} images per row (after one warm-up batch); load average {os.getloadavg()[0]:.1f}")
    header = f"  {'':42s} {'images':>6s} {'images/s':>9s} {'ms/batch':>9s} {'ratio':>7s}"
    t_start = time.perf_counter()

    print("loaders alone (no model); ratio to the plain DataLoader alone")
    print(header)
    first = next(iter(runs.values()))
    plain_data = PerItemCrops(crops, first)
    plain_alone, done_p = timed(stream(lambda e: plain_epoch(plain_data, bs, args.workers, device, e)), images, device)
    alone = {}
    for w in (args.workers, 0) if args.workers else (0,):
        loader = CropLoader(crops.shards, crops.crop_size, device, w)
        alone[w] = timed(stream(lambda e, ld=loader: loader_epoch(ld, crops, bs, e)), images, device)
    batcher = ImageBatcher(crops, first, device, args.workers)
    batcher_alone = timed(stream(lambda e: batcher.epoch(bs, 7, e)), images, device)
    for w, (rate, done) in alone.items():
        row(f"CropLoader, {w} workers (decode only)", rate, done, bs, plain_alone)
    row(f"ImageBatcher {first.model} (+warp+targets)", *batcher_alone, bs, plain_alone)
    row("plain DataLoader (per item)", plain_alone, done_p, bs, None)

    for family, run in runs.items():
        torch.manual_seed(run.seed)
        model = run.network()
        batcher = ImageBatcher(crops, run, device, args.workers)
        plain_data = PerItemCrops(crops, run)
        fixed = next(iter(batcher.epoch(bs, 3, 0)))
        batcher_stream = lambda: stream(lambda e: batcher.epoch(bs, 7, e))  # noqa: E731
        plain_stream = lambda: stream(lambda e: plain_epoch(plain_data, bs, args.workers, device, e))  # noqa: E731
        # the split runs are the measurement on a CPU (no synchronisation there, only clock reads);
        # on CUDA their synchronisations cost the overlap, so the rows are timed again untouched
        parts_p, plain = plain_parts(plain_data, Step(model, run, device), bs, args.workers, images, device)
        parts_b, fed = batcher_parts(batcher, Step(model, run, device), bs, images, device)
        if device.type == "cuda":
            plain = timed(plain_stream(), images, device, Step(model, run, device))
            fed = timed(batcher_stream(), images, device, Step(model, run, device))
        rows = {
            "ImageBatcher + step": fed,
            "plain DataLoader + step": plain,
            "compute only (one batch reused)": timed(itertools.repeat(fixed), images, device, Step(model, run, device)),
            "compute only, channels_last": timed(itertools.repeat(fixed), images, device,
                                                 Step(model, run, device, channels_last=True)),
        }
        if not args.quick:  # the layout changes only the step: the compute row says the most at half the cost
            rows["ImageBatcher + step, channels_last"] = timed(batcher_stream(), images, device,
                                                               Step(model, run, device, channels_last=True))
        print(f"{family} (ResNet-{run.resnet}, heatmap {run.heatmap_size} px"
              f"{f', {run.depth_bins} depth bins' if family == 'integral' else ''}); "
              f"ratio to the plain DataLoader + step")
        print(header)
        for name, (rate, done) in rows.items():
            row(name, rate, done, bs, plain[0])
        fmt = lambda p: ", ".join(f"{k} {v:.1f}" for k, v in p.items())  # noqa: E731
        print(f"  split, ms per batch: batcher: {fmt(parts_b)}")
        print(f"                       plain:   {fmt(parts_p)}")
        input_b = parts_b["total"] - parts_b["step"]
        input_p = parts_p["total"] - parts_p["step"]
        print(f"  plain - batcher, ms per batch (positive: the batcher is faster): "
              f"{parts_p['total'] - parts_b['total']:+.1f} = input {input_p - input_b:+.1f} "
              f"(plain wait {input_p:.1f}, batcher wait + warp + targets + other {input_b:.1f}) "
              f"+ step {parts_p['step'] - parts_b['step']:+.1f}", flush=True)
    print(f"timing took {time.perf_counter() - t_start:.0f} s; load average {os.getloadavg()[0]:.1f} "
          f"(other processes' work on the same cores distorts every row)")


if __name__ == "__main__":
    main()
