"""A real, temporary git + DVC copy of the project with the tiny profile, for the flow tests.

params.yaml is edited round-trip (ruamel), so its comments survive: the tests check that
the flow keeps them.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from tests.helpers import ROOT, stage_env

#: seconds-long training with the cheapest model: the orchestration is under test, not the models
TINY_TRAIN = {"device": "cpu", "epochs": 1, "frame_stride": 4, "val_max_views": 4, "bn_recalibrate": 2}
TINY_EXPERIMENTS = {
    "fc_a": {"model": "fc", "input_2d": "gt", "eval_input_2d": "gt", "channels": 64, "loss": "l1"},
    "fc_b": {"model": "fc", "input_2d": "gt", "eval_input_2d": "gt", "channels": 32, "norm": "base", "loss": "l1"},
}
#: the rest of the tiny profile, set where params.yaml has the key (sections come and go)
TINY = {
    "synthesize.profile": "tiny",
    "synthesize.workers": 1,
    "synthesize.videos.subjects": ["S9"],
    "synthesize.videos.actions": ["Walking"],
    "synthesize.videos.cameras": [0],
    "dataset.subjects": ["S1", "S9"],
    "dataset.train_subjects": ["S1"],
    "dataset.test_subjects": ["S9"],
    "dataset.exclude": [],
    "frames.subjects": ["S9"],
    "frames.workers": 1,
    "convert.workers": 1,
    "priors.workers": 1,
    "evaluate.tta": False,
}
COPIED = ("pose3d", "stages", "pipelines", "dvc.yaml", ".gitignore", ".dvcignore", "prefect.yaml", "prefect.toml")


def env(**extra: str) -> dict:
    """The environment a user's shell has after ``make``: venv first on PATH, offline settings."""
    out = stage_env()
    out.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
               PREFECT_SERVER_UI_ENABLED="false")
    out.update(extra)
    return out


def sh(ws: Path, *args: str, check: bool = True, timeout: float = 600, **env_extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), cwd=ws, env=env(**env_extra), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def dvc(ws: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(ws, sys.executable, "-m", "dvc", *args, check=check)


def make_workspace(dest: Path) -> Path:
    """Copy the code and pipeline into ``dest``, shrink params.yaml to the tiny profile, and
    commit it all (``dvc exp`` needs a commit)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.is_file():
            shutil.copy(src, dest / name)
    yaml = YAML()
    yaml.width = 4096  # keep long flow-style lines on one line, as written
    yaml.preserve_quotes = True
    yaml.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    params = yaml.load(ROOT / "params.yaml")
    for key, value in TINY.items():
        *parents, last = key.split(".")
        node = params
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and last in node:
            node[last] = value
    params["train"].update(TINY_TRAIN)
    experiments = params["experiments"]
    for name in list(experiments):
        del experiments[name]
    experiments.update(json.loads(json.dumps(TINY_EXPERIMENTS)))
    for name in list(params["phases"]):  # the phase chain has its own test (tests/test_pipeline_dvc.py)
        del params["phases"][name]
    # so do the image models and the detector (tests/test_pipeline_dvc.py, tests/images): no crops of S1 here
    for name in list(params["image_experiments"]):
        del params["image_experiments"][name]
    params["detect"]["experiments"] = []
    for name in list(params["inputs_2d"]):
        if name not in ("gt", "noisy"):
            del params["inputs_2d"][name]
    yaml.dump(params, dest / "params.yaml")
    sh(dest, "git", "init", "-q")
    dvc(dest, "init", "-q")
    dvc(dest, "config", "core.analytics", "false")
    sh(dest, "git", "add", "-A")
    sh(dest, "git", "commit", "-qm", "pipeline")
    return dest


def clone_workspace(seed: Path, dest: Path) -> Path:
    """A copy of a prepared workspace (git, DVC cache and outputs included): cheaper than a
    fresh ``dvc repro``; DVC re-hashes the copied files on first use."""
    shutil.copytree(seed, dest, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    lock = dest / ".dvc" / "tmp" / "lock"
    if lock.exists():
        os.unlink(lock)
    return dest


def stage_names(ws: Path) -> list[str]:
    """Every stage of the workspace's pipeline, as DVC names them."""
    return dvc(ws, "stage", "list", "--name-only").stdout.split()


def is_clean(ws: Path) -> bool:
    return json.loads(dvc(ws, "status", "--json").stdout or "{}") == {}


def uncached_outputs(ws: Path) -> list[str]:
    """Outputs declared ``cache: false`` (metrics, plots, small tables): Git, not DVC, keeps them."""
    from dvc.repo import Repo

    with Repo(str(ws)) as repo:
        return sorted({str(out.fs_path) for out in repo.index.outs if not out.use_cache and Path(out.fs_path).exists()})


def commit_all(ws: Path, message: str = "results") -> None:
    """Commit dvc.lock and the uncached outputs, as a user does after ``dvc repro``: queued and
    temporary experiments start from the commit, so they need those files in it."""
    sh(ws, "git", "add", "-A")
    outs = uncached_outputs(ws)
    if outs:
        sh(ws, "git", "add", "-f", *outs)
    sh(ws, "git", "commit", "-qm", message)
