"""The robustness section (robustness.csv of each experiment) and the results table's 2D column."""
from __future__ import annotations

import pytest

from pose3d.report import ExperimentRun, collect_inputs
from pose3d.report.markdown import render_markdown, render_table
from pose3d.report.robustness import jitter_series, robustness_figure
from pose3d.report.sections import assemble, robustness_section
from pose3d.report.settings import ReportSettings
from pose3d.report.tables import results_table
from tests.report.conftest import HEADLINE, ROBUSTNESS, ROBUSTNESS_FRAMES, Page, column, report_params, \
    robustness_rows, write_experiment

CORRUPTIONS = [c for c, *_ in ROBUSTNESS]


def mpjpe(name: str, corruption: str) -> float:
    return HEADLINE[name]["mpjpe"] + next(d[name] for c, *_, d in ROBUSTNESS if c == corruption)


@pytest.fixture
def workspace(tmp_path):
    """Both fixture experiments evaluated, each with its robustness.csv; never_ran has nothing."""
    params = report_params(tmp_path, tmp_path / "raw")
    for seed, name in enumerate(HEADLINE):
        write_experiment(tmp_path, params, name, seed)
    return tmp_path, params


def test_the_page_has_the_section_after_per_action_with_both_tables_and_the_figure(report_ws):
    page = Page((report_ws / "data/reports/index.html").read_text())
    names = list(page.sections)
    assert names.index("robustness") == names.index("per-action") + 1
    for caption, scale in (("MPJPE (mm)", 1.0), ("P-MPJPE (mm)", 0.75)):
        t = page.table("robustness", caption)
        assert t["header"] == ["Experiment", *CORRUPTIONS, "Frames"]
        assert [r[0][0] for r in t["rows"]] == list(HEADLINE)  # never_ran has no robustness.csv
        for name in HEADLINE:
            assert column(t, "jitter_20px")[name][0] == f"{scale * mpjpe(name, 'jitter_20px'):.1f}"
            assert column(t, "Frames")[name][0] == str(ROBUSTNESS_FRAMES)
        # lowest per column: vp_small under jitter, fc_small under swaps
        for corruption, best, other in (("jitter_5px", "vp_small", "fc_small"),
                                        ("swaps_10pct", "fc_small", "vp_small")):
            assert "best" in column(t, corruption)[best][1] and "best" not in column(t, corruption)[other][1]
    text = page.text("robustness")
    assert "same inputs" in text and "every 20th frame" in text
    assert "jitter_5px: Gaussian jitter, σ 5 px" in text
    assert "missing_10pct: missing joints, 10 % (fill: interpolate)" in text
    images = page.sections["robustness"]["images"]
    assert len(images) == 1 and images[0]["src"].startswith("data:image/png;base64,")
    assert column(page.table("results"), "2D")["fc_small"][0] == "gt"
    md = (report_ws / "data/reports/report.md").read_text()
    assert "## Robustness to 2D errors" in md and "](robustness_jitter.png)" in md
    assert (report_ws / "data/reports/robustness_jitter.png").is_file()


def test_the_jitter_series_has_one_line_per_experiment_from_gt_and_jitter_rows_only():
    runs = [ExperimentRun("fc_small", {}, robustness=robustness_rows("fc_small")), ExperimentRun("never_ran", {}),
            ExperimentRun("vp_small", {}, robustness=robustness_rows("vp_small").iloc[::-1])]
    series = jitter_series(runs)
    assert [(i, name) for i, name, _, _ in series] == [(0, "fc_small"), (2, "vp_small")]  # colour = position
    for _, name, xs, ys in series:
        assert xs == [0.0, 5.0, 20.0]  # gt at sigma 0, sorted; noisy, outliers, swaps, missing left out
        assert ys == pytest.approx([mpjpe(name, c) for c in ("gt", "jitter_5px", "jitter_20px")])
    assert robustness_figure(runs) is not None


def test_no_figure_with_fewer_than_two_sigmas():
    only_gt = robustness_rows("fc_small").query("kind != 'jitter'")
    runs = [ExperimentRun("fc_small", {}, robustness=only_gt)]
    assert [xs for _, _, xs, _ in jitter_series(runs)] == [[0.0]]
    assert robustness_figure(runs) is None


def test_an_experiment_without_robustness_csv_is_left_out(workspace):
    ws, params = workspace
    (ws / "data/metrics/vp_small/robustness.csv").unlink()
    params["evaluate"]["robustness_stride"] = 5
    inputs = collect_inputs(ws, params)
    assert not inputs.problems
    sec = robustness_section(inputs)
    assert not sec.missing
    tables = [b for b in sec.blocks if hasattr(b, "rows")]
    assert [[r[0] for r in t.rows] for t in tables] == [["fc_small"], ["fc_small"]]
    assert "every 5th frame" in sec.blocks[0].text
    assert [name for _, name, _, _ in jitter_series(inputs.experiments)] == ["fc_small"]


def test_without_any_robustness_csv_the_section_says_so(workspace):
    ws, params = workspace
    for name in HEADLINE:
        (ws / f"data/metrics/{name}/robustness.csv").unlink()
    inputs = collect_inputs(ws, params)
    report = assemble(inputs, ReportSettings.from_params({**params["report"], "worst_frames": 0}))
    sec = report.section("robustness")
    assert "robustness.csv" in sec.missing and not sec.blocks
    assert "> **Missing:** No experiment has a data/metrics/<name>/robustness.csv" in render_markdown(report)


def test_a_robustness_csv_without_a_column_is_named(workspace):
    ws, params = workspace
    path = ws / "data/metrics/vp_small/robustness.csv"
    path.write_text(path.read_text().replace(",fill,", ",filling,", 1))
    inputs = collect_inputs(ws, params)
    assert inputs.problems == ["data/metrics/vp_small/robustness.csv: missing column(s) fill"]
    assert next(r for r in inputs.experiments if r.name == "vp_small").robustness is None
    sec = robustness_section(inputs)
    assert [r[0] for r in sec.blocks[1].rows] == ["fc_small"]


def test_the_2d_column_shows_train_and_scored_sources_and_scores():
    runs = [
        ExperimentRun("detected", {"input_2d": "gt", "eval_input_2d": "gt"},
                      eval={"mpjpe": 50.0, "input_2d": "noisy", "eval_input_2d": "gt", "scores": True}),
        ExperimentRun("old", {}, eval={"mpjpe": 40.0, "input_2d": "gt"}),  # before eval_input_2d and scores
        ExperimentRun("same", {}, eval={"mpjpe": 45.0, "input_2d": "noisy", "eval_input_2d": "noisy", "scores": False}),
        ExperimentRun("planned", {"input_2d": "cpn_ft_h36m_dbb", "eval_input_2d": "gt", "use_scores": True}),
        ExperimentRun("unknown", {}),
    ]
    t = results_table(runs)
    col = t.columns.index("2D")
    assert t.columns[col - 1] == "Protocol" and t.columns[col + 1] == "Parameters"
    assert [t.cell_text(r, col) for r in range(len(runs))] == [
        "noisy → gt + scores", "gt", "noisy", "cpn_ft_h36m_dbb → gt + scores", "–"]
    assert "| noisy → gt + scores |" in render_table(t)
    assert (0, t.columns.index("MPJPE (mm)")) not in t.best and (1, t.columns.index("MPJPE (mm)")) in t.best
