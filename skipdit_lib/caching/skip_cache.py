"""Skip-Cache (PAPER.md section 3): reuse the deep stream of a Skip-DiT, recompute only the outer units."""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from .hooks import CacheHook, CacheState, register_cache_method, require_units, run_units

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SkipCacheConfig:
    """Skip-Cache settings; the defaults are the released class-to-image code (DiT_cache)."""

    interval: int = 2            # N: one full step every N calls ("n=N" in Tables 1, 3, 4, 7, 8)
    branch_depth: int = 4        # B: outer units run on a cached step (class-to-image code: skip_at_branch = 4)
    warmup_t: int = 1000         # T_start: calls with t >= warmup_t are full (class-to-image: 1000, i.e. none)
    stop_t: int = 20             # T_close: the cache is dropped after the call with t <= stop_t (c2i: 20)
    stop_inclusive: bool = True  # True: reset when t <= stop_t (c2i, t2v, t2i code); False: t < stop_t (c2v code)

    def __post_init__(self) -> None:
        if self.interval < 1:
            raise ValueError(f"interval must be >= 1 (got {self.interval}); 1 means no caching")
        if self.branch_depth < 1:
            raise ValueError(f"branch_depth must be >= 1 (got {self.branch_depth})")


# Paper settings (PAPER.md section 3 and the official sampling configs); pick N (and B) with skip_cache_preset.
SKIP_CACHE_PRESETS: dict[str, SkipCacheConfig] = {
    # Paper: class-to-image DiT, B=4, no warm-up, close at t <= 20 (class-to-image/models.py DiT_cache).
    "class-to-image": SkipCacheConfig(interval=2, branch_depth=4, warmup_t=1000, stop_t=20, stop_inclusive=True),
    # Paper: class-to-video Latte, B=1 pair, 900 -> 50, close at t < 50 (class-to-video/models/latte.py).
    "class-to-video": SkipCacheConfig(interval=2, branch_depth=1, warmup_t=900, stop_t=50, stop_inclusive=False),
    # Paper: text-to-video, window 700 -> 50 (Table 3, 5; default of latte_t2v_skip_cache.py, t <= 50).
    "text-to-video-700": SkipCacheConfig(interval=2, branch_depth=1, warmup_t=700, stop_t=50, stop_inclusive=True),
    # Paper: text-to-video, window 800 -> 50 (Table 3).
    "text-to-video-800": SkipCacheConfig(interval=2, branch_depth=1, warmup_t=800, stop_t=50, stop_inclusive=True),
    # Paper: text-to-image Hunyuan-DiT, B=1, 700 -> 50, close at t <= 50 (hydit/modules/models_cache.py).
    "text-to-image": SkipCacheConfig(interval=2, branch_depth=1, warmup_t=700, stop_t=50, stop_inclusive=True),
}


def skip_cache_preset(name: str, interval: int = 2, branch_depth: int | None = None) -> SkipCacheConfig:
    """The paper's Skip-Cache setting `name` (see SKIP_CACHE_PRESETS) with N = `interval` and, when
    given, B = `branch_depth` (models shallower than the paper's need a smaller B)."""
    if name not in SKIP_CACHE_PRESETS:
        raise ValueError(f"unknown Skip-Cache preset {name!r}; choose one of {sorted(SKIP_CACHE_PRESETS)}")
    preset = replace(SKIP_CACHE_PRESETS[name], interval=interval)
    return preset if branch_depth is None else replace(preset, branch_depth=branch_depth)


class SkipCacheState(CacheState):
    """Skip-Cache state: the call counter (reset at T_close) and the cached deep stream."""

    def reset(self) -> None:
        super().reset()
        self.counter = 0                          # Paper: cache_cont; advances on every call
        self.cache: torch.Tensor | None = None    # Paper: cache_val, the deep stream before fusing at L-B


def check_branch_depth(model: nn.Module, depth: int, method: str) -> None:
    """Raise ValueError unless units L-B..L-1 all take their skip from units 0..B-1."""
    require_units(model, method)
    if not getattr(model, "skip", False) or not model.skip_map:
        raise ValueError(f"{method} needs skip branches: build the model with skip=True "
                         "(a plain DiT has no shallow-to-deep branch to carry the fresh features)")
    L = model.num_units
    if not 1 <= depth <= L // 2 or any(model.skip_map.get(i, L) >= depth for i in range(L - depth, L)):
        raise ValueError(f"branch_depth must be in 1..{L // 2} for a model with {L} units and its "
                         f"outer units must be joined by skip branches (got {depth})")


@register_cache_method(SkipCacheConfig)
class SkipCacheHook(CacheHook):
    """Replaces `model.forward_units` with the Skip-Cache loop of PAPER.md section 3."""

    state_class = SkipCacheState
    eager_methods = CacheHook.eager_methods + ("is_full_step",)

    def install(self) -> None:
        check_branch_depth(self.model, self.config.branch_depth, "Skip-Cache")
        if 2 * self.config.branch_depth >= self.model.num_units:
            log.warning("Skip-Cache with branch_depth=%d on %d units skips nothing; use a smaller B "
                        "(the paper's B=4 is for 28-block DiT-XL/2)", self.config.branch_depth, self.model.num_units)
        self.patch(self.model, "forward_units", self.forward_units)

    def is_full_step(self) -> bool:
        """Paper: full = counter % N == 0 or cache is None or t >= T_start."""
        st, cfg = self.state, self.config
        return st.counter % cfg.interval == 0 or st.cache is None or st.t >= cfg.warmup_t

    def forward_units(self, h: torch.Tensor, ctx: Any) -> torch.Tensor:
        """The unit loop with the deep stream cached on full steps and reused on the others."""
        L, B = self.model.num_units, self.config.branch_depth
        skips: dict[int, torch.Tensor] = {}
        if self.is_full_step():
            h = run_units(self.model, h, ctx, range(L - B), skips)  # (N, T, D) output of unit L-B-1
            self.state.cache = h  # Paper: cache = x just before fusing at unit L-B
            units = L
        else:
            run_units(self.model, h, ctx, range(B), skips)  # keeps the fresh skips of units 0..B-1
            h = self.state.cache  # (N, T, D) deep stream of the last full step
            units = 2 * B
        h = run_units(self.model, h, ctx, range(L - B, L), skips)  # (N, T, D) fuse fresh skips, run
        self.state.record(full=units == L, units=units)
        return h

    def end_step(self, t: float) -> None:
        """Paper: counter += 1 on every call; after the call with t <= T_close (or <), drop the cache."""
        st, cfg = self.state, self.config
        st.counter += 1
        if (t <= cfg.stop_t) if cfg.stop_inclusive else (t < cfg.stop_t):
            st.counter, st.cache = 0, None
