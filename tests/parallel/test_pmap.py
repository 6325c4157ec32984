"""pmap: results in the order of the items on every backend; the largest items start first."""
from __future__ import annotations

import os
import time

import pytest

from pose3d.parallel import pmap


def square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def started_at(x: int) -> tuple[int, float]:
    return x, time.monotonic()


def test_serial_and_pool_keep_the_order_of_the_items():
    items = list(range(7))
    serial = pmap(square_and_pid, items, workers=1)
    pooled = pmap(square_and_pid, items, workers=2, weights=[1, 9, 2, 8, 3, 7, 4])
    assert [r for r, _ in serial] == [r for r, _ in pooled] == [x * x for x in items]
    assert {pid for _, pid in serial} == {os.getpid()}
    assert os.getpid() not in {pid for _, pid in pooled}  # really other processes


def test_dask_keeps_the_order_and_starts_the_heaviest_first():
    distributed = pytest.importorskip("distributed")
    weights = [3, 50, 1, 20, 7]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None, protocol="tcp://",
                                  host="127.0.0.1") as cluster:
        out = pmap(started_at, list(range(5)), dask_address=cluster.scheduler_address, weights=weights)
    assert [x for x, _ in out] == list(range(5))
    run_order = [x for x, _ in sorted(out, key=lambda r: r[1])]
    assert run_order == sorted(range(5), key=lambda i: -weights[i])


def test_no_items_is_no_work():
    assert pmap(square_and_pid, [], workers=2) == []
