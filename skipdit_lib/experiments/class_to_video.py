"""Tables 1-2 in miniature (notebook 04): Latte and Skip-Latte on moving digits, Skip-Cache against the baselines.

Two data sets with different motion stand in for the paper's four (`DATASETS`): "bounce"
(UCF101-like: class-conditional, DDIM-50 with guidance) and "orbit" (Taichi-like: unconditional,
DDPM-250, no guidance). Per data set: the Latte pair of the zoo, every method of Table 1 from the
same noise, Table 2's fewer-steps sampler at the throughput of Skip-Cache N=2 and N=3, the
paper's table beside ours, and the claims. The feature smoothness of Fig. 2 / Fig. 4 is measured
on the orbit pair (the paper's figure uses Taichi).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import pandas as pd
import torch
from torch import nn

from ..caching import (
    AdaptiveSkipCacheConfig,
    DeltaDiTConfig,
    FewerStepsConfig,
    FirstBlockCacheConfig,
    FORAConfig,
    calibrate_teacache,
    skip_cache_preset,
)
from ..caching.pab import PAB_PRESETS
from ..datasets.moving_digits import measured_directions
from ..diffusion.sampling import SamplerSettings, run_sampler
from ..evaluation.sample_quality import DataReference
from ..evaluation.scores import class_accuracy
from ..profiles import per_profile, pick
from ..zoo import data_shape
from . import feature_smoothness as smooth
from .bench import MethodBench
from .claims import Claim, Setting, combine, judge, num, pct, times
from .class_to_image import SIMILAR_SPEED, beats_baseline, value  # notebook 03's rule, one definition
from .figures import Panel, speed_quality_grid
from .paper import paper_rows, paper_value

TABLE, TABLE2 = "table1", "table2"
SOURCE = "Tables 1-2"
SKIP_CACHE = "Skip-Cache N="
PLAIN, SKIP = "Latte", "Skip-Latte"


@dataclass(frozen=True)
class DataSet:
    """One of our two data sets and the paper's data set it stands in for."""

    motion: str          # moving_digits motion
    plain: str           # zoo name of the Latte
    skip: str            # zoo name of the Skip-Latte
    paper: str           # the paper's data set: the column prefix in Table 1 ("ucf101", "taichi")
    conditional: bool    # class-conditional (guidance) or not
    description: str


DATASETS: dict[str, DataSet] = {
    "bounce": DataSet("bounce", "latte-c2v", "skiplatte-c2v", "ucf101", True,
                      "digits moving in straight lines, bouncing at the borders; 10 classes (the digit)"),
    "orbit": DataSet("orbit", "latte-orbit", "skiplatte-orbit", "taichi", False,
                     "digits circling the centre, clockwise or not; unconditional"),
}
PAPER_NAMES = {"ucf101": "UCF101", "taichi": "Taichi"}


@dataclass(frozen=True)
class Sizes:
    """What a profile sets for notebook 04."""

    bounce_samples: int       # DDIM quality videos per method on "bounce" (FVD-style needs more than the 32 features)
    orbit_samples: int        # DDPM quality videos per method on "orbit"
    ddim_steps: int           # Paper (UCF101): DDIM-50
    ddpm_steps: int           # Paper (FFS, Sky, Taichi): DDPM-250
    cfg_scale: float          # Paper (UCF101): 7.0
    real_videos: int          # test videos the FVD-style reference holds
    latency_batch: int        # videos of the separate cost batch (FLOPs and latency)
    latency_warmup: int
    latency_repeats: int
    intervals: tuple[int, ...]  # Skip-Cache N; Paper: N = 2..6
    branch_depth: int         # Skip-Cache B in pairs; Paper: 1
    matched: tuple[int, ...]  # Table 2: fewer steps at the speed of Skip-Cache N = these
    smoothness: smooth.Sizes  # Fig. 2 / Fig. 4 on the orbit pair
    classifier_videos: int = 4000  # training videos of each video classifier (the extractor's default)
    classifier_epochs: int = 10

    def classifier_settings(self) -> dict[str, int]:
        """The video classifier's training size, as `get_feature_extractor` overrides."""
        return {"train_samples": self.classifier_videos, "epochs": self.classifier_epochs}


# cpu cost: an uncached video costs ~0.4 s at DDIM-50 with guidance and ~1.25 s at DDPM-250 on 2 cores, so the
# ~20 sampling runs per data set set the sample counts (the video classifier has 32 features, below both counts);
# the notebook's wall time is in its metrics.json.
SIZES = per_profile(
    smoke=Sizes(70, 70, 6, 8, 7.0, 80, 2, 0, 1, (2, 3, 4), 1, (2, 3), smooth.Sizes(3, 2, 8, 2, 8, 0.002, 0.005, 2),
                classifier_videos=300, classifier_epochs=2),
    cpu=Sizes(100, 64, 50, 250, 7.0, 1000, 4, 0, 3, (2, 3, 4, 5, 6), 1, (2, 3),
              smooth.Sizes(13, 8, 250, 10, 250, 0.002, 0.005, 8), classifier_videos=4000, classifier_epochs=10),
    gpu=Sizes(2048, 2048, 50, 250, 7.0, 2048, 16, 1, 5, (2, 3, 4, 5, 6), 1, (2, 3),
              smooth.Sizes(41, 32, 250, 10, 250, 0.002, 0.005, 64), classifier_videos=4000, classifier_epochs=10),
)

# Thresholds of the methods that decide per step (TeaCache, First-Block-Cache: peers the paper does not
# run; the adaptive Skip-Cache: ours), per sampler, chosen once on the trained cpu models' cost batch (8 videos,
# seed + 1) so that each runs about a third to a half of its steps in full, the range of the paper's baselines.
# Measured full-step shares, DDIM-50 guidance 7 (bounce): TeaCache 0.02/0.03/0.05 -> 62/52/36%, First-Block-Cache
# 0.01/0.02/0.03 -> 54/38/28%, adaptive Skip-Cache 0.02/0.03/0.05 -> 60/48/36%; DDPM-250 (orbit): TeaCache
# 0.3/0.4/0.5 -> 52/42/36%, First-Block-Cache 0.06/0.07/0.08 -> 54/38/33%, adaptive 0.1/0.15/0.2 -> 78/47/35%.
PEER_THRESHOLDS: dict[str, dict[str, float]] = {
    "ddpm": {"TeaCache": 0.4, "First-Block-Cache": 0.07, "Adaptive Skip-Cache": 0.15},
    "ddim": {"TeaCache": 0.03, "First-Block-Cache": 0.02, "Adaptive Skip-Cache": 0.03},
}
# Paper sec 7: Delta-DiT on Latte caches 10 of 14 pairs, boundary b = 60 of 250 DDPM steps (12 of 50 DDIM).
DELTA_DIT_CACHED_SHARE = 10 / 14
DELTA_DIT_BOUNDARY_SHARE = 60 / 250
PAPER_BASELINES = ("Delta-DiT", "FORA", "PAB23", "PAB35")
PEERS = ("TeaCache", "First-Block-Cache")
MATCH = 0.05           # ours: "within 5%" of the uncached FVD-style distance (Table 1's N=2 row: +0.1%)
TWO_X_MATCH = 0.20     # ours: N=4 may lose up to 20% FVD-style (Table 1, UCF101: +1.2%; Taichi: +15.6%)
ACCURACY_FLOOR = 0.8   # project bar: each uncached model draws digit and motion this often
SHOWN = ["model", "method", "steps", "full_step_fraction", "gflops_per_sample", "flops_speedup",
         "wallclock_speedup", "wallclock_over_flops", "fvd", "frame_fid", "class_accuracy", "motion_accuracy",
         "psnr_db", "ssim"]


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """The SHOWN columns a table has (an unconditional data set has no class accuracy)."""
    return table[[c for c in SHOWN if c in table.columns]]


def sizes(profile: str) -> Sizes:
    """The sizes of notebook 04 at `profile`."""
    return pick(SIZES, profile)


def sampler_settings(dataset: str, s: Sizes) -> SamplerSettings:
    """The paper's sampler for the data set: DDIM-50 with guidance (UCF101), DDPM-250 without (Taichi)."""
    if DATASETS[dataset].conditional:
        return SamplerSettings("ddim", s.ddim_steps, s.cfg_scale)
    return SamplerSettings("ddpm", s.ddpm_steps, 1.0)


def num_samples(dataset: str, s: Sizes) -> int:
    """Quality videos per method on `dataset`."""
    return s.bounce_samples if DATASETS[dataset].conditional else s.orbit_samples


# ----------------------------------------------------------------------------- methods

def skip_latte_methods(s: Sizes, settings: SamplerSettings) -> dict[str, Any]:
    """Skip-Cache at every N (the class-to-video preset: B=1 pair, 900 -> 50, reset at t < 50) and ours."""
    methods: dict[str, Any] = {f"{SKIP_CACHE}{n}": skip_cache_preset("class-to-video", n, branch_depth=s.branch_depth)
                               for n in s.intervals}
    preset = skip_cache_preset("class-to-video")
    methods["Adaptive Skip-Cache"] = AdaptiveSkipCacheConfig(PEER_THRESHOLDS[settings.sampler]["Adaptive Skip-Cache"],
                                                             s.branch_depth, preset.warmup_t, preset.stop_t)
    return methods


def latte_methods(model: nn.Module, settings: SamplerSettings, noise: torch.Tensor, y: Any) -> dict[str, Any]:
    """Table 1's baselines as the paper runs them on Latte (Delta-DiT 10/14 pairs, FORA, PAB23, PAB35) and
    the peers (TeaCache fitted on `model` from one uncached run from `noise`, First-Block-Cache)."""
    thresholds = PEER_THRESHOLDS[settings.sampler]
    teacache = calibrate_teacache(model, lambda: run_sampler(model, settings, noise, y),
                                  threshold=thresholds["TeaCache"])
    delta = DeltaDiTConfig(boundary_step=round(settings.num_steps * DELTA_DIT_BOUNDARY_SHARE),
                           cached_fraction=DELTA_DIT_CACHED_SHARE)
    return {"Delta-DiT": delta, "FORA": FORAConfig(), "PAB23": PAB_PRESETS["PAB23"], "PAB35": PAB_PRESETS["PAB35"],
            "TeaCache": teacache, "First-Block-Cache": FirstBlockCacheConfig(threshold=thresholds["First-Block-Cache"])}


def fewer_steps_name(model: str, n: int) -> str:
    """Table 2's row name: `model` sampled with fewer steps at the speed of Skip-Cache N=n (method names
    are unique across a bench's models, as its samples are kept by method)."""
    return f"{model}, fewer steps (speed of N={n})"


def make_bench(model: nn.Module, data: DataReference, conditional: bool, s: Sizes, seed: int,
               device: str) -> MethodBench:
    """The bench of one data set: videos of `model`'s shape, class labels when conditional."""
    size = model.x_embedder.input_size
    return MethodBench((model.num_frames, model.in_channels, size, size), 10 if conditional else None, data,
                       s.latency_batch, s.latency_repeats, s.latency_warmup, seed, device)


def evaluate(bench: MethodBench, latte: nn.Module, skip_latte: nn.Module, dataset: str, s: Sizes) -> pd.DataFrame:
    """Table 1 (every method of both models), then Table 2 (fewer steps at Skip-Cache's measured speeds)."""
    settings, count = sampler_settings(dataset, s), num_samples(dataset, s)
    families = {PLAIN: (latte, latte_methods(latte, settings, *bench.cost_inputs())),
                SKIP: (skip_latte, skip_latte_methods(s, settings))}
    table1 = bench.evaluate(families, settings, count)
    speeds = {n: max(1.0, value(table1, f"{SKIP_CACHE}{n}", "wallclock_speedup")) for n in s.matched}
    fewer = {model: {fewer_steps_name(model, n): FewerStepsConfig(match_speedup=speed) for n, speed in speeds.items()}
             for model in (PLAIN, SKIP)}
    table2 = bench.evaluate({PLAIN: (latte, fewer[PLAIN]), SKIP: (skip_latte, fewer[SKIP])}, settings, count)
    table = pd.concat([table1, table2], ignore_index=True)
    table.insert(0, "dataset", dataset)
    table["num_samples"] = count
    return with_motion_accuracy(table, bench, settings, dataset)


def with_motion_accuracy(table: pd.DataFrame, bench: MethodBench, settings: SamplerSettings,
                         dataset: str) -> pd.DataFrame:
    """`motion_accuracy` per row: how often the video classifier's direction head reads the motion the
    video's pixels show (the ink centroid's path); unreadable motion counts as wrong."""
    extractor, motion = bench.data.extractor, DATASETS[dataset].motion
    shown = {method: measured_directions(videos, motion) for method, videos in bench.samples[settings].items()}
    table["motion_accuracy"] = [class_accuracy(bench.samples[settings][m], shown[m], extractor, head="direction")
                                for m in table["method"]]
    return table


# ----------------------------------------------------------------------------- the paper beside ours

def paper_table(dataset: str) -> pd.DataFrame:
    """Table 1's rows for the paper's data set `dataset` stands in for, in our method names."""
    prefix = DATASETS[dataset].paper
    paper = paper_rows(TABLE).copy()
    skip = paper["method"] == "Skip-Cache"
    paper.loc[skip, "method"] = [f"{SKIP_CACHE}{int(n)}" for n in paper.loc[skip, "n"]]
    paper["method"] = paper["method"].replace({"Skip-DiT": SKIP})
    paper["model"] = [SKIP if m.startswith("Skip") else PLAIN for m in paper["method"]]
    return paper.rename(columns={f"{prefix}_fvd": "fvd", f"{prefix}_fid": "frame_fid"})[
        ["model", "method", "fvd", "frame_fid", "tflops", "speedup"]]


def paper_beside_ours(ours: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Every row of the paper's Table 1 beside our row of the same method on `dataset`."""
    part = ours[ours["dataset"] == dataset][["method", "fvd", "frame_fid", "gflops_per_sample",
                                             "wallclock_speedup", "flops_speedup"]]
    merged = paper_table(dataset).drop(columns="model").merge(part, on="method", how="left",
                                                                suffixes=("_paper", "_ours"))
    return merged.rename(columns={"fvd_paper": "paper_fvd", "frame_fid_paper": "paper_frame_fid",
                                  "tflops": "paper_tflops", "speedup": "paper_speedup", "fvd_ours": "our_fvd",
                                  "frame_fid_ours": "our_frame_fid", "gflops_per_sample": "our_gflops",
                                  "wallclock_speedup": "our_wallclock_speedup", "flops_speedup": "our_flops_speedup"})


def speed_quality_figure(ours: pd.DataFrame) -> Any:
    """FVD against wall-clock speedup: the paper's Table 1 (top) and ours (bottom), one column per data set."""
    paper_row, our_row = [], []
    for name, data in DATASETS.items():
        paper = PAPER_NAMES[data.paper]
        paper_row.append(Panel(paper_table(name).to_dict("records"), "speedup", "fvd",
                               "speedup over the same model uncached (x)", f"FVD ({paper}, lower is better)",
                               f"Paper: Latte-XL/2 on {paper}"))
        part = ours[ours["dataset"] == name]
        our_row.append(Panel(part.to_dict("records"), "wallclock_speedup", "fvd",
                             "speedup over the same model uncached (x, wall-clock)",
                             "FVD-style distance (our video features, lower is better)",
                             f"Ours: {name} ({part['sampler'].iloc[0]}), stands in for {paper}"))
    return speed_quality_grid([paper_row, our_row], "Speed against quality, lower right is better: "
                                                    "the paper's Table 1 (top) and ours (bottom)")


def video_strips(samples: Mapping[str, torch.Tensor], methods: Sequence[str],
                 videos: int = 3) -> dict[str, torch.Tensor]:
    """{method: (videos*F, C, H, W)} frames of the first `videos` videos, one video per grid row."""
    return {m: samples[m][:videos].flatten(0, 1) for m in methods}


# ----------------------------------------------------------------------------- claims

def setting_of(table: pd.DataFrame, profile: str, detail: str = "") -> Setting:
    """The Setting of one data set's table."""
    sampler, steps = table["sampler"].iloc[0].split("-")
    dataset = table["dataset"].iloc[0]
    text = (f"{dataset} (stands in for {PAPER_NAMES[DATASETS[dataset].paper]}), "
            f"{data_shape(DATASETS[dataset].plain, profile)}; same noise")
    return Setting(profile, sampler.lower(), int(steps), float(table["cfg_scale"].iloc[0]),
                   text + (f"; {detail}" if detail else ""))


def paper_fvd(dataset: str, method: str, n: Optional[int] = None) -> float:
    """Table 1's FVD of `method` on the paper's data set that `dataset` stands in for."""
    return paper_value(TABLE, f"{DATASETS[dataset].paper}_fvd", method=method, n=n)  # n=None: a blank cell


def paper_speedup(method: str, n: Optional[int] = None) -> float:
    """Table 1's speedup of `method` (one column for all data sets)."""
    return paper_value(TABLE, "speedup", method=method, n=n)


def skip_matches_claim(table: pd.DataFrame, profile: str) -> Claim:
    """Uncached Skip-Latte's FVD-style distance at most Latte's."""
    dataset = table["dataset"].iloc[0]
    skip, plain = value(table, SKIP, "fvd"), value(table, PLAIN, "fvd")
    paper = (f"FVD {num(paper_fvd(dataset, 'Skip-DiT'))} vs {num(paper_fvd(dataset, 'Latte'))} "
             f"({PAPER_NAMES[DATASETS[dataset].paper]})")
    return Claim("Skip-Latte's FVD is at most Latte's (uncached)", paper, f"FVD-style {num(skip)} vs {num(plain)}",
                 judge(skip, plain, higher_is_better=False, held_within=0.0, partly_within=3 * MATCH),
                 f"held when at most Latte's, partly when at most {3 * MATCH:.0%} above", setting_of(table, profile),
                 SOURCE)


def near_lossless_claim(table: pd.DataFrame, profile: str) -> Claim:
    """Skip-Cache N=2 within MATCH of uncached Skip-Latte at about the paper's 1.56x or more."""
    dataset, name = table["dataset"].iloc[0], f"{SKIP_CACHE}2"
    sc, base, speed = value(table, name, "fvd"), value(table, SKIP, "fvd"), value(table, name, "wallclock_speedup")
    paper_speed = paper_speedup("Skip-Cache", 2)
    paper = (f"FVD {num(paper_fvd(dataset, 'Skip-Cache', 2))} vs {num(paper_fvd(dataset, 'Skip-DiT'))} "
             f"at {times(paper_speed)}")
    ours = (f"FVD-style {num(sc)} vs {num(base)} at {times(speed)} wall-clock "
            f"({times(value(table, name, 'flops_speedup'))} FLOPs), PSNR {num(value(table, name, 'psnr_db'))} dB")
    verdict = combine([judge(sc, base, higher_is_better=False, held_within=MATCH, partly_within=3 * MATCH),
                       judge(speed, paper_speed)])
    return Claim("Skip-Cache N=2 keeps FVD within 5% at about 1.5x", paper, ours, verdict,
                 f"held when FVD-style is at most {MATCH:.0%} above uncached Skip-Latte and the wall-clock speedup "
                 "is within 10% of the paper's or above", setting_of(table, profile), SOURCE)


def two_x_claim(table: pd.DataFrame, profile: str) -> Claim:
    """Skip-Cache N=4 reaches about the paper's 2.19x with FVD within TWO_X_MATCH of uncached."""
    dataset, name = table["dataset"].iloc[0], f"{SKIP_CACHE}4"
    sc, base, speed = value(table, name, "fvd"), value(table, SKIP, "fvd"), value(table, name, "wallclock_speedup")
    paper_speed = paper_speedup("Skip-Cache", 4)
    paper = f"FVD {num(paper_fvd(dataset, 'Skip-Cache', 4))} at {times(paper_speed)}"
    verdict = combine([judge(speed, paper_speed),
                       judge(sc, base, higher_is_better=False, held_within=TWO_X_MATCH, partly_within=2 * TWO_X_MATCH)])
    return Claim("Skip-Cache N=4 reaches about 2x", paper,
                 f"FVD-style {num(sc)} vs {num(base)} uncached at {times(speed)} wall-clock", verdict,
                 f"held when the wall-clock speedup is within 10% of the paper's or above and FVD-style at most "
                 f"{TWO_X_MATCH:.0%} above uncached Skip-Latte", setting_of(table, profile), SOURCE)


def beats_baselines_claim(table: pd.DataFrame, profile: str, baselines: Sequence[str], title: str) -> Claim:
    """Per baseline, the best Skip-Cache N at least SIMILAR_SPEED as fast has a lower FVD-style distance."""
    dataset = table["dataset"].iloc[0]
    checks = [beats_baseline(table, b, "fvd") for b in baselines]
    paper_known = [b for b in baselines if b in PAPER_BASELINES]
    paper = "; ".join(f"{b} {num(paper_fvd(dataset, b))} at {times(paper_speedup(b))}" for b in paper_known)
    paper = paper or (f"no number (peers the paper does not run); its Skip-Cache N=2: FVD "
                      f"{num(paper_fvd(dataset, 'Skip-Cache', 2))} at {times(paper_speedup('Skip-Cache', 2))}")
    return Claim(title, paper, "; ".join(text for _, text in checks), combine([won for won, _ in checks]),
                 f"per baseline, the best Skip-Cache N with a wall-clock speedup of at least {SIMILAR_SPEED:.0%} "
                 "of the baseline's must have a lower FVD-style distance; held when it does for every one",
                 setting_of(table, profile), SOURCE)


def fewer_steps_claim(table: pd.DataFrame, profile: str, matched: Sequence[int]) -> Claim:
    """Skip-Cache N has a lower FVD-style distance than Skip-Latte sampled with fewer steps at its speed."""
    checks, texts = [], []
    for n in matched:
        sc = value(table, f"{SKIP_CACHE}{n}", "fvd")
        row = table[table["method"] == fewer_steps_name(SKIP, n)].iloc[0]
        checks.append(bool(sc < row["fvd"]))
        texts.append(f"N={n} {num(sc)} vs {int(row['steps'])} steps {num(row['fvd'])} "
                     f"({times(row['wallclock_speedup'])})")
    paper = "; ".join(f"N={n} UCF101 FVD {num(paper_value(TABLE2, 'ucf101_fvd', method='Skip-Cache', n=n))}"
                      for n in matched)
    paper += f"; fewer steps much worse (Taichi FVD {num(paper_value(TABLE2, 'taichi_fvd', n=None, method='plain sampler with fewer steps'))})"  # noqa: E501
    return Claim("Skip-Cache beats fewer sampling steps at matched throughput (Table 2)", paper, "; ".join(texts),
                 combine(checks), "held when every Skip-Cache N has a lower FVD-style distance than the Skip-Latte "
                 "sampled with as few steps as give its measured wall-clock speedup", setting_of(table, profile),
                 "Table 2")


def accuracy_claim(table: pd.DataFrame, profile: str) -> Claim:
    """Project bar: each uncached model draws the requested digit (conditional) and a readable motion."""
    dataset = table["dataset"].iloc[0]
    checks, texts = [], []
    for model in (PLAIN, SKIP):
        row = table[table["method"] == model].iloc[0]
        scores = {"motion": row["motion_accuracy"]}
        if DATASETS[dataset].conditional:
            scores = {"digit": row["class_accuracy"], **scores}
        checks += [bool(a >= ACCURACY_FLOOR) for a in scores.values()]
        texts.append(f"{model} " + ", ".join(f"{k} {pct(a)}" for k, a in scores.items()))
    return Claim("Both uncached models draw what the data shows", f"no number (project bar: {pct(ACCURACY_FLOOR)})",
                 "; ".join(texts), combine(checks),
                 f"held when each model reaches {pct(ACCURACY_FLOOR)} on every reading (digit: the requested class; "
                 "motion: the classifier's direction agrees with the ink centroid's path)",
                 setting_of(table, profile, f"{int(table['num_samples'].iloc[0])} videos per model"), SOURCE)


def claims(table: pd.DataFrame, s: Sizes, profile: str) -> list[Claim]:
    """Every claim of notebook 04, per data set."""
    found = []
    for _, part in table.groupby("dataset", sort=False):
        found += [skip_matches_claim(part, profile), near_lossless_claim(part, profile), two_x_claim(part, profile),
                  beats_baselines_claim(part, profile, PAPER_BASELINES,
                                        "Skip-Cache beats Delta-DiT, FORA, PAB23 and PAB35 at similar speedup"),
                  beats_baselines_claim(part, profile, PEERS,
                                        "Skip-Cache beats TeaCache and First-Block-Cache at similar speedup (ours)"),
                  fewer_steps_claim(part, profile, s.matched), accuracy_claim(part, profile)]
    return found


def smoothness_claims(rows: list[dict[str, Any]], s: Sizes, profile: str) -> list[Claim]:
    """Fig. 2 / Fig. 4's four numbers on the orbit pair, judged as in notebook 01."""
    return smooth.claims(rows, s.smoothness, profile, base=PLAIN, skip=SKIP,
                         detail="orbit videos (Taichi-like, as the paper's Fig. 2), "
                                f"{data_shape(DATASETS['orbit'].plain, profile)}")
