"""Two training stages at once against one after the other: before and after each got its share of the cores.

    .venv/bin/python benchmarks/parallel_stages.py [--experiments srnet_1f srnet_1f] [--epochs 1] [--frame-stride 5]

Each process is the real stage, ``python -m stages.train --experiment E``, in a scratch
workspace of its own (the converted poses, linked, and the project's params.yaml with
``epochs`` shortened); DVC is left out, it only starts the command. Four timings:

- **serial, all cores**: one stage after the other, each with a thread per core: what one
  ``dvc repro`` does, and the reference of every ratio;
- **pair, all cores (before)**: both at once, each with a thread per core: what the
  ``stages`` flow with ``parallel: 2`` and the sweep with ``jobs: 2`` started before;
- **pair, share (after)**: both at once with ``POSE3D_THREADS=share_of_cores(2)``: what
  they start now;
- **serial, share**: one after the other with the share each: splits the ``after`` ratio
  into what a lone stage loses with fewer threads and what running two processes gains.

Per process, the wall time is split into start-up (imports, data, model) and the training
itself (``seconds`` of its provenance file). Needs ``data/processed/poses`` (``make repro``);
the default experiment twice makes the ideal pair ratio 0.5 (two unequal stages cannot reach it).
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

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pose3d.io.atomic import write_bytes  # noqa: E402
from pose3d.threads import THREADS_ENV, available_cores, share_of_cores  # noqa: E402

POSES = Path("data/processed/poses")


def write_params(path: Path, experiments: list[str], epochs: int, frame_stride: int | None) -> None:
    """The project's params.yaml with the chosen experiments' runs shortened, on the CPU."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"]["device"] = "cpu"
    for name in set(experiments):
        if name not in params["experiments"]:
            raise SystemExit(f"params.yaml: no experiment {name!r} (have {', '.join(params['experiments'])})")
        params["experiments"][name]["epochs"] = epochs
        if frame_stride:
            params["experiments"][name]["frame_stride"] = frame_stride
    write_bytes(path, yaml.safe_dump(params, sort_keys=False).encode())


def start(workspace: Path, experiment: str, threads: int, params: Path) -> subprocess.Popen:
    workspace.mkdir(parents=True)
    (workspace / POSES.parent).mkdir(parents=True)
    (workspace / POSES).symlink_to((ROOT / POSES).resolve(), target_is_directory=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), POSE3D_PARAMS=str(params), TQDM_DISABLE="1",
               **{THREADS_ENV: str(threads)})
    log = open(workspace / "stage.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "stages.train", "--experiment", experiment], cwd=workspace,
                            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def finish(proc: subprocess.Popen, workspace: Path, experiment: str, t0: float) -> tuple[float, float]:
    """(wall s, training s) of a started stage once it has ended."""
    proc.wait()
    wall = time.perf_counter() - t0
    log = (workspace / "stage.log").read_text()
    if proc.returncode != 0:
        raise SystemExit(f"train@{experiment} in {workspace} failed ({proc.returncode}):\n{log[-3000:]}")
    provenance = json.loads((workspace / "data/models" / f"{experiment}.provenance.json").read_text())
    return wall, float(provenance["seconds"])


def run(scratch: Path, label: str, experiments: list[str], threads: int, params: Path,
        together: bool) -> tuple[float, list[tuple[float, float]]]:
    """Wall seconds of the whole run and (wall, training) seconds of each stage."""
    spaces = [scratch / label / str(i) for i in range(len(experiments))]
    t0 = time.perf_counter()
    each = []
    if together:
        started = [(start(ws, e, threads, params), ws, e, time.perf_counter()) for ws, e in zip(spaces, experiments)]
        each = [finish(*s) for s in started]
    else:
        for ws, e in zip(spaces, experiments):
            t = time.perf_counter()
            each.append(finish(start(ws, e, threads, params), ws, e, t))
    total = time.perf_counter() - t0
    print(f"  {label:24s} {total:7.1f} s   " + "   ".join(
        f"{e}: {w:.1f} s (training {t:.1f} s)" for e, (w, t) in zip(experiments, each)), flush=True)
    return total, each


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--experiments", nargs=2, default=["srnet_1f", "srnet_1f"], metavar="NAME")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--frame-stride", type=int, default=None, help="default: the experiment's own (params.yaml)")
    args = ap.parse_args()
    if not (ROOT / POSES / "data_2d_h36m_gt.npz").is_file():
        raise SystemExit(f"{ROOT / POSES}: no converted poses; run `make repro` (or `dvc repro convert`) first")

    cores, share = available_cores(), share_of_cores(len(args.experiments))
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.1f} before starting: other processes share the cores and skew "
              f"every figure", flush=True)
    with tempfile.TemporaryDirectory(prefix="parallel-stages-") as tmp:
        scratch = Path(tmp)
        params = scratch / "params.yaml"
        write_params(params, args.experiments, args.epochs, args.frame_stride)
        print(f"{' and '.join(f'train@{e}' for e in args.experiments)}, {args.epochs} epoch(s) each, {cores} cores; "
              f"threads per stage: all cores = {cores}, share = {share}", flush=True)
        # the headline pair first, back to back; the slow "before" pair last
        serial_all, _ = run(scratch, "serial, all cores", args.experiments, cores, params, together=False)
        pair_share, _ = run(scratch, "pair, share (after)", args.experiments, share, params, together=True)
        serial_share, _ = run(scratch, "serial, share", args.experiments, share, params, together=False)
        pair_all, _ = run(scratch, "pair, all cores (before)", args.experiments, cores, params, together=True)

    print("\nwall time of the pair at once / the two one after the other with all cores each:")
    print(f"  before (each stage {cores} threads)  : {pair_all / serial_all:5.2f}x   (> 1: their threads wait for "
          f"each other's cores)")
    print(f"  after  (each stage {share} thread)   : {pair_share / serial_all:5.2f}x   (target <= 0.60x)")
    print(f"  the pair, before / after        : {pair_all / pair_share:5.2f}x faster")
    print("where the after ratio comes from: after = (a) x (b)")
    print(f"  (a) a lone stage with {share} thread instead of {cores}: {serial_share / serial_all:5.2f}x its time "
          f"(what the extra threads give one stage)")
    print(f"  (b) two at once, {share} thread each, against one after the other with {share}: "
          f"{pair_share / serial_share:5.2f}x (0.50: each process on a core of its own, nothing lost)")


if __name__ == "__main__":
    main()
