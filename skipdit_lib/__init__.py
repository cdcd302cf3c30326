"""skipdit_lib: the library behind the Skip-DiT reproduction notebooks (see skipdit_lib/README.md).

The public names of every subpackage are importable from here (`from skipdit_lib import DiT,
apply_cache, SkipCacheConfig`); they are loaded on first use, so `import skipdit_lib` stays fast.
"""
from __future__ import annotations

import importlib
from typing import Any

from .experiments.claims import Claim, Setting, Verdict, combine, judge, show
from .io import atomic_save_torch, atomic_write_json, atomic_write_text
from .profiles import PROFILES
from .results import ExperimentRun, start_run

__version__ = "0.1.0"

_SUBPACKAGES = ("models", "diffusion", "training", "datasets", "caching", "evaluation", "analysis", "zoo", "plotting")
_EXPORTS = {"zoo": ("get_model", "get_recipe"), "plotting": ("sample_grids", "speed_quality_plot", "pareto_front")}


def _lazy_names() -> dict[str, str]:
    """Public name -> the subpackage that defines it (read from each subpackage's __all__)."""
    names = {}
    for sub in _SUBPACKAGES:
        exported = _EXPORTS.get(sub) or importlib.import_module(f".{sub}", __name__).__all__
        names.update({name: sub for name in exported})
    return names


def __getattr__(name: str) -> Any:
    """Load a public name from its subpackage on first use (PEP 562)."""
    for sub in _SUBPACKAGES:
        if name == sub:
            return importlib.import_module(f".{sub}", __name__)
    owner = _lazy_names().get(name)
    if owner is None:
        raise AttributeError(f"module 'skipdit_lib' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{owner}", __name__), name)


__all__ = ["Claim", "Setting", "Verdict", "combine", "judge", "show", "atomic_save_torch", "atomic_write_json",
           "atomic_write_text", "PROFILES", "ExperimentRun", "start_run"]
