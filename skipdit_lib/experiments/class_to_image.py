"""Tables 7-8 in miniature (notebook 03): class-to-image DiT and Skip-DiT, Skip-Cache against the baselines.

Sizes per profile (`sizes(profile)`), the methods of each model, `evaluate` (every sampler and
guidance scale through one `MethodBench`), the paper's table beside ours, the figures, and
`claims(table, ...)`: one set of claims per sampler and guidance scale.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd
import torch
from torch import nn

from ..caching import (
    AdaptiveSkipCacheConfig,
    DeltaDiTConfig,
    FirstBlockCacheConfig,
    FORAConfig,
    calibrate_teacache,
    skip_cache_preset,
)
from ..diffusion.sampling import SamplerSettings, run_sampler
from ..evaluation.sample_quality import DataReference
from ..profiles import per_profile, pick
from ..zoo import data_shape
from .bench import MethodBench
from .claims import Claim, Setting, combine, judge, num, pct, times
from .figures import Panel, speed_quality_grid
from .paper import paper_rows, paper_value

TABLE = "table7_8"
SOURCE = "Tables 7-8"


@dataclass(frozen=True)
class Sizes:
    """What a profile sets for notebook 03."""

    num_samples: int          # DDPM quality samples per method (the FID-style distance needs > 64, the feature size)
    ddim_samples: int         # DDIM quality samples per method
    ddpm_steps: int           # Paper: DDPM-250
    ddim_steps: int
    latency_batch: int        # samples of the separate cost batch (FLOPs and latency)
    latency_warmup: int       # untimed runs per method before timing
    latency_repeats: int      # timed runs per method (median)
    intervals: tuple[int, ...]  # Skip-Cache N; Paper: N = 2..6
    branch_depth: int         # Skip-Cache B (see skipdit_methods)
    cfg_scales: tuple[float, ...]  # Paper: guidance 1.5 (Table 7) and 1.0 (Table 8)
    accuracy_samples: int     # uncached DDIM samples per model for the class-accuracy check
    accuracy_cfg_scale: float


# cpu cost, measured: the 2 x 1,000-sample accuracy check took 330 s (~300 guided sample-steps/s); with
# 100 DDPM-250 and 200 DDIM-50 quality samples per method the notebook takes most of an hour.
SIZES = per_profile(
    smoke=Sizes(70, 70, 8, 6, 2, 0, 1, (2,), 1, (1.5, 1.0), 20, 1.5),
    cpu=Sizes(100, 200, 250, 50, 8, 0, 2, (2, 3, 4, 5, 6), 1, (1.5, 1.0), 1000, 2.0),
    gpu=Sizes(5000, 10000, 250, 50, 64, 1, 5, (2, 3, 4, 5, 6), 1, (1.5, 1.0), 5000, 1.5),
)

# Paper sec 7: Delta-DiT on DiT caches 21 of 28 blocks, boundary b = 60 of 250 DDPM steps (12 of 50).
DELTA_DIT_CACHED_SHARE = 21 / 28
DELTA_DIT_BOUNDARY_SHARE = 60 / 250
# Thresholds of the methods that decide per step (TeaCache and First-Block-Cache: peers the paper does
# not run; the adaptive Skip-Cache: ours). Chosen once, per sampler, on a 400-step training checkpoint of
# the cpu models (8 samples of other noise, guidance 1.5) so that each runs about a third to a half of
# its steps in full (~1.5-2.5x), the range of the paper's baselines. The defaults (TeaCache 0.1, diffusers'
# First-Block-Cache 0.05) gave 100% and 83% full steps at DDPM-250 but 14% and 32% at DDIM-50: the
# stochastic sampler's fresh noise changes the inputs more per step, so it needs larger thresholds.
PEER_THRESHOLDS: dict[str, dict[str, Any]] = {
    "ddpm": {"TeaCache": 0.3, "First-Block-Cache": 0.07, "Adaptive Skip-Cache": (0.15, 0.2)},
    "ddim": {"TeaCache": 0.03, "First-Block-Cache": 0.03, "Adaptive Skip-Cache": (0.02, 0.05)},
}
MATCH = 0.05          # ours: "matches" = FID-style distance at most 5% above (sampling noise of a few %)
SIMILAR_SPEED = 0.95  # ours: "similar speedup" = at least 95% of the baseline's wall-clock speedup
ACCURACY_FLOOR = 0.9  # project bar: each uncached model draws the requested digit this often
NEAR_LOSSLESS_GUIDANCE = 1.5  # Paper: the near-lossless claim is Table 7's (guidance 1.5)
BEATS_DIT_GUIDANCE = 1.0      # Paper: Table 8 (guidance 1.0), where Skip-Cache N=2 stays below DiT
BASELINES = ("FORA", "Delta-DiT")
SKIP_CACHE = "Skip-Cache N="
OUR_NAMES = {"DiT-XL/2": "DiT"}  # the paper's row names -> ours
SHOWN = ["sampler", "cfg_scale", "model", "method", "full_step_fraction", "gflops_per_sample", "flops_speedup",
         "wallclock_speedup", "fid", "inception_score", "precision", "recall", "class_accuracy", "psnr_db", "ssim"]


def sizes(profile: str) -> Sizes:
    """The sizes of notebook 03 at `profile`."""
    return pick(SIZES, profile)


def sampler_settings(s: Sizes) -> list[tuple[SamplerSettings, int]]:
    """Every (sampler run, quality samples per method) the notebook measures: DDPM then DDIM, each guidance."""
    return ([(SamplerSettings("ddpm", s.ddpm_steps, cfg), s.num_samples) for cfg in s.cfg_scales]
            + [(SamplerSettings("ddim", s.ddim_steps, cfg), s.ddim_samples) for cfg in s.cfg_scales])


# ----------------------------------------------------------------------------- methods

def skipdit_methods(intervals: Sequence[int], branch_depth: int, thresholds: Sequence[float]) -> dict[str, Any]:
    """Skip-Cache at every N in `intervals` (the paper's class-to-image window) and the adaptive Skip-Cache."""
    # Paper: class-to-image preset, no warm-up, cache dropped at t <= 20. Differs from the paper:
    # `branch_depth` outer blocks (1 of 8 at the cpu profile) instead of the released code's 4 of 28.
    methods: dict[str, Any] = {f"{SKIP_CACHE}{n}": skip_cache_preset("class-to-image", n, branch_depth=branch_depth)
                               for n in intervals}
    for threshold in thresholds:
        methods[f"Adaptive Skip-Cache {threshold:g}"] = AdaptiveSkipCacheConfig(threshold, branch_depth)
    return methods


def delta_dit_config(num_steps: int) -> DeltaDiTConfig:
    """Delta-DiT as the paper runs it on DiT (3/4 of the blocks cached), its boundary scaled to `num_steps`."""
    return DeltaDiTConfig(boundary_step=round(num_steps * DELTA_DIT_BOUNDARY_SHARE),
                          cached_fraction=DELTA_DIT_CACHED_SHARE)


def dit_methods(model: nn.Module, settings: SamplerSettings, noise: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    """FORA (recompute every 3 steps), Delta-DiT, TeaCache (its polynomial fitted on `model` from one uncached
    run from `noise`) and First-Block-Cache, with the thresholds of PEER_THRESHOLDS for the sampler."""
    thresholds = PEER_THRESHOLDS[settings.sampler]
    teacache = calibrate_teacache(model, lambda: run_sampler(model, settings, noise, y),
                                  threshold=thresholds["TeaCache"])
    return {"FORA": FORAConfig(), "Delta-DiT": delta_dit_config(settings.num_steps), "TeaCache": teacache,
            "First-Block-Cache": FirstBlockCacheConfig(threshold=thresholds["First-Block-Cache"])}


def make_bench(dit: nn.Module, data: DataReference, s: Sizes, seed: int, device: str) -> MethodBench:
    """The bench both models share: class-conditional digits, the cost batch and seeds of `s`."""
    size = dit.x_embedder.input_size
    return MethodBench((dit.in_channels, size, size), dit.num_classes, data, s.latency_batch, s.latency_repeats,
                       s.latency_warmup, seed, device)


def accuracy_settings(s: Sizes) -> SamplerSettings:
    """The sampler run of the uncached class-accuracy check."""
    return SamplerSettings("ddim", s.ddim_steps, s.accuracy_cfg_scale)


def evaluate(bench: MethodBench, dit: nn.Module, skipdit: nn.Module, s: Sizes, sampler: str) -> pd.DataFrame:
    """Every model and method at `sampler` ("ddpm" or "ddim") and every guidance scale of `s`, one table."""
    tables = []
    for settings, num_samples in sampler_settings(s):
        if settings.sampler != sampler:
            continue
        families = {"DiT": (dit, dit_methods(dit, settings, *bench.cost_inputs())),
                    "Skip-DiT": (skipdit, skipdit_methods(s.intervals, s.branch_depth,
                                                          PEER_THRESHOLDS[settings.sampler]["Adaptive Skip-Cache"]))}
        tables.append(bench.evaluate(families, settings, num_samples))
    return pd.concat(tables, ignore_index=True)


# ----------------------------------------------------------------------------- the paper beside ours

def paper_table() -> pd.DataFrame:
    """The paper's Tables 7-8 with our method names (Skip-Cache rows as "Skip-Cache N=2", ...)."""
    paper = paper_rows(TABLE).copy()
    paper["method"] = paper["method"].replace(OUR_NAMES)
    skip_cache = paper["method"] == "Skip-Cache"
    paper.loc[skip_cache, "method"] = [f"{SKIP_CACHE}{int(n)}" for n in paper.loc[skip_cache, "n"]]
    paper["speedup"] = paper["speedup"].fillna(1.0)  # the uncached rows
    paper["model"] = ["Skip-DiT" if m.startswith("Skip") else "DiT" for m in paper["method"]]
    return paper


def paper_beside_ours(ours: pd.DataFrame, sampler: str) -> pd.DataFrame:
    """Every row of the paper's Tables 7-8 beside our row of the same method and guidance at `sampler`."""
    paper = paper_table()[["cfg_scale", "method", "fid", "speedup"]]
    ours = ours[ours["sampler"] == sampler][["cfg_scale", "method", "fid", "wallclock_speedup", "flops_speedup",
                                             "psnr_db"]]
    merged = paper.merge(ours, on=["cfg_scale", "method"], how="left", suffixes=("_paper", "_ours"))
    return merged.rename(columns={"fid_paper": "paper_fid", "speedup": "paper_speedup", "fid_ours": "our_fid",
                                  "wallclock_speedup": "our_wallclock_speedup", "flops_speedup": "our_flops_speedup",
                                  "psnr_db": "our_psnr_db"})


def speed_quality_figure(ours: pd.DataFrame, sampler: str, with_paper: bool = True) -> Any:
    """FID against wall-clock speedup at `sampler`, one column per guidance scale; the paper's points on top."""
    part = ours[ours["sampler"] == sampler]
    cfgs = sorted(part["cfg_scale"].unique(), reverse=True)
    mine = [Panel(part[part["cfg_scale"] == cfg].to_dict("records"), "wallclock_speedup", "fid",
                  "speedup over the same model uncached (x, wall-clock)",
                  "FID-style distance (digit features, lower is better)",
                  f"Ours: digits, {sampler}, guidance {cfg:g}") for cfg in cfgs]
    rows = [mine]
    if with_paper:
        paper = paper_table()
        rows.insert(0, [Panel(paper[paper["cfg_scale"] == cfg].to_dict("records"), "speedup", "fid",
                              "speedup over the same model uncached (x)", "FID-50K (ImageNet 256, lower is better)",
                              f"Paper: DiT-XL/2 on ImageNet, DDPM-250, guidance {cfg:g}") for cfg in cfgs])
    where = "the paper's Tables 7-8 (top) and ours (bottom)" if with_paper else "ours"
    return speed_quality_grid(rows, f"Speed against quality, lower right is better: {where}")


# ----------------------------------------------------------------------------- claims

def value(table: pd.DataFrame, method: str, column: str) -> float:
    """One number of a single-setting table: `column` of `method`."""
    row = table[table["method"] == method]
    if len(row) != 1:
        raise ValueError(f"expected one row for {method!r}, found {len(row)}")
    return float(row[column].iloc[0])


def setting_of(table: pd.DataFrame, profile: str) -> Setting:
    """The Setting of a single-setting table (one sampler and guidance scale)."""
    sampler, steps = table["sampler"].iloc[0].split("-")
    return Setting(profile, sampler.lower(), int(steps), float(table["cfg_scale"].iloc[0]),
                   f"{data_shape('dit-c2i', profile)} digits; same noise for every method")


def matches_dit_claim(table: pd.DataFrame, profile: str) -> Claim:
    """Uncached Skip-DiT's FID-style distance matches (within MATCH) or beats uncached DiT's."""
    cfg, skip, dit = float(table["cfg_scale"].iloc[0]), value(table, "Skip-DiT", "fid"), value(table, "DiT", "fid")
    paper = f"FID {num(paper_value(TABLE, 'fid', cfg_scale=cfg, method='Skip-DiT'))} vs " \
            f"{num(paper_value(TABLE, 'fid', cfg_scale=cfg, method='DiT-XL/2'))}"
    return Claim("Skip-DiT matches or beats DiT uncached", paper, f"FID-style {num(skip)} vs {num(dit)}",
                 judge(skip, dit, higher_is_better=False, held_within=MATCH, partly_within=3 * MATCH),
                 f"held when Skip-DiT is at most {MATCH:.0%} above DiT, partly at most {3 * MATCH:.0%}",
                 setting_of(table, profile), SOURCE)


def near_lossless_claim(table: pd.DataFrame, profile: str) -> Claim:
    """Skip-Cache N=2 keeps Skip-DiT's FID-style distance (within MATCH) at about the paper's speedup."""
    cfg, name = float(table["cfg_scale"].iloc[0]), f"{SKIP_CACHE}2"
    sc, base, speed = value(table, name, "fid"), value(table, "Skip-DiT", "fid"), value(table, name,
                                                                                        "wallclock_speedup")
    paper_speed = paper_value(TABLE, "speedup", cfg_scale=cfg, method="Skip-Cache", n=2)
    paper = (f"FID {num(paper_value(TABLE, 'fid', cfg_scale=cfg, method='Skip-Cache', n=2))} vs "
             f"{num(paper_value(TABLE, 'fid', cfg_scale=cfg, method='Skip-DiT'))} at {times(paper_speed)}")
    ours = (f"FID-style {num(sc)} vs {num(base)} at {times(speed)} wall-clock "
            f"({times(value(table, name, 'flops_speedup'))} FLOPs), PSNR {num(value(table, name, 'psnr_db'))} dB")
    verdict = combine([judge(sc, base, higher_is_better=False, held_within=MATCH, partly_within=3 * MATCH),
                       judge(speed, paper_speed)])
    return Claim("Skip-Cache N=2 is near-lossless at the paper's speedup", paper, ours, verdict,
                 f"held when FID-style is at most {MATCH:.0%} above uncached Skip-DiT and the wall-clock speedup "
                 "is within 10% of the paper's or above", setting_of(table, profile), SOURCE)


def beats_baseline(table: pd.DataFrame, baseline: str, column: str = "fid",
                   higher_is_better: bool = False) -> tuple[bool, str]:
    """Whether the best Skip-Cache N at least ~as fast as `baseline` is better on `column`, and how."""
    score, speed = value(table, baseline, column), value(table, baseline, "wallclock_speedup")
    rivals = table[table["method"].str.startswith(SKIP_CACHE) & (table["wallclock_speedup"] >= SIMILAR_SPEED * speed)]
    if rivals.empty:
        return False, f"{baseline} {num(score)} at {times(speed)}, no Skip-Cache as fast"
    best = rivals.loc[rivals[column].idxmax() if higher_is_better else rivals[column].idxmin()]
    better = best[column] > score if higher_is_better else best[column] < score
    return bool(better), (f"{baseline} {num(score)} at {times(speed)} vs {best['method']} "
                          f"{num(best[column])} at {times(best['wallclock_speedup'])}")


def beats_baselines_claim(table: pd.DataFrame, profile: str) -> Claim:
    """At a similar wall-clock speedup, Skip-Cache has a lower FID-style distance than FORA and Delta-DiT."""
    cfg = float(table["cfg_scale"].iloc[0])
    checks = [beats_baseline(table, b) for b in BASELINES]
    paper = "; ".join(f"{m} {num(paper_value(TABLE, 'fid', cfg_scale=cfg, method=m))} at "
                      f"{times(paper_value(TABLE, 'speedup', cfg_scale=cfg, method=m))}" for m in BASELINES)
    paper += f"; Skip-Cache N=3 {num(paper_value(TABLE, 'fid', cfg_scale=cfg, method='Skip-Cache', n=3))} at " \
             f"{times(paper_value(TABLE, 'speedup', cfg_scale=cfg, method='Skip-Cache', n=3))}"
    return Claim(f"Skip-Cache beats {' and '.join(BASELINES)} at similar speedup", paper,
                 "; ".join(text for _, text in checks), combine([won for won, _ in checks]),
                 f"per baseline, the best Skip-Cache N with a wall-clock speedup of at least {SIMILAR_SPEED:.0%} "
                 "of the baseline's must have a lower FID-style distance; held when it does for every baseline",
                 setting_of(table, profile), SOURCE)


def beats_dit_claim(table: pd.DataFrame, profile: str) -> Claim:
    """Skip-Cache N=2 has a lower FID-style distance than uncached DiT (Table 8's guidance)."""
    cfg, sc, dit = float(table["cfg_scale"].iloc[0]), value(table, f"{SKIP_CACHE}2", "fid"), value(table, "DiT", "fid")
    paper = f"FID {num(paper_value(TABLE, 'fid', cfg_scale=cfg, method='Skip-Cache', n=2))} vs " \
            f"{num(paper_value(TABLE, 'fid', cfg_scale=cfg, method='DiT-XL/2'))}"
    return Claim("Skip-Cache N=2 stays better than DiT uncached", paper, f"FID-style {num(sc)} vs {num(dit)}",
                 judge(sc, dit, higher_is_better=False, held_within=0.0, partly_within=MATCH),
                 f"held when strictly lower, partly when at most {MATCH:.0%} above", setting_of(table, profile), SOURCE)


def accuracy_claim(accuracy: dict[str, float], s: Sizes, profile: str) -> Claim:
    """Project bar: each uncached model draws the requested digit in at least ACCURACY_FLOOR of its samples."""
    setting = Setting(profile, "ddim", s.ddim_steps, s.accuracy_cfg_scale,
                      f"{s.accuracy_samples} samples per model, labels 0-9 balanced, read by our digit classifier")
    return Claim("Both uncached models draw the requested digit", f"no number (project bar: {pct(ACCURACY_FLOOR)})",
                 ", ".join(f"{name} {pct(a)}" for name, a in accuracy.items()),
                 combine([a >= ACCURACY_FLOOR for a in accuracy.values()]),
                 f"held when every model reaches {pct(ACCURACY_FLOOR)}, partly when some do", setting)


def claims(table: pd.DataFrame, accuracy: dict[str, float], s: Sizes, profile: str) -> list[Claim]:
    """Every claim of notebook 03: per sampler and guidance scale, then the accuracy check."""
    found = []
    for (_, cfg), part in table.groupby(["sampler", "cfg_scale"], sort=False):
        found += [matches_dit_claim(part, profile), beats_baselines_claim(part, profile)]
        if cfg == NEAR_LOSSLESS_GUIDANCE:
            found.append(near_lossless_claim(part, profile))
        if cfg == BEATS_DIT_GUIDANCE:
            found.append(beats_dit_claim(part, profile))
    return found + [accuracy_claim(accuracy, s, profile)]
