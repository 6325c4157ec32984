"""The flows on a real tiny pipeline, reporting to a real Prefect server (in this process)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml

from pipelines.flows import h36m_pipeline, h36m_sweep
from tests.pipelines import prefect_server as server
from tests.pipelines.workspace import dvc, env, sh

pytestmark = pytest.mark.slow


def run(flow, **params):
    state = flow(**params, return_state=True)
    return state, state.state_details.flow_run_id


def by_name(run_id) -> dict:
    return {t.name: t for t in server.task_runs(run_id)}


def test_independent_stages_run_side_by_side(prefect_server, workspace):
    state, run_id = run(h36m_pipeline, overrides={"train.lr": 0.001}, targets=["train"], mode="stages",
                        parallel=2, workdir=str(workspace))
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary["train@fc_a"] == summary["train@fc_b"] == "ran"
    assert summary["synthesize"] == summary["convert"] == "up to date"  # dvc status said so: no task
    tasks = by_name(run_id)
    a, b = tasks["train@fc_a"], tasks["train@fc_b"]
    assert max(a.start_time, b.start_time) < min(a.end_time, b.end_time), "the two trainings did not overlap"
    assert "synthesize" not in tasks
    assert json.loads(dvc(workspace, "status", "--json", "train@fc_a", "train@fc_b").stdout) == {}
    assert yaml.safe_load((workspace / "params.yaml").read_text())["train"]["lr"] == 0.001
    log = server.logs(run_id)
    assert "Running stage 'train@fc_a'" in log and "fc_a: validation MPJPE" in log  # the stage's own output
    metrics = server.artifacts(run_id)["h36m-metrics"]
    assert "| metric |" in metrics and "mpjpe" in metrics


def test_deleted_output_comes_back_after_waiting_for_the_dvc_lock(prefect_server, workspace):
    """The planner sees the deleted output (dvc status), and the DVC calls wait out another
    DVC process holding the repository lock, retrying with backoff."""
    shutil.rmtree(workspace / "data/processed/priors")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from dvc.repo import Repo; r = Repo(sys.argv[1]); r.lock.lock(); "
         "print('locked', flush=True); time.sleep(6); r.lock.unlock()", str(workspace)],
        env=env(), stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        state, run_id = run(h36m_pipeline, targets=["priors"], mode="stages", workdir=str(workspace))
    finally:
        server.stop_group(holder, grace=10)
    assert state.is_completed(), state.message
    assert state.result()["priors"] in {"ran", "restored"}  # DVC's call: run it again or take its cache
    assert (workspace / "data/processed/priors/limb_stats.h5").is_file()
    assert json.loads(dvc(workspace, "status", "--json", "priors").stdout) == {}
    retried = [t for t in server.task_runs(run_id) if t.run_count >= 2]
    assert retried and all(t.state.is_completed() for t in retried)
    assert "Unable to acquire lock" in server.logs(run_id)


def test_failing_stage_fails_the_run_with_its_message_and_keeps_earlier_outputs(prefect_server, workspace):
    kept = {p: (workspace / p).read_bytes()
            for p in ("data/models/fc_a/best.pt", "data/processed/poses/data_3d_h36m.npz")}
    state, run_id = run(h36m_pipeline, overrides={"experiments.fc_b.norm": "nonexistent"}, targets=["fc_b"],
                        mode="stages", workdir=str(workspace))
    assert state.is_failed()
    assert "train@fc_b" in state.message
    log = server.logs(run_id)
    assert "norm 'nonexistent' is not one of" in log  # the stage's own error, in the Prefect logs
    tasks = by_name(run_id)
    assert tasks["train@fc_b"].state.is_failed() and tasks["train@fc_b"].run_count == 1  # not a lock: no retry
    assert "evaluate@fc_b" not in tasks  # its upstream failed: never started
    assert all((workspace / p).read_bytes() == data for p, data in kept.items())


@pytest.mark.parametrize("overrides, key", [({"experiments.fc_a.nosuch": 1}, "experiments.fc_a.nosuch"),
                                            ({"train.epochs": "many"}, "train.epochs")])
def test_bad_override_is_rejected_before_anything_runs(prefect_server, workspace, overrides, key):
    before = (workspace / "params.yaml").read_bytes()
    state, run_id = run(h36m_pipeline, overrides=overrides, workdir=str(workspace))
    assert state.is_failed() and key in state.message and "params.yaml" in state.message
    assert server.task_runs(run_id) == []
    assert (workspace / "params.yaml").read_bytes() == before


def test_experiment_mode_records_a_dvc_experiment(prefect_server, workspace):
    text = (workspace / "params.yaml").read_text()
    comments = [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]
    threshold = yaml.safe_load(text)["priors"]["ransac_threshold_px"] + 5
    state, _ = run(h36m_pipeline, overrides={"priors.ransac_threshold_px": threshold}, targets=["priors"],
                   mode="experiment", experiment_name="priors-wide", workdir=str(workspace))
    assert state.is_completed(), state.message
    assert state.result()["priors"] == "ran"
    shown = json.loads(dvc(workspace, "exp", "show", "--json").stdout)
    exp = next(rev for commit in shown for e in commit.get("experiments") or [] for rev in e["revs"]
               if rev["name"] == "priors-wide")
    assert exp["data"]["params"]["params.yaml"]["data"]["priors"]["ransac_threshold_px"] == threshold
    text = (workspace / "params.yaml").read_text()
    assert [line.split("#", 1)[1] for line in text.splitlines() if "#" in line] == comments


def test_sweep_runs_queued_experiments_and_compares_them(prefect_server, workspace):
    before = (workspace / "params.yaml").read_bytes()
    base = yaml.safe_load(before)["priors"]["ransac_threshold_px"]
    sets = [{"priors.ransac_threshold_px": base - 5}, {"priors.ransac_threshold_px": base + 5}]
    state, run_id = run(h36m_sweep, override_sets=sets, names=["sweep-a", "sweep-b"], jobs=2, targets=["priors"],
                        workdir=str(workspace))
    assert state.is_completed(), state.message
    assert state.result() == {"sweep-a": "Success", "sweep-b": "Success"}

    def cells(line):
        return [c.strip() for c in line.strip().strip("|").split("|")]

    table = server.artifacts(run_id)["h36m-sweep"].splitlines()
    header = cells(table[2])
    row = cells(next(line for line in table if line.startswith("| priors.ransac_threshold_px |")))
    assert dict(zip(header[1:], row[1:], strict=True)) == {header[1]: f"{base:.5g}", "sweep-a": f"{base - 5:.5g}",
                                              "sweep-b": f"{base + 5:.5g}"}
    assert any(line.startswith("| data/metrics/priors.json:mpjpe_mm |") for line in table)  # metrics differ too
    assert (workspace / "params.yaml").read_bytes() == before  # the workspace is as it was
    assert "Running stage 'priors'" in server.logs(run_id)  # each experiment's log


def test_push_then_pull_moves_outputs_between_checkouts(prefect_server, workspace, tmp_path):
    """The GPU-machine path: one checkout pushes outputs and run-cache to the DVC remote, a fresh
    clone pulls what it needs instead of computing it."""
    dvc(workspace, "remote", "add", "-d", "shared", str(tmp_path / "remote"))
    sh(workspace, "git", "commit", "-qam", "DVC remote")
    state, _ = run(h36m_pipeline, targets=["train@fc_a"], push=True, workdir=str(workspace))
    assert state.is_completed(), state.message
    assert any((tmp_path / "remote").rglob("*"))

    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(workspace), str(clone))
    state, _ = run(h36m_pipeline, targets=["train@fc_a"], pull=True, workdir=str(clone))
    assert state.is_completed(), state.message
    assert state.result() == {}  # nothing recomputed
    assert (clone / "data/models/fc_a/best.pt").read_bytes() == (workspace / "data/models/fc_a/best.pt").read_bytes()
    assert json.loads(dvc(clone, "status", "--json", "train@fc_a").stdout) == {}
