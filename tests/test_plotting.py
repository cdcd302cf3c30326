"""Figure helpers: grids keep the sample layout; the Pareto front keeps exactly the undominated points."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import pytest
import torch

from skipdit_lib.plotting import pareto_front, sample_grids, to_image_grid


def test_image_grid_shape_and_range():
    grid = to_image_grid(torch.linspace(-1, 1, 4 * 16 * 16).reshape(4, 1, 16, 16), nrow=2)
    assert grid.shape == (2 * 16 + 3 * 2, 2 * 16 + 3 * 2, 3)  # make_grid pads 2 px and repeats 1 channel to 3
    assert grid.min() >= 0 and grid.max() <= 1


def test_image_grid_rejects_videos_with_advice():
    with pytest.raises(ValueError, match="for videos pass one frame"):
        to_image_grid(torch.zeros(2, 3, 1, 8, 8))


def test_pareto_front_lower_is_better():
    pts = [{"s": 1.0, "fid": 5.0}, {"s": 1.5, "fid": 6.0}, {"s": 1.4, "fid": 7.0}, {"s": 2.0, "fid": 9.0}, {"s": 1.0,
                                                                                                            "fid": 6.0}]
    assert pareto_front(pts, "s", "fid") == [pts[0], pts[1], pts[3]]
    assert pareto_front(pts, "s", "fid", lower_is_better=False) == [pts[3]]


def test_sample_grids_one_panel_per_entry():
    fig = sample_grids({"a": torch.zeros(4, 1, 8, 8), "b": torch.ones(4, 1, 8, 8)}, nrow=2, title="t")
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
