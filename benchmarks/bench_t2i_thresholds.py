"""Benchmark: the share of full steps each per-step method runs on notebook 05's model, per threshold.

    python benchmarks/bench_t2i_thresholds.py [--profile cpu] [--teacache 0.3,0.5,0.8] [--fbc 0.2,0.3,0.4]
        [--adaptive 0.5,0.8,1.2] [--out FILE.json]

TeaCache, First-Block-Cache and the adaptive Skip-Cache decide per step whether to run the whole network,
by a threshold on a drift measure whose scale depends on the model. Notebook 05 picks their thresholds
(`text_to_image.PEER_THRESHOLDS`) so that each runs a third to a half of its steps in full; this script
measures that share on the zoo's TextDiT at --profile, on the notebook's cost batch (the first
`latency_batch` test captions, the start noise of seed 1, its sampler), TeaCache's polynomial fitted as the
notebook fits it. Run it again whenever the model's recipe changes.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any, Optional

import torch

from skipdit_lib.caching import AdaptiveSkipCacheConfig, FirstBlockCacheConfig, calibrate_teacache, skip_cache_preset
from skipdit_lib.datasets import load_captioned_digits
from skipdit_lib.diffusion import run_sampler
from skipdit_lib.evaluation.methods import count_method
from skipdit_lib.experiments import text_to_image as t2i
from skipdit_lib.io import atomic_write_json
from skipdit_lib.zoo import get_model


def thresholds(text: str) -> list[float]:
    """[0.3, 0.5] from "0.3,0.5"."""
    try:
        return [float(v) for v in text.split(",") if v]
    except ValueError:
        raise SystemExit(f"thresholds are comma-separated numbers, e.g. 0.3,0.5; got {text!r}") from None


def full_step_shares(model: torch.nn.Module, sizes: t2i.Sizes, sweeps: dict[str, list[float]],
                     captions: Any) -> list[dict[str, Any]]:
    """One row per (method, threshold): the share of model calls that ran the whole network."""
    settings = t2i.sampler_settings(sizes)
    noise, y = t2i.make_bench(model, None, captions, sizes, 0, "cpu").cost_inputs()  # notebook 05's, seed 0
    teacache = calibrate_teacache(model, lambda: run_sampler(model, settings, noise, y))
    preset = skip_cache_preset("text-to-image")
    make = {"TeaCache": lambda th: replace(teacache, threshold=th),
            "First-Block-Cache": FirstBlockCacheConfig,
            "Adaptive Skip-Cache": lambda th: AdaptiveSkipCacheConfig(th, sizes.branch_depth, preset.warmup_t,
                                                                      preset.stop_t)}
    rows = []
    for method, values in sweeps.items():
        for value in values:
            share = count_method(model, make[method](value), settings, noise, y)["full_step_fraction"]
            rows.append({"method": method, "threshold": value, "full_step_fraction": share,
                         "chosen": t2i.PEER_THRESHOLDS[method] == value})
            print(f"{method:20s} {value:6.3f} -> {share:.0%} full", flush=True)
    return rows


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--teacache", type=thresholds, default=[0.3, 0.5, 0.8])
    parser.add_argument("--fbc", type=thresholds, default=[0.2, 0.3, 0.4])
    parser.add_argument("--adaptive", type=thresholds, default=[0.5, 0.8, 1.2])
    parser.add_argument("--out", default=None, help="write the rows here as JSON")
    args = parser.parse_args(argv)
    sizes = t2i.sizes(args.profile)
    model = get_model("textdit-t2i", args.profile)
    size = model.x_embedder.input_size
    captions = load_captioned_digits("image", max(sizes.real_images, sizes.num_samples), size, split="test")
    rows = full_step_shares(model, sizes, {"TeaCache": args.teacache, "First-Block-Cache": args.fbc,
                                           "Adaptive Skip-Cache": args.adaptive}, captions)
    if args.out:
        command = "python benchmarks/bench_t2i_thresholds.py " + " ".join(sys.argv[1:] if argv is None else argv)
        atomic_write_json({"command": command.strip(), "profile": args.profile, "rows": rows}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
