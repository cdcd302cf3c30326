"""`compare_methods`: one table of cost and quality for the uncached model and every caching method.

All methods start from the same noise with the same sampler. FLOPs are counted on one sampling
run (`evaluation.count_flops`: matmuls, convolutions and attention, CPU attention included);
latency is the median of `repeats` timed runs after `warmup` untimed ones, with the methods
*interleaved* inside every repeat so that load changes on a shared machine hit every method alike. Quality is measured
against the uncached samples (PSNR, SSIM) and, when reference data and a feature extractor are
given, against data (`evaluation.frechet_distance` of extractor features, "FID-style").
"""
from __future__ import annotations

import logging
import statistics
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence

import torch
from torch import nn

from .fewer_steps import FewerStepsConfig
from .hooks import apply_cache, get_cache, remove_cache

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

BASELINE = "uncached"


@dataclass(frozen=True)
class SamplerSettings:
    """Which sampler runs every method."""

    sampler: str = "ddim"          # "ddim" or "ddpm"
    num_steps: int = 50            # Paper: DDIM-50 for text-to-video/UCF101, DDPM-250 elsewhere
    cfg_scale: float = 1.0         # classifier-free guidance scale (1.0 = off)
    cfg_channels: Optional[int] = None  # eps channels guided (official DiT: 3 of 4)

    def __post_init__(self) -> None:
        if self.sampler not in ("ddim", "ddpm"):
            raise ValueError(f"sampler must be 'ddim' or 'ddpm', got {self.sampler!r}")
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {self.num_steps}")


def make_noise(shape: Sequence[int], seeds: Sequence[int]) -> torch.Tensor:
    """Start noise with one sample per seed: (len(seeds), *shape)."""
    return torch.stack([torch.randn(tuple(shape), generator=torch.Generator().manual_seed(s)) for s in seeds])


def run_sampler(model: nn.Module, settings: SamplerSettings, noise: torch.Tensor, y: Any,
                num_steps: Optional[int] = None) -> torch.Tensor:
    """One sampling run of `model` from `noise` (the samplers reset any attached cache)."""
    from skipdit_lib.diffusion.gaussian_diffusion import create_diffusion, model_learns_sigma
    from skipdit_lib.diffusion.sampling import sample_ddim, sample_ddpm

    steps = num_steps or settings.num_steps
    spacing = f"ddim{steps}" if settings.sampler == "ddim" else str(steps)
    diffusion = create_diffusion(spacing, learn_sigma=model_learns_sigma(model))
    sample = sample_ddim if settings.sampler == "ddim" else sample_ddpm
    generator = torch.Generator(device=noise.device).manual_seed(0)  # DDPM's per-step noise, same for all
    return sample(model, diffusion, tuple(noise.shape), y=y, cfg_scale=settings.cfg_scale, noise=noise,
                  generator=generator, cfg_channels=settings.cfg_channels, device=noise.device)


def flops_and_samples(run: Callable[[], torch.Tensor]) -> tuple[int, torch.Tensor]:
    """FLOPs of one sampling run (evaluation.count_flops: attention included on CPU) and its samples."""
    from skipdit_lib.evaluation.cost import count_flops

    out: list[torch.Tensor] = []
    flops = count_flops(lambda: out.append(run()))
    return flops, out[0]


def ssim_or_nan(reference: torch.Tensor, test: torch.Tensor) -> float:
    """evaluation.ssim, or NaN for frames smaller than its 11x11 window."""
    from skipdit_lib.evaluation.reference_quality import ssim

    try:
        return ssim(reference, test)
    except ValueError:
        return float("nan")


@contextmanager
def attached(model: nn.Module, config: Any) -> Iterator[Any]:
    """`config` attached to `model` for the block, yielding the hook (None / FewerSteps: nothing, None)."""
    if config is None or isinstance(config, FewerStepsConfig):
        yield None
        return
    hook = apply_cache(model, config)
    try:
        yield hook
    finally:
        remove_cache(model)


def steps_of(config: Any, settings: SamplerSettings) -> int:
    """The sampler's step count for a method (only FewerStepsConfig changes it)."""
    return config.steps_for(settings.num_steps) if isinstance(config, FewerStepsConfig) else settings.num_steps


def measure_latencies(model: nn.Module, methods: dict[str, Any], settings: SamplerSettings,
                      noise: torch.Tensor, y: Any, repeats: int, warmup: int) -> dict[str, float]:
    """Median seconds per sampling run of every method, the methods interleaved in each repeat."""
    from skipdit_lib.evaluation.cost import time_once

    times: dict[str, list[float]] = {name: [] for name in methods}
    for r in range(warmup + repeats):
        for name, config in methods.items():
            with attached(model, config):
                elapsed = time_once(lambda: run_sampler(model, settings, noise, y, steps_of(config, settings)))
            if r >= warmup:
                times[name].append(elapsed)
    return {name: statistics.median(ts) for name, ts in times.items()}


def sample_and_count(model: nn.Module, config: Any, settings: SamplerSettings, noise: torch.Tensor,
                     y: Any) -> dict[str, Any]:
    """Samples, FLOPs and fraction of full steps of one method."""
    steps = steps_of(config, settings)
    with attached(model, config) as hook:
        flops, samples = flops_and_samples(lambda: run_sampler(model, settings, noise, y, steps))
        full = hook.state.full_fraction if hook is not None else 1.0
    return {"samples": samples, "steps": steps, "full_step_fraction": full, "flops": flops}


def compare_methods(model: nn.Module, methods: dict[str, Any], *, shape: Optional[Sequence[int]] = None,
                    seeds: Sequence[int] = (0, 1, 2, 3), noise: Optional[torch.Tensor] = None, y: Any = None,
                    sampler: Optional[SamplerSettings] = None, reference_data: Optional[torch.Tensor] = None,
                    extractor: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
                    repeats: int = 3, warmup: int = 1) -> "pd.DataFrame":
    """Run the uncached model and every method from the same noise; one row per method.

    `methods` maps a row name to a config (any cache config or FewerStepsConfig). Give `noise`
    (N, ...) or `shape` (one sample's shape) with `seeds`. `y` is the condition of the N samples.
    Columns: steps, full_step_fraction, gflops (one sampling run), flops_speedup, latency_s
    (median), wallclock_speedup, wallclock_over_flops, psnr_db and ssim against the uncached
    samples, and fid against `reference_data` through `extractor` (NaN without them)."""
    import pandas as pd

    settings = sampler or SamplerSettings()
    if noise is None:
        if shape is None:
            raise ValueError("give either noise (N, ...) or shape (one sample's shape) and seeds")
        noise = make_noise(shape, seeds)
    if get_cache(model) is not None or BASELINE in methods:
        raise ValueError(f"remove the model's cache first and do not name a method {BASELINE!r}")
    runs = {BASELINE: None, **methods}
    results = {name: sample_and_count(model, cfg, settings, noise, y) for name, cfg in runs.items()}
    latency = measure_latencies(model, runs, settings, noise, y, repeats, warmup)
    rows = [table_row(name, results[name], results[BASELINE], latency, reference_data, extractor) for name in runs]
    return pd.DataFrame(rows).set_index("method")


def table_row(name: str, res: dict[str, Any], base: dict[str, Any], latency: dict[str, float],
              reference_data: Optional[torch.Tensor], extractor: Optional[Callable]) -> dict[str, Any]:
    """One row of the comparison table."""
    from skipdit_lib.evaluation.frechet import frechet_distance
    from skipdit_lib.evaluation.reference_quality import psnr

    flops_speedup = base["flops"] / res["flops"]
    wall_speedup = latency[BASELINE] / latency[name]
    same, fid = name == BASELINE, float("nan")
    if reference_data is not None and extractor is not None:
        fid = frechet_distance(reference_data, res["samples"], extractor)
    return {
        "method": name, "steps": res["steps"], "full_step_fraction": res["full_step_fraction"],
        "gflops": res["flops"] / 1e9, "flops_speedup": flops_speedup,
        "latency_s": latency[name], "wallclock_speedup": wall_speedup,
        "wallclock_over_flops": wall_speedup / flops_speedup,
        "psnr_db": float("nan") if same else psnr(base["samples"], res["samples"]),
        "ssim": float("nan") if same else ssim_or_nan(base["samples"], res["samples"]),
        "fid": fid,
    }
