"""The speed-against-quality figure every experiment draws: panels of methods, coloured by model, Pareto front.

A `Panel` is one scatter: points (one dict per method, with a "model" key naming its family),
which columns are speed (x) and quality (y), axis labels and a title. `speed_quality_grid`
lays panels out in rows (for example the paper's table on top, ours below) and colours every
point by its model family, with one legend entry per family.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

PALETTE = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown")


@dataclass(frozen=True)
class Panel:
    """One speed-against-quality scatter."""

    points: Sequence[Mapping[str, Any]]  # one per method: its x and y columns, "method" and "model"
    x: str                               # the speed column (higher is faster)
    y: str                               # the quality column
    xlabel: str
    ylabel: str
    title: str
    lower_is_better: bool = True         # of `y`


def model_colours(panels: Sequence[Sequence[Panel]]) -> dict[str, str]:
    """One colour per model family, in order of first appearance."""
    models = dict.fromkeys(p["model"] for row in panels for panel in row for p in panel.points)  # ordered, unique
    return {model: PALETTE[i % len(PALETTE)] for i, model in enumerate(models)}


def speed_quality_grid(panels: Sequence[Sequence[Panel]], title: str = "") -> Any:
    """A figure of `panels` (rows of panels), each point coloured by its model family."""
    import matplotlib.pyplot as plt

    from ..plotting import speed_quality_plot

    colours = model_colours(panels)
    width = max(len(row) for row in panels)
    fig, axes = plt.subplots(len(panels), width, figsize=(6.5 * width, 4.6 * len(panels)), squeeze=False)
    for r, row in enumerate(panels):
        for c, panel in enumerate(row):
            ax = axes[r][c]
            speed_quality_plot(list(panel.points), panel.x, panel.y, "method", panel.xlabel, panel.ylabel,
                               lower_is_better=panel.lower_is_better, ax=ax)
            colour_by_model(ax, panel.points, colours)
            ax.set_title(panel.title, fontsize=10)
        for c in range(len(row), width):
            axes[r][c].axis("off")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def colour_by_model(ax: Any, points: Sequence[Mapping[str, Any]], colours: Mapping[str, str]) -> None:
    """Recolour the scatter points of `ax` (one per point, in order) by model family; add them to the legend."""
    from matplotlib.lines import Line2D

    for collection, point in zip(ax.collections, points):
        collection.set_color(colours[point["model"]])
    shown = {p["model"] for p in points}
    handles = [Line2D([], [], marker="o", ls="", color=colour, label=f"{model} and its caches")
               for model, colour in colours.items() if model in shown]
    ax.legend(handles=ax.get_legend_handles_labels()[0] + handles, fontsize=8)
