"""Overrides of params.yaml: checked before anything runs, written without disturbing the file."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from pipelines.overrides import OverrideError, apply, check_file, parse_assignment
from tests.helpers import ROOT
from tests.pipelines.workspace import env


@pytest.fixture
def params(tmp_path):
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    return path


def comments(text: str) -> list[str]:
    return [line.split("#", 1)[1].strip() for line in text.splitlines() if "#" in line]


def test_round_trip_keeps_everything_but_the_changed_values(params):
    before = params.read_text()
    changed = apply(params, {"train.lr": 0.0005, "dataset.train_subjects": ["S1", "S5"], "synthesize.workers": 2})
    after = params.read_text()
    assert [o.key for o in changed] == ["train.lr", "dataset.train_subjects", "synthesize.workers"]
    assert comments(after) == comments(before)
    assert "  train_subjects: [S1, S5]\n" in after  # flow style kept
    assert "dask_address: null" in after  # nulls stay nulls
    diff = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert len(diff) == 3 and len(before.splitlines()) == len(after.splitlines())
    loaded = yaml.safe_load(after)
    assert loaded["train"]["lr"] == 0.0005 and loaded["synthesize"]["workers"] == 2


def test_unchanged_values_leave_the_file_alone(params):
    mtime = params.stat().st_mtime_ns
    lr = yaml.safe_load(params.read_text())["train"]["lr"]
    assert apply(params, {"train.lr": lr}) == []
    assert params.stat().st_mtime_ns == mtime


def test_experiment_entry_may_set_any_training_key(params):
    name = next(iter(yaml.safe_load(params.read_text())["experiments"]))
    before = params.read_text()
    (o,) = apply(params, {f"experiments.{name}.lr": 0.0005})
    assert o.added and o.new == 0.0005
    loaded = yaml.safe_load(params.read_text())
    assert loaded["experiments"][name]["lr"] == 0.0005
    assert comments(params.read_text()) == comments(before)


def test_an_added_key_lands_before_the_comments_of_the_next_section(params):
    last = list(yaml.safe_load(params.read_text())["experiments"])[-1]
    apply(params, {f"experiments.{last}.epochs": 2})
    text = params.read_text()
    entry = text.index(f"  {last}:")
    assert text.index("    epochs: 2", entry) < text.index("extra_experiments:")
    assert yaml.safe_load(text)["experiments"][last]["epochs"] == 2


def test_int_for_float_and_anything_for_null(params):
    apply(params, {"train.lr": 1, "synthesize.dask_address": "tcp://10.0.0.5:8786"})
    loaded = yaml.safe_load(params.read_text())
    assert loaded["train"]["lr"] == 1.0 and isinstance(loaded["train"]["lr"], float)
    assert loaded["synthesize"]["dask_address"] == "tcp://10.0.0.5:8786"


@pytest.mark.parametrize("overrides, names", [
    ({"train.lrr": 0.1}, ["'train.lrr'", "did you mean 'train.lr'"]),
    ({"nosuch.key": 1}, ["'nosuch.key'", "no key 'nosuch'"]),
    ({"experiments.nosuch.lr": 0.1}, ["'experiments.nosuch.lr'", "no key 'nosuch'"]),
    ({"train.lr.x": 1}, ["'train.lr.x'", "not a section"]),
    ({"train.lr": "fast"}, ["'train.lr'", "expected a number", "'fast'"]),
    ({"train.epochs": 2.5}, ["'train.epochs'", "expected an integer"]),
    ({"train.flip": 1}, ["'train.flip'", "expected a boolean"]),
    ({"dataset.train_subjects": "S1"}, ["'dataset.train_subjects'", "expected a list"]),
    ({"train": 1}, ["'train'", "expected a mapping"]),
    ({"": 1}, ["not a dotted key"]),
])
def test_bad_overrides_are_rejected_naming_the_key_and_file(params, overrides, names):
    before = params.read_text()
    with pytest.raises(OverrideError) as err:
        apply(params, {"train.epochs": 3, **overrides})  # a good one first: nothing is written
    for part in names:
        assert part in str(err.value)
    assert str(params) in str(err.value)
    assert params.read_text() == before


def test_missing_params_file_is_named(tmp_path):
    with pytest.raises(OverrideError, match="params.yaml: params file is missing"):
        check_file(tmp_path / "params.yaml", {"train.lr": 0.1})


def test_command_line_values_are_yaml():
    assert parse_assignment("train.lr=0.001") == ("train.lr", 0.001)
    assert parse_assignment("experiments.x.arc=[1, 3, 1]") == ("experiments.x.arc", [1, 3, 1])
    assert parse_assignment("synthesize.dask_address=null") == ("synthesize.dask_address", None)
    with pytest.raises(OverrideError, match="key=value"):
        parse_assignment("train.lr")


def test_cli_rejects_a_bad_override_before_prefect_starts(params):
    cmd = [sys.executable, "-m", "pipelines", "run", "-S", "train.lrr=0.1", "--workdir", str(params.parent)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown key 'train.lrr'" in proc.stderr and "params.yaml" in proc.stderr
    assert "prefect" not in proc.stderr.lower()
