"""Benchmark: FLOPs speedup versus wall-clock speedup of Skip-Cache on the cpu-profile Skip-DiT.

    python benchmarks/bench_skip_cache.py [--batch 64] [--steps 50] [--repeats 3] [--out results/bench.json]

Model: DiT-S/4-digits-skip (width 128, depth 8, patch 4, 16x16x1, 10 classes), random weights
(timing does not depend on them). Sampler: DDIM with classifier-free guidance, so every call is
one forward of 2 x batch. For Skip-Cache N = 2, 3, 4 (B = 1, no warm-up, close at t <= 20) it
prints the FLOPs speedup and the wall-clock speedup measured in the same run and their ratio,
then a per-call time breakdown that explains the gap (embed + head and the sampler update do
not shrink with caching).
"""
from __future__ import annotations

import argparse
import logging
import statistics
import time

import torch

from skipdit_lib.caching import SkipCacheConfig, apply_cache, remove_cache
from skipdit_lib.diffusion import SamplerSettings, balanced_labels, start_noise
from skipdit_lib.evaluation import compare_methods
from skipdit_lib.evaluation.cost import random_weights
from skipdit_lib.models.configs import create_model
from skipdit_lib.models.layers import run_units

log = logging.getLogger("bench_skip_cache")


def timed(fn, repeats: int = 20) -> float:
    """Median seconds of `fn()` after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.no_grad()
def call_breakdown(model: torch.nn.Module, batch: int) -> dict[str, float]:
    """Seconds per model call (CFG batch 2 x batch) of: embed + head, all units, the 2 outer units."""
    x = torch.randn(2 * batch, 1, 16, 16)
    t = torch.full((2 * batch,), 500)
    y = torch.arange(2 * batch) % 10
    h, ctx = model.embed(x, t, y)
    L = model.num_units
    out = {
        "embed_head_s": timed(lambda: model.head(*model.embed(x, t, y))),
        "all_units_s": timed(lambda: run_units(model, h, ctx, range(L), {})),
        "outer_units_s": timed(lambda: run_units(model, h, ctx, [0, L - 1], {0: h})),
        "full_call_s": timed(lambda: model(x, t, y)),
    }
    apply_cache(model, SkipCacheConfig(interval=10**9, branch_depth=1, stop_t=-1))  # full once, then cached
    out["cached_call_s"] = timed(lambda: model(x, t, y))
    remove_cache(model)
    return out


def predicted_speedups(table, breakdown: dict[str, float]) -> dict[str, float]:
    """Wall-clock speedup predicted from the per-call times and each method's share of full steps."""
    full, cached = breakdown["full_call_s"], breakdown["cached_call_s"]
    return {name: full / (f * full + (1 - f) * cached) for name, f in table["full_step_fraction"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="samples per run (the forward sees 2x with CFG)")
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps")
    parser.add_argument("--repeats", type=int, default=3, help="timed sampling runs per method (median)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", default="", help="optional JSON file for the table")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    model = random_weights(create_model("DiT-S/4-digits-skip"))
    methods = {f"skip-cache N={n}": SkipCacheConfig(interval=n, branch_depth=1, warmup_t=1000, stop_t=20)
               for n in (2, 3, 4)}
    table = compare_methods(model, methods, noise=start_noise(args.batch, (1, 16, 16), seed=0),
                            y=balanced_labels(args.batch, 10),
                            sampler=SamplerSettings("ddim", num_steps=args.steps, cfg_scale=1.5),
                            repeats=args.repeats, warmup=1)
    columns = ["full_step_fraction", "gflops", "flops_speedup", "latency_s", "wallclock_speedup",
               "wallclock_over_flops", "psnr_db"]
    log.info("threads=%d batch=%d (x2 CFG) DDIM-%d\n%s", torch.get_num_threads(), args.batch, args.steps,
             table[columns].to_string(float_format=lambda v: f"{v:.3f}"))
    breakdown = call_breakdown(model, args.batch)
    log.info("per-call seconds: %s", {k: round(v, 5) for k, v in breakdown.items()})
    predicted = predicted_speedups(table, breakdown)
    log.info("wall-clock speedup predicted from per-call medians (model time only): %s",
             {k: round(v, 3) for k, v in predicted.items()})
    if args.out:
        from skipdit_lib.io import atomic_write_json
        atomic_write_json({"table": table.reset_index().to_dict("records"), "per_call": breakdown,
                           "predicted_wallclock_speedup": predicted,
                           "args": vars(args), "threads": torch.get_num_threads()}, args.out)


if __name__ == "__main__":
    main()
