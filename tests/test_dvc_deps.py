"""Every DVC stage lists, under ``deps:``, all the project code it runs (tests/dvc_code_deps.py).

The checker runs on the real dvc.yaml, and on a small project in tmp_path whose dvc.yaml is
wrong on purpose, to show that it names each gap.
"""
from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.dvc_code_deps import check, required_files
from tests.dvc_index import format_by_stage
from tests.helpers import ROOT


def test_every_stage_lists_the_code_it_runs():
    problems = check(ROOT)
    assert not problems, "dvc.yaml deps do not match the code the stages run:\n" + format_by_stage(problems)


def test_train_needs_the_h36m_modules_it_imports():
    """A guard on the closure itself: training reads the VideoPose3D files through pose3d.h36m."""
    need = required_files(ROOT, "python -m stages.train --experiment x")
    assert {"stages/train.py", "stages/common.py", "pose3d/h36m/vp3d_format.py"} <= need
    assert "pose3d/h36m/convert.py" not in need  # convert's code is not run by training


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


PROJECT = {
    "pose3d/__init__.py": '"""Docstring only: runs nothing."""\n',
    "pose3d/core.py": """
        def late():
            from . import helper  # inside a function, relative
            return helper.VALUE
    """,
    "pose3d/helper.py": "VALUE = 1\n",
    "pose3d/unused.py": "VALUE = 2\n",
    "pose3d/pkg/__init__.py": "from pose3d.pkg.reader import read\n",
    "pose3d/pkg/reader.py": """
        from importlib import resources
        from ..helper import VALUE

        def read():
            return resources.files("pose3d.pkg").joinpath("data/table.csv").read_text(), VALUE
    """,
    "pose3d/pkg/data/table.csv": "a,b\n",
    "pose3d/pkg/data/other.bin": "",
    "stages/__init__.py": "",
    "stages/run.py": """
        import json
        from pose3d.core import late
        from pose3d.pkg import read
    """,
}

COMPLETE_DEPS = ["stages/run.py", "pose3d/core.py", "pose3d/helper.py", "pose3d/pkg/__init__.py",
                 "pose3d/pkg/reader.py", "pose3d/pkg/data/table.csv", "data/in.txt"]


def _project(tmp_path: Path, deps: list[str]) -> Path:
    import yaml
    from dvc.repo import Repo

    _write(tmp_path, PROJECT)
    dvc_yaml = {"stages": {"run": {"foreach": ["one", "two"],
                                   "do": {"cmd": "python -m stages.run --item ${item}", "deps": deps,
                                          "outs": ["data/out/${item}"]}}}}
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml))
    (tmp_path / ".gitignore").write_text("/data/\n")  # as in the project: data is not source
    if not (tmp_path / ".git").exists():
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
        Repo.init(str(tmp_path)).close()
    return tmp_path


def test_closure_follows_function_relative_and_package_imports(tmp_path):
    _write(tmp_path, PROJECT)
    need = required_files(tmp_path, "python -m stages.run --item one")
    assert need == set(COMPLETE_DEPS) - {"data/in.txt"}  # trivial __init__ files and unused.py left out
    assert required_files(tmp_path, "python stages/run.py --item one") == need
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools/prepare.sh").write_text("true\n")
    assert required_files(tmp_path, "bash tools/prepare.sh && python -m stages.run") == need | {"tools/prepare.sh"}


def test_checker_passes_a_complete_dvc_yaml(tmp_path):
    assert check(_project(tmp_path, COMPLETE_DEPS)) == {}
    assert check(_project(tmp_path, ["stages", "pose3d", "data/in.txt"])) == {}  # folders cover their files


@pytest.mark.parametrize("dropped", ["pose3d/helper.py", "pose3d/pkg/data/table.csv", "pose3d/pkg/__init__.py"])
def test_checker_names_each_missing_file_per_stage(tmp_path, dropped):
    problems = check(_project(tmp_path, [d for d in COMPLETE_DEPS if d != dropped]))
    assert problems == {"run@one": [f"not in deps: {dropped}"], "run@two": [f"not in deps: {dropped}"]}


def test_checker_names_missing_and_unused_deps(tmp_path):
    problems = check(_project(tmp_path, COMPLETE_DEPS + ["pose3d/gone.py", "pose3d/unused.py"]))
    assert problems["run@one"] == ["dep does not exist: pose3d/gone.py", "dep not used by the command: pose3d/unused.py"]


def test_checker_follows_an_init_that_gains_code(tmp_path):
    project = _project(tmp_path, COMPLETE_DEPS)
    (project / "pose3d/__init__.py").write_text("import os\n")
    assert check(project)["run@one"] == ["not in deps: pose3d/__init__.py"]
