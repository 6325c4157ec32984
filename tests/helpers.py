"""Helpers for stage and pipeline tests: run stages and DVC the way a user does."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SUBJECTS = ["S1", "S5", "S6", "S7", "S8", "S9", "S11"]


def stage_env() -> dict:
    """Environment for running stages/DVC as a user would: the venv's python first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    env.update(DVC_NO_ANALYTICS="1", DO_NOT_TRACK="1", GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.org",
               GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.org")
    return env


def write_params(workspace: Path, **sections) -> dict:
    """The project's params.yaml with some sections updated, written into ``workspace``."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, values in sections.items():
        params.setdefault(name, {}).update(values)
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def run_stage(module: str, workspace: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"stages.{module}", *args],
        cwd=workspace, env=stage_env(), capture_output=True, text=True, timeout=600,
    )
