"""Triangulation throughput: the batched DLT against a per-joint SVD loop and a stacked SVD, and the full-profile time.

    .venv/bin/python benchmarks/triangulation.py [--loop-poses 300] [--batch-poses 20000] [--frames 527599]

Poses are 17 random points in the capture volume, projected into S9's four cameras with
the Human3.6M distortion (2 px noise), so every system is a realistic one. Four numbers:

- **ratio**: poses/s (17 joints x 4 views) of :func:`pose3d.geometry.triangulation.triangulate_dlt`
  against learnable-triangulation's numpy way (a Python loop over joints; per joint the
  (2V x 4) system built row by row and solved with ``numpy.linalg.svd``), on the same
  undistorted points, in one run;
- **batching alone**: the same systems, all built at once and solved by one stacked
  ``numpy.linalg.svd`` call (no Python loop, no torch): what batching gives without the
  project's solver, so the headline ratio splits into batching x solver;
- the batched torch path (SVD, differentiable) for reference;
- **full profile**: the 527,599 frames of the real sequence table x 4 views, in blocks of
  50,000 frames: DLT alone, undistortion + DLT, and undistortion + RANSAC-DLT.
Generation of the inputs is not timed. Single process.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pose3d.geometry import triangulation as tri  # noqa: E402
from pose3d.geometry.projection import project_world  # noqa: E402
from pose3d.h36m.cameras import subject_cameras  # noqa: E402

CAMS = subject_cameras("S9")
PROJ = tri.projection_matrices(CAMS)


def make_views(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 17, 4, 2) distorted pixels of random points in the capture volume (2 px noise), and the points."""
    rng = np.random.default_rng(seed)
    x = rng.uniform([-1500, -1500, 0], [1500, 1500, 1900], size=(n, 17, 3))
    uv = np.stack([project_world(x, c) for c in CAMS], axis=-2)
    return uv + rng.normal(scale=2.0, size=uv.shape), x


def loop_svd(proj: np.ndarray, points: np.ndarray) -> np.ndarray:
    """learnable-triangulation's ``triangulate_point_from_multiple_views_linear`` (numpy)."""
    n_views = len(proj)
    a = np.zeros((2 * n_views, 4))
    for j in range(n_views):
        a[j * 2 + 0] = points[j][0] * proj[j][2, :] - proj[j][0, :]
        a[j * 2 + 1] = points[j][1] * proj[j][2, :] - proj[j][1, :]
    _, _, vh = np.linalg.svd(a, full_matrices=False)
    x = vh[3, :]
    return x[:3] / x[3]


def stacked_svd(proj: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The loop's systems for all (..., V, 2) points at once: one (..., 2V, 4) stack, one ``numpy.linalg.svd``."""
    rows = points[..., None] * proj[:, 2, None, :] - proj[:, :2, :]  # (..., V, 2, 4): rows 2j, 2j+1 of view j
    _, _, vh = np.linalg.svd(rows.reshape(*points.shape[:-2], 2 * len(proj), 4), full_matrices=False)
    x = vh[..., 3, :]
    return x[..., :3] / x[..., 3:]


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop-poses", type=int, default=300)
    ap.add_argument("--batch-poses", type=int, default=20000)
    ap.add_argument("--frames", type=int, default=527_599)
    ap.add_argument("--block", type=int, default=50_000)
    args = ap.parse_args()

    uv, truth = make_views(args.batch_poses, 0)
    und = tri.undistort_views(uv, CAMS)
    small = und[: args.loop_poses]

    def run_loop():
        return np.array([[loop_svd(PROJ, small[f, j]) for j in range(17)] for f in range(len(small))])

    t_loop = best_of(run_loop, 2)
    t_stacked = best_of(lambda: stacked_svd(PROJ, und))
    t_batch = best_of(lambda: tri.triangulate_dlt(und, PROJ))
    ref = run_loop()
    stacked_agree = float(np.abs(ref - stacked_svd(PROJ, small)).max())
    ours, valid = tri.triangulate_dlt(small, PROJ)
    agree = float(np.abs(ref - ours).max())
    err_loop = np.linalg.norm(ref - truth[: len(small)], axis=-1).mean()
    err_ours = np.linalg.norm(ours - truth[: len(small)], axis=-1).mean()
    loop_rate, stacked_rate, batch_rate = len(small) / t_loop, len(und) / t_stacked, len(und) / t_batch
    print(f"per-joint loop + numpy.linalg.svd : {loop_rate:12,.0f} poses/s  ({len(small)} poses)")
    print(f"stacked numpy.linalg.svd          : {stacked_rate:12,.0f} poses/s  ({len(und)} poses; "
          f"max difference to the loop {stacked_agree:.2g} mm)")
    print(f"batched DLT (numpy)               : {batch_rate:12,.0f} poses/s  ({len(und)} poses)")
    print(f"ratio batched / loop              : {batch_rate / loop_rate:12.1f} x")
    print(f"  of which batching alone         : {stacked_rate / loop_rate:12.1f} x  (stacked SVD / loop)")
    print(f"  and the solver                  : {batch_rate / stacked_rate:12.1f} x  (batched DLT / stacked SVD)")
    print(f"max difference to the loop        : {agree:12.3g} mm (conditioning; all valid: {bool(valid.all())})")
    print(f"mean error vs truth, 2 px noise   : loop {err_loop:.2f} mm, batched {err_ours:.2f} mm")

    import torch

    und_t, proj_t = torch.from_numpy(und), torch.from_numpy(PROJ)
    t_torch = best_of(lambda: tri.triangulate_dlt(und_t, proj_t))
    threads = torch.get_num_threads()
    print(f"batched DLT (torch SVD, float64)  : {len(und) / t_torch:12,.0f} poses/s  (torch threads {threads})")

    timings = {"dlt": 0.0, "undistort+dlt": 0.0, "undistort+ransac": 0.0}
    done = 0
    while done < args.frames:
        n = min(args.block, args.frames - done)
        uv, _ = make_views(n, 1 + done)
        t0 = time.perf_counter()
        u = tri.undistort_views(uv, CAMS)
        t1 = time.perf_counter()
        tri.triangulate_dlt(u, PROJ)
        t2 = time.perf_counter()
        tri.triangulate_ransac(u, PROJ, threshold_px=15.0)
        t3 = time.perf_counter()
        timings["dlt"] += t2 - t1
        timings["undistort+dlt"] += t2 - t0
        timings["undistort+ransac"] += (t1 - t0) + (t3 - t2)
        done += n
    print(f"full profile ({done:,} frames x 17 joints x 4 views):")
    for name, secs in timings.items():
        print(f"  {name:18s} {secs:7.1f} s  ({done / secs:10,.0f} frames/s)")


if __name__ == "__main__":
    main()
