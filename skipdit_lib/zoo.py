"""The model zoo: `get_model(name, profile)` returns a trained model, training it when missing.

A zoo entry (profiles.ZOO) names a base config, size overrides, a training recipe and a dataset.
Its checkpoints live in `results/checkpoints/<name>-<profile>-<key>/`, where `key` hashes the
whole recipe, so a changed recipe trains a new model instead of reading a stale one. Training
writes resumable checkpoints there, so an interrupted `get_model` picks up where it stopped. A
recipe with `released` points to the authors' checkpoint file instead (gpu profile).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from .paths import CHECKPOINTS_DIR
from .profiles import get_zoo_spec

log = logging.getLogger(__name__)

FINAL_NAME = "model.pt"


def recipe_key(spec: Mapping[str, Any]) -> str:
    """A short hash of everything that defines the training run (not which of its weights is used)."""
    text = json.dumps({k: v for k, v in spec.items() if k != "weights"}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def model_folder(name: str, profile: str, root: str | os.PathLike | None = None) -> Path:
    """Where zoo model `name` at `profile` keeps its checkpoints."""
    spec = dict(get_zoo_spec(name, profile))
    return Path(root or CHECKPOINTS_DIR) / f"{name.replace('/', '-')}-{profile}-{recipe_key(spec)}"


def build_dataset(data: Mapping[str, Any], root: str | os.PathLike | None = None) -> torch.utils.data.Dataset:
    """The training set a zoo recipe names (`kind` plus the loader's arguments)."""
    from . import datasets

    loaders = {"digits": datasets.load_digits, "moving_digits": datasets.load_moving_digits,
               "captioned_digits": datasets.load_captioned_digits}
    args = dict(data)
    kind = args.pop("kind", "digits")
    if kind not in loaders:
        raise ValueError(f"unknown dataset kind {kind!r}; known: {', '.join(loaders)}")
    return loaders[kind](split="train", root=root, **args)


def _released(spec: Mapping[str, Any], folder: Path) -> nn.Module:
    """Load the authors' released checkpoint named by the recipe, or say where to put it."""
    from .models import create_model, load_checkpoint

    path = folder.parent / "released" / spec["released"]
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: download {spec['released']} from the Hugging Face repo "
                                f"GuanjieChen/Skip-DiT and place it there (the gpu profile uses the authors' weights)")
    model = create_model(spec["base"], **spec.get("overrides", {}))
    load_checkpoint(model, path)
    return model


def initial_model(spec: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> nn.Module:
    """The untrained model of a zoo recipe, seeded by its training seed (the caller's RNG is untouched).

    `overrides` change the recipe's model sizes (the recipe sweep in benchmarks/ uses them).
    """
    from .models import create_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec["train"].get("seed", 0))
        return create_model(spec["base"], **{**spec["overrides"], **(overrides or {})})


def get_model(name: str, profile: str, root: str | os.PathLike | None = None, device: str = "cpu",
              train_if_missing: bool = True, progress: bool = True, data_root: str | os.PathLike | None = None) -> nn.Module:
    """The trained zoo model `name` at `profile`, in eval mode on `device`.

    It carries the weights the recipe's `weights` names ("model": the final weights, "ema": the
    moving average, the default); model.pt keeps both. The initial weights are seeded by the
    recipe's training seed, so a retrained model does not depend on what ran before. `root` is the
    checkpoints folder (default results/checkpoints), `data_root` the datasets
    folder (default data/).
    """
    from .models import load_model, save_checkpoint
    from .training import TrainConfig, train

    spec = get_zoo_spec(name, profile)
    folder = model_folder(name, profile, root)
    final = folder / FINAL_NAME
    if "released" in spec:
        model = _released(spec, folder)
    elif final.exists():
        model = load_model(final, key=spec.get("weights", "ema"))
    elif not train_if_missing:
        raise FileNotFoundError(f"{final} does not exist; call get_model({name!r}, {profile!r}) to train it")
    else:
        log.info("training %s (%s profile) into %s", name, profile, folder)
        model = initial_model(spec)
        ema = train(model, build_dataset(spec["data"], data_root), TrainConfig(**spec["train"]), out_dir=folder,
                    progress=progress)  # trains `model` in place (resuming if interrupted), returns the EMA
        save_checkpoint(final, model, ema=ema, extra={"zoo": {"name": name, "profile": profile, "recipe": dict(spec)}})
        model = model if spec.get("weights", "ema") == "model" else ema
    return model.to(device).eval()
