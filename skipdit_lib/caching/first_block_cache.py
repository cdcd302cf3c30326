"""First-Block-Cache (ParaAttention; diffusers `hooks/first_block_cache.py`), a peer the paper does not run.

Every call runs the first unit. If its residual (output - input) moved relatively less than
`threshold` from the residual at the last full step, the remaining units are skipped and their
cached residual is added instead; otherwise they run and their residual is stored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .hooks import CacheHook, CacheState, register_cache_method, relative_l1, require_units, run_units


@dataclass(frozen=True)
class FirstBlockCacheConfig:
    """First-Block-Cache settings."""

    threshold: float = 0.05  # diffusers FirstBlockCacheConfig default; skip when rel. L1 change <= threshold

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise ValueError(f"threshold must be >= 0 (got {self.threshold}); 0 recomputes every step")


class FirstBlockCacheState(CacheState):
    """The first unit's residual and the rest's residual at the last full step."""

    def reset(self) -> None:
        super().reset()
        self.head_residual: torch.Tensor | None = None  # first unit: output - input
        self.tail_residual: torch.Tensor | None = None  # units 1..L-1: output - first unit's output
        self.distances: list[float] = []


@register_cache_method(FirstBlockCacheConfig)
class FirstBlockCacheHook(CacheHook):
    """Replaces `forward_units`: unit 0 always runs, units 1..L-1 only when unit 0 changed enough."""

    state_class = FirstBlockCacheState
    eager_methods = CacheHook.eager_methods + ("should_compute",)

    def install(self) -> None:
        require_units(self.model, "First-Block-Cache")
        self.patch(self.model, "forward_units", self.forward_units)

    def should_compute(self, residual: torch.Tensor) -> bool:
        """diffusers: compute when rel. L1(residual, cached residual) > threshold (threshold 0: always)."""
        st = self.state
        if st.head_residual is None or st.tail_residual is None or self.config.threshold <= 0:
            return True
        st.distances.append(relative_l1(residual, st.head_residual))
        return st.distances[-1] > self.config.threshold

    def forward_units(self, h: torch.Tensor, ctx: Any) -> torch.Tensor:
        """Unit 0, then the rest of the stack or its cached residual."""
        L = self.model.num_units
        skips: dict[int, torch.Tensor] = {}
        first = run_units(self.model, h, ctx, range(1), skips)  # (N, T, D)
        residual = first - h  # (N, T, D)
        full = self.should_compute(residual)
        if full:
            h = run_units(self.model, first, ctx, range(1, L), skips)  # (N, T, D)
            # diffusers: the reference residual is updated on full steps only
            self.state.head_residual, self.state.tail_residual = residual, h - first
        else:
            h = first + self.state.tail_residual  # (N, T, D)
        self.state.record(full=full, units=L if full else 1)
        return h
