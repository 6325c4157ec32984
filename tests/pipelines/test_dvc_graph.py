"""Planning from DVC's graph and status, and the artifact tables, on hand-made inputs."""
from __future__ import annotations

import pytest

from pipelines import dvc_graph, tables
from pipelines.dvc_cli import DvcFailed, DvcLockBusy, DvcResult, run_dvc

GRAPH = {
    "synthesize": [],
    "convert": ["synthesize"],
    "frames@S9": ["convert"],
    "triangulate": ["convert"],
    "priors": ["triangulate"],
    "train@a": ["convert"],
    "train@b": ["convert"],
    "evaluate@a": ["train@a"],
    "evaluate@b": ["train@b"],
    "report": ["evaluate@a", "evaluate@b"],
}


def test_targets_name_stages_groups_and_experiments():
    assert dvc_graph.expand_targets(GRAPH, ["priors"]) == ["priors"]
    assert dvc_graph.plan(GRAPH, ["priors"], {"triangulate"}) == ["triangulate", "priors"]
    assert dvc_graph.expand_targets(GRAPH, ["train"]) == ["train@a", "train@b"]
    assert dvc_graph.expand_targets(GRAPH, ["a", "S9"]) == ["train@a", "evaluate@a", "frames@S9"]
    assert dvc_graph.expand_targets(GRAPH, None) == []
    with pytest.raises(dvc_graph.UnknownTarget, match="'nosuch'"):
        dvc_graph.expand_targets(GRAPH, ["nosuch"])


def test_plan_runs_what_changed_and_what_depends_on_it():
    assert dvc_graph.plan(GRAPH, None, set()) == []
    assert dvc_graph.plan(GRAPH, None, {"train@a"}) == ["train@a", "evaluate@a", "report"]
    # a target limits the plan to itself and its upstream stages
    assert dvc_graph.plan(GRAPH, ["a"], {"convert"}) == ["convert", "train@a", "evaluate@a"]
    assert dvc_graph.plan(GRAPH, ["b"], {"train@a"}) == []
    forced = dvc_graph.plan(GRAPH, ["evaluate@a"], set(), force=True)
    assert forced == ["synthesize", "convert", "train@a", "evaluate@a"]


def test_json_output_is_found_after_warnings():
    result = DvcResult(("status", "--json"), 0, ("WARNING: something", '{"train@a": [{"changed deps": {}}]}'))
    assert result.json() == {"train@a": [{"changed deps": {}}]}
    with pytest.raises(DvcFailed, match="no JSON"):
        DvcResult(("status", "--json"), 0, ("ERROR: no",)).json()
    ran = DvcResult(("repro",), 0, ("Running stage 'a':", "> cmd", "Stage 'b' didn't change, skipping"))
    assert ran.stages_run() == ["a"]


def test_dvc_errors_carry_the_output_and_tell_a_lock_apart(tmp_path):
    with pytest.raises(DvcFailed, match="not inside of a DVC repository|you are not inside"):
        run_dvc(["status"], tmp_path)
    from pipelines import dvc_cli

    assert issubclass(DvcLockBusy, RuntimeError) and "Unable to acquire lock" == dvc_cli.LOCK_MESSAGE


def test_metrics_table_has_a_row_per_metric_and_a_column_per_file():
    shown = {"": {"data": {
        "data/metrics/a/eval.json": {"data": {"mpjpe": 50.123456, "per_action": {"Walking": {"mpjpe": 1}},
                                              "tta": True}},
        "data/metrics/a/train/metrics.json": {"data": {"step": 3, "train": {"loss": 0.5}}},
        "data/metrics/b/eval.json": {"error": {"type": "FileNotFoundError"}},
    }}}
    md = tables.metrics_markdown(shown)
    lines = md.splitlines()
    assert lines[0] == "| metric | eval.json | train/metrics.json |"
    assert "| mpjpe | 50.123 | – |" in lines
    assert "| train.loss | – | 0.5 |" in lines
    assert "| tta | true | – |" in lines
    assert not any("per_action" in line for line in lines)
    assert "data/metrics/b/eval.json" in md
    assert tables.metrics_markdown({}).startswith("No metrics")


def test_experiments_table_shows_what_differs():
    def data(lr, mpjpe):
        return {"params": {"params.yaml": {"data": {"train": {"lr": lr, "epochs": 1}}}},
                "metrics": {"m/eval.json": {"data": {"mpjpe": mpjpe, "frames": 10}}}}

    shown = [
        {"rev": "workspace", "data": data(0.1, 9.0)},
        {"rev": "abc", "name": "main", "data": data(0.1, 9.0), "experiments": [
            {"revs": [{"rev": "d1", "name": "e1", "data": data(0.2, 8.0)}], "executor": {"state": "success"}},
            {"revs": [{"rev": "d2", "name": "other", "data": data(0.3, 7.0)}], "executor": None},
        ]},
    ]
    md = tables.experiments_markdown(shown, ["e1"])
    assert md.splitlines()[0] == "|  | main | e1 |"
    assert "| train.lr | 0.1 | 0.2 |" in md and "| m/eval.json:mpjpe | 9 | 8 |" in md
    assert "epochs" not in md and "frames" not in md and "other" not in md
