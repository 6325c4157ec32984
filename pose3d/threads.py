"""A process's share of the cores: torch's and the BLAS libraries' thread counts from one setting.

Two stages that each start a thread per core on a 2-core machine do not share it: their
threads spin-wait for cores the other process holds, and the pair runs 2x slower than one
after the other. Whoever starts stages side by side (the Prefect flow in ``stages`` mode, the
sweep with ``jobs`` > 1) gives each its share through ``POSE3D_THREADS``; a stage run alone
takes every core.
"""
from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

#: environment variable holding the thread count of each stage process
THREADS_ENV = "POSE3D_THREADS"
#: variables that size the thread pools of OpenMP, BLAS and numexpr in child processes
_POOL_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def available_cores() -> int:
    """Cores this process may use (respects affinity masks, e.g. in containers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def configured_threads(environ: dict | None = None) -> int:
    """``POSE3D_THREADS`` when set (a positive integer), else every available core."""
    environ = os.environ if environ is None else environ
    raw = environ.get(THREADS_ENV, "").strip()
    if not raw:
        return available_cores()
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{THREADS_ENV}={raw!r} must be a positive integer (threads for this process)")
    return n


def share_of_cores(concurrent: int, cores: int | None = None) -> int:
    """Threads for each of ``concurrent`` processes started side by side (at least one)."""
    cores = available_cores() if cores is None else cores
    return max(1, cores // max(1, int(concurrent)))


def limit_threads(threads: int | None = None) -> int:
    """Size torch's and the BLAS/OpenMP thread pools of this process (and its children) to ``threads``.

    ``None`` reads :func:`configured_threads`. Returns the count applied.
    """
    n = configured_threads() if threads is None else int(threads)
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    os.environ[THREADS_ENV] = str(n)  # process pools started by this stage inherit the share
    for var in _POOL_ENV:
        os.environ[var] = str(n)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:  # already set, or parallel work has started: intra-op threads are what matter
        pass
    threadpool_limits(limits=n)
    log.debug("threads: %d", n)
    return n
