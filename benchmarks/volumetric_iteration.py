"""Per-iteration time of the volumetric model (one optimiser step on a batch of 4-view samples), by part.

Compares, side by side in one run, cube sizes (16^3, the CPU default, against 32^3) and this
project's step against learnable-triangulation's, which runs every step under
``torch.autograd.detect_anomaly()``. The time of one step is split into the backbone (ResNet +
deconvolutions + process_features), the unprojection and view aggregation, V2V, and the
soft-argmax + loss + backward + optimiser step (the rest). Synthetic inputs: random images and
real Human3.6M cameras (S9), so no data stage is needed.

    .venv/bin/python benchmarks/volumetric_iteration.py            # CPU: 16^3 and 32^3, ResNet-18, 64 px, batch 2
    .venv/bin/python benchmarks/volumetric_iteration.py --seed     # the seed's size: ResNet-152, 384 px, 64^3, batch 5 (GPU)

On CUDA the step runs under bfloat16 autocast, as training does.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from pose3d.geometry.cube import aggregate_softmax, cube_grid, scale_pixels, unproject
from pose3d.geometry.triangulation import projection_matrix
from pose3d.h36m.cameras import get_camera
from pose3d.models.volumetric import Volumetric
from pose3d.multiview.losses import volumetric_loss
from pose3d.multiview.samples import crop_affine
from pose3d.threads import limit_threads
from pose3d.training.loop import resolve_device


def batch(b: int, size: int, device: torch.device):
    """Random images, the four S9 cameras cropped around a standing person, the true pelvis."""
    pelvis = np.array([[-200.0, 300.0, 900.0]])
    proj = []
    for c in range(4):
        p = projection_matrix(get_camera("S9", c))
        uvw = p @ np.r_[pelvis[0], 1.0]
        centre = uvw[:2] / uvw[2]
        side = 600.0
        proj.append(crop_affine(side / size, centre - side / 2) @ p)
    proj = torch.tensor(np.stack(proj))[None].expand(b, -1, -1, -1).float().to(device)
    images = torch.randn(b, 4, 3, size, size, device=device)
    views = torch.ones(b, 4, dtype=torch.bool, device=device)
    centre = torch.tensor(pelvis, dtype=torch.float32, device=device).expand(b, -1)
    target = centre[:, None] + torch.randn(b, 17, 3, device=device) * 300
    angle = torch.rand(b, device=device) * 2 * np.pi
    return images, proj, views, centre, angle, target


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed_parts(model: Volumetric, inputs, device, amp: bool) -> dict[str, float]:
    """Seconds of each part of one forward pass (no gradient), measured part by part."""
    images, proj, views, centre, angle, _ = inputs
    out = {}
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        sync(device)
        t = time.perf_counter()
        b, v = images.shape[:2]
        feats = model.process_features(model.deconv_layers(model.features(images.flatten(0, 1))))
        sync(device)
        out["backbone"] = time.perf_counter() - t
        t = time.perf_counter()
        feats = feats.float().reshape(b, v, *feats.shape[1:])
        grid = cube_grid(centre, model.cube_size, model.cube_side_mm, angle)
        cube = aggregate_softmax(unproject(feats, scale_pixels(proj, feats.shape[-1] / images.shape[-1]), grid), views)
        sync(device)
        out["unproject"] = time.perf_counter() - t
        t = time.perf_counter()
        model.volume_net(cube)
        sync(device)
        out["v2v"] = time.perf_counter() - t
    return out


def step_time(model, opt, inputs, device, amp: bool, anomaly: bool, repeats: int) -> float:
    images, proj, views, centre, angle, target = inputs
    times = []
    for i in range(repeats + 1):
        sync(device)
        t = time.perf_counter()
        with torch.autograd.set_detect_anomaly(anomaly), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            outputs = model(images, proj, views, centre, angle, outputs=True)
        loss = volumetric_loss(outputs, target)
        opt.zero_grad(set_to_none=True)
        with torch.autograd.set_detect_anomaly(anomaly):
            loss.backward()
        opt.step()
        sync(device)
        if i:  # the first step warms the allocator and the kernels
            times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", action="store_true", help="the seed's sizes (ResNet-152, 384 px, 64^3, batch 5)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    limit_threads(args.threads)
    device = resolve_device("auto")
    amp = device.type == "cuda"
    if args.seed:
        arch, size, cubes, b = {"resnet": 152, "head_filters": 256}, 384, (64,), 5
    else:
        arch, size, cubes, b = {"resnet": 18, "head_filters": 64}, 64, (16, 32), 2
    print(f"device {device}{' (bfloat16 autocast)' if amp else ''}, {torch.get_num_threads()} threads, batch {b} x 4 "
          f"views, ResNet-{arch['resnet']} at {size} px")
    rows = []
    for n in cubes:
        torch.manual_seed(0)
        model = Volumetric(**arch, cube_size=n).to(device).train()
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        inputs = batch(b, size, device)
        ours = step_time(model, opt, inputs, device, amp, anomaly=False, repeats=args.repeats)
        seeds = step_time(model, opt, inputs, device, amp, anomaly=True, repeats=args.repeats)
        parts = timed_parts(model, inputs, device, amp)
        rows.append((n, ours, seeds, parts))
    base = rows[0][1]
    print(f"{'cube':>6} {'step s':>8} {'it/s':>7} {'vs first':>9} {'LT loop s':>10} {'ours vs LT':>11}   "
          f"forward parts (s): backbone / unprojection+aggregation / V2V")
    for n, ours, seeds, parts in rows:
        print(f"{n:>4}^3 {ours:8.3f} {1 / ours:7.2f} {ours / base:8.2f}x {seeds:10.3f} {seeds / ours:10.2f}x   "
              f"{parts['backbone']:.3f} / {parts['unproject']:.3f} / {parts['v2v']:.3f}")


if __name__ == "__main__":
    main()
