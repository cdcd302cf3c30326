"""Deterministic data order: global batch k of a run is a function of (seed, step) alone.

Epoch e visits the dataset in the order `randperm(n)` of a generator seeded with `seed + e`
(as DistributedSampler does), cut into global batches of `batch_size` (the last partial batch is
dropped). Process r of W takes the r-th contiguous slice of each global batch, so W processes
see exactly the samples one process would, and a resumed run can start at any step.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler


def step_seed(seed: int, step: int, *stream: int) -> int:
    """A well-mixed 63-bit seed for (seed, step, stream...), used to seed per-step randomness."""
    return int(np.random.SeedSequence([seed, step, *stream]).generate_state(2, dtype=np.uint32).view(np.uint64)[0]
               >> np.uint64(1))


class StepBatchSampler(Sampler[list[int]]):
    """Yields this process's index list for every step from `start_step` to `stop_step`."""

    def __init__(self, dataset_size: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1,
                 start_step: int = 0, stop_step: int = 0) -> None:
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} must be divisible by the number of processes {world_size}")
        if dataset_size < batch_size:
            raise ValueError(f"the dataset has {dataset_size} samples, fewer than one batch of {batch_size}; "
                             "lower batch_size")
        self.dataset_size, self.batch_size, self.seed = dataset_size, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.start_step, self.stop_step = start_step, stop_step
        self.batches_per_epoch = dataset_size // batch_size

    def epoch_order(self, epoch: int) -> torch.Tensor:
        """The permutation of the dataset used in `epoch`."""
        generator = torch.Generator().manual_seed(self.seed + epoch)
        return torch.randperm(self.dataset_size, generator=generator)  # (n,)

    def global_batch(self, step: int) -> torch.Tensor:
        """The dataset indices of global batch `step` (all processes together)."""
        epoch, k = divmod(step, self.batches_per_epoch)
        return self.epoch_order(epoch)[k * self.batch_size:(k + 1) * self.batch_size]  # (B,)

    def local_batch(self, step: int) -> list[int]:
        """This process's contiguous slice of global batch `step`."""
        local = self.batch_size // self.world_size
        return self.global_batch(step)[self.rank * local:(self.rank + 1) * local].tolist()

    def state(self, step: int) -> dict[str, int]:
        """Where the data order stands after `step` steps (saved in checkpoints)."""
        epoch, k = divmod(step, self.batches_per_epoch)
        return {"seed": self.seed, "step": step, "epoch": epoch, "batch_in_epoch": k,
                "batches_per_epoch": self.batches_per_epoch, "dataset_size": self.dataset_size,
                "batch_size": self.batch_size}

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start_step, self.stop_step):
            yield self.local_batch(step)

    def __len__(self) -> int:
        return max(self.stop_step - self.start_step, 0)
