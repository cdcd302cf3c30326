"""Adaptive Skip-Cache (ours, beyond the paper): recompute the deep units only when the shallow
skip feature has drifted since the last full step.

Every step runs the outer units 0..B-1 anyway (Skip-Cache needs their fresh skips), so the
output of unit B-1 is a free probe of how much the input to the deep stream has changed. We
compare it with the same feature at the last full step by the relative L1 distance
    d = mean|s - s_ref| / mean|s_ref|
(one number for the whole batch, so the two CFG halves decide together). Relative L1 rather than
cosine distance because adaLN modulation changes the *scale* of the tokens with the timestep:
a cosine distance ignores that, so it stays near zero while the deep features it would reuse
have grown or shrunk; relative L1 sees both direction and magnitude, is scale-free across models
and matches the statistic of TeaCache and First-Block-Cache, so thresholds read alike. Comparing
against the last *full* step (not the previous step) makes the drift accumulate, as TeaCache's
accumulated distance does, so a slow drift still triggers a refresh.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .hooks import CacheHook, CacheState, register_cache_method, relative_l1, run_units
from .skip_cache import check_branch_depth


@dataclass(frozen=True)
class AdaptiveSkipCacheConfig:
    """One threshold, no calibration; the window and B follow the paper's Skip-Cache settings."""

    threshold: float = 0.1   # ours: max relative L1 drift of the unit-(B-1) output before a full step
    branch_depth: int = 1    # B as in Skip-Cache (Paper sec 3: B=1 for video and text-to-image)
    warmup_t: int = 1000     # calls with t >= warmup_t are full (Paper sec 3, T_start)
    stop_t: int = 20         # calls with t <= stop_t are full, and the cache is dropped (Paper sec 3, T_close)

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise ValueError(f"threshold must be >= 0 (got {self.threshold}); 0 recomputes every step")
        if self.branch_depth < 1:
            raise ValueError(f"branch_depth must be >= 1 (got {self.branch_depth})")


class AdaptiveSkipCacheState(CacheState):
    """The cached deep stream, the shallow feature it was computed with, and the last distance."""

    def reset(self) -> None:
        super().reset()
        self.cache: torch.Tensor | None = None
        self.reference: torch.Tensor | None = None  # output of unit B-1 at the last full step
        self.distances: list[float] = []             # drift measured at every cacheable call


@register_cache_method(AdaptiveSkipCacheConfig)
class AdaptiveSkipCacheHook(CacheHook):
    """Skip-Cache whose full steps are chosen by the drift of the shallow skip feature."""

    state_class = AdaptiveSkipCacheState
    eager_methods = CacheHook.eager_methods + ("needs_full_step",)

    def install(self) -> None:
        check_branch_depth(self.model, self.config.branch_depth, "Adaptive Skip-Cache")
        self.patch(self.model, "forward_units", self.forward_units)

    def needs_full_step(self, shallow: torch.Tensor) -> bool:
        """Full inside the warm-up/stop windows, without a cache, or when the drift exceeds the threshold."""
        st, cfg = self.state, self.config
        if st.cache is None or st.t >= cfg.warmup_t or st.t <= cfg.stop_t:
            return True
        st.distances.append(relative_l1(shallow, st.reference))
        return st.distances[-1] > cfg.threshold

    def forward_units(self, h: torch.Tensor, ctx: Any) -> torch.Tensor:
        """Run units 0..B-1, then either the deep units (refreshing the cache) or the cached stream."""
        L, B = self.model.num_units, self.config.branch_depth
        skips: dict[int, torch.Tensor] = {}
        h = run_units(self.model, h, ctx, range(B), skips)  # (N, T, D) output of unit B-1
        full = self.needs_full_step(h)
        if full:
            self.state.reference = h
            h = run_units(self.model, h, ctx, range(B, L - B), skips)  # (N, T, D) output of unit L-B-1
            self.state.cache = h
        h = run_units(self.model, h if full else self.state.cache, ctx, range(L - B, L), skips)  # (N, T, D)
        self.state.record(full=full, units=L if full else 2 * B)
        return h

    def end_step(self, t: float) -> None:
        """Drop the cache once the stop timestep is reached (Paper sec 3: close at T_close)."""
        if t <= self.config.stop_t:
            self.state.cache = self.state.reference = None
