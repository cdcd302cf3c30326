"""Tiny models and call counters shared by the caching tests (not a test module)."""
from __future__ import annotations

from collections import Counter

import torch

from skipdit_lib.caching import apply_cache, remove_cache
from skipdit_lib.diffusion.gaussian_diffusion import create_diffusion
from skipdit_lib.diffusion.sampling import sample_ddim
from skipdit_lib.models.configs import create_model

torch.set_num_threads(1)  # tiny models: threads only add contention on the shared CPU

TINY = dict(hidden_size=32, num_heads=2, input_size=8)
DDIM10_T = [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]  # original t of "ddim10", in call order


def randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Perturb every trainable weight so that no block is the identity (zero-init adaLN).

    The builders below seed the global RNG first, so every test sees the same weights."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.2 * torch.randn(p.shape, generator=gen))
    return model.eval()


def tiny_dit(skip: bool = True) -> torch.nn.Module:
    """Depth-4, width-32 class-conditional DiT on 1x8x8 inputs (4 tokens)."""
    name = "DiT-S/4-digits-skip" if skip else "DiT-S/4-digits"
    torch.manual_seed(0)
    return randomize(create_model(name, depth=4, **TINY))


def tiny_latte() -> torch.nn.Module:
    """4 spatial+temporal pairs (8 sub-blocks), width 32, 2 frames of 1x8x8."""
    torch.manual_seed(0)
    return randomize(create_model("Latte-S/4-digits-skip", depth=8, num_frames=2, **TINY))


def tiny_text_dit() -> torch.nn.Module:
    """Depth-4 TextDiT with native skips and 4-token, 8-dim captions."""
    torch.manual_seed(0)
    return randomize(create_model("TextDiT-S/4-digits", depth=4, caption_dim=8, text_len=4, **TINY))


def inputs(model: torch.nn.Module, n: int = 2, seed: int = 1) -> tuple[tuple[int, ...], torch.Tensor, object]:
    """(shape, start noise, condition) for `n` samples of `model`."""
    gen = torch.Generator().manual_seed(seed)
    if type(model).__name__ == "Latte":
        shape = (n, model.num_frames, model.in_channels, 8, 8)
    else:
        shape = (n, model.in_channels, 8, 8)
    noise = torch.randn(shape, generator=gen)
    if type(model).__name__ == "TextDiT":
        y = (torch.randn(n, 4, 8, generator=gen), torch.ones(n, 4, dtype=torch.bool))
    else:
        y = torch.arange(n) % 10
    return shape, noise, y


def sample(model: torch.nn.Module, steps: str = "ddim10", cfg_scale: float = 1.0, n: int = 2,
           callback=None) -> torch.Tensor:
    """One deterministic DDIM run of `model` from fixed noise."""
    shape, noise, y = inputs(model, n)
    diffusion = create_diffusion(steps, learn_sigma=True)
    return sample_ddim(model, diffusion, shape, y=y, cfg_scale=cfg_scale, noise=noise, callback=callback)


class CallCounter:
    """Counts forward calls of named submodules, one Counter per model call (flushed by the sampler callback)."""

    def __init__(self, modules: dict[str, torch.nn.Module]):
        self.current: Counter = Counter()
        self.per_call: list[Counter] = []
        self.handles = [m.register_forward_pre_hook(self._make(name)) for name, m in modules.items()]

    def _make(self, name: str):
        def hook(module, args):
            self.current[name] += 1
        return hook

    def flush(self, *args) -> None:
        """Sampler callback: close the record of the model call that just ended."""
        self.per_call.append(self.current)
        self.current = Counter()

    def totals(self, prefix: str) -> list[int]:
        """Per model call, how many counted modules whose name starts with `prefix` ran."""
        return [sum(v for k, v in c.items() if k.startswith(prefix)) for c in self.per_call]

    def names(self, prefix: str) -> list[set[str]]:
        """Per model call, the names starting with `prefix` that ran."""
        return [{k for k in c if k.startswith(prefix)} for c in self.per_call]

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def block_counter(model: torch.nn.Module) -> CallCounter:
    """Counts transformer blocks ("block.k"), attention ("attn.k", "cross.k") and MLP ("mlp.k") computations.

    Attention/MLP are counted at their first inner Linear, which only runs when they really compute."""
    modules = {}
    for k, b in enumerate(model.blocks):
        modules[f"block.{k}"] = b
        modules[f"attn.{k}"] = b.attn.qkv
        modules[f"mlp.{k}"] = b.mlp.fc1
        if getattr(b, "cross_attn", None) is not None:
            modules[f"cross.{k}"] = b.cross_attn.q_linear
    return CallCounter(modules)


def counted_sample(model: torch.nn.Module, config, cfg_scale: float = 1.0):
    """Sample once (DDIM-10) with `config` attached: the per-call block counter, the hook and the sample."""
    hook = apply_cache(model, config)
    counter = block_counter(model)
    try:
        out = sample(model, cfg_scale=cfg_scale, callback=counter.flush)
    finally:
        counter.remove()
        remove_cache(model)
    return counter, hook, out
