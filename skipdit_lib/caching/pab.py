"""Pyramid Attention Broadcast (PAB, NUS-HPC-AI-Lab/VideoSys) as the paper runs it (PAPER.md section 7).

Inside a window of timesteps in the middle of sampling, each attention module computes only on
one call in `range` and broadcasts (reuses) its last output on the others; the ranges grow from
spatial to temporal to cross attention. Outside the window every attention computes.
"""
from __future__ import annotations

from dataclasses import dataclass

from .hooks import ModuleReuseHook, register_cache_method, require_units


@dataclass(frozen=True)
class PABConfig:
    """PAB settings; defaults are "PAB235" (spatial 2, temporal 3, cross 5)."""

    spatial_range: int = 2                      # PAB235 (Table 3); DiT/TextDiT "self" attention uses this too
    temporal_range: int = 3                     # PAB235 (Table 3)
    cross_range: int = 5                        # PAB235 (Table 3)
    window: tuple[int, int] = (100, 900)        # broadcast only for 100 <= t <= 900 (VideoSys PABManager defaults)

    def __post_init__(self) -> None:
        if min(self.spatial_range, self.temporal_range, self.cross_range) < 1:
            raise ValueError("every PAB range must be >= 1 (1 means that attention always computes)")
        if self.window[0] > self.window[1]:
            raise ValueError(f"window must be (low_t, high_t) with low_t <= high_t, got {self.window}")

    def range_of(self, kind: str) -> int:
        """Broadcast range of an attention kind ("self" counts as spatial)."""
        return {"spatial": self.spatial_range, "self": self.spatial_range,
                "temporal": self.temporal_range, "cross": self.cross_range}[kind]


# Paper: PAB_{spatial temporal cross}; Table 1 (class-to-video, no cross attention) and Table 3.
PAB_PRESETS: dict[str, PABConfig] = {
    "PAB23": PABConfig(spatial_range=2, temporal_range=3, cross_range=1),
    "PAB35": PABConfig(spatial_range=3, temporal_range=5, cross_range=1),
    "PAB235": PABConfig(spatial_range=2, temporal_range=3, cross_range=5),
    "PAB347": PABConfig(spatial_range=3, temporal_range=4, cross_range=7),
    "PAB469": PABConfig(spatial_range=4, temporal_range=6, cross_range=9),
}


@register_cache_method(PABConfig)
class PABHook(ModuleReuseHook):
    """Wraps every attention module listed by `model.attention_modules()` with its kind's range."""

    def install(self) -> None:
        require_units(self.model, "PAB")
        for name, kind, module in self.model.attention_modules():
            self.wrap(module, name, kind)

    def compute_now(self, kind: str) -> bool:
        """Compute outside the window, else on every `range`-th call (diffusers/VideoSys rule)."""
        low, high = self.config.window
        if not low <= self.state.t <= high:
            return True
        return self.state.step % self.config.range_of(kind) == 0
