"""The numeric precision the models sample in: fp32, tf32 or bf16, one process-wide setting.

- `fp32`: float32 everywhere, TF32 tensor-core matmuls off (the default; the only sensible one on a CPU).
- `tf32`: float32 tensors, matmuls and convolutions in TF32 on GPUs that have it (Ampere and later);
  no effect on a CPU.
- `bf16`: the model forward under `torch.autocast(dtype=torch.bfloat16)` (matmuls, attention and
  convolutions in bfloat16, reductions and the sampler's arithmetic in float32), what the paper's
  released sampling scripts run on GPUs. On this project's CPUs bf16 matmuls are ~30x slower.

`set_precision` chooses it (the runner's `--precision`, every notebook's `precision` parameter through
`start_run`, which records it in metrics.json); `run_sampler` enters `autocast_for(device)` around the
whole sampling loop, so every method of a table runs at the same precision.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch

PRECISIONS = ("fp32", "tf32", "bf16")
_current = {"precision": "fp32"}


def check_precision(precision: str) -> str:
    """`precision` when it is one of PRECISIONS; a ValueError naming them otherwise."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    return precision


def set_precision(precision: str) -> str:
    """Make `precision` the process's sampling precision (and switch TF32 matmuls on for "tf32" only);
    returns the previous one."""
    previous = _current["precision"]
    _current["precision"] = check_precision(precision)
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    return previous


def get_precision() -> str:
    """The process's sampling precision (fp32 unless `set_precision` said otherwise)."""
    return _current["precision"]


@contextlib.contextmanager
def using_precision(precision: str) -> Iterator[None]:
    """`set_precision(precision)` for the block, the previous precision restored after it."""
    previous = set_precision(precision)
    try:
        yield
    finally:
        set_precision(previous)


def autocast_for(device: Any, precision: str | None = None) -> contextlib.AbstractContextManager:
    """The autocast context of `precision` (default: the process's) on `device`: bf16 autocast, or nothing."""
    if check_precision(precision or get_precision()) != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
