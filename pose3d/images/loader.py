"""Crops to the device: JPEG decoding in worker processes, one batch per task, pinned, copied asynchronously.

Why one batch per task: PyTorch's default loader fetches and collates item by item, so every
crop costs a round trip through the worker queue and a tensor of its own. Here a worker gets a
list of item numbers, decodes them into one preallocated (B, S, S, 3) uint8 array (a memory map
of the shard per file, no copy of the compressed bytes beyond the slice) and sends that array
back; the main process pins it (on CUDA) and starts the copy with ``non_blocking=True``, so the
next batch is decoded while the device computes. Raw-encoded shards decode nothing.
Batches come back in the order they were asked for, so a run is the same run whatever the
number of workers.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pose3d.video.reader import FrameShards


class _BatchDecoder(Dataset):
    """Item ``indices`` (a list) -> (len, S, S, 3) uint8 array of those crops."""

    def __init__(self, shards: FrameShards, size: int):
        self.shards, self.size = shards, int(size)

    def __len__(self) -> int:  # indexed by batches, never by position
        return 0

    def __getitem__(self, indices: Sequence[int]) -> torch.Tensor:
        out = np.empty((len(indices), self.size, self.size, 3), dtype=np.uint8)
        for k, i in enumerate(indices):
            out[k] = self.shards.image(int(i))
        return torch.from_numpy(out)


def _reopen(worker_id: int) -> None:  # noqa: ARG001 - DataLoader's signature
    info = torch.utils.data.get_worker_info()
    info.dataset.shards.reopen()  # memory maps are per process


class CropLoader:
    """Decodes batches of crops of ``shards`` in ``workers`` processes (0: in this process)."""

    def __init__(self, shards: FrameShards, size: int, device: torch.device | str = "cpu", workers: int = 1,
                 prefetch: int = 2):
        self.shards, self.size, self.device = shards, int(size), torch.device(device)
        self.workers, self.prefetch = int(workers), int(prefetch)

    def batches(self, index_batches: Iterable[Sequence[int]]) -> Iterator[torch.Tensor]:
        """(B, S, S, 3) uint8 tensors on the device, one per list of item numbers, in order."""
        pin = self.device.type == "cuda"
        loader = DataLoader(_BatchDecoder(self.shards, self.size), batch_size=None, sampler=list(index_batches),
                            num_workers=self.workers, pin_memory=pin, worker_init_fn=_reopen if self.workers else None,
                            prefetch_factor=self.prefetch if self.workers else None,
                            multiprocessing_context="fork" if self.workers else None)
        for batch in loader:
            yield batch.to(self.device, non_blocking=True)
