"""A stage run the way DVC runs it stops on a misspelt params key: one line, exit 1, no output."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.helpers import ROOT, stage_env


def _run(module: str, tmp_path, edit) -> subprocess.CompletedProcess:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    edit(params)
    path = tmp_path / "conf" / "typo-params.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    work = tmp_path / "work"
    work.mkdir()
    env = {**stage_env(), "POSE3D_PARAMS": str(path)}
    return subprocess.run([sys.executable, "-m", f"stages.{module}"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)


def _rename(section: list[str], old: str, new: str):
    def edit(params: dict) -> None:
        node = params
        for part in section:
            node = node[part]
        node[new] = node.pop(old)
    return edit


@pytest.mark.parametrize("module, where, old, new", [
    ("convert", ["convert"], "reproj_tol_px", "reproj_tol_pxx"),
    ("synthesize", ["synthesize", "videos"], "cameras", "camras"),
])
def test_a_misspelt_key_stops_the_stage_before_it_writes(tmp_path, module, where, old, new):
    proc = _run(module, tmp_path, _rename(where, old, new))
    assert proc.returncode == 1, proc.stderr
    path = tmp_path / "conf" / "typo-params.yaml"
    line = f"{path}: {'.'.join(where)}: unknown key {new!r}; did you mean {old!r}?"
    errors = [ln for ln in proc.stderr.splitlines() if " ERROR " in ln]
    assert len(errors) == 1 and errors[0].endswith(line), proc.stderr
    assert "Traceback" not in proc.stderr
    assert list((tmp_path / "work").iterdir()) == []  # no data/, not even a temporary folder


def test_a_wrong_type_stops_the_stage(tmp_path):
    proc = _run("convert", tmp_path, lambda p: p["convert"].update(workers="two"))
    assert proc.returncode == 1
    assert "typo-params.yaml: convert.workers must be an integer or null, got 'two'" in proc.stderr
    assert list((tmp_path / "work").iterdir()) == []
