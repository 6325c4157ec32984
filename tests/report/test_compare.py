"""What changed since a git revision: real `dvc params diff` / `dvc metrics diff` in a small DVC repository."""
from __future__ import annotations

import json
import logging
import subprocess

import pytest
import yaml

from pose3d.report.compare import metrics_table
from stages import report as report_stage
from tests.helpers import stage_env
from tests.report.conftest import HEADLINE, Page, report_params, write_experiment

DVC_YAML = {"stages": {"evaluate": {
    "cmd": "python -m stages.evaluate --experiment fc_small",
    "params": ["experiments.fc_small"],
    "metrics": [{"data/metrics/fc_small/eval.json": {"cache": False}}],
}}}


def sh(ws, *cmd):
    proc = subprocess.run(cmd, cwd=ws, env=stage_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{cmd}: {proc.stderr}"


@pytest.fixture
def changed(tmp_path, monkeypatch):
    """A committed workspace, then dropout 0.1 -> 0.2 and a re-evaluation with a lower MPJPE."""
    params = report_params(tmp_path, tmp_path / "raw")
    write_experiment(tmp_path, params, "fc_small", 0)
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML, sort_keys=False))
    sh(tmp_path, "git", "init", "-q")
    sh(tmp_path, "dvc", "init", "-q")
    sh(tmp_path, "git", "add", "-A")
    sh(tmp_path, "git", "commit", "-qm", "first run")
    params["experiments"]["fc_small"]["dropout"] = 0.2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    path = tmp_path / "data/metrics/fc_small/eval.json"
    ev = json.loads(path.read_text())
    ev["mpjpe"] = ev["test_sets"]["test"]["mpjpe"] = 55.0  # evaluate writes the headline twice
    path.write_text(json.dumps(ev))
    for key, value in stage_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_report_shows_what_changed_since_a_revision(changed):
    report_stage.main(["--compare", "HEAD"])
    page = Page((changed / "data/reports/index.html").read_text())
    assert not page.sections["comparison"]["missing"]
    params = page.table("comparison", "Params changed since HEAD")
    assert [[c[0] for c in r] for r in params["rows"]] == [["experiments.fc_small.dropout", "0.1", "0.2"]]
    metrics = page.table("comparison", "Metrics changed since HEAD")
    rows = {(r[0][0], r[1][0]): [c[0] for c in r[2:]] for r in metrics["rows"]}
    old = HEADLINE["fc_small"]["mpjpe"]
    assert rows == {("data/metrics/fc_small/eval.json", "mpjpe"): [f"{old:.3f}", "55.000", f"{55.0 - old:.3f}"]}
    md = (changed / "data/reports/report.md").read_text()
    assert "| experiments.fc_small.dropout | 0.1 | 0.2 |" in md


def test_a_dvc_experiment_name_works_as_the_revision(changed):
    sh(changed, "dvc", "exp", "save", "-n", "dropout-02")
    params = yaml.safe_load((changed / "params.yaml").read_text())
    params["experiments"]["fc_small"]["dropout"] = 0.3
    (changed / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    report_stage.main(["--compare", "dropout-02"])
    page = Page((changed / "data/reports/index.html").read_text())
    rows = page.table("comparison", "Params changed since dropout-02")["rows"]
    assert [[c[0] for c in r] for r in rows] == [["experiments.fc_small.dropout", "0.2", "0.3"]]
    assert page.table("comparison", "Metrics changed since dropout-02")["rows"] == []
    assert "No metric differs." in page.text("comparison")


def test_an_unknown_revision_stops_the_stage_with_dvcs_message(changed, caplog):
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit):
        report_stage.main(["--compare", "no-such-revision"])
    assert "unknown Git revision 'no-such-revision'" in caplog.text
    assert not (changed / "data/reports").exists()


def test_per_test_set_copies_are_dropped_only_when_they_repeat_the_headline():
    diff = {"m/eval.json": {
        "mpjpe": {"old": 50.0, "new": 40.0, "diff": -10.0},
        "test_sets.test.mpjpe": {"old": 50.0, "new": 40.0, "diff": -10.0},
        "test_sets.unseen.mpjpe": {"old": 70.0, "new": 60.0, "diff": -10.0},
        "pck150": {"old": 0.9, "new": 0.95},
    }}
    t = metrics_table(diff, "v1")
    assert [r[1] for r in t.rows] == ["mpjpe", "pck150", "test_sets.unseen.mpjpe"]
    assert t.rows[1][4] == pytest.approx(0.05)
