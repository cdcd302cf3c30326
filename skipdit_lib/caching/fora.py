"""FORA (Selvaraju et al. 2024), as the paper runs it (PAPER.md section 7): every block's attention
and MLP outputs are computed on one call in N and reused on the N-1 calls between."""
from __future__ import annotations

from dataclasses import dataclass

from .hooks import ModuleReuseHook, register_cache_method, require_units


@dataclass(frozen=True)
class FORAConfig:
    """FORA settings."""

    interval: int = 3                # N: FORA's static-caching interval (its paper's main setting; PAPER.md gives none)
    include_cross_attention: bool = True  # text models: reuse cross-attention outputs too (all attention layers)

    def __post_init__(self) -> None:
        if self.interval < 1:
            raise ValueError(f"interval must be >= 1 (got {self.interval}); 1 means no caching")


@register_cache_method(FORAConfig)
class FORAHook(ModuleReuseHook):
    """Wraps every unit's attention (and cross-attention) and MLP modules."""

    def install(self) -> None:
        require_units(self.model, "FORA")
        for u, modules in enumerate(self.model.units_modules()):
            kinds = ["attn", "mlp"] + (["cross_attn"] if self.config.include_cross_attention else [])
            for kind in kinds:
                for j, module in enumerate(modules.get(kind, [])):
                    self.wrap(module, f"{u}.{kind}.{j}", kind)

    def compute_now(self, kind: str) -> bool:
        """FORA: recompute on calls 0, N, 2N, ... of a sampling run."""
        return self.state.step % self.config.interval == 0
