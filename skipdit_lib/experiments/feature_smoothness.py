"""Notebook 01: feature smoothness of DiT against Skip-DiT (Figs. 2 and 4), sizes, comparison and claims.

The measuring tools (directions, surfaces, change maps, their figures) live in
`analysis/feature_smoothness.py`; here are the sizes per profile, the probe inputs, the four
numbers side by side and the claims they support.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch

from ..analysis import feature_smoothness as fs
from ..profiles import per_profile, pick
from ..zoo import data_shape
from .claims import Claim, Setting, combine, num

PAPER_SAYS = "smoother for Skip-DiT (figure only, no number)"
SMOOTHER = "skip model smoother"  # the comparison column: True where the skip model is the smoother one


@dataclass(frozen=True)
class Sizes:
    """What a profile sets for notebook 01. Paper (v1, Fig. 2): DDPM-250, steps 10 and 250, radii 0.002 and 0.005."""

    grid_points: int       # surface points per axis
    batch_size: int        # test digits per surface point
    ddpm_steps: int
    early_step: int
    late_step: int
    radius_early: float
    radius_late: float
    heatmap_samples: int   # trajectories for Fig. 4


SIZES = per_profile(smoke=Sizes(3, 4, 20, 2, 20, 0.002, 0.005, 4),
                    cpu=Sizes(17, 32, 250, 10, 250, 0.002, 0.005, 32),
                    gpu=Sizes(41, 64, 250, 10, 250, 0.002, 0.005, 256))


def sizes(profile: str) -> Sizes:
    """The sizes of notebook 01 at `profile`."""
    return pick(SIZES, profile)


@dataclass(frozen=True)
class Probe:
    """The inputs of one Fig. 2 surface: the step, its timestep, the grid and the noised digits."""

    step: int
    timestep: int
    coordinates: torch.Tensor   # (G,) coefficients a (and b)
    x: torch.Tensor             # (B, C, H, W) noised test digits
    t: torch.Tensor             # (B,) the timestep
    title: str


def probes(s: Sizes, images: torch.Tensor, seed: int) -> dict[str, Probe]:
    """The early and late probes of Fig. 2: the same noised digits for both models."""
    found = {}
    for key, step, radius in (("early", s.early_step, s.radius_early), ("late", s.late_step, s.radius_late)):
        t = fs.step_timestep(s.ddpm_steps, step)
        found[key] = Probe(step, t, fs.grid_coordinates(radius, s.grid_points), fs.noisy_inputs(images, t, seed),
                           torch.full((len(images),), t, device=images.device),
                           f"step {step}/{s.ddpm_steps} (t = {t}), |a|, |b| <= {radius}")
    return found


def comparison(drops: Mapping[str, Mapping[str, float]], deep: Mapping[str, Mapping[str, float]],
               base: str = "DiT", skip: str = "Skip-DiT") -> list[dict[str, Any]]:
    """Each of the four numbers for both models and whether the skip model is the smoother one (a tie is not).

    `drops[model][step]` are similarity drops (lower = flatter), `deep[model][unit]` consecutive-step
    cosines (higher = smoother)."""
    rows = [{"figure": "Fig. 2", "metric": f"similarity drop, {step} step (lower = flatter)", "paper": PAPER_SAYS,
             base: drops[base][step], skip: drops[skip][step], SMOOTHER: drops[skip][step] < drops[base][step]}
            for step in drops[base]]
    rows += [{"figure": "Fig. 4", "metric": f"step-to-step cosine, {unit} block (higher = smoother)",
              "paper": PAPER_SAYS, base: deep[base][unit], skip: deep[skip][unit],
              SMOOTHER: deep[skip][unit] > deep[base][unit]}
             for unit in deep[base]]
    return rows


def _ours(rows: list[dict[str, Any]], base: str, skip: str) -> str:
    """"similarity drop, early step: Skip-DiT 3.61e-06 vs DiT 2.90e-06; ..." (4 significant digits)."""
    return "; ".join(f"{r['metric'].split(' (')[0]}: {skip} {num(r[skip], 4)} vs {base} {num(r[base], 4)}"
                     for r in rows)


def claims(rows: list[dict[str, Any]], s: Sizes, profile: str, base: str = "DiT", skip: str = "Skip-DiT",
           detail: str | None = None) -> list[Claim]:
    """Fig. 2 (the two landscapes), Fig. 4 (the two deep features) and all four together; `detail` names the
    models (default: notebook 01's digit models at `profile`)."""
    detail = detail or f"{data_shape('dit-c2i', profile)} digit models"
    setting = Setting(profile, "ddpm", s.ddpm_steps, 1.0, f"steps {s.early_step} and {s.late_step}, "
                      f"{s.batch_size} test samples, {s.heatmap_samples} trajectories, {detail}")
    rule = f"held when {skip} is the smoother model on every number, partly on some, not held on none"
    fig2 = [r for r in rows if r["figure"] == "Fig. 2"]
    fig4 = [r for r in rows if r["figure"] == "Fig. 4"]
    smoother = [r[SMOOTHER] for r in rows]
    return [
        Claim(f"{skip}'s similarity landscape is flatter (early and late step)", PAPER_SAYS, _ours(fig2, base, skip),
              combine([r[SMOOTHER] for r in fig2]), rule + "; similarity drop = 1 - mean cosine over the "
              "grid, lower is flatter", setting, "Fig. 2"),
        Claim(f"{skip}'s deep features change less between consecutive steps", PAPER_SAYS, _ours(fig4, base, skip),
              combine([r[SMOOTHER] for r in fig4]), rule + "; mean cosine between consecutive steps of "
              "the last and middle block outputs, higher is smoother", setting, "Fig. 4"),
        Claim("Skip branches make features smooth (all four numbers)", PAPER_SAYS,
              f"{sum(smoother)} of {len(smoother)} numbers favour {skip}", combine(smoother), rule, setting,
              "Sec. 4"),
    ]
