"""The robustness sweep's cost against one plain evaluation, and where its saving comes from.

    make repro && .venv/bin/python benchmarks/robustness_sweep.py [--experiments fc_1f rsnet_1f ...]

For each trained experiment (default: every default experiment and phase), side by side in one
process on the headline test views, with the settings of params.yaml (``evaluate``):

1. **plain**: one evaluation, every frame, test-time flip (what ``evaluate@`` scores);
2. **per corruption**: the plain evaluation once per corruption, on corrupted input: what running
   the stage once per corruption would cost, without even the process start-ups;
3. **strided, one at a time**: every ``robustness_stride``-th frame, each corruption predicted
   on its own (:func:`predict_frames` with one version);
4. **sweep**: what ``evaluate@`` runs (:func:`robustness_sweep`), all corruptions of a view
   batched into one pass, through the strided (training) twin of a temporal model, which computes
   only each window's centre frame;
5. **sweep, whole-sequence form**: the same through the evaluation (dilated) form, which computes
   every frame of each window (the same numbers, more work).

Prints seconds and ratios against 1: (2)/(3) is the part of the gain from scoring every k-th frame,
(3)/(4) the part from batching, (5)/(4) the part from the strided twin, and (4)/(1) the figure the
target is set on (under 3x).
Threads: the process's share of the cores (``POSE3D_THREADS``, as the stages).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pose3d.detections.corruptions import perturbations  # noqa: E402
from pose3d.experiments import (SEQUENCES_CSV, experiment_config, experiment_data, experiment_names,  # noqa: E402
                                skeleton_for, split_for, trained_model, window_twin)
from pose3d.h36m.cameras import get_camera  # noqa: E402
from pose3d.h36m.vp3d_format import load_2d  # noqa: E402
from pose3d.models.registry import takes_camera  # noqa: E402
from pose3d.params import section  # noqa: E402
from pose3d.threads import limit_threads  # noqa: E402
from pose3d.training.inference import predict_frames, predict_view  # noqa: E402
from pose3d.training.loop import resolve_device  # noqa: E402
from pose3d.training.robustness import robustness_sweep  # noqa: E402
from pose3d.training.scoring import score_views  # noqa: E402


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def one_at_a_time(model, data, gt_2d, views, cases, rf, device, tta, norm, skeleton, stride) -> None:
    """Strided frames, each corruption in its own pass (the sweep without batching)."""
    for subject, key, cam in views:
        n = data.positions_3d[subject][key].shape[0]
        gt = gt_2d[subject][key][cam][:n]
        camera = get_camera(subject, cam)
        frames = np.arange(0, n, stride)
        for c in cases:
            det = c.apply(gt, subject, key, cam, (camera.width_px, camera.height_px), data.scores)
            (v,) = data.versions(subject, key, cam, [det], norm, skeleton)
            cond = v.camera_condition() if takes_camera(model) else None
            predict_frames(model, v.pose2d[None], frames, rf, device, tta=tta, skeleton=skeleton, camera=cond)


def per_corruption(model, data, gt_2d, views, cases, rf, device, tta, norm, skeleton) -> None:
    """The plain evaluation once per corruption, every frame."""
    for c in cases[1:]:
        def predict(v):
            camera = get_camera(v.subject, v.camera)
            det = c.apply(gt_2d[v.subject][v.key][v.camera][:len(v.pose3d)], v.subject, v.key, v.camera,
                          (camera.width_px, camera.height_px), data.scores)
            (w,) = data.versions(v.subject, v.key, v.camera, [det], norm, skeleton)
            return predict_view(model, w, rf, device, tta)
        score_views(data, views, predict, norm, skeleton)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiments", nargs="*", help="default: every experiment and phase of params.yaml")
    args = ap.parse_args()
    threads = limit_threads()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    settings = section(params, "evaluate")
    cases = perturbations(settings.robustness)
    stride, tta = settings.robustness_stride, settings.tta
    gt_2d, _ = load_2d(ROOT / "data/processed/poses/data_2d_h36m_gt.npz")
    print(f"{len(cases) - 1} corruptions + gt, every {stride}th frame for the sweep, tta {tta}, {threads} threads\n")
    print(f"{'experiment':22s} {'plain s':>8s} {'per corr.':>10s} {'strided':>8s} {'sweep':>7s} {'dilated':>8s} "
          f"{'sweep/plain':>12s} {'stride gain':>12s} {'batch gain':>11s} {'twin gain':>10s} {'vs per-corr.':>13s}")
    ratios = []
    for name in args.experiments or experiment_names(params):
        cfg = experiment_config(params, name)
        data = experiment_data(cfg, params, "eval_input_2d", ROOT)
        split = split_for(cfg, params, data.available, ROOT / SEQUENCES_CSV)
        views = split.tests[split.headline]
        model, _ = trained_model(name, cfg)
        device = resolve_device("auto")
        model = model.to(device).eval()
        rf, norm, skeleton = model.receptive_field, cfg.get("norm", "base"), skeleton_for(cfg)
        windows = window_twin(cfg, model)  # what evaluate@ sweeps with
        common = (windows, data, gt_2d, views, cases, rf, device, tta, norm, skeleton)
        plain = timed(lambda: score_views(data, views, lambda v: predict_view(model, v, rf, device, tta=tta),
                                          norm, skeleton))
        dilated = timed(lambda: robustness_sweep(model, data, gt_2d, views, cases, rf, device, tta, norm, skeleton,
                                                 stride))  # the same sweep through the whole-sequence form
        naive = timed(lambda: per_corruption(model, *common[1:])) + plain  # the gt row is the plain evaluation itself
        strided = timed(lambda: one_at_a_time(*common, stride))
        sweep = timed(lambda: robustness_sweep(*common[:4], cases, rf, device, tta, norm, skeleton, stride))
        ratios.append(sweep / plain)
        print(f"{name:22s} {plain:8.1f} {naive:10.1f} {strided:8.1f} {sweep:7.1f} {dilated:8.1f} {sweep / plain:11.2f}x "
              f"{naive / strided:11.2f}x {strided / sweep:10.2f}x {dilated / sweep:9.2f}x {naive / sweep:12.1f}x",
              flush=True)
    print(f"\nsweep / plain evaluation: median {np.median(ratios):.2f}x, max {max(ratios):.2f}x (target: under 3x)")


if __name__ == "__main__":
    main()
