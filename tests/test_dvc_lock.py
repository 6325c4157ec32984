"""The committed dvc.lock records the code and params hashes of the checkout (tests/dvc_lock_check.py).

The checker is shown on a small repository in tmp_path whose lock comes from a real ``dvc repro``:
it stays quiet while nothing changed (also without the data, as in a clean clone), names each
stage and path that a change makes stale, and agrees with ``dvc status``.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.dvc_index import open_repo
from tests.dvc_lock_check import main, stale
from tests.helpers import ROOT, stage_env


def test_committed_lock_matches_the_checkout():
    """Otherwise a clean clone re-runs stages whose code and params nobody changed."""
    problems = stale(ROOT)
    assert not problems, ("dvc.lock disagrees with the code/params of the checkout; run `dvc repro` and commit "
                          "dvc.lock:\n" + "\n".join(f"{s}: {', '.join(m)}" for s, m in problems.items()))


def test_bytecode_does_not_change_code_hashes():
    """Python writes __pycache__/ next to the modules a stage imports; unless DVC ignores it, the
    hashes of the code folders differ between the machine that ran `dvc repro` and a clean clone."""
    with open_repo(ROOT) as repo:
        pyc = ROOT / "pose3d" / "__pycache__" / "threads.cpython-311.pyc"
        assert repo.dvcignore.is_ignored(repo.fs, str(pyc)), ".dvcignore must list __pycache__/"
        assert not repo.dvcignore.is_ignored(repo.fs, str(ROOT / "pose3d" / "threads.py"))


def _dvc(ws: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=ws, env=stage_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


STEP = """import pathlib, sys
from lib import a, b
pathlib.Path(f"data/out/{sys.argv[1]}.txt").write_text(a.TEXT + b.TEXT + pathlib.Path("data/in.txt").read_text())
"""


@pytest.fixture(scope="module")
def locked_repo(tmp_path_factory) -> Path:
    """A git + DVC repository with two stages (a foreach), run once by `dvc repro`."""
    from dvc.repo import Repo

    ws = tmp_path_factory.mktemp("locked")
    (ws / "src/lib").mkdir(parents=True)
    (ws / "src/step.py").write_text(STEP)
    (ws / "src/lib/a.py").write_text("TEXT = 'a'\n")
    (ws / "src/lib/b.py").write_text("TEXT = 'b'\n")
    (ws / "data/out").mkdir(parents=True)
    (ws / "data/in.txt").write_text("input\n")
    (ws / ".gitignore").write_text("/data/\n")
    (ws / "params.yaml").write_text(yaml.safe_dump({"step": {"n": 1}, "other": 2}))
    stage = {"foreach": ["x", "y"], "do": {
        "cmd": "PYTHONPATH=src python src/step.py ${item}",
        "deps": ["src/step.py", "src/lib", "data/in.txt"],
        "params": ["step.n"],
        "outs": ["data/out/${item}.txt"],
    }}
    (ws / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"make": stage}}))
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    Repo.init(str(ws)).close()
    _dvc(ws, "repro", "-q")
    assert "hash: md5" in (ws / "dvc.lock").read_text()
    return ws


@pytest.fixture
def repo(locked_repo, tmp_path) -> Path:
    """A private copy of the locked repository, to change in one test."""
    ws = tmp_path / "ws"
    shutil.copytree(locked_repo, ws, symlinks=True)
    return ws


def _dvc_status_stages(ws: Path) -> set[str]:
    """The stages `dvc status` calls changed (the command's own function, in process)."""
    from dvc.repo import Repo

    with Repo(str(ws)) as dvc_repo:
        return {name.rsplit(":", 1)[-1] for name in dvc_repo.status()}  # "<path>/dvc.yaml:make@x" -> "make@x"


def test_fresh_lock_passes_with_and_without_data(repo, capsys):
    assert stale(repo) == {}
    assert _dvc_status_stages(repo) == set()
    shutil.rmtree(repo / "data")  # a clean clone: data deps are not compared
    assert stale(repo) == {}
    assert main([str(repo)]) == 0
    assert "matches" in capsys.readouterr().out


def test_edited_module_in_a_folder_dep_names_every_stage(repo, capsys):
    (repo / "src/lib/b.py").write_text("TEXT = 'B'\n")
    assert stale(repo) == {"make@x": ["modified: src/lib"], "make@y": ["modified: src/lib"]}
    assert _dvc_status_stages(repo) == {"make@x", "make@y"}  # the same verdict as DVC's
    assert main([str(repo)]) == 1
    assert "make@x:\n  modified: src/lib" in capsys.readouterr().out


def test_deleted_file_and_params(repo):
    (repo / "src/step.py").unlink()
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["step"]["n"] = 2
    params["other"] = 3  # no stage lists it
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    assert stale(repo)["make@y"] == ["deleted: src/step.py", "params.yaml: step.n modified"]


def test_new_dep_and_command(repo):
    pipeline = yaml.safe_load((repo / "dvc.yaml").read_text())
    pipeline["stages"]["make"]["do"]["deps"].append("src/extra.py")
    pipeline["stages"]["make"]["do"]["cmd"] += " --again"
    (repo / "src/extra.py").write_text("")
    (repo / "dvc.yaml").write_text(yaml.safe_dump(pipeline))
    assert stale(repo)["make@x"] == ["command changed", "new: src/extra.py"]
    assert _dvc_status_stages(repo) == {"make@x", "make@y"}


def test_dvcignore_is_honoured(repo):
    (repo / "src/lib/__pycache__").mkdir()
    (repo / "src/lib/__pycache__/a.cpython-311.pyc").write_bytes(b"\0")
    assert stale(repo)["make@x"] == ["modified: src/lib"]
    (repo / ".dvcignore").write_text("__pycache__/\n")
    assert stale(repo) == {}
    assert _dvc_status_stages(repo) == set()
