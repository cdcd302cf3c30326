"""Delta-DiT (Chen et al. 2024) as the paper runs it (PAPER.md section 7).

Delta-Cache stores the *offset* a range of units adds to the stream (output - input) on a full
call and, on the calls between, adds that offset to the fresh input instead of running the range.
Stage-adaptive: before the boundary step b the rear units are cached (they refine details, which
matter little early), from b on the front units (they set the outline, settled late).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch

from .hooks import CacheHook, CacheState, register_cache_method, require_units, run_units


@dataclass(frozen=True)
class DeltaDiTConfig:
    """Delta-DiT settings; steps count model calls from the start of a sampling run."""

    boundary_step: int = 12        # b: rear units cached before call b, front units after (Paper sec 7: 50 steps, b=12)
    cached_fraction: float = 0.75  # share of units in the cached range (Paper sec 7: DiT 21 of 28 blocks)
    num_cached_units: Optional[int] = None  # exact count instead of the fraction (Latte C2V: 10 of 14 pairs)
    interval: int = 2              # N: full call every N calls refreshes the offset (assumption; PAPER.md gives none)

    def __post_init__(self) -> None:
        if self.interval < 1 or self.boundary_step < 0:
            raise ValueError("need interval >= 1 and boundary_step >= 0")
        if not 0 < self.cached_fraction < 1:
            raise ValueError(f"cached_fraction must be in (0, 1), got {self.cached_fraction}")

    def cached_units(self, num_units: int) -> int:
        """How many units the cached range holds for a model with `num_units` units."""
        k = self.num_cached_units or round(self.cached_fraction * num_units)
        if not 1 <= k < num_units:
            raise ValueError(f"the cached range must hold 1..{num_units - 1} units, got {k}")
        return k


# Paper sec 7: the baselines' settings (250 DDPM steps: b=60; 50 steps: b=12). Given as fractions so
# that they scale: 21/28 blocks of DiT-XL/2 and 10/14 pairs of Latte-XL/2 exactly, rounded on small models.
DELTA_DIT_PRESETS: dict[str, DeltaDiTConfig] = {
    "DiT-250": DeltaDiTConfig(boundary_step=60, cached_fraction=21 / 28),
    "DiT-50": DeltaDiTConfig(boundary_step=12, cached_fraction=21 / 28),
    "Latte-250": DeltaDiTConfig(boundary_step=60, cached_fraction=10 / 14),
    "Latte-50": DeltaDiTConfig(boundary_step=12, cached_fraction=10 / 14),
}


class DeltaDiTState(CacheState):
    """Offset of each stage's range, and the skip features the front range produced."""

    def reset(self) -> None:
        super().reset()
        self.delta: dict[str, torch.Tensor] = {}
        self.front_skips: dict[int, torch.Tensor] = {}


@register_cache_method(DeltaDiTConfig)
class DeltaDiTHook(CacheHook):
    """Replaces `forward_units` with the stage-adaptive Delta-Cache loop."""

    state_class = DeltaDiTState

    def install(self) -> None:
        require_units(self.model, "Delta-DiT")
        self.k = self.config.cached_units(self.model.num_units)
        self.patch(self.model, "forward_units", self.forward_units)

    def cached_range(self) -> tuple[str, int, int]:
        """(stage, first unit, end unit) of the range cached on this call."""
        L = self.model.num_units
        if self.state.step < self.config.boundary_step:
            return "rear", L - self.k, L
        return "front", 0, self.k

    def forward_units(self, h: torch.Tensor, ctx: Any) -> torch.Tensor:
        """Units before the range, the range or input + offset, units after it."""
        st, L = self.state, self.model.num_units
        stage, lo, hi = self.cached_range()
        full = st.step % self.config.interval == 0 or stage not in st.delta
        skips: dict[int, torch.Tensor] = {}
        h = run_units(self.model, h, ctx, range(lo), skips)  # (N, T, D) input of the range
        if full:
            out = run_units(self.model, h, ctx, range(lo, hi), skips)  # (N, T, D)
            st.delta[stage] = out - h  # (N, T, D) Delta-Cache: the offset of the range
            if stage == "front":
                st.front_skips = dict(skips)  # skip features the later units still need
        else:
            out = h + st.delta[stage]  # (N, T, D)
            if stage == "front":
                # Differs from Delta-DiT (no skip branches there): a Skip-DiT's later units reuse the
                # skip features the cached front units produced on the last full call.
                skips.update(st.front_skips)
        h = run_units(self.model, out, ctx, range(hi, L), skips)  # (N, T, D)
        st.record(full=full, units=L if full else L - self.k)
        return h
