"""The GPU checks of the gpu path in one prepared command, for a session lent a GPU (one call of the device tool with
timeout_s about 400, which leaves a second try inside a 15-minute lease):

    PYTHONPATH=. python3 benchmarks/gpu_session.py --out-dir "$OUT" --budget-s 300
    python benchmarks/gpu_session.py --device cpu --scale tiny --out-dir /tmp/gpu_session  # the same path on a CPU

It needs torch and einops, pandas, seaborn, torchmetrics (what the lent machines have), not papermill or mlxtend.
In order, each writing its JSON as soon as it is done, so a run cut short keeps what it measured:
1. `device_samples.json`: one random-weight DiT (the cpu profile's class-to-image size) sampled from the same seed
   on the CPU and on `--device`, DDPM and DDIM, fp32 with TF32 off: the largest difference per sampler (the noise
   of every step is drawn on the CPU and moved, so it is the same stream on both).
2. `paper_scale.json`: `bench_paper_scale.py` on the DiT-XL/2 and Latte-XL/2 tables (bf16 on a GPU), in its share
   of the budget (`--budget-s`: fewer sampler steps when a table would not fit; the JSON says so).
3. `paper_scale_compiled.json`: the DiT table again with its uncached and Skip-Cache rows also on compiled blocks,
   in what is left (compilation is not in the projection: this step may overrun, so it runs last).
`gpu_session.json` lists the steps, their commands and seconds. Copy the files into `results/benchmarks/` with
the device's name, and the command, when they come back.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark, when run as a script

import bench_paper_scale  # noqa: E402

from skipdit_lib.diffusion import SamplerSettings, run_sampler, start_noise  # noqa: E402
from skipdit_lib.evaluation.cost import random_weights  # noqa: E402
from skipdit_lib.io import atomic_write_json  # noqa: E402
from skipdit_lib.models.configs import create_model  # noqa: E402
from skipdit_lib.precision import using_precision  # noqa: E402
from skipdit_lib.zoo import get_recipe  # noqa: E402

log = logging.getLogger("gpu_session")

SAMPLERS = (SamplerSettings("ddpm", 50, 1.5), SamplerSettings("ddim", 50, 1.5))
PAPER_SHARE = 0.6  # of what is left after step 1 (seconds on a GPU), for step 2; step 3 gets the rest


def device_samples(device: str, scale: str) -> dict[str, Any]:
    """The same seeded samples on the CPU and on `device`, per sampler: shapes, largest difference, and whether they
    agree within float32 kernel rounding (1e-3)."""
    recipe = get_recipe("dit-c2i", "smoke" if scale == "tiny" else "cpu")
    torch.manual_seed(0)
    model = random_weights(create_model(recipe.base, **recipe.overrides))
    size, channels = model.x_embedder.input_size, model.in_channels
    noise = start_noise(4, (channels, size, size), seed=0)
    labels = torch.arange(4) % model.num_classes
    rows = []
    with using_precision("fp32"):
        for settings in SAMPLERS:
            here = run_sampler(model.to("cpu"), settings, noise, labels)
            there = run_sampler(model.to(device), settings, noise.to(device), labels.to(device)).cpu()
            diff = float((here - there).abs().max())
            rows.append({"sampler": settings.label, "cfg_scale": settings.cfg_scale, "samples": noise.shape[0],
                         "max_abs_diff": diff, "same_within_1e-3": diff <= 1e-3})
    return {"model": f"{recipe.base} {recipe.overrides}", "devices": ["cpu", device], "precision": "fp32", "rows": rows}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the three steps; returns what `gpu_session.json` holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--scale", choices=("paper", "tiny"), default="paper",
                        help="paper: the paper's model sizes (a GPU); tiny: toy sizes, the same path (CPU tests)")
    parser.add_argument("--budget-s", type=float, default=300.0,
                        help="the whole run's seconds, about (the compiled step may overrun it)")
    parser.add_argument("--out-dir", required=True, help="where the JSON files go (the device's $OUT)")
    args = parser.parse_args(argv)
    if args.budget_s <= 0:
        parser.error(f"--budget-s must be a positive number of seconds, got {args.budget_s}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda but no CUDA device is visible; on a CPU use --device cpu --scale tiny")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    began = time.time()
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    session: dict[str, Any] = {"device": name, "torch": torch.__version__, "budget_s": args.budget_s, "steps": []}

    def left() -> float:
        return max(1.0, args.budget_s - (time.time() - began))

    def step(label: str, command: str, fn: Any) -> None:
        start = time.time()
        fn()
        session["steps"].append({"step": label, "command": command, "seconds": round(time.time() - start, 1)})
        atomic_write_json(session, out / "gpu_session.json")

    step("same samples on the CPU and the device", f"device_samples({args.device!r}, {args.scale!r})",
         lambda: atomic_write_json(device_samples(args.device, args.scale), out / "device_samples.json"))
    tiny = ["--steps", "12", "--batch", "1", "--repeats", "1", "--warmup", "0"] if args.scale == "tiny" else []
    bench = ["--device", args.device, "--scale", args.scale, "--tables", "dit,latte", *tiny]
    paper = bench + ["--budget-s", f"{max(1.0, left() * PAPER_SHARE):.0f}", "--out", str(out / "paper_scale.json")]
    step("paper-scale tables", "python benchmarks/bench_paper_scale.py " + " ".join(paper),
         lambda: bench_paper_scale.main(paper))
    compiled = ["--device", args.device, "--scale", args.scale, "--tables", "dit", "--compile", *tiny,
                "--budget-s", f"{left():.0f}", "--out", str(out / "paper_scale_compiled.json")]
    step("compiled DiT table", "python benchmarks/bench_paper_scale.py " + " ".join(compiled),
         lambda: bench_paper_scale.main(compiled))
    session["seconds"] = round(time.time() - began, 1)
    atomic_write_json(session, out / "gpu_session.json")
    return session


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    main()
