"""What the `smoke`, `cpu` and `gpu` profiles are: one typed set of sizes per experiment, never code paths.

Each experiment module defines a frozen dataclass of its sizes and `SIZES = per_profile(...)`;
a notebook reads `sizes = module.sizes(profile)` and uses attributes, never strings. `smoke`
proves the path in seconds (CI), `cpu` is the whole paper in miniature on a 2-core machine (the
default, and the committed results), `gpu` is larger models and sample counts and the authors'
released checkpoints where they exist. The zoo's training recipes live in `zoo.py`.

A trial (`cpu-trial`, `gpu-trial`) runs a profile's code path at the smoke profile's cost: the
profile's data shapes (resolution, frames, patch size), training settings other than counts, the
weights it samples from and its released-checkpoint checks, with the smoke profile's model width,
depth and heads and every count of the smoke profile (samples, sampling and training steps, batch
sizes, data set sizes). It proves that a profile runs end to end before hours are spent on it; its
numbers are not results (the runner writes them under results/trials/).
"""
from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any, Mapping, TypeVar

PROFILES = ("smoke", "cpu", "gpu")
TRIAL_SUFFIX = "-trial"
TRIALS = tuple(p + TRIAL_SUFFIX for p in ("cpu", "gpu"))  # a trial of smoke would be smoke itself
ALL_PROFILES = PROFILES + TRIALS

T = TypeVar("T")


def check_profile(profile: str) -> str:
    """`profile` when it is one of PROFILES or a trial of one; a ValueError naming them otherwise."""
    if profile not in ALL_PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(ALL_PROFILES)}")
    return profile


def is_trial(profile: str) -> bool:
    """Whether `profile` is a trial (`gpu-trial`, `cpu-trial`)."""
    return check_profile(profile) in TRIALS


def base_profile(profile: str) -> str:
    """The profile whose code path `profile` runs: `gpu` for `gpu-trial`, `profile` itself otherwise."""
    return profile.removesuffix(TRIAL_SUFFIX) if is_trial(profile) else profile


def counts_profile(profile: str) -> str:
    """The profile whose counts `profile` runs with: `smoke` for a trial, `profile` itself otherwise."""
    return "smoke" if is_trial(profile) else profile


def per_profile(smoke: T, cpu: T, gpu: T) -> Mapping[str, T]:
    """A read-only {profile: sizes} table with an entry for every profile."""
    return MappingProxyType({"smoke": smoke, "cpu": cpu, "gpu": gpu})


def pick(table: Mapping[str, T], profile: str) -> T:
    """The entry of `table` (made by `per_profile`) for `profile`; a trial's counts are smoke's."""
    return table[counts_profile(profile)]


def as_parameters(sizes: Any) -> dict[str, Any]:
    """The fields of a sizes dataclass as a plain dict (recorded with a run's parameters)."""
    if not dataclasses.is_dataclass(sizes):
        raise TypeError(f"expected a sizes dataclass, got {type(sizes).__name__}")
    return dataclasses.asdict(sizes)
