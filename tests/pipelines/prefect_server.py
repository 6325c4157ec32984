"""A real ``prefect server start`` on a free loopback port, and what the tests read back from it.

The server and every process around it run in their own session (process group), so teardown
can signal the whole group: Prefect answers the first SIGINT itself, and a process that ignores
it gets SIGKILL after a grace period.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from tests.pipelines.workspace import env as base_env

PREFECT = str(Path(sys.executable).parent / "prefect")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    home: Path
    port: int
    proc: subprocess.Popen | None = None
    log: Path | None = None
    children: list[subprocess.Popen] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def env(self, **extra: str) -> dict:
        """What a shell pointed at this server has (``make server`` / ``make worker`` set the same)."""
        return base_env(PREFECT_HOME=str(self.home), PREFECT_API_URL=self.api_url, PREFECT_WORKER_QUERY_SECONDS="1",
                        PREFECT_RUNNER_POLL_FREQUENCY="1", **extra)

    def start(self) -> Server:
        self.home.mkdir(parents=True, exist_ok=True)
        self.log = self.home / "server.log"
        with open(self.log, "w") as fh:
            self.proc = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                                         cwd=self.home, env=self.env(), stdout=fh, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def wait_healthy(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"prefect server exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"prefect server not healthy after {timeout:.0f} s:\n{self.log.read_text()[-3000:]}")

    def popen(self, args: list[str], cwd: Path, **extra: str) -> subprocess.Popen:
        """A child process (a worker) in its own process group, stopped with the server."""
        proc = subprocess.Popen(args, cwd=cwd, env=self.env(**extra), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                                start_new_session=True)
        self.children.append(proc)
        return proc

    def stop(self) -> None:
        for proc in [*self.children, self.proc]:
            if proc is not None:
                stop_group(proc)


def stop_group(proc: subprocess.Popen, grace: float = 15) -> None:
    """SIGINT to the process group, SIGKILL to whatever is left after ``grace`` seconds."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers of the group, e.g. a flow-run subprocess
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(timeout=5)


# ---- reading back what a flow run left on the server -----------------------------------------

def _client():
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def flow_run(run_id: UUID | str):
    with _client() as client:
        return client.read_flow_run(UUID(str(run_id)))


def task_runs(run_id: UUID | str) -> list:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with _client() as client:
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(str(run_id))])))


def logs(run_id: UUID | str) -> str:
    """Every log line of a flow run and its tasks, as the UI shows them."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # in-process runs send their logs in batches
    found: list = []
    log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(str(run_id))]))
    with _client() as client:
        while batch := client.read_logs(log_filter=log_filter, limit=200, offset=len(found)):
            found += batch
    return "\n".join(e.message for e in found)


def artifacts(run_id: UUID | str) -> dict[str, str]:
    """{key: markdown} of a flow run's artifacts."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with _client() as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(str(run_id))])))
    return {a.key: a.data for a in found}
