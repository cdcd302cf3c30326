"""Benchmark: notebook 07's search past 3x on a deeper class-to-image Skip-DiT (issue 15's "deeper cpu models").

    python benchmarks/bench_deeper_grid.py [--profile cpu] [--out results/benchmarks/deeper_grid_cpu.json]
        [--depths 1] [--samples N] [--device cpu]

A cached step of Skip-Cache still runs 2B of the L units, so on notebook 07's depth-8 models B=1 caps the
speedup near 4x before the full steps are paid. This trains (when missing) the zoo's `skipdit-c2i-deep`,
notebook 03's Skip-DiT recipe with twice the blocks, and runs notebook 07's class-to-image search on it with
notebook 07's code: plain Skip-Cache at the profile's N and the chosen B, Skip-Cache with step skipping and the
adaptive Skip-Cache, from the same noise, timed in one interleaved run, judged by notebook 07's bounds
(FID-style distance within 10% of uncached, accuracy within 2 points). Not part of `make reproduce`: the deeper
model and its grid cost about 15 minutes on 2 cores. Writes the table, the fastest point within the bounds,
the Pareto front by family, notebook 07's depth-8 result beside it, and the command, to --out.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import torch

from skipdit_lib.experiments import cache_grid as grid
from skipdit_lib.io import atomic_write_json
from skipdit_lib.paths import CHECKPOINTS_DIR, RESULTS_DIR
from skipdit_lib.zoo import FINAL_NAME, get_model, model_folder

PAIR = "class-to-image"
MODEL = "skipdit-c2i-deep"


def committed_depth8(results_dir: Path = RESULTS_DIR) -> Optional[dict[str, Any]]:
    """Notebook 07's class-to-image search result on the depth-8 Skip-DiT, when committed."""
    path = results_dir / "07_caching_ablations" / "metrics.json"
    if not path.exists():
        return None
    values = json.loads(path.read_text())["values"]
    return {"fast_and_faithful": values["fast_and_faithful"][PAIR],
            "pareto_front_by_family": values["pareto_front_by_family"][PAIR]}


def run(profile: str, out: Path, depths: tuple[int, ...], samples: Optional[int], device: str,
        root: Optional[Path] = None, seed: int = 0, command: str = "") -> dict[str, Any]:
    """Train (if missing) and search the deeper model; write and return the record."""
    root = root or CHECKPOINTS_DIR
    s = grid.sizes(profile)
    if samples is not None:
        s = replace(s, image_samples=samples)
    trained_now = not (model_folder(MODEL, profile, root) / FINAL_NAME).exists()
    start = time.time()
    model = get_model(MODEL, profile, root=root, device=device, progress=False)
    train_s = time.time() - start if trained_now else None
    data = grid.reference(PAIR, model, profile, s, root, device)
    bench = grid.make_bench(model, data, s, seed, device)
    start = time.time()
    table = grid.evaluate(bench, model, PAIR, s, depths)
    claim = grid.past_three_claim({PAIR: table}, profile)[0]
    record = {
        "command": command,
        "profile": profile, "device": device, "model": MODEL, "num_units": model.num_units, "depths": list(depths),
        "samples_per_point": s.image_samples, "sampler": grid.sampler_settings(PAIR, s).label,
        "cfg_scale": grid.sampler_settings(PAIR, s).cfg_scale, "train_seconds": train_s,
        "search_seconds": time.time() - start, "torch_threads": torch.get_num_threads(),
        "verdict": claim.verdict.value, "ours": claim.ours, "rule": claim.rule,
        "fast_and_faithful": grid.fast_and_faithful(table), "pareto_front_by_family": grid.front_by_family(table),
        "depth8_notebook_07": committed_depth8(), "table": table.to_dict(orient="records"),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(record, out)
    return record


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="cpu", choices=("smoke", "cpu", "gpu"))
    parser.add_argument("--out", type=Path, default=None, help="default results/benchmarks/deeper_grid_<profile>.json")
    parser.add_argument("--depths", default="1", help="comma-separated B of the plain grid (default 1)")
    parser.add_argument("--samples", type=int, default=None, help="samples per point (default: the profile's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--root", type=Path, default=None, help="checkpoints folder (default results/checkpoints)")
    args = parser.parse_args(argv)
    depths = tuple(int(b) for b in args.depths.split(",") if b.strip())
    out = args.out or RESULTS_DIR / "benchmarks" / f"deeper_grid_{args.profile}.json"
    command = " ".join(["python benchmarks/bench_deeper_grid.py", *(sys.argv[1:] if argv is None else argv)])
    record = run(args.profile, out, depths, args.samples, args.device, args.root, command=command)
    print(f"{record['verdict']}: {record['ours']}\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
