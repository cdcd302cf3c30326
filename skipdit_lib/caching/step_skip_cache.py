"""Skip-Cache with whole-step skipping (ours, beyond the paper; notebook 07's search past 3x).

Skip-Cache bounds its own speedup: a cached step still runs 2B of the L units (the outer units that
make the fresh skips and fuse them), so it can never go past L / 2B per step. TeaCache and
First-Block-Cache skip whole steps instead, deciding from how much an early feature has changed.
This method does both, on one probe Skip-Cache computes anyway:

- every call runs units 0..B-1 (their output s is the shallow skip feature Skip-Cache needs);
- if s drifted by at most `threshold` (relative L1, accumulated since the last computed step, as
  First-Block-Cache) the whole step is skipped: the output is s plus the residual (last unit's output
  minus s) of the last computed step; B units run;
- otherwise the step is computed as Skip-Cache would: full (deep units refreshed) when a full step is
  due, cached (the outer units L-B..L-1 on the cached deep stream) when not.

A full step comes due every N calls (the counter advances on every call, as Skip-Cache's); a due
full step that is skipped stays due until the next computed step, so the deep cache is never
refreshed less often than Skip-Cache would refresh it minus the skipped steps. Inside the warm-up
(t >= warmup_t) every step is full and none is skipped; after the call with t <= stop_t (or <) the
caches are dropped, as Skip-Cache's. With `threshold` 0 no step is skipped and the method is
Skip-Cache call by call (tests/test_step_skip_cache.py checks both).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .hooks import CacheHook, CacheState, register_cache_method, relative_l1, run_units
from .skip_cache import SkipCacheConfig, check_branch_depth


@dataclass(frozen=True)
class StepSkipCacheConfig:
    """Skip-Cache's settings (N, B, window, reset rule) plus the step-skipping threshold."""

    interval: int = 2            # N: a full step comes due every N calls (Skip-Cache's N)
    branch_depth: int = 1        # B: units 0..B-1 are the probe; 0..B-1 and L-B..L-1 run on a cached step
    threshold: float = 0.05      # ours: skip the step when the probe moved by at most this (relative L1)
    warmup_t: int = 1000         # calls with t >= warmup_t are full (Skip-Cache's T_start)
    stop_t: int = 20             # caches dropped after the call with t <= stop_t (Skip-Cache's T_close)
    stop_inclusive: bool = True  # True: reset when t <= stop_t; False: t < stop_t (as SkipCacheConfig)

    def __post_init__(self) -> None:
        if self.interval < 1:
            raise ValueError(f"interval must be >= 1 (got {self.interval}); 1 makes every computed step full")
        if self.branch_depth < 1:
            raise ValueError(f"branch_depth must be >= 1 (got {self.branch_depth})")
        if self.threshold < 0:
            raise ValueError(f"threshold must be >= 0 (got {self.threshold}); 0 skips no step (plain Skip-Cache)")

    @classmethod
    def from_skip_cache(cls, config: SkipCacheConfig, threshold: float) -> "StepSkipCacheConfig":
        """A Skip-Cache setting (e.g. a paper preset) with step skipping at `threshold`."""
        return cls(config.interval, config.branch_depth, threshold, config.warmup_t, config.stop_t,
                   config.stop_inclusive)


class StepSkipCacheState(CacheState):
    """Skip-Cache's counter and deep cache, plus the probe and output residual of the last computed step."""

    def reset(self) -> None:
        super().reset()
        self.counter = 0                             # advances on every call (Skip-Cache's cache_cont)
        self.full_due = True                         # a full step is owed since the counter last hit 0 mod N
        self.cache: torch.Tensor | None = None       # deep stream of the last full step (N, T, D)
        self.reference: torch.Tensor | None = None   # probe (output of unit B-1) at the last computed step
        self.residual: torch.Tensor | None = None    # last unit's output minus the probe, same step
        self.distances: list[float] = []             # probe drift at every call that could be skipped


@register_cache_method(StepSkipCacheConfig)
class StepSkipCacheHook(CacheHook):
    """Replaces `forward_units`: skip the whole step, or run it as Skip-Cache would."""

    state_class = StepSkipCacheState
    eager_methods = CacheHook.eager_methods + ("decide",)

    def install(self) -> None:
        check_branch_depth(self.model, self.config.branch_depth, "Skip-Cache with step skipping")
        if 2 * self.config.branch_depth >= self.model.num_units:
            raise ValueError(f"branch_depth {self.config.branch_depth} leaves no deep unit to cache in a model "
                             f"of {self.model.num_units} units; use B < {self.model.num_units / 2:g}")
        self.patch(self.model, "forward_units", self.forward_units)

    def begin_step(self, t: float) -> None:
        """A full step comes due when the counter hits 0 mod N."""
        if self.state.counter % self.config.interval == 0:
            self.state.full_due = True

    def decide(self, probe: torch.Tensor) -> str:
        """"full", "cached" or "skipped" for this call, from the window, the caches and the probe's drift."""
        st, cfg = self.state, self.config
        if st.cache is None or st.t >= cfg.warmup_t:
            return "full"
        if st.residual is not None and cfg.threshold > 0:
            st.distances.append(relative_l1(probe, st.reference))
            if st.distances[-1] <= cfg.threshold:
                return "skipped"
        return "full" if st.full_due else "cached"

    def forward_units(self, h: torch.Tensor, ctx: Any) -> torch.Tensor:
        """Units 0..B-1, then the stored residual (skipped), or the deep stream (full) or its cache (cached)
        followed by units L-B..L-1."""
        L, B, st = self.model.num_units, self.config.branch_depth, self.state
        skips: dict[int, torch.Tensor] = {}
        probe = run_units(self.model, h, ctx, range(B), skips)  # (N, T, D) output of unit B-1
        kind = self.decide(probe)
        if kind == "skipped":
            st.record(full=False, kind=kind, units=B)
            return probe + st.residual  # (N, T, D)
        if kind == "full":
            st.cache = run_units(self.model, probe, ctx, range(B, L - B), skips)  # (N, T, D) unit L-B-1's output
            st.full_due = False
        out = run_units(self.model, st.cache, ctx, range(L - B, L), skips)  # (N, T, D)
        st.reference, st.residual = probe, out - probe
        st.record(full=kind == "full", kind=kind, units=L if kind == "full" else 2 * B)
        return out

    def end_step(self, t: float) -> None:
        """The counter advances on every call; after the stop timestep every cache is dropped."""
        st, cfg = self.state, self.config
        st.counter += 1
        if (t <= cfg.stop_t) if cfg.stop_inclusive else (t < cfg.stop_t):
            st.counter, st.full_due = 0, True
            st.cache = st.reference = st.residual = None
