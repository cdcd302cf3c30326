""""Fewer sampling steps": the trivial baseline of Table 2 (same model, a shorter sampler schedule)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional


@dataclass(frozen=True)
class FewerStepsConfig:
    """Run the sampler with fewer steps instead of hooking the model (not for `apply_cache`)."""

    changes_sampler: ClassVar[bool] = True  # `attached` attaches nothing; the runner shortens the sampler

    num_steps: Optional[int] = None       # the step count to sample with
    match_speedup: Optional[float] = None  # or: base steps / this (Table 2: matched throughput of Skip-Cache)

    def __post_init__(self) -> None:
        if (self.num_steps is None) == (self.match_speedup is None):
            raise ValueError("give exactly one of num_steps or match_speedup")
        if self.num_steps is not None and self.num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {self.num_steps}")
        if self.match_speedup is not None and self.match_speedup < 1:
            raise ValueError(f"match_speedup must be >= 1, got {self.match_speedup}")

    def steps_for(self, base_steps: int) -> int:
        """The sampler's step count when the uncached baseline uses `base_steps`."""
        if self.num_steps is not None:
            return self.num_steps
        return max(1, round(base_steps / self.match_speedup))
