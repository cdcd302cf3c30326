"""Feature smoothness (paper section 4): similarity surfaces (Fig. 2) and feature change maps (Fig. 4).

Figure 2 follows the loss-landscape recipe of Li et al. (2018) with the model's predicted noise in
place of the loss: two random directions d1, d2 shaped like the parameters, each filter-normalised
against the model, and the cosine similarity between the noise the model predicts at
theta + a*d1 + b*d2 and at theta, on a grid of (a, b). A flatter surface (similarity near 1 over
the grid) means the prediction is less sensitive to the weights.

Figure 4 records every unit's output during a DDPM trajectory and measures how much it changes
from one denoising step to the next (relative L2 change, and cosine similarity). Caching works
when the deep units change little between steps.

Scalars (the paper gives none, so we define them):
- similarity drop = 1 - mean cosine over the grid, per model and step (0 = perfectly flat);
- deep-feature similarity = mean over consecutive step pairs and samples of the cosine between a
  unit's outputs at two consecutive steps, for the last unit (the "final hidden state" the
  authors' code logs) and the middle unit (the bottom of the U, the output of unit L/2 - 1).
"""
from __future__ import annotations

import logging
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
from torch import nn

log = logging.getLogger(__name__)

Direction = dict[str, torch.Tensor]


# ----------------------------------------------------------------------------- directions

def _seeded_normal(param: torch.Tensor, seed: int, index: int, name: str) -> torch.Tensor:
    """Standard normal noise shaped like `param`, seeded by (seed, direction index, parameter name).

    Seeding by name gives the parameters DiT and Skip-DiT share the same random draws."""
    key = zlib.crc32(f"{seed}/{index}/{name}".encode())
    gen = torch.Generator().manual_seed(key)
    return torch.randn(param.shape, generator=gen, dtype=torch.float32).to(param.device, param.dtype)


def filter_norms(weight: torch.Tensor) -> torch.Tensor:
    """L2 norm of every filter (slice along dim 0: a Linear's output row, a conv's output channel), (F,)."""
    return weight.detach().flatten(1).norm(dim=1)  # (F,)


def filter_normalized_direction(model: nn.Module, seed: int, index: int = 0) -> Direction:
    """One random direction over the weights, each filter rescaled to the norm of the model's filter.

    Paper (Li et al. 2018, used by sec. 4): filter normalisation. Parameters with fewer than two
    dimensions (biases, LayerNorm weights and biases) and frozen parameters (the fixed sin-cos
    `pos_embed`) get a zero direction: they are left out of the returned dict and never perturbed,
    Li et al.'s "ignore biases and BN" choice."""
    direction: Direction = {}
    for name, param in model.named_parameters():
        if param.ndim < 2 or not param.requires_grad:
            continue
        d = _seeded_normal(param, seed, index, name)
        scale = filter_norms(param) / filter_norms(d)  # (F,)
        direction[name] = d * scale.view(-1, *([1] * (d.ndim - 1)))
    return direction


def random_directions(model: nn.Module, seed: int, count: int = 2) -> list[Direction]:
    """`count` independent filter-normalised directions (d1, d2 for a surface)."""
    return [filter_normalized_direction(model, seed, k) for k in range(count)]


@contextmanager
def perturbed(model: nn.Module, directions: Sequence[Direction], coefficients: Sequence[float]) -> Iterator[nn.Module]:
    """Set theta' = theta + sum_k c_k d_k inside the block; restore the exact original weights after."""
    if len(directions) != len(coefficients):
        raise ValueError(f"got {len(directions)} directions but {len(coefficients)} coefficients; pass one each")
    params = dict(model.named_parameters())
    names = sorted({name for d in directions for name in d})
    unknown = [n for n in names if n not in params]
    if unknown:
        raise ValueError(f"directions name parameters the model lacks ({unknown[:3]}); build them from this model")
    originals = {name: params[name].detach().clone() for name in names}
    try:
        with torch.no_grad():
            for name in names:
                shift = sum(c * d[name] for c, d in zip(coefficients, directions) if name in d)
                params[name].copy_(originals[name] + shift)
        yield model
    finally:
        with torch.no_grad():
            for name in names:
                params[name].copy_(originals[name])


# ----------------------------------------------------------------------------- similarity surfaces

def cosine_per_sample(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each sample's flattened a and b, (N,) float64; exactly 1 when a == b."""
    a, b = a.flatten(1).double(), b.flatten(1).double()  # (N, F)
    dot, aa, bb = (a * b).sum(1), (a * a).sum(1), (b * b).sum(1)  # (N,) each
    # sqrt(aa * bb) (not |a| |b|) so that a == b gives dot / sqrt(dot^2) = 1 exactly in IEEE arithmetic.
    return (dot / torch.sqrt(aa * bb).clamp_min(1e-300)).clamp(-1.0, 1.0)  # (N,)


def predicted_noise(model: nn.Module, x: torch.Tensor, t: torch.Tensor, y: Any) -> torch.Tensor:
    """The epsilon channels of the model output (the learned-variance channels dropped): (N, C, H, W)
    for images, (N, F, C, H, W) for videos (channels after frames)."""
    out = model(x, t, y)  # (N, 2C, H, W) or (N, F, 2C, H, W)
    channels = x.shape[-3]
    return out[:, :channels] if x.dim() == 4 else out[:, :, :channels]


def grid_coordinates(radius: float, points: int) -> torch.Tensor:
    """`points` evenly spaced coefficients in [-radius, radius] (odd `points` include 0), float64."""
    if points < 1:
        raise ValueError(f"grid_points must be at least 1, got {points}")
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    return torch.linspace(-radius, radius, points, dtype=torch.float64)  # (G,)


@torch.no_grad()
def similarity_surface(model: nn.Module, x: torch.Tensor, t: torch.Tensor, y: Any,
                       directions: Sequence[Direction], coordinates: torch.Tensor) -> torch.Tensor:
    """Mean (over samples) cosine between eps at theta + a d1 + b d2 and at theta, (G, G) indexed [a, b]."""
    if len(directions) != 2:
        raise ValueError(f"a surface needs exactly two directions, got {len(directions)}")
    if model.training:
        raise ValueError("call model.eval() first: in training mode label dropout makes the surface random")
    base = predicted_noise(model, x, t, y)  # (N, C, H, W)
    surface = torch.empty(len(coordinates), len(coordinates), dtype=torch.float64)  # (G, G)
    for i, a in enumerate(coordinates.tolist()):
        for j, b in enumerate(coordinates.tolist()):
            with perturbed(model, directions, (a, b)):
                surface[i, j] = cosine_per_sample(base, predicted_noise(model, x, t, y)).mean()
    log.info("similarity surface: %d points, min cosine %.6g", surface.numel(), float(surface.min()))
    return surface


def similarity_drop(surface: torch.Tensor) -> float:
    """1 - mean cosine over the grid: 0 for a perfectly flat surface, larger when sharper."""
    return float(1.0 - surface.mean())


def step_timestep(num_steps: int, step: int) -> int:
    """The original timestep (0..999) of the `step`-th (1-based) denoising call of DDPM-`num_steps`."""
    from ..diffusion import create_diffusion

    if not 1 <= step <= num_steps:
        raise ValueError(f"step must be in 1..{num_steps} (1 = first, noisiest denoising step), got {step}")
    diffusion = create_diffusion(str(num_steps))
    return int(diffusion.timestep_map[num_steps - step])


def noisy_inputs(images: torch.Tensor, timestep: int, seed: int) -> torch.Tensor:
    """x_t = q_sample(x_0 = images, t) with noise from `seed`, on the original 1000-step schedule."""
    from ..diffusion import create_diffusion

    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(images.shape, generator=gen).to(images.device, images.dtype)  # (N, C, H, W)
    t = torch.full((images.shape[0],), timestep, dtype=torch.long, device=images.device)  # (N,)
    return create_diffusion().q_sample(images, t, noise)  # (N, C, H, W)


# ----------------------------------------------------------------------------- unit outputs over steps

@contextmanager
def record_unit_outputs(model: nn.Module, sink: Callable[[int, torch.Tensor], None]) -> Iterator[nn.Module]:
    """Call `sink(i, output)` after every `model.run_unit(i, ...)` inside the block; restore the model after.

    The wrapper is set on the instance (as cache hooks do) and removed on exit, restoring any
    instance-level `run_unit` that was there before."""
    had_own = "run_unit" in vars(model)
    previous = vars(model).get("run_unit")
    inner = model.run_unit

    def recording(i: int, h: torch.Tensor, ctx: Any) -> torch.Tensor:
        out = inner(i, h, ctx)  # (N, T, D)
        sink(i, out)
        return out

    model.run_unit = recording
    try:
        yield model
    finally:
        if had_own:
            model.run_unit = previous
        else:
            del model.run_unit


def relative_change(previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """||current - previous|| / ||previous|| per sample (flattened), (N,) float64."""
    previous, current = previous.flatten(1).double(), current.flatten(1).double()  # (N, F)
    return (current - previous).norm(dim=1) / previous.norm(dim=1).clamp_min(1e-300)  # (N,)


@dataclass
class FeatureChangeMeter:
    """Per-unit change of unit outputs between consecutive model calls (one call per denoising step).

    Feed it unit outputs with `add` (the sink of `record_unit_outputs`) and close every step with
    `end_step` (it has the sampler callback's signature)."""

    num_units: int
    relative: list[torch.Tensor] = field(default_factory=list)  # per step pair: (num_units,) mean over samples
    cosine: list[torch.Tensor] = field(default_factory=list)  # per step pair: (num_units,) mean over samples
    timesteps: list[int] = field(default_factory=list)  # original t of the later step of each pair
    _previous: dict[int, torch.Tensor] = field(default_factory=dict)
    _current: dict[int, torch.Tensor] = field(default_factory=dict)

    def add(self, unit: int, output: torch.Tensor) -> None:
        """Keep `output` of `unit` for the current step."""
        self._current[unit] = output.detach().clone()

    def end_step(self, step_index: int = 0, t: int = 0, x: Any = None, model_output: Any = None) -> None:
        """Compare this step's unit outputs with the previous step's, then move on."""
        if len(self._current) != self.num_units:
            raise ValueError(f"saw {len(self._current)} unit outputs this step, expected {self.num_units}; "
                             "record every unit of one model call per step")
        if self._previous:
            pairs = [(self._previous[u], self._current[u]) for u in range(self.num_units)]
            self.relative.append(torch.stack([relative_change(a, b).mean() for a, b in pairs]))  # (num_units,)
            self.cosine.append(torch.stack([cosine_per_sample(a, b).mean() for a, b in pairs]))  # (num_units,)
            self.timesteps.append(int(t))
        self._previous, self._current = self._current, {}

    def relative_map(self) -> torch.Tensor:
        """Relative L2 change, (num_units, step pairs)."""
        return self._as_map(self.relative)

    def cosine_map(self) -> torch.Tensor:
        """Cosine similarity between consecutive steps, (num_units, step pairs)."""
        return self._as_map(self.cosine)

    def _as_map(self, columns: list[torch.Tensor]) -> torch.Tensor:
        """Per-pair (num_units,) columns side by side, (num_units, step pairs)."""
        return torch.stack(columns, dim=1) if columns else torch.zeros(self.num_units, 0, dtype=torch.float64)


def trajectory_feature_changes(model: nn.Module, num_steps: int, labels: torch.Tensor, seed: int,
                               device: Any = "cpu") -> FeatureChangeMeter:
    """Sample DDPM-`num_steps` for `labels` (no guidance) and measure every unit's step-to-step change.

    Images for a DiT, videos for a Latte; an unconditional model ignores `labels` beyond their count."""
    from ..diffusion import create_diffusion, sample_ddpm
    from ..diffusion.gaussian_diffusion import model_learns_sigma, model_prediction

    size = model.x_embedder.input_size
    frames = (model.num_frames,) if hasattr(model, "num_frames") else ()  # videos: (N, F, C, H, W)
    shape = (len(labels), *frames, model.in_channels, size, size)
    learn_sigma = model_learns_sigma(model, default=model.out_channels != model.in_channels)
    diffusion = create_diffusion(str(num_steps), learn_sigma=learn_sigma, prediction=model_prediction(model))
    meter = FeatureChangeMeter(model.num_units)
    with record_unit_outputs(model, meter.add):
        sample_ddpm(model, diffusion, shape, y=labels.to(device), generator=torch.Generator().manual_seed(seed),
                    device=device, callback=meter.end_step)
    return meter


def middle_unit(num_units: int) -> int:
    """The bottom of the U: unit L/2 - 1, whose output Skip-DiT's first skip fusion pairs with."""
    return num_units // 2 - 1


def deep_feature_similarity(meter: FeatureChangeMeter, unit: int) -> float:
    """Mean cosine between a unit's outputs at consecutive steps, over all step pairs."""
    return float(meter.cosine_map()[unit].mean())


# ----------------------------------------------------------------------------- figures

def _shared_limits(values: Sequence[torch.Tensor]) -> tuple[float, float]:
    """(min, max) over several tensors, widened to a visible range when they (nearly) all agree."""
    low, high = min(float(v.min()) for v in values), max(float(v.max()) for v in values)
    pad = max(0.0, 1e-6 * max(abs(high), 1.0) - (high - low)) / 2  # contour levels must be distinct in float64
    return low - pad, high + pad


def _cosine_formatter() -> Any:
    """Tick labels for cosines near 1 written as "1 - 3.6e-06" (readable where 0.9999964 is not)."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: "1" if 1.0 - v < 1e-12 else f"1 - {1.0 - v:.1e}")


def plot_similarity_surfaces(surfaces: Mapping[str, Mapping[str, torch.Tensor]],
                             coordinates: Mapping[str, torch.Tensor], kind: str = "surface",
                             titles: Mapping[str, str] | None = None) -> Any:
    """Fig. 2: one row per step, one column per model; each row shares one colour scale (and z range).

    `surfaces[model][step]` is a (G, G) grid indexed [a, b]; `coordinates[step]` the (G,) coefficients;
    `titles[step]` an optional longer name of the step for the panel titles."""
    import matplotlib.pyplot as plt

    if kind not in ("surface", "contour"):
        raise ValueError(f"kind must be 'surface' or 'contour', got {kind!r}")
    models, steps = list(surfaces), list(coordinates)
    fig, axes = plt.subplots(len(steps), len(models), figsize=(5.4 * len(models) + 1.2, 4.6 * len(steps)),
                             subplot_kw={"projection": "3d" if kind == "surface" else None}, squeeze=False,
                             layout="constrained")
    for r, step in enumerate(steps):
        vmin, vmax = _shared_limits([surfaces[m][step] for m in models])
        for c, name in enumerate(models):
            mappable = _draw_surface(axes[r][c], surfaces[name][step], coordinates[step], kind, vmin, vmax)
            axes[r][c].set_title(f"{name}\n{(titles or {}).get(step, step)}")
        fig.colorbar(mappable, ax=list(axes[r]), shrink=0.8, format=_cosine_formatter(),
                     label="cosine similarity of predicted noise\n(perturbed vs original model)")
    fig.suptitle("Figure 2: prediction similarity under weight perturbation (flatter and closer to 1 = smoother)")
    return fig


def _draw_surface(ax: Any, surface: torch.Tensor, coords: torch.Tensor, kind: str, vmin: float, vmax: float) -> Any:
    """One 3-D surface or filled contour of a (G, G) grid on `ax`; returns the colour mappable."""
    from matplotlib.ticker import MaxNLocator

    a, b = torch.meshgrid(coords, coords, indexing="ij")  # (G, G) each
    grids = (b.numpy(), a.numpy(), surface.numpy())  # x = b, y = a so that row index i is the y axis
    if kind == "surface":
        mappable = ax.plot_surface(*grids, cmap="viridis", vmin=vmin, vmax=vmax, linewidth=0)
        ax.set_zlim(vmin, vmax)
        ax.zaxis.set_major_formatter(_cosine_formatter())
        ax.set_zlabel("cosine", labelpad=18)
        ax.tick_params(axis="z", pad=8)
    else:
        levels = torch.linspace(vmin, vmax, 15, dtype=torch.float64).tolist()
        mappable = ax.contourf(*grids, levels=levels, cmap="viridis", vmin=vmin, vmax=vmax)
        ax.set_aspect("equal")
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.yaxis.set_major_locator(MaxNLocator(4))
    ax.set_xlabel("b (direction 2, x filter norm)")
    ax.set_ylabel("a (direction 1, x filter norm)")
    return mappable


def plot_change_heatmaps(meters: Mapping[str, FeatureChangeMeter]) -> Any:
    """Fig. 4: relative L2 change of each unit's output between consecutive steps, models side by side."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import MaxNLocator

    maps = {name: m.relative_map().clamp_min(1e-6) for name, m in meters.items()}  # (L, S-1) each
    vmin, vmax = _shared_limits(list(maps.values()))
    fig, axes = plt.subplots(1, len(maps), figsize=(6.2 * len(maps) + 1.2, 3.8), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, (name, values) in zip(axes[0], maps.items()):
        steps = values.shape[1]
        image = ax.imshow(values.numpy(), aspect="auto", origin="lower", cmap="magma", interpolation="nearest",
                          norm=LogNorm(vmin=vmin, vmax=vmax), extent=(1.5, steps + 1.5, -0.5, values.shape[0] - 0.5))
        ax.set_title(name)
        ax.set_xlabel("denoising step k (1 = noisiest)")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].set_ylabel("block (0 = first)")
    fig.colorbar(image, ax=list(axes[0]), label="||h_k - h_(k-1)|| / ||h_(k-1)||\n(mean over samples, log scale)")
    fig.suptitle("Figure 4: how much each block's output changes from one step to the next (darker = smoother)")
    return fig


def plot_deep_similarity(meters: Mapping[str, FeatureChangeMeter], units: Mapping[str, int]) -> Any:
    """Consecutive-step cosine similarity of chosen units' outputs over the trajectory, one panel per unit."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(units), figsize=(5.6 * len(units), 3.6), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, (label, unit) in zip(axes[0], units.items()):
        for name, meter in meters.items():
            values = meter.cosine_map()[unit]  # (S-1,)
            ax.plot(range(2, len(values) + 2), values.numpy(), label=name)
        ax.set_title(f"{label} (block {unit})")
        ax.set_xlabel("denoising step k (1 = noisiest)")
        ax.legend()
    axes[0][0].set_ylabel("cosine(h_k, h_(k-1))")
    fig.suptitle("Deep features: similarity between consecutive denoising steps (higher = smoother)")
    return fig
