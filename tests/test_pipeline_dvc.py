"""The DVC pipeline in a real, temporary git + DVC repository: caching and selective re-runs."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from tests.helpers import ROOT, stage_env, write_params

pytestmark = pytest.mark.slow


def sh(ws, *args, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), cwd=ws, env=stage_env(), capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def dvc(ws, *args, check=True) -> subprocess.CompletedProcess:
    return sh(ws, sys.executable, "-m", "dvc", *args, check=check)


def ran(proc) -> set[str]:
    """Stages that DVC actually ran (not skipped or restored from cache)."""
    return {line.split("'")[1] for line in proc.stdout.splitlines() if line.startswith("Running stage")}


def set_param(ws, section, key, value):
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params[section][key] = value
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    ws = tmp_path_factory.mktemp("repo")
    for name in ("pose3d", "stages"):
        shutil.copytree(ROOT / name, ws / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "dvc.yaml", ws / "dvc.yaml")
    shutil.copy(ROOT / ".gitignore", ws / ".gitignore")
    write_params(ws, synthesize={"profile": "tiny"}, dataset={"subjects": ["S1", "S9", "S11"]})
    sh(ws, "git", "init", "-q")
    dvc(ws, "init", "-q")
    sh(ws, "git", "add", "-A")
    sh(ws, "git", "commit", "-qm", "pipeline")
    return ws


def test_repro_runs_everything_then_nothing(repo):
    first = dvc(repo, "repro")
    assert ran(first) == {"synthesize", "convert"}
    assert (repo / "data/processed/poses/data_3d_h36m.npz").is_file()
    second = dvc(repo, "repro")
    assert ran(second) == set()
    assert dvc(repo, "status").stdout.strip().endswith("up to date.")


def test_convert_param_reruns_convert_only(repo):
    dvc(repo, "repro")
    set_param(repo, "convert", "reproj_tol_px", 0.02)
    assert ran(dvc(repo, "repro")) == {"convert"}
    assert ran(dvc(repo, "repro")) == set()


def test_unread_param_reruns_nothing(repo):
    dvc(repo, "repro")
    set_param(repo, "dataset", "train_subjects", ["S1"])  # no stage so far reads it
    assert ran(dvc(repo, "repro")) == set()


def test_synthesize_param_reruns_both(repo):
    dvc(repo, "repro")
    set_param(repo, "synthesize", "seed", 7)
    assert ran(dvc(repo, "repro")) == {"synthesize", "convert"}


def test_deleted_output_is_restored_without_running(repo):
    dvc(repo, "repro")
    shutil.rmtree(repo / "data/processed/poses")
    proc = dvc(repo, "repro")
    assert ran(proc) == set()  # DVC's run cache brings the output back
    assert (repo / "data/processed/poses/data_2d_h36m_gt.npz").is_file()


def test_real_archive_configured_generates_no_synthetic_data(repo, tmp_path):
    dvc(repo, "repro")
    external = tmp_path / "h36m"
    shutil.copytree(repo / "data/raw/synthetic", external)  # stands in for an extracted download
    set_param(repo, "dataset", "source", "real")
    set_param(repo, "dataset", "raw_dir", str(external))
    proc = dvc(repo, "repro")
    assert ran(proc) == {"synthesize", "convert"}
    assert [p.name for p in (repo / "data/raw/synthetic").iterdir()] == ["NOT_GENERATED.txt"]
    assert (repo / "data/processed/poses/data_3d_h36m.npz").is_file()
    set_param(repo, "dataset", "source", "synthetic")
    set_param(repo, "dataset", "raw_dir", "data/raw/synthetic")
