"""Benchmark: how a training recipe for the class-to-image zoo models turns into guided accuracy.

    python benchmarks/bench_c2i_recipe.py OUT_DIR [--model dit-c2i] [--profile cpu] [--samples 300]
        [--set lr=2e-3 --set lr_schedule=constant ...] [--weights model,ema]

Trains zoo model --model with its --profile recipe, changed by every `--set field=value` (a
TrainConfig field, or a model override such as depth; values are JSON), into OUT_DIR (resuming
when OUT_DIR already holds a checkpoint), then samples --samples digits from every checkpoint
(DDIM-50, guidance 2, the labels 0..9 repeating, the start noise of notebook 03's accuracy check)
and reports how many our digit classifier reads as the requested digit, for the final weights
and the EMA. This is how the cpu recipe in skipdit_lib/profiles.py was chosen; the numbers are
written to OUT_DIR/accuracy.json. Runs on one thread unless OMP_NUM_THREADS says otherwise.
`--samples 0` only trains (any zoo model, e.g. a text-to-image variant for bench_t2i_adherence.py).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch

from skipdit_lib.diffusion import SamplerSettings, balanced_labels, run_sampler, start_noise
from skipdit_lib.evaluation import class_accuracy, get_feature_extractor
from skipdit_lib.io import atomic_write_json
from skipdit_lib.training import TrainConfig, list_checkpoints, train
from skipdit_lib.zoo import ZooRecipe, build_dataset, checkpoint_model, get_recipe, initial_model

ACCURACY_SEED = 2  # notebook 03: accuracy noise = seed + 2 with seed 0
SETTINGS = SamplerSettings("ddim", 50, 2.0)


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """{"lr": 0.002, ...} from ["lr=2e-3", ...]; the value is JSON, or a plain string."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"--set takes field=value, got {pair!r}")
        key, value = pair.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def recipe(model: str, profile: str, changes: dict[str, Any]) -> tuple[dict[str, Any], TrainConfig]:
    """The model overrides and TrainConfig of zoo `model` at `profile` with `changes` applied."""
    spec = get_recipe(model, profile)
    overrides, train_kw = dict(spec.overrides), dict(spec.train)
    known = {f.name for f in fields(TrainConfig)}
    for key, value in changes.items():
        if key not in overrides and key not in known:
            raise SystemExit(f"--set {key}: not a TrainConfig field ({', '.join(sorted(known))}) "
                             f"nor a model override of this recipe ({', '.join(sorted(overrides))})")
        (overrides if key in overrides else train_kw)[key] = value
    return overrides, TrainConfig(**train_kw)


def guided_accuracy(path: Path, key: str, classifier: torch.nn.Module, samples: int) -> float:
    """Accuracy of `samples` guided samples from weights `key` ("model" or "ema") of a checkpoint file."""
    net = checkpoint_model(path, key)
    kw = net.config["kwargs"]
    noise = start_noise(samples, (kw["in_channels"], kw["input_size"], kw["input_size"]), ACCURACY_SEED)  # (N, C, H, W)
    labels = balanced_labels(samples, net.num_classes)
    return class_accuracy(run_sampler(net.eval(), SETTINGS, noise, labels), labels, classifier)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--model", default="dit-c2i")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--set", action="append", default=[], dest="sets", metavar="FIELD=VALUE")
    parser.add_argument("--weights", default="model,ema", help="comma-separated: model, ema")
    args = parser.parse_args()
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)

    spec = get_recipe(args.model, args.profile)
    overrides, config = recipe(args.model, args.profile, parse_sets(args.sets))
    model = initial_model(ZooRecipe(spec.base, spec.overrides, {**spec.train, "seed": config.seed}, spec.data),
                          overrides)
    t0 = time.time()
    train(model, build_dataset(spec.data), config, args.out_dir, progress=False)
    print(f"trained to step {config.steps} in {time.time() - t0:.0f} s (this call)", flush=True)
    if args.samples == 0:  # training only (e.g. a text model, probed by bench_t2i_adherence.py)
        return

    classifier = get_feature_extractor(spec.data.get("kind", "digits"), spec.data.get("resolution", 16))
    rows = []
    for step, path in list_checkpoints(args.out_dir).items():
        for key in args.weights.split(","):
            acc = guided_accuracy(path, key, classifier, args.samples)
            rows.append({"step": step, "weights": key, "accuracy": acc})
            print(f"step {step} {key}: {acc:.1%} of {args.samples}", flush=True)
    atomic_write_json({"model": args.model, "profile": args.profile, "changes": parse_sets(args.sets),
                       "train_config": asdict(config), "samples": args.samples, "sampler": "DDIM-50, guidance 2",
                       "rows": rows}, args.out_dir / "accuracy.json")


if __name__ == "__main__":
    main()
