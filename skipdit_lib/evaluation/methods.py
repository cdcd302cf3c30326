"""One measurement path for caching methods, images and videos alike: cost and quality in one table.

Every method (a cache config, `FewerStepsConfig`, or None for the uncached model) runs with the
same sampler from the same noise. FLOPs are counted on one sampling run (`count_flops`: matmuls,
convolutions and attention, CPU attention included); latency is the median of `repeats` timed runs
after `warmup` untimed ones, the methods *interleaved* inside every repeat so that load changes on
a shared machine hit every method alike. Quality is measured against the uncached samples (PSNR,
SSIM) and, given a `DataReference`, against data (Frechet distance, IS, precision, recall, accuracy).

The column vocabulary, one meaning each, shared by every table of every notebook:
"""
from __future__ import annotations

import logging
from typing import Any, Optional

import pandas as pd
import torch
from torch import nn

from ..caching.hooks import attached, get_cache
from ..diffusion.sampling import SamplerSettings, run_sampler
from .cost import count_flops, interleaved_latencies
from .sample_quality import DataReference, against_uncached

log = logging.getLogger(__name__)

UNCACHED = "uncached"
COLUMNS = {
    "model": "the model family the method runs on (DiT, Skip-DiT, ...)",
    "method": "the row's method; the model's own name for its uncached row",
    "sampler": "DDPM-250, DDIM-50, ...",
    "cfg_scale": "classifier-free guidance scale (1.0 = off)",
    "steps": "sampler steps the method ran",
    "full_step_fraction": "share of model calls that ran the whole network",
    "gflops": "GFLOPs of one sampling run of the cost batch",
    "gflops_per_sample": "GFLOPs per sample",
    "flops_speedup": "uncached FLOPs / the method's (same model)",
    "latency_s": "median seconds of one sampling run of the cost batch",
    "wallclock_speedup": "uncached latency / the method's, measured interleaved in one run",
    "wallclock_over_flops": "wallclock_speedup / flops_speedup (1 = every saved FLOP shows up as time)",
    "psnr_db": "PSNR (dB) against the same model uncached, same noise",
    "ssim": "SSIM against the same model uncached (NaN below 11x11 frames)",
    "fid": "Frechet distance to real images in our classifier's features (FID-style)",
    "fvd": "Frechet distance to real videos in our video classifier's features (FVD-style)",
    "frame_fid": "Frechet distance to real video frames in our video classifier's per-frame features (frame FID)",
    "inception_score": "IS-style score from our classifier's logits",
    "precision": "k-NN precision against real data (our features)",
    "recall": "k-NN recall against real data (our features)",
    "class_accuracy": "share of samples our classifier reads as the requested class",
    "prompt_adherence": "mean share of caption attributes (digit, colour, place) our classifier reads back "
                        "(our stand-in for the CLIP score)",
    "colour_accuracy": "share of samples our classifier reads in the colour the caption asked for",
    "place_accuracy": "share of samples our classifier reads at the place the caption asked for",
    "lpips": "LPIPS against the same model uncached (NaN where its backbone weights are missing)",
}
__doc__ += "\n".join(f"- `{name}`: {meaning}" for name, meaning in COLUMNS.items()) + "\n"
COST_COLUMNS = ["steps", "full_step_fraction", "gflops", "flops_speedup", "latency_s", "wallclock_speedup",
                "wallclock_over_flops"]


def steps_of(config: Any, settings: SamplerSettings) -> int:
    """The sampler's step count for a method (only configs that change the sampler change it)."""
    return config.steps_for(settings.num_steps) if getattr(config, "changes_sampler", False) else settings.num_steps


def run_method(model: nn.Module, config: Any, settings: SamplerSettings, noise: torch.Tensor, y: Any) -> torch.Tensor:
    """Samples of one method (config None = uncached) from `noise`; the model is left as it was."""
    with attached(model, config):
        return run_sampler(model, settings, noise, y, steps_of(config, settings))  # (N, ...)


def sample_methods(model: nn.Module, methods: dict[str, Any], settings: SamplerSettings, noise: torch.Tensor,
                   y: Any) -> dict[str, torch.Tensor]:
    """Samples of every method from the same noise (and, for DDPM, the same per-step noise)."""
    return {name: run_method(model, config, settings, noise, y) for name, config in methods.items()}


def count_method(model: nn.Module, config: Any, settings: SamplerSettings, noise: torch.Tensor,
                 y: Any) -> dict[str, Any]:
    """Samples, FLOPs and share of full steps of one method's sampling run."""
    out: list[torch.Tensor] = []
    with attached(model, config) as hook:
        flops = count_flops(lambda: out.append(run_sampler(model, settings, noise, y, steps_of(config, settings))))
        full = hook.state.full_fraction if hook is not None else 1.0
    return {"samples": out[0], "steps": steps_of(config, settings), "full_step_fraction": full, "flops": flops}


def quality(samples: torch.Tensor, uncached: torch.Tensor, data: Optional[DataReference] = None,
            labels: Optional[torch.Tensor] = None) -> dict[str, float]:
    """Quality columns of one method: against the uncached samples, and against data when given."""
    return {**against_uncached(uncached, samples), **(data.metrics(samples, labels) if data is not None else {})}


def compare_methods(model: nn.Module, methods: dict[str, Any], *, noise: torch.Tensor, y: Any = None,
                    sampler: Optional[SamplerSettings] = None, data: Optional[DataReference] = None,
                    labels: Optional[torch.Tensor] = None, repeats: int = 3, warmup: int = 1) -> pd.DataFrame:
    """Run the uncached model and every method from the same `noise` (N, ...); one row per method.

    `methods` maps a row name to a config. `y` is the condition of the N samples; `labels` the
    classes `data` checks accuracy against (for class-conditional models, `y`). Columns:
    COST_COLUMNS, then `psnr_db` and `ssim` against the uncached samples, then `data`'s metrics."""
    settings = sampler or SamplerSettings()
    if get_cache(model) is not None or UNCACHED in methods:
        raise ValueError(f"remove the model's cache first (remove_cache) and do not name a method {UNCACHED!r}")
    runs = {UNCACHED: None, **methods}
    counted = {name: count_method(model, config, settings, noise, y) for name, config in runs.items()}
    latency = interleaved_latencies({name: (lambda c=config: run_method(model, c, settings, noise, y))
                                     for name, config in runs.items()}, repeats, warmup)
    base = counted[UNCACHED]
    rows = [{"method": name, **cost_row(counted[name], base, latency[name], latency[UNCACHED]),
             **quality(counted[name]["samples"], base["samples"], data, labels)} for name in runs]
    return pd.DataFrame(rows).set_index("method")


def cost_row(result: dict[str, Any], base: dict[str, Any], latency: float, base_latency: float) -> dict[str, Any]:
    """The COST_COLUMNS of one method against the uncached run of the same model."""
    flops_speedup, wall_speedup = base["flops"] / result["flops"], base_latency / latency
    return {"steps": result["steps"], "full_step_fraction": result["full_step_fraction"],
            "gflops": result["flops"] / 1e9, "flops_speedup": flops_speedup, "latency_s": latency,
            "wallclock_speedup": wall_speedup, "wallclock_over_flops": wall_speedup / flops_speedup}
