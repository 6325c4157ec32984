"""Convert at Human3.6M scale: the `convert` stage against a straightforward single-process loop.

Two single-process baselines build the same two dicts with cdflib, without checks:
VideoPose3D's ``prepare_data_h36m.py`` loop (3D from D3_Positions, 2D projected from it,
``np.savez_compressed``; the named baseline), and a lean variant of it that reads the 2D
from the D2_Positions files and writes uncompressed. Ratios are against the first.

The convert stage runs twice more: with ``workers: 1`` next to the default (2 workers), so
the part that the process pool gives is apart from the part of the code itself.

Each side runs in its own fresh process, timed best of ``--repeat``; peak memory comes
from a separate run, as the sum of the proportional set sizes (PSS: shared pages counted
once) of the process and its children. The convert side's workers share the output
through memory-mapped files, which RSS would count once per process.

    .venv/bin/python benchmarks/convert_full.py [--profile full] [--raw data/bench/<profile>] [--repeat 2]

The synthetic profile (``full``: 527,599 frames per camera, 1,890 CDFs; ``tiny``, 1/40 of
it, for a check in seconds) is generated into ``--raw`` first if it is not there yet.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SUBJECTS = ["S1", "S5", "S6", "S7", "S8", "S9", "S11"]

# VideoPose3D's prepare_data_h36m.py: cdflib for every D3_Positions file, 2D projected per
# camera from the 3D (its world_to_camera / project_to_2d / image_coordinates, here in numpy),
# both dicts saved with np.savez_compressed.
BASELINE_VP3D = r"""
import sys, glob, os
import cdflib, numpy as np
from pose3d.h36m.cameras import subject_cameras
raw, out = sys.argv[1], sys.argv[2]
keep = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
p3, p2 = {}, {}
for subject in %(subjects)r:
    p3[subject] = {}
    for f in glob.glob(os.path.join(raw, subject, 'MyPoseFeatures/D3_Positions/*.cdf')):
        action = os.path.splitext(os.path.basename(f))[0]
        if subject == 'S11' and action == 'Directions':
            continue
        name = action.replace('TakingPhoto', 'Photo').replace('WalkingDog', 'WalkDog')
        positions = cdflib.CDF(f).varget('Pose').reshape(-1, 32, 3) / 1000
        p3[subject][name] = positions.astype('float32')
np.savez_compressed(os.path.join(out, 'data_3d_h36m.npz'), positions_3d=p3)
for subject in p3:
    cams = subject_cameras(subject)
    p2[subject] = {}
    for action, pos in p3[subject].items():
        views = []
        for cam in cams:
            x = (pos[:, keep] - cam.centre_mm / 1000) @ cam.r_cam_to_world
            xy = x[..., :2] / x[..., 2:]
            r2 = np.sum(xy ** 2, axis=-1, keepdims=True)
            k1, k2, k3 = cam.radial_k123
            p = cam.tangential_vp3d_p1p2
            radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
            tan = np.sum(xy * p, axis=-1, keepdims=True)
            xy = xy * (radial + tan) + p * r2
            views.append((xy * cam.focal_px + cam.centre_px).astype('float32'))
        p2[subject][action] = views
np.savez_compressed(os.path.join(out, 'data_2d_h36m_gt.npz'), positions_2d=p2,
                    metadata={'num_joints': 17, 'keypoints_symmetry': [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]})
"""

# The same loop made as cheap as a loop gets: 2D read from the D2_Positions files, no
# projection, np.savez without compression.
BASELINE_LEAN = r"""
import sys, glob, os
import cdflib, numpy as np
from pose3d.h36m.sequences import canonical_key
from pose3d.h36m.cameras import CAMERA_IDS
raw, out = sys.argv[1], sys.argv[2]
keep = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
p3, p2 = {}, {}
for subject in %(subjects)r:
    p3[subject], p2[subject] = {}, {}
    for f in sorted(glob.glob(os.path.join(raw, subject, 'MyPoseFeatures/D3_Positions/*.cdf'))):
        base = os.path.splitext(os.path.basename(f))[0]
        if subject == 'S11' and base == 'Directions':
            continue
        pos = cdflib.CDF(f).varget('Pose').reshape(-1, 32, 3)
        key = canonical_key(base)
        p3[subject][key] = (pos / 1000).astype('float32')
        views = []
        for cam in CAMERA_IDS:
            g = os.path.join(raw, subject, 'MyPoseFeatures/D2_Positions', f'{base}.{cam}.cdf')
            views.append(cdflib.CDF(g).varget('Pose').reshape(-1, 32, 2)[:, keep].astype('float32'))
        p2[subject][key] = views
np.savez(os.path.join(out, 'data_3d_h36m.npz'), positions_3d=p3)
np.savez(os.path.join(out, 'data_2d_h36m_gt.npz'), positions_2d=p2, metadata={'num_joints': 17})
"""

OURS = r"""
import sys
from pathlib import Path
from pose3d.h36m.convert import convert_archive
from pose3d.h36m.sequences import resolve_rules
from stages.convert import expected_frames
raw, out = Path(sys.argv[1]), Path(sys.argv[2])
expected = expected_frames(raw, %(subjects)r)
convert_archive(raw, expected, out, tuple(resolve_rules(['s11_directions'])), check_mono=%(mono)r, workers=%(workers)r)
"""


def run(code: str, raw: Path, sample_memory: bool) -> tuple[float, int]:
    """Wall seconds, or peak bytes (PSS of the process and its children), of ``code``.

    Timing runs do not sample: reading /proc/<pid>/smaps takes the process's memory-map
    lock and would slow the very page faults being timed.
    """
    with tempfile.TemporaryDirectory(dir=raw.parent) as out:
        # Start each run with no dirty pages: the kernel throttles writers while earlier
        # runs' outputs are flushed, which would charge one side for the other's writes.
        os.sync()
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code, str(raw), out], cwd=ROOT)
        ps, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            if sample_memory:
                try:
                    peak = max(peak, sum(p.memory_full_info().pss for p in [ps, *ps.children(recursive=True)]))
                except psutil.Error:
                    pass
            time.sleep(0.05 if sample_memory else 0.005)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"benchmark process failed with exit code {proc.returncode}")
        return wall, peak


def ensure_profile(raw: Path, profile: str) -> dict:
    """The manifest of the synthetic tree of ``profile`` in ``raw``, generated first if need be."""
    manifest = raw / "synthetic_manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text())["profile"] == profile:
        return json.loads(manifest.read_text())
    print(f"generating the {profile} profile into {raw} (once) ...", flush=True)
    from pose3d.parallel import pmap
    from pose3d.synth.archive import SubjectJob, write_subject
    from pose3d.synth.manifest import write_manifest

    raw.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    frames = pmap(write_subject, [SubjectJob(str(raw), s, profile, 0) for s in SUBJECTS], workers=2)
    write_manifest(raw, profile, 0, dict(zip(SUBJECTS, frames)))
    print(f"  generated in {time.perf_counter() - t0:.0f} s", flush=True)
    return json.loads(manifest.read_text())


def output_bytes(manifest: dict) -> int:
    """Size of the arrays both sides produce: 3D (N,32,3) and 4 x 2D (N,17,2), float32."""
    n = sum(frames for subj in SUBJECTS for base, frames in manifest["pose_frames"][subj].items()
            if not (subj == "S11" and base == "Directions"))
    return n * 32 * 3 * 4 + 4 * n * 17 * 2 * 4


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=["tiny", "default", "full"], default="full")
    ap.add_argument("--raw", type=Path, default=None, help="default: data/bench/<profile>")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    raw = args.raw or ROOT / "data/bench" / args.profile
    out_mb = output_bytes(ensure_profile(raw, args.profile)) / 2**20
    sides = {
        "VideoPose3D's preparation loop (1 process, compressed)": BASELINE_VP3D % {"subjects": SUBJECTS},
        "lean loop (1 process, D2 files, uncompressed, no checks)": BASELINE_LEAN % {"subjects": SUBJECTS},
        "convert (default params: 2 workers, all D2 checks)": OURS % {"subjects": SUBJECTS, "mono": False,
                                                                      "workers": 2},
        "convert (workers: 1, all D2 checks)": OURS % {"subjects": SUBJECTS, "mono": False, "workers": 1},
        "convert (check_mono: true, also reads D3_Positions_mono)": OURS % {"subjects": SUBJECTS, "mono": True,
                                                                            "workers": 2},
    }
    best: dict[str, tuple[float, int]] = {name: (float("inf"), 0) for name in sides}
    for _ in range(args.repeat):  # interleaved, so that page-cache warmth is shared fairly
        for name, code in sides.items():
            wall = run(code, raw, sample_memory=False)[0]
            best[name] = (min(best[name][0], wall), best[name][1])
    for name, code in sides.items():
        best[name] = (best[name][0], run(code, raw, sample_memory=True)[1])
    (vp3d_wall, _), (lean_wall, _) = list(best.values())[:2]
    print(f"\n{args.profile} profile: {len(SUBJECTS)} subjects, output arrays {out_mb:.0f} MiB, best of {args.repeat}")
    print(f"{'side':60s} {'wall s':>7s} {'vs VP3D':>8s} {'vs lean':>8s} {'peak MiB':>9s} {'peak/out':>9s}")
    for name, (wall, peak) in best.items():
        print(f"{name:60s} {wall:7.2f} {vp3d_wall / wall:7.2f}x {lean_wall / wall:7.2f}x "
              f"{peak / 2**20:9.0f} {peak / 2**20 / out_mb:8.2f}x")
    one = best["convert (workers: 1, all D2 checks)"][0]
    two = best["convert (default params: 2 workers, all D2 checks)"][0]
    print(f"\nconvert against VideoPose3D's loop: {vp3d_wall / two:.2f}x = {vp3d_wall / one:.2f}x in one process "
          f"(the code) x {one / two:.2f}x from the second worker (the pool)")

if __name__ == "__main__":
    main()
