"""End to end, as a user runs it: server, work pool, `prefect deploy`, `prefect deployment run`
with overrides, a worker; then what the run left in the workspace and on the server."""
from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from tests.pipelines import prefect_server as server
from tests.pipelines.workspace import dvc

pytestmark = pytest.mark.slow

POOL = "h36m-local"  # as in prefect.yaml


def test_deployment_run_with_overrides_completes(prefect_server, workspace):
    env = {"PROJECT_ROOT": str(workspace)}  # read by prefect.yaml's pull step at deploy time

    def prefect(*args: str) -> str:
        proc = subprocess.run([server.PREFECT, *args], cwd=workspace, env=prefect_server.env(**env),
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"prefect {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    params_text = (workspace / "params.yaml").read_text()
    comments = [line.split("#", 1)[1] for line in params_text.splitlines() if "#" in line]
    threshold = yaml.safe_load(params_text)["priors"]["ransac_threshold_px"] - 3

    prefect("work-pool", "create", POOL, "--type", "process", "--overwrite")
    prefect("work-pool", "set-concurrency-limit", POOL, "1")
    prefect("--no-prompt", "deploy", "--name", "h36m-pipeline/local", "--name", "h36m-sweep/local")
    out = prefect("deployment", "run", "h36m-pipeline/local",
                  "--params", json.dumps({"overrides": {"priors.ransac_threshold_px": threshold}}))
    run_id = re.search(r"UUID: ([0-9a-f-]{36})", out).group(1)

    # the worker starts elsewhere: the deployment's pull step puts the run in the workspace
    worker = prefect_server.popen([server.PREFECT, "worker", "start", "--pool", POOL, "--run-once"],
                                  cwd=prefect_server.home, **env)
    try:
        worker_out, _ = worker.communicate(timeout=400)
    finally:
        server.stop_group(worker)

    run = server.flow_run(run_id)
    assert run.state.is_completed(), f"{run.state}\n{worker_out[-4000:]}"
    text = (workspace / "params.yaml").read_text()
    assert yaml.safe_load(text)["priors"]["ransac_threshold_px"] == threshold
    assert [line.split("#", 1)[1] for line in text.splitlines() if "#" in line] == comments  # comments kept
    assert json.loads(dvc(workspace, "status", "--json").stdout) == {}
    assert (workspace / "data/processed/priors/pelvis_priors.npz").is_file()
    assert all((workspace / f"data/models/{e}/best.pt").is_file() for e in ("fc_a", "fc_b"))
    log = server.logs(run_id)
    assert "Running stage 'priors'" in log and "triangulation MPJPE" in log
    artifacts = server.artifacts(run_id)
    assert "mpjpe" in artifacts["h36m-metrics"]
    assert "h36m-report" in artifacts or "report artifact skipped" in log
