"""Data-parallel training under a real ``torchrun`` launch (gloo, two CPU processes)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers import ROOT, stage_env

pytestmark = pytest.mark.slow
WORKER = Path(__file__).with_name("ddp_worker.py")


def load_worker():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ddp_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_processes_end_with_the_weights_of_one(tiny_poses, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(WORKER), str(tiny_poses), str(tmp_path / "ddp")],
        cwd=ROOT, env=stage_env(), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = torch.load(tmp_path / "ddp/latest.pt", weights_only=False)
    assert ddp["history"]["epoch"] == 2
    single = load_worker().train(tiny_poses, tmp_path / "single")
    for name, value in single.state_dict().items():
        torch.testing.assert_close(ddp["model"][name], value, rtol=1e-4, atol=2e-5, msg=name)
    torch.manual_seed(0)
    initial = load_worker().PlainLifter().state_dict()
    assert not any(torch.equal(ddp["model"][n], v) for n, v in initial.items())  # it did train
