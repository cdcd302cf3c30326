"""Notebook 00: a trained Skip-DiT sampled with and without Skip-Cache (the headline of Table 7).

Sizes per profile, the one method, `evaluate` (cost and PSNR against uncached through a
`MethodBench`) and the one claim: Skip-Cache N=2 runs about as much faster as the paper reports.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from torch import nn

from ..caching import SkipCacheConfig, skip_cache_preset
from ..diffusion.sampling import SamplerSettings
from ..profiles import per_profile, pick
from ..zoo import data_shape
from .bench import MethodBench
from .claims import Claim, Setting, db, judge, num, times
from .paper import paper_value

TABLE = "table7_8"


@dataclass(frozen=True)
class Sizes:
    """What a profile sets for notebook 00."""

    num_samples: int      # samples drawn with and without the cache (and timed)
    sampler_steps: int    # DDIM steps
    cfg_scale: float      # Paper: guidance 1.5, Table 7's setting
    interval: int         # Skip-Cache N
    branch_depth: int     # Skip-Cache B (1 of 8 blocks at the cpu profile; the released code: 4 of 28)
    latency_repeats: int  # timed runs per method (median)
    latency_warmup: int   # untimed runs per method before timing


SIZES = per_profile(smoke=Sizes(4, 10, 1.5, 2, 1, 1, 0), cpu=Sizes(32, 50, 1.5, 2, 1, 3, 1),
                    gpu=Sizes(64, 50, 1.5, 2, 1, 5, 1))


def sizes(profile: str) -> Sizes:
    """The sizes of notebook 00 at `profile`."""
    return pick(SIZES, profile)


def settings(s: Sizes) -> SamplerSettings:
    """The sampler run of notebook 00."""
    return SamplerSettings("ddim", s.sampler_steps, s.cfg_scale)


def method(s: Sizes) -> tuple[str, SkipCacheConfig]:
    """The row name and config of the Skip-Cache the quickstart runs (the paper's class-to-image window)."""
    return f"Skip-Cache N={s.interval}", skip_cache_preset("class-to-image", s.interval, branch_depth=s.branch_depth)


def make_bench(model: nn.Module, s: Sizes, seed: int, device: str) -> MethodBench:
    """A bench for `model`: the cost batch is as large as the sample batch."""
    size = model.x_embedder.input_size
    return MethodBench((model.in_channels, size, size), model.num_classes, None, s.num_samples, s.latency_repeats,
                       s.latency_warmup, seed, device)


def evaluate(bench: MethodBench, model: nn.Module, s: Sizes) -> pd.DataFrame:
    """The uncached Skip-DiT and its Skip-Cache: cost and PSNR / SSIM against uncached, same noise."""
    name, config = method(s)
    return bench.evaluate({"Skip-DiT": (model, {name: config})}, settings(s), s.num_samples)


def claims(table: pd.DataFrame, s: Sizes, profile: str, depth: int) -> list[Claim]:
    """Skip-Cache N speeds sampling up about as much as the paper's row of the same N and guidance."""
    name, _ = method(s)
    row = table[table["method"] == name].iloc[0]
    where = {"cfg_scale": s.cfg_scale, "method": "Skip-Cache", "n": s.interval}
    paper_speed = paper_value(TABLE, "speedup", **where)
    paper = (f"{times(paper_speed)} at FID {num(paper_value(TABLE, 'fid', **where))} vs "
             f"{num(paper_value(TABLE, 'fid', cfg_scale=s.cfg_scale, method='Skip-DiT'))} uncached")
    ours = (f"{times(row['wallclock_speedup'])} wall-clock ({times(row['flops_speedup'])} FLOPs), "
            f"PSNR {db(row['psnr_db'])} against uncached")
    setting = Setting(profile, "ddim", s.sampler_steps, s.cfg_scale,
                      f"{data_shape('skipdit-c2i', profile)} digits, depth-{depth} Skip-DiT, batch {s.num_samples}")
    return [Claim(f"Skip-Cache N={s.interval} speeds sampling up near-losslessly", paper, ours,
                  judge(float(row["wallclock_speedup"]), paper_speed),
                  "held when the wall-clock speedup is within 10% of the paper's or above, partly within 30%",
                  setting, "Table 7")]
