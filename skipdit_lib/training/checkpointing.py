"""Training checkpoints: written atomically, found by step, loaded back for an exact resume.

Format (a superset of the official train.py's {"model", "ema", "opt", "args"}):
{"model", "ema", "opt", "args", "config" (the model's), "train_config", "step", "data", "rng",
"elapsed_seconds", "skipped_steps"}.
"""
from __future__ import annotations

import logging
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from skipdit_lib.io import atomic_save_torch

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{7,})\.pt$")


def checkpoint_dir(out_dir: str | Path) -> Path:
    """`out_dir/checkpoints`."""
    return Path(out_dir) / "checkpoints"


def checkpoint_path(out_dir: str | Path, step: int) -> Path:
    """`out_dir/checkpoints/<step, 7 digits>.pt`."""
    return checkpoint_dir(out_dir) / f"{step:07d}.pt"


def list_checkpoints(out_dir: str | Path) -> dict[int, Path]:
    """Every training checkpoint in `out_dir`, by step."""
    folder = checkpoint_dir(out_dir)
    if not folder.is_dir():
        return {}
    found = {int(m.group(1)): p for p in folder.iterdir() if (m := _NAME.match(p.name))}
    return dict(sorted(found.items()))


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The checkpoint with the highest step, or None."""
    found = list_checkpoints(out_dir)
    return found[max(found)] if found else None


def rng_state() -> dict[str, Any]:
    """The torch CPU, Python and numpy RNG states of this process, as plain data."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    numpy_state = {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                   "has_gauss": int(has_gauss), "cached_gaussian": float(gauss)}
    return {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": numpy_state}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` returned."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))


def save_train_checkpoint(state: dict[str, Any], out_dir: str | Path, keep_previous: bool = True) -> Path:
    """Write `state` as the checkpoint of `state["step"]` atomically; drop older ones unless kept."""
    path = atomic_save_torch(state, checkpoint_path(out_dir, state["step"]))
    if not keep_previous:
        for step, old in list_checkpoints(out_dir).items():
            if step != state["step"]:
                old.unlink(missing_ok=True)
    log.info("saved %s", path)
    return path


def load_train_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a training checkpoint on the CPU (weights_only: the files hold tensors and plain data only)."""
    return torch.load(path, map_location="cpu", weights_only=True)
