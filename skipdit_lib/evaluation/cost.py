"""Honest cost: FLOPs counted by PyTorch, wall-clock latency, and speedups measured in one process.

Paper: Tables 1, 3, 4, 7-8 give TFLOPs, latency and speedup against the uncached model. Here
every speedup is a ratio of two measurements taken in the same process run: FLOPs speedup
(machine-independent) and wall-clock speedup (this machine), and their ratio
`wallclock_over_flops` (how much of the FLOP saving shows up as time; caching overheads and small
matmuls lower it). `evaluation/methods.py` builds the method tables on these.
"""
from __future__ import annotations

import logging
import statistics
import time
from typing import Any, Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry, sdpa_backward_flop_count, sdpa_flop_count, shape_wrapper

log = logging.getLogger(__name__)

aten = torch.ops.aten


def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of the CPU flash-attention kernel: the two attention matmuls (QK^T and PV)."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_sdpa_backward_flops(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None,
                             **kwargs) -> int:
    """FLOPs of the CPU flash-attention backward kernel, as PyTorch counts the GPU kernels'."""
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


# PyTorch's FlopCounterMode has formulas for the CUDA SDPA kernels but not for the CPU one
# (`_scaled_dot_product_flash_attention_for_cpu`, what F.scaled_dot_product_attention runs on CPU),
# so without these entries attention would count as 0 FLOPs on CPU (checked in tests/test_cost.py).
SDPA_CPU_FLOPS = {
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_sdpa_backward_flops,
}


def random_weights(model: torch.nn.Module, seed: int = 0, scale: float = 0.02) -> torch.nn.Module:
    """`model` in eval mode with seeded noise of std `scale` added to every trainable weight, for timing at sizes
    with no trained weights (latency does not depend on them; the zero-initialised adaLN and final layers would
    otherwise make every block an identity)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(scale * torch.randn(p.shape, generator=gen).to(p.device, p.dtype))
    return model.eval()


FLOP_FORMULAS = {**flop_registry, **{op: shape_wrapper(f) for op, f in SDPA_CPU_FLOPS.items()}}


class TotalFlops(TorchDispatchMode):
    """The FLOPs of every op run under it, summed with PyTorch's own formulas (`torch.utils.flop_counter`'s
    registry and SDPA_CPU_FLOPS): what `FlopCounterMode(custom_mapping=SDPA_CPU_FLOPS)` totals (checked in
    tests/test_cost.py on every model and caching method), at about half its overhead per op: no per-module
    attribution (module hooks on every call) and a decomposition tried only for composite ops (`linear`, SDPA
    under inference mode), which FlopCounterMode tries for every op without a formula. A counted sampling run of
    a small model is mostly that overhead (2-4x an uncounted one at the notebooks' cost batch of 4)."""

    _composite: dict[Any, bool] = {}  # op -> has a CompositeImplicitAutograd kernel (a decomposition)

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if isinstance(func, torch._ops.HigherOrderOperator):
            raise TypeError(f"count_flops does not count higher-order ops ({func}); count this call eagerly or "
                            "with torch.utils.flop_counter.FlopCounterMode")
        formula = FLOP_FORMULAS.get(func._overloadpacket)
        if formula is None and self._is_composite(func):
            with self:
                out = func.decompose(*args, **kwargs)
            if out is not NotImplemented:
                return out
        out = func(*args, **kwargs)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out

    @classmethod
    def _is_composite(cls, func: Any) -> bool:
        known = cls._composite.get(func)
        if known is None:
            known = cls._composite[func] = torch._C._dispatch_has_kernel_for_dispatch_key(
                func.name(), "CompositeImplicitAutograd")
        return known


def count_flops(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """FLOPs of one call `fn(*args, **kwargs)` without gradients (matmuls, convs and attention; 2 per MAC)."""
    counter = TotalFlops()
    with torch.no_grad(), counter:
        fn(*args, **kwargs)
    return int(counter.total)


def _synchronize() -> None:
    """Wait for queued GPU work so wall-clock time covers it."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def time_once(fn: Callable[[], Any]) -> float:
    """Wall-clock seconds of one call of `fn()` without gradients."""
    _synchronize()
    start = time.perf_counter()
    with torch.no_grad():
        fn()
    _synchronize()
    return time.perf_counter() - start


def measure_latency(fn: Callable[[], Any], warmup: int = 2, repeats: int = 5) -> dict[str, Any]:
    """Median and every wall-clock time (s) of `fn()` over `repeats` calls after `warmup` untimed calls."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    for _ in range(warmup):
        time_once(fn)
    times = [time_once(fn) for _ in range(repeats)]
    return {"median": statistics.median(times), "all": times}


def interleaved_latencies(fns: dict[str, Callable[[], Any]], repeats: int, warmup: int = 0) -> dict[str, float]:
    """Median wall-clock seconds of every zero-argument callable, timed round-robin in this process.

    Round-robin (A, B, C, A, B, C, ...) spreads slow phases of a shared machine over every method
    instead of penalising whichever happens to run during them."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(warmup + repeats):
        for name, fn in fns.items():
            elapsed = time_once(fn)
            if r >= warmup:
                times[name].append(elapsed)
    return {name: statistics.median(ts) for name, ts in times.items()}
