"""What the `smoke`, `cpu` and `gpu` profiles are: one typed set of sizes per experiment, never code paths.

Each experiment module defines a frozen dataclass of its sizes and `SIZES = per_profile(...)`;
a notebook reads `sizes = module.sizes(profile)` and uses attributes, never strings. `smoke`
proves the path in seconds (CI), `cpu` is the whole paper in miniature on a 2-core machine (the
default, and the committed results), `gpu` is larger models and sample counts and the authors'
released checkpoints where they exist. The zoo's training recipes live in `zoo.py`.
"""
from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any, Mapping, TypeVar

PROFILES = ("smoke", "cpu", "gpu")

T = TypeVar("T")


def check_profile(profile: str) -> str:
    """`profile` when it is one of PROFILES; a ValueError naming them otherwise."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return profile


def per_profile(smoke: T, cpu: T, gpu: T) -> Mapping[str, T]:
    """A read-only {profile: sizes} table with an entry for every profile."""
    return MappingProxyType({"smoke": smoke, "cpu": cpu, "gpu": gpu})


def pick(table: Mapping[str, T], profile: str) -> T:
    """The entry of `table` (made by `per_profile`) for `profile`."""
    return table[check_profile(profile)]


def as_parameters(sizes: Any) -> dict[str, Any]:
    """The fields of a sizes dataclass as a plain dict (recorded with a run's parameters)."""
    if not dataclasses.is_dataclass(sizes):
        raise TypeError(f"expected a sizes dataclass, got {type(sizes).__name__}")
    return dataclasses.asdict(sizes)
