"""Process-group setup for `torchrun` data-parallel training (gloo on CPU, nccl on GPU)."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: rank, world size and device; rank 0 is the only writer."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """True on the process that writes logs and checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    """True when the torchrun environment variables are set."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def setup_distributed(device: str | torch.device | None = None) -> DistContext:
    """Join the torchrun process group if there is one (idempotent); else a one-process context."""
    if launched_by_torchrun() and int(os.environ["WORLD_SIZE"]) > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        log.info("joined process group: backend %s, rank %d of %d", backend, dist.get_rank(), dist.get_world_size())
    if not dist.is_initialized():
        return DistContext(0, 1, torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu")))
    if device is None and torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    return DistContext(dist.get_rank(), dist.get_world_size(), torch.device(device or "cpu"))


def wrap_data_parallel(model: nn.Module, ctx: DistContext) -> nn.Module:
    """DistributedDataParallel around `model` when several processes train, else the model itself."""
    if not ctx.distributed:
        return model
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def all_reduce_mean(values: list[float], ctx: DistContext) -> list[float]:
    """The mean over processes of each value (the values themselves on one process)."""
    if not ctx.distributed:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return (tensor / ctx.world_size).tolist()


def barrier(ctx: DistContext) -> None:
    """Wait for every process (a no-op on one process)."""
    if ctx.distributed:
        dist.barrier()
