"""A dataset that dies part-way: how the tests interrupt a training run to check that it resumes exactly."""
from __future__ import annotations

from torch.utils.data import Dataset


class FailingDataset(Dataset):
    """Raises KeyboardInterrupt after `limit` item reads: an interruption in the middle of a run."""

    def __init__(self, base: Dataset, limit: int) -> None:
        self.base, self.limit, self.reads = base, limit, 0

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i):
        self.reads += 1
        if self.reads > self.limit:
            raise KeyboardInterrupt("simulated interruption")
        return self.base[i]
