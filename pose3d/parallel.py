"""Fan-out of independent work items inside one stage: serial, a process pool, or a Dask cluster.

Stages stay one DVC step with one tracked output; only the work inside spreads out.
Results come back in the order of ``items`` whatever the backend.
"""
from __future__ import annotations

import functools
import logging
import os
import pickle
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from tqdm.auto import tqdm

from pose3d.threads import configured_threads

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)


def default_workers() -> int:
    """This process's share of the cores (``POSE3D_THREADS``, else every core it may use)."""
    return configured_threads()


def pmap(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int | None = None,
    dask_address: str | None = None,
    desc: str = "",
    weights: Iterable[float] | None = None,
) -> list[R]:
    """``[fn(x) for x in items]``, spread over processes or a Dask scheduler.

    ``weights`` (estimated cost per item) let the pool start the largest items first,
    which keeps two workers busy to the end when item sizes differ a lot.
    """
    items = list(items)
    if not items:
        return []
    order = list(range(len(items)))
    if weights is not None:
        w = list(weights)
        order.sort(key=lambda i: -w[i])
    if dask_address:
        return _dask_map(fn, items, order, dask_address, desc)
    workers = default_workers() if not workers else int(workers)
    if workers <= 1 or len(items) == 1:
        return [fn(x) for x in tqdm(items, desc=desc, disable=not desc)]
    results: list[Any] = [None] * len(items)
    call = functools.partial(_pickled_call, fn)
    with ProcessPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures = {pool.submit(call, items[i]): i for i in order}
        for fut in tqdm(as_completed(futures), total=len(futures), desc=desc, disable=not desc):
            results[futures[fut]] = pickle.loads(fut.result())
    return results


def _pickled_call(fn: Callable[[T], R], item: T) -> bytes:
    """Run ``fn`` and pickle its result with protocol 5.

    The pool's own pickling (protocol 4) copies every numpy array through ``tobytes``
    and is about 10x slower for the hundreds of MB a subject's poses take.
    """
    return pickle.dumps(fn(item), protocol=5)


def _dask_map(fn: Callable[[T], R], items: list[T], order: list[int], address: str, desc: str) -> list[R]:
    """One task per item, the first of ``order`` with the highest priority (largest first)."""
    from dask.distributed import Client  # optional engine: imported only when asked for

    log.info("%s: sending %d items to the Dask scheduler at %s", desc or "pmap", len(items), address)
    with Client(address) as client:
        futures: list[Any] = [None] * len(items)
        for rank, i in enumerate(order):
            futures[i] = client.submit(fn, items[i], pure=False, priority=len(items) - rank)
        return client.gather(futures)
