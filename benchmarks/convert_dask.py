"""Convert at Human3.6M scale through a Dask cluster against the default process pool.

Both sides run the same ``convert_archive`` call on the `full` synthetic profile (7 subjects,
1,890 CDFs), two workers each: a ``ProcessPoolExecutor`` (``convert.dask_address: null``) and a
``dask.distributed.LocalCluster`` on loopback with two single-threaded worker processes
(``convert.dask_address: tcp://...``). The cluster is started before its timing starts, as a
standing cluster would be. Outputs must be byte-identical; the figure is the ratio of wall
times, best of ``--repeat``, the sides interleaved.

The cluster runs twice: with Dask's default worker environment, whose
``MALLOC_TRIM_THRESHOLD_=65536`` (``distributed.nanny.pre-spawn-environ``) turns off glibc's
adaptive mmap threshold, so that every large temporary array is a fresh ``mmap`` with its page
faults (measured: about 2x on convert's float32 blocks); and with that variable unset, as the
README recommends for clusters that run these stages.

    .venv/bin/python benchmarks/convert_dask.py [--raw data/bench/full] [--repeat 2]
"""
from __future__ import annotations

import argparse
import contextlib
import filecmp
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.convert_full import SUBJECTS, ensure_full  # noqa: E402


def convert(raw: Path, out: Path, dask_address: str | None) -> float:
    from pose3d.h36m.convert import convert_archive
    from pose3d.h36m.sequences import resolve_rules
    from stages.convert import expected_frames

    expected = expected_frames(raw, SUBJECTS)
    t0 = time.perf_counter()
    convert_archive(raw, expected, out, tuple(resolve_rules(["s11_directions"])), workers=2, dask_address=dask_address)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", type=Path, default=ROOT / "data/bench/full")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    ensure_full(args.raw)
    import dask
    from distributed import LocalCluster

    trim = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
    # the unset cluster first: a nanny also writes its pre-spawn variables into the environment
    # of the process that starts it, where every later worker process would inherit them
    clusters = {"dask, malloc trim unset": {trim: None}, "dask, default workers": {}}
    sides = ["process pool", *clusters]
    best = {name: float("inf") for name in sides}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=args.raw.parent)))
        addresses: dict[str, str | None] = {"process pool": None}
        for name, config in clusters.items():
            with dask.config.set(config):
                cluster = stack.enter_context(LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                                           dashboard_address=None, host="127.0.0.1"))
            addresses[name] = cluster.scheduler_address
        outs = {name: tmp / str(i) for i, name in enumerate(sides)}
        for _ in range(args.repeat):
            for name in sides:
                shutil.rmtree(outs[name], ignore_errors=True)
                wall = convert(args.raw, outs[name], addresses[name])
                print(f"  {name}: {wall:.2f} s", flush=True)
                best[name] = min(best[name], wall)
        files = sorted(p.name for p in outs["process pool"].iterdir())
        print(f"\nfull profile, {len(SUBJECTS)} subjects, 2 workers each, best of {args.repeat}")
        for name, wall in best.items():
            line = f"  {name:26s} {wall:7.2f} s"
            if name in clusters:
                match, mismatch, errors = filecmp.cmpfiles(outs["process pool"], outs[name], files, shallow=False)
                if mismatch or errors:
                    raise SystemExit(f"{name}: outputs differ from the process pool's: {mismatch + errors}")
                line += f"  {wall / best['process pool']:.2f}x the pool's time, {len(match)} files byte-identical"
            print(line)


if __name__ == "__main__":
    main()
