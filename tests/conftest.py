"""Fixtures shared by the stage and pipeline tests: a tiny synthetic archive."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import run_stage, write_params


@pytest.fixture(scope="session")
def tiny_raw(tmp_path_factory) -> Path:
    """The `tiny` synthetic profile of all seven subjects, generated once per test session."""
    ws = tmp_path_factory.mktemp("tiny")
    write_params(ws, synthesize={"profile": "tiny", "seed": 0})
    proc = run_stage("synthesize", ws, "--out", str(ws / "raw"))
    assert proc.returncode == 0, proc.stderr
    return ws / "raw"


@pytest.fixture
def archive_copy(tiny_raw, tmp_path):
    """A private copy of one subject's tiny archive, to damage in a test."""

    def make(subjects=("S1",)) -> Path:
        dst = tmp_path / "raw"
        for s in subjects:
            shutil.copytree(tiny_raw / s, dst / s)
        shutil.copy(tiny_raw / "synthetic_manifest.json", dst / "synthetic_manifest.json")
        return dst

    return make


@pytest.fixture(scope="session")
def tiny_poses(tiny_raw, tmp_path_factory) -> Path:
    """``convert``'s output folder for the tiny archive (VideoPose3D npz files)."""
    ws = tmp_path_factory.mktemp("tiny_convert")
    write_params(ws, dataset={"raw_dir": str(tiny_raw)})
    proc = run_stage("convert", ws)
    assert proc.returncode == 0, proc.stderr
    return ws / "data/processed/poses"


@pytest.fixture(scope="session")
def tiny_poses_excluding(tiny_raw, tmp_path_factory):
    """``convert``'s output folder for the tiny archive under a given ``dataset.exclude`` (one run per list)."""
    done: dict[tuple[str, ...], Path] = {}

    def convert(*rules: str) -> Path:
        if rules not in done:
            ws = tmp_path_factory.mktemp("tiny_convert_rules")
            write_params(ws, dataset={"raw_dir": str(tiny_raw), "exclude": list(rules)})
            proc = run_stage("convert", ws)
            assert proc.returncode == 0, proc.stderr
            done[rules] = ws / "data/processed/poses"
        return done[rules]

    return convert
