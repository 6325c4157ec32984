"""convert fans out to a real Dask cluster when `convert.dask_address` is set, with the same bytes
as the process pool."""
from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import run_stage, write_params

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")


def test_convert_through_a_dask_scheduler_matches_the_process_pool(archive_copy, tmp_path):
    raw = archive_copy(("S1", "S9"))
    dataset = {"raw_dir": str(raw), "subjects": ["S1", "S9"]}
    pool_ws, dask_ws = tmp_path / "pool", tmp_path / "dask"
    pool_ws.mkdir()
    dask_ws.mkdir()
    write_params(pool_ws, dataset=dataset, convert={"dask_address": None, "workers": 2})
    proc = run_stage("convert", pool_ws)
    assert proc.returncode == 0, proc.stderr
    # as the README sets up a cluster: without the nanny's MALLOC_TRIM_THRESHOLD_ (which it would
    # also leave in this process's environment, for every later test's subprocesses)
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None, host="127.0.0.1") as cluster:
        write_params(dask_ws, dataset=dataset, convert={"dask_address": cluster.scheduler_address})
        proc = run_stage("convert", dask_ws)
        assert proc.returncode == 0, proc.stderr
        assert cluster.scheduler_address in proc.stderr  # the log names where the work went
    out = "data/processed/poses"
    files = sorted(p.name for p in (pool_ws / out).iterdir())
    assert files == sorted(p.name for p in (dask_ws / out).iterdir())
    assert "data_3d_h36m.npz" in files and "data_2d_h36m_gt.npz" in files
    for name in files:
        assert (pool_ws / out / name).read_bytes() == (dask_ws / out / name).read_bytes(), name
    p3 = np.load(dask_ws / out / "data_3d_h36m.npz", allow_pickle=True)["positions_3d"].item()
    assert list(p3) == ["S1", "S9"] and len(p3["S9"]) == 30
