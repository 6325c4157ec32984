"""Data-parallel training under ``torchrun``: one process per device, gradients averaged by DDP.

``torchrun`` starts the processes and sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``;
each process joins the group (NCCL between GPUs, gloo on CPUs), takes its share of every
global batch (:meth:`pose3d.training.batching.WindowBatcher.epoch`), and DDP averages the
gradients, so the weights move as with one process and the whole batch. Only rank 0
validates, logs and writes checkpoints.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def from_env() -> DistInfo:
    """The process's place in a ``torchrun`` launch; a single process outside one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def launched() -> bool:
    """True inside a process that ``torchrun`` started."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def setup(info: DistInfo, device: torch.device) -> torch.device:
    """Join the process group; returns this rank's device (``cuda:<local_rank>`` on GPUs)."""
    if not info.active:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.active:
        dist.barrier()


def sum_all(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """``value`` summed over every rank (a copy; unchanged with one process)."""
    value = value.detach().clone()
    if info.active:
        dist.all_reduce(value)
    return value


def broadcast_float(value: float, info: DistInfo, device: torch.device) -> float:
    """Rank 0's ``value`` on every rank (e.g. the validation error only rank 0 measures)."""
    if not info.active:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(t, 0)
    return float(t.item())
