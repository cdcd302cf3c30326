"""Benchmark: every method of the paper's speed tables at the paper's model sizes, one interleaved run per table.

    python benchmarks/bench_paper_scale.py --device cuda [--precision bf16] [--tables dit,latte] [--repeats 2]
        [--steps N] [--batch N] [--budget-s 240] [--out results/benchmarks/paper_scale.json]
    python benchmarks/bench_paper_scale.py --scale cpu  # the cpu profile's models (what the notebooks measure here)
    python benchmarks/bench_paper_scale.py --scale tiny # the same code on tiny models (CPU, seconds; the tests)

Tables (PAPER.md section 6; the paper's speedup printed beside ours):
- `dit`: Table 7, DiT-XL/2 and Skip-DiT-XL/2 at 256px (32x32x4 latents), DDPM-250, guidance 1.5, batch 8:
  FORA and Delta-DiT on DiT, Skip-Cache N=2..4 (the released class-to-image setting, B=4) on Skip-DiT.
- `latte`: Table 1, Latte-XL/2 and its Skip twin, 16 frames at 256px, UCF101's sampler (DDIM-50, guidance 7),
  batch 1: Delta-DiT, FORA, PAB23, PAB35 on Latte, Skip-Cache N=2..6 (900 -> 50, B=1) on Skip-Latte.
- `t2v` (opt-in: about 4x a `latte` step at 512px and twice the blocks): Table 3, Latte-T2V-XL/2 and its Skip
  twin (the released checkpoint's sizes, T5-sized captions), DDIM-50, guidance 7.5: T-GATE, Delta-DiT, FORA,
  PAB235/347/469 on Latte, Skip-Cache 800 -> 50 and 700 -> 50 at N=2..4 on Skip-Latte.

Random weights (neither FLOPs nor latency depend on them: every method here decides by its schedule, not by its
features). For each table the FLOPs of one sampling run are counted per method, then every method of both
models is timed round-robin in one run (`interleaved_latencies`), so a slow phase of the machine hits all of
them; each speedup is against the same model uncached. `--steps` runs fewer sampler steps than the paper's
(the caching windows are in timesteps and stay as they are; the speedups are then per step of the shorter
run, and the output says so). The JSON is rewritten after each table, so a run cut short keeps what it measured.
`--budget-s S` bounds the whole run: before each table a probe times a short counted and a short timed uncached
run of both models, and when the table would not fit its share of what is left of S (the rows counted and timed
as if each cost its uncached model: an upper bound) it runs fewer sampler steps, at least MIN_BUDGET_STEPS,
and records the plan (`budget` in the table's JSON).
`--scale cpu` swaps in the cpu profile's zoo sizes (notebooks 03, 04, 06) with Skip-Cache at B=1, the share
of the network the notebooks cache: the hook-overhead check of the cpu benchmark (wall / FLOPs).
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import torch

from skipdit_lib.caching import (
    PAB_PRESETS,
    DeltaDiTConfig,
    FORAConfig,
    TGATEConfig,
    skip_cache_preset,
)
from skipdit_lib.diffusion import SamplerSettings, start_noise
from skipdit_lib.evaluation.cost import interleaved_latencies, random_weights, time_once
from skipdit_lib.evaluation.methods import count_method, run_method
from skipdit_lib.io import atomic_write_json
from skipdit_lib.models.configs import create_model
from skipdit_lib.precision import PRECISIONS, set_precision
from skipdit_lib.zoo import get_recipe

log = logging.getLogger("bench_paper_scale")


@dataclass(frozen=True)
class Method:
    """One row: where it runs (the plain or the skip model), its config (None: uncached) and the paper's speedup."""

    model: str            # "plain" or "skip"
    config: Any
    paper_speedup: float


@dataclass(frozen=True)
class Table:
    """One of the paper's speed tables: its two models, sampler, batch and rows."""

    title: str
    plain: str                  # model config name (models/configs.py)
    skip: str
    sampler: SamplerSettings    # the paper's
    batch: int
    condition: str              # "class" (labels), "caption" (token states) or "none"
    methods: Callable[[int, int], dict[str, Method]]  # (num_steps, B) -> rows (step boundaries scale with steps)
    overrides: dict[str, Any]   # model kwargs beyond the config at paper scale (UCF101 Latte: 101 classes)
    zoo: str                    # the zoo's plain model of the same table at the cpu profile
    branch_depth: int           # the paper's Skip-Cache B (units: blocks for DiT, pairs for Latte)


def dit_methods(steps: int, branch_depth: int = 4) -> dict[str, Method]:
    """Table 7 at guidance 1.5: FORA (N=3), Delta-DiT (21 of 28 blocks, boundary 60 of 250), Skip-Cache N=2..4."""
    delta = DeltaDiTConfig(boundary_step=round(steps * 60 / 250), cached_fraction=21 / 28)
    rows = {"DiT": Method("plain", None, 1.0), "FORA": Method("plain", FORAConfig(), 1.57),
            "Delta-DiT": Method("plain", delta, 1.45), "Skip-DiT": Method("skip", None, 1.0)}
    for n, paper in zip((2, 3, 4), (1.46, 1.73, 1.93)):
        rows[f"Skip-Cache N={n}"] = Method("skip", skip_cache_preset("class-to-image", n, branch_depth), paper)
    return rows


def latte_methods(steps: int, branch_depth: int = 1) -> dict[str, Method]:
    """Table 1: Delta-DiT (10 of 14 pairs, boundary 12 of 50), FORA, PAB23, PAB35, Skip-Cache N=2..6."""
    delta = DeltaDiTConfig(boundary_step=round(steps * 12 / 50), cached_fraction=10 / 14)
    rows = {"Latte": Method("plain", None, 1.0), "Delta-DiT": Method("plain", delta, 1.22),
            "FORA": Method("plain", FORAConfig(), 1.10), "PAB23": Method("plain", PAB_PRESETS["PAB23"], 1.30),
            "PAB35": Method("plain", PAB_PRESETS["PAB35"], 1.39), "Skip-Latte": Method("skip", None, 1.0)}
    for n, paper in zip(range(2, 7), (1.56, 1.91, 2.19, 2.30, 2.43)):
        rows[f"Skip-Cache N={n}"] = Method("skip", skip_cache_preset("class-to-video", n, branch_depth), paper)
    return rows


def t2v_methods(steps: int, branch_depth: int = 1) -> dict[str, Method]:
    """Table 3: T-GATE (gate 20 of 50, interval 2), Delta-DiT, FORA, PAB235/347/469, Skip-Cache 800/700 -> 50."""
    delta = DeltaDiTConfig(boundary_step=round(steps * 12 / 50), cached_fraction=10 / 14)
    rows = {"Latte": Method("plain", None, 1.0),
            "T-GATE": Method("plain", TGATEConfig(gate_step=max(1, round(steps * 20 / 50)), self_attn_interval=2),
                             1.12),
            "Delta-DiT": Method("plain", delta, 1.27), "FORA": Method("plain", FORAConfig(), 1.19)}
    for name, paper in zip(("PAB235", "PAB347", "PAB469"), (1.24, 1.29, 1.33)):
        rows[name] = Method("plain", PAB_PRESETS[name], paper)
    rows["Skip-Latte"] = Method("skip", None, 1.0)
    for start, papers in ((800, (1.57, 1.93, 2.20)), (700, (1.49, 1.72, 1.90))):
        for n, paper in zip((2, 3, 4), papers):
            rows[f"Skip-Cache {start}->50 N={n}"] = Method(
                "skip", skip_cache_preset(f"text-to-video-{start}", n, branch_depth), paper)
    return rows


TABLES: dict[str, Table] = {
    "dit": Table("Table 7: DiT-XL/2, 256px, DDPM-250, guidance 1.5", "DiT-XL/2", "DiT-XL/2-skip",
                 SamplerSettings("ddpm", 250, 1.5), 8, "class", dit_methods, {}, "dit-c2i", 4),
    "latte": Table("Table 1 (UCF101): Latte-XL/2, 16x256px, DDIM-50, guidance 7", "Latte-XL/2", "Latte-XL/2-skip",
                   SamplerSettings("ddim", 50, 7.0), 1, "class", latte_methods, {"num_classes": 101}, "latte-c2v", 1),
    "t2v": Table("Table 3: Latte-T2V-XL/2, 16x512px, DDIM-50, guidance 7.5", "Latte-T2V-XL/2", "Latte-T2V-XL/2-skip",
                 SamplerSettings("ddim", 50, 7.5), 1, "caption", t2v_methods, {}, "latte-t2v", 1),
}
DEFAULT_TABLES = ("dit", "latte")
SCALES = ("paper", "cpu", "tiny")
# --scale tiny: the same families and code at toy sizes (a skip Latte needs its depth divisible by 4).
TINY = {"hidden_size": 32, "num_heads": 2, "input_size": 8, "depth": 8}
TINY_LATTE = {"num_frames": 2}
TINY_TEXT = {"caption_dim": 8, "text_len": 4}


def build(table: Table, which: str, scale: str, device: str) -> torch.nn.Module:
    """The plain or skip model of `table` at `scale`, random weights, on `device`."""
    name, kwargs = (table.plain if which == "plain" else table.skip), dict(table.overrides)
    if scale == "cpu":  # the zoo's cpu recipe: its base config and size overrides
        recipe = get_recipe(table.zoo, "cpu")
        name, kwargs = recipe.base + ("-skip" if which == "skip" else ""), dict(recipe.overrides)
    elif scale == "tiny":
        kwargs.update(TINY, **(TINY_LATTE if "Latte" in name else {}))
        if table.condition == "caption":
            kwargs.update(TINY_TEXT)
    torch.manual_seed(0)
    return random_weights(create_model(name, **kwargs)).to(device)


PAPER_UNITS = 28  # DiT-XL/2's blocks: the only table whose B is above 1


def branch_depth(table: Table, model: torch.nn.Module) -> int:
    """The paper's B as the same share of `model`'s units, at least 1: DiT-XL/2's 4 of 28 blocks is 1 of the cpu
    profile's 8 (as notebook 03 runs it); B=1 stays 1."""
    return max(1, round(table.branch_depth * model.num_units / PAPER_UNITS))


def inputs(model: torch.nn.Module, table: Table, batch: int, device: str) -> tuple[torch.Tensor, Any]:
    """Seeded start noise and condition for `batch` samples of `model` (labels or caption token states)."""
    size = model.x_embedder.input_size
    shape = (model.num_frames, model.in_channels, size, size) if hasattr(model, "num_frames") else \
        (model.in_channels, size, size)
    noise = start_noise(batch, shape, seed=0, device=device)
    gen = torch.Generator().manual_seed(1)
    if table.condition == "caption":
        text_len, dim = model.config["kwargs"]["text_len"], model.config["kwargs"]["caption_dim"]
        tokens = torch.randn(batch, text_len, dim, generator=gen)
        return noise, (tokens.to(device), torch.ones(batch, text_len, dtype=torch.bool, device=device))
    classes = model.num_classes
    return noise, torch.randint(0, classes, (batch,), generator=gen).to(device)


COMPILED = " (compiled)"
PROBE_STEPS = 2         # sampler steps of each probe run (after an untimed one: the fewest a respacing has)
MIN_BUDGET_STEPS = 10   # the fewest steps a budget cuts a table to: FORA (N=3) and Skip-Cache N<=6 still cycle
BUDGET_MARGIN = 0.8     # a table plans to use this share of its budget: the probe is an estimate


def probe_step_seconds(model: torch.nn.Module, sampler: SamplerSettings, noise: torch.Tensor,
                       y: Any) -> dict[str, float]:
    """Seconds per sampler step of `model` uncached: one counted (FLOP counter on) and one timed run of
    PROBE_STEPS steps, after an untimed one (CUDA start-up, lazy initialisation)."""
    short = replace(sampler, num_steps=PROBE_STEPS)
    run_method(model, None, short, noise, y)
    start = time.perf_counter()
    count_method(model, None, short, noise, y)
    counted = time.perf_counter() - start
    timed = time_once(lambda: run_method(model, None, short, noise, y))
    return {"counted": counted / PROBE_STEPS, "timed": timed / PROBE_STEPS}


def affordable_steps(requested: int, seconds_per_step: float, seconds: float,
                     minimum: int = MIN_BUDGET_STEPS) -> int:
    """The most sampler steps, at most `requested`, whose projected cost (`seconds_per_step` each) fits in
    `seconds`; never fewer than `minimum` (or `requested` when that is smaller)."""
    if seconds_per_step <= 0 or requested * seconds_per_step <= seconds:
        return requested
    return min(requested, max(minimum, int(seconds // seconds_per_step)))


def plan_steps(rows: dict[str, Method], probes: dict[str, dict[str, float]], requested: int, repeats: int,
               warmup: int, seconds: float) -> dict[str, Any]:
    """The steps a table can afford in `seconds`: every row is counted once and run `warmup + repeats` times,
    each step costing at most its uncached model's (`probes`, per model)."""
    per_step = sum(probes[m.model]["counted"] + (warmup + repeats) * probes[m.model]["timed"] for m in rows.values())
    steps = affordable_steps(requested, per_step, seconds)
    return {"seconds": round(seconds, 1), "projected_s_per_step": round(per_step, 4), "requested_steps": requested,
            "steps": steps, "projected_s": round(steps * per_step, 1), "fits": steps * per_step <= seconds}


def with_compiled(rows: dict[str, Method]) -> dict[str, Method]:
    """`rows` plus, for the uncached and the Skip-Cache rows, the same method on the compiled model."""
    extra = {name + COMPILED: replace(m, model=m.model + "-compiled") for name, m in rows.items()
             if m.config is None or name.startswith("Skip-Cache")}
    return {**rows, **extra}


def measure(table: Table, *, scale: str, device: str, steps: int | None, batch: int | None, repeats: int,
            warmup: int, compiled: bool = False, budget_s: float | None = None,
            plan: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One row per method of `table`: FLOPs, latency and both speedups, the models timed in one interleaved run.
    With `compiled`, the uncached and Skip-Cache rows run again on copies of the models whose blocks are compiled
    (`compile_blocks`): their FLOPs are the eager row's, their speedups against the eager uncached model, and
    `max_abs_diff_vs_eager` says how far their samples are from the eager ones.
    With `budget_s`, the steps are cut to what the table can afford in that many seconds (`plan_steps`; the
    compiled rows' compilation is not in the projection), and the plan is written into `plan` when given."""
    began = time.perf_counter()
    sampler = replace(table.sampler, num_steps=steps or table.sampler.num_steps)
    models = {which: build(table, which, scale, device) for which in ("plain", "skip")}
    if compiled:
        models.update({f"{w}-compiled": build(table, w, scale, device).compile_blocks() for w in ("plain", "skip")})
    data = {which: inputs(m, table, batch or table.batch, device) for which, m in models.items()}

    def rows_at(num_steps: int) -> dict[str, Method]:
        rows = table.methods(num_steps, branch_depth(table, models["skip"]))
        return with_compiled(rows) if compiled else rows

    if budget_s is not None:
        probes = {w: probe_step_seconds(models[w], sampler, *data[w]) for w in ("plain", "skip")}
        probes.update({f"{w}-compiled": probes[w] for w in ("plain", "skip") if compiled})
        left = budget_s - (time.perf_counter() - began)  # building and probing came out of the budget
        chosen = plan_steps(rows_at(sampler.num_steps), probes, sampler.num_steps, repeats, warmup, left)
        sampler = replace(sampler, num_steps=chosen["steps"])
        if plan is not None:
            plan.update(chosen)
        log.log(logging.INFO if chosen["fits"] else logging.WARNING, "%s: %d steps for the %.0f s left (projected "
                "%.0f s%s)", table.title, chosen["steps"], left, chosen["projected_s"],
                "" if chosen["fits"] else f"; {MIN_BUDGET_STEPS} steps is the floor: the budget will be overrun")
    rows = rows_at(sampler.num_steps)
    counted, samples = {}, {}
    for name, method in rows.items():
        model, (noise, y) = models[method.model], data[method.model]
        if method.model.endswith("-compiled"):  # compiled kernels bypass the FLOP counter: the eager count holds
            counted[name] = counted[name.removesuffix(COMPILED)]
            samples[name] = run_method(model, method.config, sampler, noise, y)  # also compiles, before timing
        else:
            counted[name] = count_method(model, method.config, sampler, noise, y)
            samples[name] = counted[name]["samples"]
        log.info("%s: %s counted (%.1f TFLOP)", table.title, name, counted[name]["flops"] / 1e12)
    runs = {name: (lambda m=rows[name]: run_method(models[m.model], m.config, sampler, *data[m.model]))
            for name in rows}
    latency = interleaved_latencies(runs, repeats, warmup)
    base = {which: next(n for n, m in rows.items() if m.model == which and m.config is None) for which in models}
    out = []
    for name, method in rows.items():
        ref = base[method.model.removesuffix("-compiled")]
        flops_speedup = counted[ref]["flops"] / counted[name]["flops"]
        wall_speedup = latency[ref] / latency[name]
        row = {"model": models[method.model].__class__.__name__ + ("-skip" if "skip" in method.model else ""),
               "method": name, "sampler": sampler.label, "cfg_scale": sampler.cfg_scale,
               "paper_steps": table.sampler.num_steps, "batch": batch or table.batch,
               "tflops_per_run": counted[name]["flops"] / 1e12, "latency_s": latency[name],
               "flops_speedup": flops_speedup, "wallclock_speedup": wall_speedup,
               "wallclock_over_flops": wall_speedup / flops_speedup, "paper_speedup": method.paper_speedup}
        if name.endswith(COMPILED):
            eager = samples[name.removesuffix(COMPILED)]
            row["max_abs_diff_vs_eager"] = float((samples[name] - eager).abs().max())
        out.append(row)
    return out


def markdown(title: str, rows: list[dict[str, Any]]) -> str:
    """One table as markdown: ours beside the paper's speedup."""
    lines = [f"### {title}", "", "| method | TFLOP/run | latency s | FLOPs speedup | wall-clock speedup | wall/FLOPs "
             "| paper |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['method']} | {r['tflops_per_run']:.3g} | {r['latency_s']:.3g} | {r['flops_speedup']:.2f} | "
              f"{r['wallclock_speedup']:.2f} | {r['wallclock_over_flops']:.2f} | {r['paper_speedup']:.2f} |"
              for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse the arguments, measure every chosen table, write the JSON; returns what it wrote."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=",".join(DEFAULT_TABLES), help=f"comma-separated, of {list(TABLES)}")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help="default: bf16 on cuda (the authors' scripts), fp32 on cpu")
    parser.add_argument("--steps", type=int, default=None, help="sampler steps (default: the paper's)")
    parser.add_argument("--batch", type=int, default=None, help="samples per run (default: each table's)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--compile", action="store_true",
                        help="also time the uncached and Skip-Cache rows with torch.compile'd blocks")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="bound the whole run to about this many seconds: tables that would not fit their share "
                             f"run fewer sampler steps (at least {MIN_BUDGET_STEPS})")
    parser.add_argument("--scale", choices=SCALES, default="paper",
                        help="paper: the paper's models; cpu: the cpu profile's; tiny: toy sizes (CPU tests)")
    parser.add_argument("--out", default="results/benchmarks/paper_scale.json")
    args = parser.parse_args(argv)
    chosen = [t.strip() for t in args.tables.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in TABLES]
    if unknown:
        parser.error(f"unknown table(s) {unknown}; choose from {list(TABLES)}")
    if args.budget_s is not None and args.budget_s <= 0:
        parser.error(f"--budget-s must be a positive number of seconds, got {args.budget_s}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda but no CUDA device is visible; use --device cpu with --scale cpu or tiny")
    precision = args.precision or ("bf16" if args.device.startswith("cuda") else "fp32")
    set_precision(precision)
    result: dict[str, Any] = {
        "command": "python benchmarks/bench_paper_scale.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "precision": precision, "torch": torch.__version__, "scale": args.scale, "compiled": args.compile,
        "budget_s": args.budget_s, "tables": {}}
    began = time.time()
    for i, key in enumerate(chosen):
        start = time.time()
        share, plan = None, {}
        if args.budget_s is not None:  # an equal share of what is left, less a margin for the probe's error
            share = max(0.0, args.budget_s - (start - began)) / (len(chosen) - i) * BUDGET_MARGIN
        rows = measure(TABLES[key], scale=args.scale, device=args.device, steps=args.steps, batch=args.batch,
                       repeats=args.repeats, warmup=args.warmup, compiled=args.compile, budget_s=share, plan=plan)
        result["tables"][key] = {"title": TABLES[key].title, "seconds": round(time.time() - start, 1), "rows": rows,
                                 **({"budget": plan} if plan else {})}
        atomic_write_json(result, Path(args.out))
        scale = "" if args.scale == "paper" else f" [{args.scale} scale: the {TABLES[key].zoo} sizes]" \
            if args.scale == "cpu" else " [tiny scale]"
        print(markdown(TABLES[key].title + scale, rows), flush=True)
        if rows[0]["sampler"].split("-")[1] != str(rows[0]["paper_steps"]):
            print(f"(ran {rows[0]['sampler']}, the paper {rows[0]['paper_steps']} steps: speedups per step of the "
                  "shorter run)")
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    main()
