"""The default pipeline from a fresh clone, and a no-op `dvc repro`, in this project's .venv.

    .venv/bin/python benchmarks/pipeline_timing.py

Clones the committed HEAD into a temporary folder (so nothing cached here helps), runs
`dvc repro` there (the work `make repro` does after installing), then `dvc repro` again
with nothing changed. Prints both against their targets (a few minutes; 3 s).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOOP_TARGET_S = 3.0


def timed(cmd: list[str], cwd: Path, env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return time.perf_counter() - t0


def main() -> None:
    env = dict(os.environ, DVC_NO_ANALYTICS="1", DO_NOT_TRACK="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    dvc = [str(Path(sys.executable).parent / "dvc")]
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        full = timed(dvc + ["repro"], clone, env)
        noops = [timed(dvc + ["repro"], clone, env) for _ in range(3)]
    noop = min(noops)
    print(f"fresh clone, default pipeline (dvc repro): {full / 60:.1f} min ({full:.0f} s)")
    print(f"no-op dvc repro: {noop:.2f} s (best of 3), {noop / NOOP_TARGET_S:.2f}x of the {NOOP_TARGET_S:.0f} s target")


if __name__ == "__main__":
    main()
