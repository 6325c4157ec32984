"""Stages started side by side get their share of the cores; a stage alone keeps them all."""
from __future__ import annotations

import pytest

from pipelines import dvc_graph
from pipelines.dvc_cli import run_dvc, side_by_side_env
from pose3d.threads import THREADS_ENV
from tests.pipelines.test_dvc_graph import GRAPH


def test_a_stage_counts_those_that_neither_wait_for_it_nor_it_for_them():
    every = list(GRAPH)
    n = dvc_graph.side_by_side(GRAPH, every, parallel=8)
    assert n["synthesize"] == n["convert"] == 1  # everything else waits for them
    # train@a runs beside frames@S9, triangulate, priors, train@b, evaluate@b
    assert n["train@a"] == n["evaluate@a"] == 6
    assert n["report"] == 4  # beside frames@S9, triangulate and priors only
    assert dvc_graph.side_by_side(GRAPH, every, parallel=2)["train@a"] == 2
    # only what is to run counts: one experiment's chain runs alone
    assert set(dvc_graph.side_by_side(GRAPH, ["train@a", "evaluate@a"], parallel=2).values()) == {1}


def test_side_by_side_processes_split_the_cores():
    assert side_by_side_env(1, cores=2) == {}  # alone: unset, the stage takes every core
    assert side_by_side_env(2, cores=2) == {THREADS_ENV: "1"}
    assert side_by_side_env(2, cores=16) == {THREADS_ENV: "8"}
    assert side_by_side_env(3, cores=2) == {THREADS_ENV: "1"}  # never below one thread


@pytest.fixture
def echo_repo(tmp_path):
    """A DVC repository whose one stage writes the ``POSE3D_THREADS`` it was given."""
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  echo:\n"
        f"    cmd: printenv {THREADS_ENV} > threads.txt || echo unset > threads.txt\n"
        "    outs:\n      - threads.txt:\n          cache: false\n")
    run_dvc(["init", "--no-scm", "-q"], tmp_path)
    return tmp_path


def test_the_stage_command_sees_the_env_given_to_dvc(echo_repo, monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    run_dvc(["repro", "--single-item", "echo"], echo_repo, env=side_by_side_env(2, cores=4))
    assert (echo_repo / "threads.txt").read_text().strip() == "2"
    run_dvc(["repro", "--single-item", "--force", "echo"], echo_repo)
    assert (echo_repo / "threads.txt").read_text().strip() == "unset"
