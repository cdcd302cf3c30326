"""Figures shared by the notebooks: sample grids and speed-against-quality plots."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch


def to_image_grid(samples: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """(N, C, H, W) samples in [-1, 1] -> one (H', W', C) grid in [0, 1] for imshow."""
    from torchvision.utils import make_grid

    if samples.dim() != 4:
        raise ValueError(f"expected (N, C, H, W) samples, got shape {tuple(samples.shape)}; "
                         "for videos pass one frame or flatten the frames")
    grid = make_grid(samples.detach().float().cpu().clamp(-1, 1), nrow=nrow, normalize=True, value_range=(-1, 1),
                     pad_value=1.0)
    return grid.permute(1, 2, 0)  # (H', W', C)


def sample_grids(panels: Mapping[str, torch.Tensor], nrow: int = 8, title: str = "", panel_size: float = 3.2) -> Any:
    """One figure with a labelled grid of samples per panel (e.g. uncached | Skip-Cache N=2)."""
    import matplotlib.pyplot as plt

    grids = {label: to_image_grid(samples, nrow).numpy() for label, samples in panels.items()}
    aspect = max(g.shape[0] / g.shape[1] for g in grids.values())  # height / width of the tallest grid
    fig, axes = plt.subplots(1, len(grids), figsize=(panel_size * len(grids), panel_size * aspect + 0.6), squeeze=False)
    for ax, (label, grid) in zip(axes[0], grids.items()):
        ax.imshow(grid.squeeze(-1) if grid.shape[-1] == 1 else grid, cmap="gray", interpolation="nearest")
        ax.set_title(label, fontsize=10)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def speed_quality_plot(points: Sequence[Mapping[str, Any]], x: str, y: str, label: str, xlabel: str, ylabel: str,
                       lower_is_better: bool = True, ax: Any = None) -> Any:
    """Scatter methods by speed (x) and quality (y), labelling each point and tracing the Pareto front."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6, 4.2))[1]
    for p in points:
        ax.scatter(p[x], p[y], s=30)
        ax.annotate(str(p[label]), (p[x], p[y]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    front = pareto_front(points, x, y, lower_is_better)
    ax.plot([p[x] for p in front], [p[y] for p in front], "k--", lw=1, label="Pareto front")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def pareto_front(points: Sequence[Mapping[str, Any]], x: str, y: str,
                 lower_is_better: bool = True) -> list[Mapping[str, Any]]:
    """Points not dominated by a faster-and-better point (higher x is faster), sorted by x."""
    sign = 1 if lower_is_better else -1
    front = [p for p in points if not any(
        q[x] >= p[x] and sign * q[y] <= sign * p[y] and (q[x] > p[x] or sign * q[y] < sign * p[y]) for q in points)]
    return sorted(front, key=lambda p: p[x])
