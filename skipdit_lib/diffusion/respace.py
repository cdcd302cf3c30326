"""Timestep respacing: sample with fewer steps while the model still sees original timesteps.

A respaced diffusion keeps a subset S of the original steps and recomputes its betas so that
its cumulative alphas equal the original ones at S: `beta'_k = 1 - abar[s_k] / abar[s_{k-1}]`.
`GaussianDiffusion.timestep_map` then holds S, and every model call receives `S[k]` (0..999),
not the index k and not a rescaled value (official `_WrappedModel`, `rescale_timesteps` off).
"""
from __future__ import annotations

import numpy as np


def _ddim_stride(num_timesteps: int, desired: int) -> list[int]:
    """DDIM's fixed integer stride: range(0, T, stride) with exactly `desired` elements."""
    for stride in range(1, num_timesteps):
        if len(range(0, num_timesteps, stride)) == desired:
            return list(range(0, num_timesteps, stride))
    raise ValueError(f"cannot take exactly {desired} of {num_timesteps} steps with an integer stride; "
                     "pick another ddim count or use a plain count such as '50'")


def _parse_sections(section_counts: str | list[int]) -> list[int]:
    """Comma-separated counts ("10,15,20") or a list of ints, as a list of ints."""
    if isinstance(section_counts, str):
        try:
            return [int(part) for part in section_counts.split(",")]
        except ValueError:
            raise ValueError(f"timestep_respacing must look like '250', '10,20' or 'ddim50', "
                             f"got {section_counts!r}") from None
    return [int(count) for count in section_counts]


def _strided_section(start: int, size: int, count: int) -> list[int]:
    """`count` steps spread evenly (rounded) over `size` steps starting at `start`."""
    if size < count:
        raise ValueError(f"cannot divide a section of {size} steps into {count}")
    stride = 1.0 if count <= 1 else (size - 1) / (count - 1)
    steps, position = [], 0.0
    for _ in range(count):  # accumulate the float position (not k * stride): same rounding as upstream
        steps.append(start + round(position))
        position += stride
    return steps


def space_timesteps(num_timesteps: int, section_counts: str | list[int]) -> list[int]:
    """The sorted original timesteps kept by a respacing (same rule as upstream `space_timesteps`).

    "ddimN" uses DDIM's fixed stride; otherwise the T steps are cut into equal sections and each
    section keeps its count of evenly spaced steps, e.g. "250" keeps 0, 4, 8, ..., 999.
    """
    if isinstance(section_counts, str) and section_counts.startswith("ddim"):
        return _ddim_stride(num_timesteps, int(section_counts[len("ddim"):]))
    counts = _parse_sections(section_counts)
    size_per, extra = divmod(num_timesteps, len(counts))
    steps, start = [], 0
    for i, count in enumerate(counts):
        size = size_per + (1 if i < extra else 0)
        steps += _strided_section(start, size, count)
        start += size
    return sorted(set(steps))


def respace_betas(alphas_cumprod: np.ndarray, use_timesteps: list[int]) -> np.ndarray:
    """Betas of the diffusion that keeps only `use_timesteps`, with the same cumulative alphas there."""
    kept = np.asarray(sorted(use_timesteps))
    if len(kept) < 2:
        raise ValueError("a respaced diffusion needs at least 2 steps; use e.g. timestep_respacing='10'")
    acp = np.asarray(alphas_cumprod, dtype=np.float64)[kept]
    previous = np.append(1.0, acp[:-1])
    return 1.0 - acp / previous
