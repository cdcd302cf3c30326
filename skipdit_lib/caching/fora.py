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
    """Wraps every block's attention and MLP branch (the module on its normalised, modulated input: a reused
    output skips the norm and modulation as well) and, for text models, its cross-attention module."""

    def install(self) -> None:
        require_units(self.model, "FORA")
        for u in range(self.model.num_units):
            for j, block in enumerate(self.model.unit_blocks(u)):
                self.wrap(block, f"{u}.attn.{j}", "attn", method="attn_branch")
                self.wrap(block, f"{u}.mlp.{j}", "mlp", method="mlp_branch")
                if self.config.include_cross_attention and getattr(block, "cross_attn", None) is not None:
                    self.wrap(block.cross_attn, f"{u}.cross_attn.{j}", "cross_attn")

    def compute_now(self, kind: str) -> bool:
        """FORA: recompute on calls 0, N, 2N, ... of a sampling run."""
        return self.state.step % self.config.interval == 0
