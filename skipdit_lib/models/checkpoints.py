"""Save and load checkpoints in the authors' formats, without ever running pickled code.

Formats read: a bare state dict (DiT's released files), the train.py dict {"model", "ema", "opt",
"args"} (the "ema" weights are taken when present, as the authors' `find_model` does), {"ema": ...}
(Latte's train_with_img.py), and any of these with a DDP "module." prefix on the keys. A file in the
authors' diffusers LatteT2V names (the released text-to-video `Latte-skip.pt`) is converted to ours
on the way in (latte_t2v_names.py), every tensor used once.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
from typing import Any, Mapping, Optional

import torch
from torch import nn

from ..io import atomic_save_torch
from .configs import build_from_config
from .latte_t2v_names import from_latte_t2v, is_latte_t2v_state

# The only non-tensor types a checkpoint may hold: the authors' train.py stores argparse args.
SAFE_TYPES = [argparse.Namespace]
_PREFIXES = ("module.", "_orig_mod.")  # DDP and torch.compile wrappers


class UnsafeCheckpointError(ValueError):
    """Raised for a file whose pickle would import or call arbitrary code."""


def _plain(value: Any) -> Any:
    """`args` / `extra` as types a weights-only load accepts (dataclasses become dicts)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _state(obj: Any) -> Optional[dict[str, torch.Tensor]]:
    """A state dict from a module or a state dict (None stays None)."""
    return obj.state_dict() if isinstance(obj, (nn.Module, torch.optim.Optimizer)) else obj


def save_checkpoint(path: str | os.PathLike, model: nn.Module, ema: Any = None, opt: Any = None,
                    args: Any = None, extra: Optional[dict] = None) -> None:
    """Write {"model", "ema", "opt", "args"} (train.py format) plus our "config" and "extra", atomically."""
    checkpoint = {"model": model.state_dict(), "ema": _state(ema), "opt": _state(opt),
                  "args": _plain(args), "config": getattr(model, "config", None), "extra": _plain(extra)}
    atomic_save_torch({k: v for k, v in checkpoint.items() if v is not None}, path)


def read_checkpoint(path: str | os.PathLike) -> Any:
    """Load a checkpoint file on the CPU with `weights_only=True`; refuse anything that runs code."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with torch.serialization.safe_globals(SAFE_TYPES):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UnsafeCheckpointError(
            f"{path} is not a plain checkpoint: its pickle refers to objects that are not tensors or "
            f"plain containers, and it was NOT executed (refused by torch.load(weights_only=True): "
            f"{first}). Only load files you trust, and re-save them as plain state dicts.") from err


def extract_state_dict(checkpoint: Any, key: Optional[str] = None) -> dict[str, torch.Tensor]:
    """The weights inside any released format ("ema" first, then "model", else the dict itself)."""
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f"a checkpoint must be a dict, got {type(checkpoint).__name__}")
    if key is not None:
        if key not in checkpoint:
            raise ValueError(f"checkpoint has no {key!r} entry; it has {sorted(map(str, checkpoint))}")
        state = checkpoint[key]
    elif isinstance(checkpoint.get("ema"), Mapping):  # Paper: authors' find_model prefers the EMA
        state = checkpoint["ema"]
    elif isinstance(checkpoint.get("model"), Mapping):
        state = checkpoint["model"]
    else:
        state = checkpoint  # a bare state dict
    return {_strip_prefix(k): v for k, v in state.items()}


def _strip_prefix(key: str) -> str:
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):]
    return key


def check_state_dict(model: nn.Module, state: Mapping[str, Any]) -> None:
    """Raise a ValueError listing missing, unexpected and mis-shaped keys (with shapes)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    bad = [f"{k}: file {tuple(getattr(state[k], 'shape', ()))} vs model {tuple(v.shape)}"
           for k, v in expected.items() if k in state and tuple(getattr(state[k], "shape", ())) != tuple(v.shape)]
    if missing or unexpected or bad:
        raise ValueError("checkpoint does not fit the model (build the model with the checkpoint's sizes):\n"
                         f"  missing ({len(missing)}): {missing}\n"
                         f"  unexpected ({len(unexpected)}): {unexpected}\n"
                         f"  mis-shaped ({len(bad)}): {bad}")


def load_checkpoint(model: nn.Module, path: str | os.PathLike, key: Optional[str] = None) -> nn.Module:
    """Load weights from any released format into `model` with strict=True; returns the model."""
    state = extract_state_dict(read_checkpoint(path), key)
    if is_latte_t2v_state(state):  # Paper: the released text-to-video Skip-DiT is in diffusers' names
        state = from_latte_t2v(state, model)
    check_state_dict(model, state)
    model.load_state_dict(state, strict=True)
    return model


def load_model(path: str | os.PathLike, key: Optional[str] = None) -> nn.Module:
    """Rebuild the model from the "config" stored by `save_checkpoint` and load its weights."""
    checkpoint = read_checkpoint(path)
    config = checkpoint.get("config") if isinstance(checkpoint, Mapping) else None
    if not isinstance(config, Mapping):
        raise ValueError(f"{path} records no model config (e.g. a released file): build the model with "
                         "create_model(name, ...) and call load_checkpoint(model, path)")
    model = build_from_config(dict(config))
    state = extract_state_dict(checkpoint, key)
    check_state_dict(model, state)
    model.load_state_dict(state, strict=True)
    return model
