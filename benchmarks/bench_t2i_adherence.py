"""Benchmark: how often a text-to-image checkpoint draws what its caption asks for (uncached), per sampler.

    python benchmarks/bench_t2i_adherence.py CHECKPOINT [CHECKPOINT ...] [--samples 100]
        [--sampler ddpm,50,6 --sampler ddim,50,2 ...] [--weights model|ema] [--out FILE.json]

CHECKPOINT is a zoo `model.pt` or a training checkpoint (`checkpoints/NNNNNNN.pt`) of a TextDiT. Each is
sampled for the first --samples test captions of notebook 05 (the start noise of seed 0), and notebook 05's
attribute classifier reads back the digit, the colour and the place the caption asked for. This is how the
text-to-image recipe in skipdit_lib/zoo.py was probed (digit size, guidance, training length, objective).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional

import torch

from skipdit_lib.datasets import load_captioned_digits
from skipdit_lib.diffusion import SamplerSettings, run_sampler, start_noise
from skipdit_lib.evaluation import get_feature_extractor
from skipdit_lib.evaluation.scores import prompt_adherence
from skipdit_lib.experiments.text_to_image import ATTRIBUTES
from skipdit_lib.io import atomic_write_json
from skipdit_lib.models import load_model
from skipdit_lib.zoo import FINAL_NAME, checkpoint_model


def parse_sampler(text: str) -> SamplerSettings:
    """"ddpm,50,6" -> SamplerSettings("ddpm", 50, 6.0)."""
    parts = text.split(",")
    if len(parts) != 3:
        raise SystemExit(f"--sampler takes sampler,steps,guidance (e.g. ddpm,50,6), got {text!r}")
    return SamplerSettings(parts[0], int(parts[1]), float(parts[2]))


def load(path: Path, weights: str) -> torch.nn.Module:
    """The model of a zoo `model.pt` (save_checkpoint) or of a training checkpoint, with `weights`."""
    return (load_model(path, key=weights) if path.name == FINAL_NAME else checkpoint_model(path, weights)).eval()


def adherence(model: torch.nn.Module, classifier: torch.nn.Module, prompts: Any, settings: SamplerSettings,
              samples: int) -> dict[str, float]:
    """Per attribute (and "mean"), the share of `samples` uncached images the classifier reads as captioned."""
    size = model.x_embedder.input_size
    noise = start_noise(samples, (model.in_channels, size, size), seed=0)  # (N, C, H, W)
    with torch.no_grad():
        images = run_sampler(model, settings, noise, (prompts.tokens[:samples], prompts.mask[:samples]))
    return prompt_adherence(images, {a: prompts.attributes[a][:samples] for a in ATTRIBUTES}, classifier)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--sampler", action="append", default=None, help="sampler,steps,guidance (repeatable)")
    parser.add_argument("--weights", default="model", choices=("model", "ema"))
    parser.add_argument("--out", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--root", type=Path, default=None, help="checkpoints folder of the classifier")
    args = parser.parse_args(argv)
    samplers = [parse_sampler(s) for s in (args.sampler or ["ddpm,50,6"])]
    rows = []
    for path in args.checkpoints:
        model = load(path, args.weights)
        size = model.x_embedder.input_size
        classifier = get_feature_extractor("captioned_images", size, root=args.root)
        prompts = load_captioned_digits("image", max(1000, args.samples), size, split="test")
        for settings in samplers:
            scores = adherence(model, classifier, prompts, settings, args.samples)
            rows.append({"checkpoint": str(path), "weights": args.weights, "sampler": settings.label,
                         "cfg_scale": settings.cfg_scale, "samples": args.samples, **scores})
            print(f"{path} {settings.label} guidance {settings.cfg_scale:g}: "
                  + ", ".join(f"{k} {v:.1%}" for k, v in scores.items()), flush=True)
    if args.out:
        command = " ".join(["python benchmarks/bench_t2i_adherence.py", *(sys.argv[1:] if argv is None else argv)])
        atomic_write_json({"command": command, "rows": rows}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
