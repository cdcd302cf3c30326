"""Command-line entry for torchrun data-parallel training of a named model.

    torchrun --nproc_per_node 2 -m skipdit_lib.training.cli --model DiT-S/4-digits \\
        --depth 4 --hidden-size 32 --num-heads 2 --steps 20 --batch-size 8 --out-dir runs/ddp

Every process builds the same model from `--seed` (DistributedDataParallel then broadcasts rank
0's weights anyway) and the same dataset; `train` splits each global batch over the processes.
"""
from __future__ import annotations

import argparse
import logging
from typing import Any, Sequence

import torch
import torch.distributed as dist
from torch.utils.data import Dataset, TensorDataset

from .trainer import TrainConfig, train

_MODEL_OVERRIDES = ("depth", "hidden_size", "num_heads", "class_dropout_prob")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command-line settings: model, data, and the TrainConfig fields."""
    parser = argparse.ArgumentParser(description="Train a skipdit model (run under torchrun for DDP).")
    parser.add_argument("--model", required=True, help="a name of skipdit_lib.models.MODEL_CONFIGS")
    parser.add_argument("--depth", type=int)
    parser.add_argument("--hidden-size", type=int)
    parser.add_argument("--num-heads", type=int)
    parser.add_argument("--class-dropout-prob", type=float)
    parser.add_argument("--dataset", default="digits", choices=["digits", "synthetic"],
                        help="digits: skipdit_lib.datasets.load_digits; synthetic: seeded random tensors")
    parser.add_argument("--num-samples", type=int, default=64, help="size of the synthetic dataset")
    parser.add_argument("--out-dir", required=True)
    for field, default in TrainConfig.__dataclass_fields__.items():
        kind = {"bool": _bool, "int": int, "float": float, "str": str}.get(str(default.type).split(" ")[0], float)
        parser.add_argument("--" + field.replace("_", "-"), type=kind, default=default.default)
    return parser.parse_args(argv)


def _bool(text: str) -> bool:
    """'true'/'false' (and 1/0) as a bool."""
    if text.lower() not in ("true", "false", "1", "0"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() in ("true", "1")


def build_model(args: argparse.Namespace) -> torch.nn.Module:
    """The named model with the given overrides, initialised from `args.seed`."""
    from skipdit_lib.models import create_model

    overrides = {key: getattr(args, key) for key in _MODEL_OVERRIDES if getattr(args, key) is not None}
    torch.manual_seed(args.seed)
    return create_model(args.model, **overrides)


def synthetic_dataset(model: torch.nn.Module, num_samples: int, seed: int) -> TensorDataset:
    """Seeded images in [-1, 1] shaped for `model` (a DiT config), with labels when it has classes."""
    kwargs = model.config["kwargs"]
    generator = torch.Generator().manual_seed(seed)
    shape = (num_samples, kwargs["in_channels"], kwargs["input_size"], kwargs["input_size"])
    x = torch.rand(shape, generator=generator) * 2 - 1  # (N, C, H, W)
    num_classes = kwargs.get("num_classes", 0)
    if not num_classes:
        return TensorDataset(x)
    return TensorDataset(x, torch.randint(0, num_classes, (num_samples,), generator=generator))


def build_dataset(args: argparse.Namespace, model: torch.nn.Module) -> Dataset:
    """The training set named by `--dataset`."""
    if args.dataset == "synthetic":
        return synthetic_dataset(model, args.num_samples, args.seed)
    from skipdit_lib.datasets.digits import load_digits

    return load_digits(resolution=model.config["kwargs"]["input_size"], split="train")


def train_config(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from the parsed arguments."""
    values: dict[str, Any] = {name: getattr(args, name) for name in TrainConfig.__dataclass_fields__}
    return TrainConfig(**values)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse, build, train; the process group is closed at the end."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    model = build_model(args)
    try:
        train(model, build_dataset(args, model), train_config(args), args.out_dir, progress=False)
        if dist.is_initialized():  # every rank finished before any tears the group down: a gloo rank whose peer
            dist.barrier()         # was already destroying it aborted once in CI ("terminate called ...", SIGABRT)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
