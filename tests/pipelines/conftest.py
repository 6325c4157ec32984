"""Session fixtures for the flow tests: one real Prefect server, one reproduced tiny workspace.

The server boots (~15-20 s on a new database) while the seed workspace runs ``dvc repro``; each
test then works in its own copy of the seed, against the same server.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.pipelines.prefect_server import Server, free_port
from tests.pipelines.workspace import clone_workspace, commit_all, dvc, make_workspace

# offline, as the Makefile sets it (flows called in this process read these)
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def _server_booting(tmp_path_factory):
    server = Server(home=tmp_path_factory.mktemp("prefect-home"), port=free_port()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seed_workspace(tmp_path_factory, _server_booting) -> Path:
    """The tiny pipeline, reproduced and committed (the server boots meanwhile)."""
    ws = make_workspace(tmp_path_factory.mktemp("seed") / "ws")
    dvc(ws, "repro")
    commit_all(ws)
    return ws


@pytest.fixture(scope="session")
def prefect_server(_server_booting, seed_workspace) -> Server:
    """The running server; flows called in this process report to it too."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    _server_booting.wait_healthy()
    with temporary_settings(updates={PREFECT_API_URL: _server_booting.api_url, PREFECT_HOME: _server_booting.home}):
        yield _server_booting


@pytest.fixture
def workspace(seed_workspace, tmp_path) -> Path:
    """A private copy of the reproduced workspace."""
    return clone_workspace(seed_workspace, tmp_path / "ws")
