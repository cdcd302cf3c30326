"""The model zoo: `get_model(name, profile)` returns a trained model, training it when missing.

A zoo entry (`ZOO[name][profile]`, a `ZooRecipe`) names a base config, size overrides, a training
recipe and a dataset.
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

import torch
from torch import nn

from .paths import CHECKPOINTS_DIR
from .profiles import check_profile

log = logging.getLogger(__name__)

FINAL_NAME = "model.pt"
WEIGHTS = ("model", "ema")


@dataclass(frozen=True)
class ZooRecipe:
    """How one zoo model is made: base config, size overrides, training recipe, data, which weights."""

    base: str                        # a name in models/configs.py
    overrides: Mapping[str, Any]     # model sizes changed from the base config
    train: Mapping[str, Any]         # TrainConfig fields (validated on construction)
    data: Mapping[str, Any]          # the dataset: {"kind": ..., loader arguments}
    weights: str = "ema"             # which weight set get_model returns: "model" (final) or "ema"
    released: Optional[str] = None   # the authors' checkpoint file to load instead of training

    def __post_init__(self) -> None:
        from .training import TrainConfig

        if self.weights not in WEIGHTS:
            raise ValueError(f"weights must be one of {WEIGHTS}, got {self.weights!r}")
        TrainConfig(**self.train)  # an unknown or ill-typed training field is an error here, not mid-run

    def key_fields(self) -> dict[str, Any]:
        """Everything that defines the training run (not which of its weights is used): what the key hashes."""
        fields = {"base": self.base, "overrides": dict(self.overrides), "train": dict(self.train),
                  "data": dict(self.data)}
        return {**fields, **({"released": self.released} if self.released else {})}

    def skip_twin(self) -> "ZooRecipe":
        """The same recipe with skip branches on (the base config's "-skip" twin)."""
        return ZooRecipe(self.base + "-skip", self.overrides, self.train, self.data, self.weights, self.released)


# Differs from the paper (DiT recipe: constant lr 1e-4, EMA 0.9999, sample from the EMA): we train
# for minutes, not days, and what limits a 2,400-step run is how fast the model learns to use the
# class label. smoke and cpu train at lr 4e-3 (100-step warm-up, grad-norm clip 1.0), constant until
# a cosine decay to 0 over the last quarter, with an EMA whose decay warms up, min(0.999, (1+k)/(10+k)).
# The sweep behind this choice is benchmarks/bench_c2i_recipe.py; the final weights measured slightly
# better than the EMA, so smoke and cpu return them (model.pt keeps both).
_DIGITS_DIT = {"patch_size": 4, "input_size": 16, "in_channels": 1, "num_classes": 10, "learn_sigma": True}
_SHORT_RUN = {"lr": 4e-3, "warmup_steps": 100, "grad_clip": 1.0, "lr_schedule": "cosine", "decay_steps": 600,
              "min_lr": 0.0, "ema_warmup": True}
_DIGITS_16 = {"kind": "digits", "resolution": 16}
_DIT_C2I = {
    "smoke": ZooRecipe("DiT-S/4-digits", {**_DIGITS_DIT, "depth": 4, "hidden_size": 32, "num_heads": 2},
                       {**_SHORT_RUN, "steps": 30, "batch_size": 32, "warmup_steps": 3, "decay_steps": 8,
                        "ema_decay": 0.9}, _DIGITS_16, weights="model"),
    "cpu": ZooRecipe("DiT-S/4-digits", {**_DIGITS_DIT, "depth": 8, "hidden_size": 128, "num_heads": 4},
                     {**_SHORT_RUN, "steps": 2400, "batch_size": 64, "ema_decay": 0.999, "checkpoint_every": 400},
                     _DIGITS_16, weights="model"),
    "gpu": ZooRecipe("DiT-S/4-digits", {**_DIGITS_DIT, "input_size": 28, "patch_size": 2, "depth": 12,
                                        "hidden_size": 384, "num_heads": 6},
                     {"steps": 50000, "batch_size": 256, "lr": 1e-4, "ema_decay": 0.9999},
                     {"kind": "digits", "resolution": 28}),
}
ZOO: dict[str, dict[str, ZooRecipe]] = {  # zoo model -> profile -> recipe (recipes are frozen)
    "dit-c2i": _DIT_C2I,
    # Skip-DiT twins: identical sizes, recipe and data, skip branches on.
    "skipdit-c2i": {p: r.skip_twin() for p, r in _DIT_C2I.items()},
}


def get_recipe(name: str, profile: str) -> ZooRecipe:
    """The recipe of zoo model `name` at `profile`."""
    check_profile(profile)
    if name not in ZOO:
        raise ValueError(f"unknown zoo model {name!r}; known: {', '.join(sorted(ZOO))}")
    return ZOO[name][profile]


def recipe_key(recipe: ZooRecipe) -> str:
    """A short hash of everything that defines the training run (not which of its weights is used)."""
    text = json.dumps(recipe.key_fields(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def model_folder(name: str, profile: str, root: str | os.PathLike | None = None) -> Path:
    """Where zoo model `name` at `profile` keeps its checkpoints."""
    recipe = get_recipe(name, profile)
    return Path(root or CHECKPOINTS_DIR) / f"{name.replace('/', '-')}-{profile}-{recipe_key(recipe)}"


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


def _released(recipe: ZooRecipe, folder: Path) -> nn.Module:
    """Load the authors' released checkpoint named by the recipe, or say where to put it."""
    from .models import create_model, load_checkpoint

    path = folder.parent / "released" / recipe.released
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: download {recipe.released} from the Hugging Face repo "
                                f"GuanjieChen/Skip-DiT and place it there (the gpu profile uses the authors' weights)")
    model = create_model(recipe.base, **recipe.overrides)
    load_checkpoint(model, path)
    return model


def initial_model(recipe: ZooRecipe, overrides: Mapping[str, Any] | None = None) -> nn.Module:
    """The untrained model of a zoo recipe, seeded by its training seed (the caller's RNG is untouched).

    `overrides` change the recipe's model sizes (the recipe sweep in benchmarks/ uses them).
    """
    from .models import create_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.train.get("seed", 0))
        return create_model(recipe.base, **{**recipe.overrides, **(overrides or {})})


def get_model(name: str, profile: str, root: str | os.PathLike | None = None, device: str = "cpu",
              train_if_missing: bool = True, progress: bool = True,
              data_root: str | os.PathLike | None = None) -> nn.Module:
    """The trained zoo model `name` at `profile`, in eval mode on `device`.

    It carries the weights the recipe's `weights` names ("model": the final weights, "ema": the
    moving average, the default); model.pt keeps both. The initial weights are seeded by the
    recipe's training seed, so a retrained model does not depend on what ran before. `root` is the
    checkpoints folder (default results/checkpoints), `data_root` the datasets
    folder (default data/).
    """
    from .models import load_model, save_checkpoint
    from .training import TrainConfig, train

    recipe = get_recipe(name, profile)
    folder = model_folder(name, profile, root)
    final = folder / FINAL_NAME
    if recipe.released:
        model = _released(recipe, folder)
    elif final.exists():
        model = load_model(final, key=recipe.weights)
    elif not train_if_missing:
        raise FileNotFoundError(f"{final} does not exist; call get_model({name!r}, {profile!r}) to train it")
    else:
        log.info("training %s (%s profile) into %s", name, profile, folder)
        model = initial_model(recipe)
        ema = train(model, build_dataset(recipe.data, data_root), TrainConfig(**recipe.train), out_dir=folder,
                    progress=progress)  # trains `model` in place (resuming if interrupted), returns the EMA
        save_checkpoint(final, model, ema=ema, extra={"zoo": {"name": name, "profile": profile,
                                                              "recipe": asdict(recipe)}})
        model = model if recipe.weights == "model" else ema
    return model.to(device).eval()
