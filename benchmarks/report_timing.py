"""The report stage on the default pipeline's outputs: wall time against its 20 s target, and page size.

    .venv/bin/python benchmarks/report_timing.py [--repeat 2]

Runs ``python -m stages.report`` in a fresh process (imports included, as ``dvc repro``
runs it) over this workspace's ``data/`` (run ``make repro`` first), writing into a
temporary folder so ``data/reports`` is left alone, best of ``--repeat``. Then times the
phases in one process (collect, predictions for the renders, sections with their figures
and animations, writing) and lists the files and the size of ``index.html``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 20.0


def stage_run(out: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DVC_NO_ANALYTICS": "1", "POSE3D_LOG_LEVEL": "WARNING"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "stages.report", "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"stages.report failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def phases(out: Path) -> dict[str, float]:
    """Seconds per phase, in this process (imports already paid)."""
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    import logging

    from pose3d.report import ReportSettings, assemble, collect_inputs, write_report
    from stages.common import load_params
    from stages.report import attach_clips, resolve_experiments

    log = logging.getLogger("report_timing")
    t = {}
    t0 = time.perf_counter()
    params = load_params()
    settings = ReportSettings.from_params(params.get("report"))
    configs, networks = resolve_experiments(params)
    inputs = collect_inputs(Path("."), params, configs, networks)
    t["collect inputs + parameter counts"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    attach_clips(inputs, params, settings, log)
    t["predict the rendered test views"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = assemble(inputs, settings)
    t["sections: tables, figures, GIFs"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_report(report, out)
    t["write"] = time.perf_counter() - t0
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    if not (ROOT / "data/metrics").is_dir():
        raise SystemExit("data/metrics is absent: run `make repro` first")
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        out = Path(tmp) / "reports"
        runs = [stage_run(out) for _ in range(args.repeat)]
        best = min(runs)
        files = sorted(out.iterdir())
        sizes = {p.name: p.stat().st_size for p in files}
        in_process = phases(Path(tmp) / "phases")
    print(f"report stage (fresh process, imports included): {best:.1f} s best of {args.repeat} "
          f"({', '.join(f'{r:.1f}' for r in runs)}), {best / TARGET_S:.2f}x of the {TARGET_S:.0f} s target")
    for name, seconds in in_process.items():
        print(f"  {name:<36} {seconds:6.2f} s")
    total = sum(sizes.values())
    print(f"index.html (self-contained): {sizes['index.html'] / 1e6:.2f} MB; folder: {len(sizes)} files, "
          f"{total / 1e6:.2f} MB")
    for name, size in sizes.items():
        print(f"  {name:<36} {size / 1e3:8.1f} KB")


if __name__ == "__main__":
    main()
