"""T-GATE (Liu et al. 2024; the `tgate` package, v2 schedule) as the paper runs it (PAPER.md section 7).

Two phases split at the gate step m: before m (semantics planning) cross-attention computes every
call and self-attention computes on every k-th call after a short warm-up; from m on (fidelity
improving) the cross-attention output cached at the last call before m is reused and
self-attention computes every call. Needs a text-conditioned model (cross-attention).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .hooks import ModuleReuseHook, register_cache_method, require_units

SELF_KINDS = ("self", "spatial", "temporal")


@dataclass(frozen=True)
class TGATEConfig:
    """T-GATE settings; steps count model calls from the start of a sampling run."""

    gate_step: int = 20           # m: cross-attention cached from this call on (Paper sec 7: m=20)
    self_attn_interval: int = 2   # k: self-attention computed every k-th call before m (Paper sec 7: k=2)
    warm_up: int = 2              # calls before m that always compute self-attention (tgate v2 example default)
    average_cfg_halves: bool = False  # T-GATE caches mean(cond, uncond) cross-attn; only for [cond; uncond] batches

    def __post_init__(self) -> None:
        if self.gate_step < 1 or self.self_attn_interval < 1 or self.warm_up < 0:
            raise ValueError("need gate_step >= 1, self_attn_interval >= 1 and warm_up >= 0")


@register_cache_method(TGATEConfig)
class TGATEHook(ModuleReuseHook):
    """Wraps cross-attention and self-attention modules with the two-phase rule."""

    def install(self) -> None:
        require_units(self.model, "T-GATE")
        attention = self.model.attention_modules()
        if not any(kind == "cross" for _, kind, _ in attention):
            raise ValueError("T-GATE caches cross-attention: use a text-conditioned model "
                             "(TextDiT or a text Latte), not a class-conditional one")
        for name, kind, module in attention:
            self.wrap(module, name, kind)

    def compute_now(self, kind: str) -> bool:
        """Cross: before the gate only. Self: warm-up, every k-th call before the gate, always after."""
        step, cfg = self.state.step, self.config
        if kind == "cross":
            return step < cfg.gate_step
        if step < cfg.warm_up or step >= cfg.gate_step:
            return True
        return (step - cfg.warm_up) % cfg.self_attn_interval == 0

    def to_cache(self, kind: str, output: torch.Tensor) -> torch.Tensor:
        """T-GATE: the cached cross-attention is the mean of the conditional and unconditional halves."""
        if kind != "cross" or not self.config.average_cfg_halves:
            return output
        if output.shape[0] % 2:
            raise ValueError("average_cfg_halves needs CFG-batched calls [cond; uncond] (an even batch)")
        cond, uncond = output.chunk(2, dim=0)  # 2 x (N, T, D)
        mean = (cond + uncond) / 2  # (N, T, D)
        return torch.cat([mean, mean], dim=0)  # (2N, T, D)
