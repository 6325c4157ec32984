"""convert fans out to a real Dask cluster when `convert.dask_address` is set."""
from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import run_stage, write_params

distributed = pytest.importorskip("distributed")


def test_convert_through_a_dask_scheduler(archive_copy, tmp_path):
    raw = archive_copy(("S1", "S9"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        write_params(tmp_path, dataset={"raw_dir": str(raw), "subjects": ["S1", "S9"]},
                     convert={"dask_address": cluster.scheduler_address})
        proc = run_stage("convert", tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert cluster.scheduler_address in proc.stderr  # the log names where the work went
    p3 = np.load(tmp_path / "data/processed/poses/data_3d_h36m.npz", allow_pickle=True)["positions_3d"].item()
    assert list(p3) == ["S1", "S9"] and len(p3["S9"]) == 30
