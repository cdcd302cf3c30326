"""Every named model size in one dict, and `create_model(name, **overrides)`."""
from __future__ import annotations

import copy
from typing import Any

from torch import nn

from .dit import DiT
from .latte import Latte
from .text_dit import TextDiT

FAMILIES: dict[str, type[nn.Module]] = {"DiT": DiT, "Latte": Latte, "TextDiT": TextDiT}

_XL = {"hidden_size": 1152, "num_heads": 16, "patch_size": 2, "in_channels": 4, "learn_sigma": True}
# Our digit sizes: 16x16 inputs, 4x4 patches (16 tokens), width 128, 4 heads.
_DIGITS = {"hidden_size": 128, "num_heads": 4, "patch_size": 4, "input_size": 16, "learn_sigma": True}
_MINILM = {"caption_dim": 384, "text_len": 32}  # all-MiniLM-L6-v2 token states; captions <= 32 tokens

# name -> {"family": ..., "kwargs": ...}. One comment per entry says where the sizes come from.
MODEL_CONFIGS: dict[str, dict[str, Any]] = {
    # Paper: DiT-XL/2 at 256px (32x32x4 SD-VAE latents), 1000 ImageNet classes, depth 28.
    "DiT-XL/2": {"family": "DiT", "kwargs": {**_XL, "depth": 28, "input_size": 32, "num_classes": 1000}},
    # Paper: Skip-DiT class-to-image (released DiT-XL-2-skip.pt), 14 branches.
    "DiT-XL/2-skip": {"family": "DiT", "kwargs": {**_XL, "depth": 28, "input_size": 32, "num_classes": 1000,
                                                  "skip": True}},
    # Paper: Latte-XL/2 class-to-video, 28 sub-blocks (14 pairs), 16 frames at 256px; unconditional
    # (FFS, Sky, Taichi: official extras=1); UCF101 uses num_classes=101 (extras=2).
    "Latte-XL/2": {"family": "Latte", "kwargs": {**_XL, "depth": 28, "input_size": 32, "num_frames": 16}},
    # Paper: Latte_skip (released ucf101/taichi/ffs/skytimelapse-skip.pt), 7 branches.
    "Latte-XL/2-skip": {"family": "Latte", "kwargs": {**_XL, "depth": 28, "input_size": 32, "num_frames": 16,
                                                      "skip": True}},
    # Paper: text-to-video Latte, 28 spatial + 28 temporal blocks, 512px (64x64 latents), T5 (4096-d,
    # 120 tokens). Differs from the official code: our block names are not diffusers' LatteT2V names.
    "Latte-T2V-XL/2": {"family": "Latte", "kwargs": {**_XL, "depth": 56, "input_size": 64, "num_frames": 16,
                                                     "caption_dim": 4096, "text_len": 120}},
    "Latte-T2V-XL/2-skip": {"family": "Latte", "kwargs": {**_XL, "depth": 56, "input_size": 64, "num_frames": 16,
                                                          "caption_dim": 4096, "text_len": 120, "skip": True}},
    # Ours: a DiT-XL/2-sized text-to-image DiT (Hunyuan-DiT's XL/2 depth and width) on MiniLM tokens.
    "TextDiT-XL/2": {"family": "TextDiT", "kwargs": {**_XL, "depth": 28, "input_size": 32, **_MINILM}},
    # Ours: class-conditional MNIST digits (1 channel, 10 classes).
    "DiT-S/4-digits": {"family": "DiT", "kwargs": {**_DIGITS, "depth": 8, "in_channels": 1, "num_classes": 10}},
    "DiT-S/4-digits-skip": {"family": "DiT", "kwargs": {**_DIGITS, "depth": 8, "in_channels": 1,
                                                        "num_classes": 10, "skip": True}},
    # Ours: moving-digit videos, 8 frames, 8 sub-blocks (4 pairs); num_classes=0 for unconditional.
    "Latte-S/4-digits": {"family": "Latte", "kwargs": {**_DIGITS, "depth": 8, "in_channels": 1, "num_frames": 8,
                                                       "num_classes": 10}},
    "Latte-S/4-digits-skip": {"family": "Latte", "kwargs": {**_DIGITS, "depth": 8, "in_channels": 1,
                                                            "num_frames": 8, "num_classes": 10, "skip": True}},
    # Ours: captioned coloured digit videos (3 channels) with MiniLM tokens.
    "Latte-S/4-digits-t2v": {"family": "Latte", "kwargs": {**_DIGITS, "depth": 8, "in_channels": 3,
                                                           "num_frames": 8, **_MINILM}},
    "Latte-S/4-digits-t2v-skip": {"family": "Latte", "kwargs": {**_DIGITS, "depth": 8, "in_channels": 3,
                                                                "num_frames": 8, **_MINILM, "skip": True}},
    # Ours: captioned coloured digit images (3 channels); native long skips as in Hunyuan-DiT.
    "TextDiT-S/4-digits": {"family": "TextDiT", "kwargs": {**_DIGITS, "depth": 8, "in_channels": 3, **_MINILM}},
}


def _allowed_keys(family: str) -> set[str]:
    """Constructor arguments of a family (the keys an override may set)."""
    code = FAMILIES[family].__init__.__code__
    return set(code.co_varnames[1:code.co_argcount])


def model_config(name: str, **overrides: Any) -> dict[str, Any]:
    """The {"name", "family", "kwargs"} config of `name` with `overrides` applied (strictly)."""
    if name not in MODEL_CONFIGS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(MODEL_CONFIGS)}")
    config = copy.deepcopy(MODEL_CONFIGS[name])
    allowed = _allowed_keys(config["family"])
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(f"unknown override(s) {unknown} for {name!r} ({config['family']}); "
                         f"valid keys: {', '.join(sorted(allowed))}")
    config["kwargs"].update(overrides)
    return {"name": name, **config}


def build_from_config(config: dict[str, Any]) -> nn.Module:
    """A model from a recorded config ({"family", "kwargs"}, as in `model.config`)."""
    family = config.get("family")
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; valid families: {', '.join(FAMILIES)}")
    model = FAMILIES[family](**config["kwargs"])
    if "name" in config:
        model.config["name"] = config["name"]
    return model


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build the model called `name` in MODEL_CONFIGS, with constructor `overrides` (e.g. depth=4)."""
    return build_from_config(model_config(name, **overrides))
