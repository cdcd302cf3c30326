"""Benchmark: training and sampling throughput of every small model config.

    python benchmarks/bench_throughput.py [--batch 64] [--repeats 5] [--out results/benchmarks/throughput.json]

For each `*-digits*` config of skipdit_lib.models.configs (the sizes the cpu profile trains),
measures training steps per second (AdamW step on the hybrid loss, batch --batch) and sampling
throughput (one guided DDIM step = one forward of 2 x batch, reported as images or videos per
second for a 50-step run), and the FLOPs of one forward. Medians of --repeats timings after a
warm-up; the skip twin's cost relative to its plain model is a ratio measured in the same run.
"""
from __future__ import annotations

import argparse
import logging

import torch

from skipdit_lib.diffusion import create_diffusion
from skipdit_lib.evaluation.cost import count_flops, measure_latency
from skipdit_lib.io import atomic_write_json
from skipdit_lib.models import MODEL_CONFIGS, create_model

log = logging.getLogger("bench_throughput")


def example_batch(model: torch.nn.Module, batch: int) -> tuple[torch.Tensor, torch.Tensor, object]:
    """Random input, timesteps and condition shaped for `model`."""
    kw = model.config["kwargs"]
    size, channels = kw.get("input_size", 16), kw.get("in_channels", 1)
    frames = kw.get("num_frames")
    x = torch.randn(batch, frames, channels, size, size) if frames else torch.randn(batch, channels, size, size)
    if kw.get("caption_dim"):
        y = (torch.randn(batch, 16, kw["caption_dim"]), torch.ones(batch, 16, dtype=torch.bool))
    else:
        y = torch.randint(0, max(kw.get("num_classes", 0), 1), (batch,)) if kw.get("num_classes") else None
    return x, torch.randint(0, 1000, (batch,)), y


def train_step_fn(model: torch.nn.Module, batch: int):
    """A closure running one optimizer step on the hybrid loss."""
    diffusion, opt = create_diffusion(None, learn_sigma=model.config["kwargs"].get("learn_sigma", True)), \
        torch.optim.AdamW(model.parameters(), lr=1e-4)
    x, t, y = example_batch(model, batch)

    def step() -> None:
        with torch.enable_grad():  # measure_latency times under no_grad
            loss = diffusion.training_losses(model, x, t, y)["loss"].mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return step


def measure(name: str, batch: int, repeats: int) -> dict[str, float]:
    """Training steps/s, sampling samples/s (50 guided steps) and forward GFLOPs of config `name`."""
    model = create_model(name)
    x, t, y = example_batch(model, 2 * batch)
    train_s = measure_latency(train_step_fn(model.train(), batch), warmup=1, repeats=repeats)["median"]
    model.eval()
    with torch.no_grad():
        fwd_s = measure_latency(lambda: model(x, t, y), warmup=1, repeats=repeats)["median"]
    return {"train_steps_per_s": 1 / train_s, "train_samples_per_s": batch / train_s,
            "sample_per_s_ddim50_cfg": batch / (50 * fwd_s), "forward_gflops_2x_batch": count_flops(model, x, t,
                                                                                                    y) / 1e9}


def main() -> None:
    """Measure every small config and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="results/benchmarks/throughput.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = {}
    for name in [n for n in MODEL_CONFIGS if "digits" in n]:
        rows[name] = measure(name, args.batch, args.repeats)
        log.info("%-28s %s", name, "  ".join(f"{k} {v:.3g}" for k, v in rows[name].items()))
    atomic_write_json({"batch": args.batch, "threads": torch.get_num_threads(), "rows": rows,
                       "command": f"python benchmarks/bench_throughput.py --batch {args.batch} "
                                  f"--repeats {args.repeats}"}, args.out)


if __name__ == "__main__":
    main()
