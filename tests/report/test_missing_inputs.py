"""A partial pipeline still gives a report: absent inputs are named in their sections, bad params stop the stage."""
from __future__ import annotations

import json
import logging

import pytest

from pose3d.report import ReportSettings, assemble, collect_inputs, write_report
from stages import report as report_stage
from tests.report.conftest import Page, column, report_params, write_experiment


@pytest.fixture
def partial(tmp_path, monkeypatch):
    """Only fc_small was evaluated; vp_small was trained but its eval.json is damaged; nothing else ran."""
    params = report_params(tmp_path, tmp_path / "raw")
    write_experiment(tmp_path, params, "fc_small", 0)
    write_experiment(tmp_path, params, "vp_small", 1)
    (tmp_path / "data/metrics/vp_small/eval.json").write_text('{"mpjpe": 52.')
    (tmp_path / "data/metrics/vp_small/per_action.csv").unlink()
    monkeypatch.chdir(tmp_path)
    return tmp_path, params


def test_the_stage_marks_absent_inputs_instead_of_failing(partial):
    ws, _ = partial
    report_stage.main([])
    page = Page((ws / "data/reports/index.html").read_text())
    assert {"data", "results", "per-action", "curves", "qualitative", "priors", "frames", "reproduce",
            "comparison"} <= set(page.sections)
    assert "sequences.csv is absent" in page.sections["data"]["missing"]
    assert "priors.json is absent" in page.sections["priors"]["missing"]
    assert "No frames" in page.sections["frames"]["missing"]
    assert not page.sections["results"]["missing"]
    status = column(page.table("results"), "Status")
    assert status["fc_small"][0] == "evaluated"
    assert status["vp_small"][0] == "trained; evaluation failed or not run"
    assert status["never_ran"][0] == "failed or not run"
    assert "data/metrics/vp_small/eval.json: unreadable JSON" in page.text("problems")
    per_action = page.table("per-action", "Protocol #1 (MPJPE, mm)")
    assert [r[0][0] for r in per_action["rows"]] == ["fc_small"]
    # checkpoints exist but the poses to predict from do not: a note, no animation
    assert "could not predict" in page.text("qualitative")
    assert not page.sections["qualitative"]["images"]
    assert page.sections["curves"]["images"], "the curves of the trained experiments are still drawn"
    md = (ws / "data/reports/report.md").read_text()
    assert "> **Missing:** No priors" in md


def test_an_empty_workspace_gives_a_report_too(tmp_path):
    params = report_params(tmp_path, tmp_path / "raw")
    inputs = collect_inputs(tmp_path, params)
    report = assemble(inputs, ReportSettings.from_params(params["report"]))
    sizes = write_report(report, tmp_path / "out")
    page = Page((tmp_path / "out/index.html").read_text())
    assert sizes["index.html"] > 1000
    for section in ("data", "per-action", "curves", "qualitative", "priors", "frames"):
        assert page.sections[section]["missing"], section
    assert {r[0][0]: r[-1][0] for r in page.table("results")["rows"]} == {
        "fc_small": "failed or not run", "vp_small": "failed or not run", "never_ran": "failed or not run"}


def test_a_typo_in_the_report_params_stops_the_stage_with_its_name(partial, caplog):
    ws, params = partial
    params["report"]["clip_frame"] = 10
    (ws / "params.yaml").write_text(json.dumps(params))
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exc:
        report_stage.main([])
    assert exc.value.code == 1
    assert "unknown key 'clip_frame'; did you mean 'clip_frames'?" in caplog.text
    assert not (ws / "data/reports").exists()


@pytest.mark.parametrize("section, problem", [
    ({"clip_frames": 0}, "clip_frames must be a positive integer"),
    ({"worst_frames": -1}, "worst_frames must be a non-negative integer"),
])
def test_settings_are_checked(section, problem):
    with pytest.raises(ValueError, match=problem):
        ReportSettings.from_params(section)
