"""Notebook 07's N x B grid: the grid points, the committed methods beside it, which B wins, the search past 3x."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from caching_fixtures import TINY, randomize

from skipdit_lib.evaluation import DataReference
from skipdit_lib.evaluation.classifiers import DigitClassifier
from skipdit_lib.experiments import cache_grid as grid
from skipdit_lib.experiments.claims import Verdict
from skipdit_lib.models import create_model

torch.set_num_threads(1)


def tiny_skip_dit() -> torch.nn.Module:
    torch.manual_seed(0)
    return randomize(create_model("DiT-S/4-digits-skip", depth=6, **TINY), seed=1).eval()


def test_every_branch_depth_that_skips_something():
    model = tiny_skip_dit()
    assert grid.branch_depths(model) == [1, 2]  # 6 units: B=3 would run all six on a cached step
    methods = grid.grid_methods(model, "class-to-image", (2, 5))
    assert list(methods) == ["Skip-Cache N=2 B=1", "Skip-Cache N=5 B=1", "Skip-Cache N=2 B=2", "Skip-Cache N=5 B=2"]
    assert methods["Skip-Cache N=5 B=2"].interval == 5 and methods["Skip-Cache N=5 B=2"].branch_depth == 2
    assert methods["Skip-Cache N=5 B=2"].stop_t == 20  # the class-to-image window and reset
    assert grid.sampler_settings("class-to-image", grid.sizes("cpu")).label == "DDPM-250"
    assert grid.sampler_settings("class-to-video", grid.sizes("cpu")).cfg_scale == 7.0


def test_the_grid_on_a_tiny_skip_dit():
    torch.manual_seed(0)
    model = tiny_skip_dit()
    classifier = DigitClassifier(1, 8, {"digit": 10}, width=4, feature_dim=4).eval()
    real = torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(3)) * 2 - 1
    s = grid.Sizes(10, 10, 6, 6, 20, 2, 0, 1, (2, 3), (3,))
    bench = grid.make_bench(model, DataReference(classifier, real), s, seed=0, device="cpu")
    table = grid.evaluate(bench, model, "class-to-image", s)
    pair = grid.PAIRS["class-to-image"]
    steps = [grid.step_skip_name(3, th) for th in pair.thresholds]
    adaptive = [grid.adaptive_name(th) for th in pair.adaptive_thresholds]
    assert list(table["method"]) == (["uncached"] + [f"Skip-Cache N={n} B={b}" for b in (1, 2) for n in (2, 3)]
                                     + steps + adaptive)
    assert list(zip(table["n"], table["b"], table["threshold"], table["variant"])) == (
        [(1, 0, 0, "uncached"), (2, 1, 0, "Skip-Cache"), (3, 1, 0, "Skip-Cache"), (2, 2, 0, "Skip-Cache"),
         (3, 2, 0, "Skip-Cache")]
        + [(3, 1, th, "step skip") for th in pair.thresholds]
        + [(0, 1, th, "adaptive N") for th in pair.adaptive_thresholds])
    assert adaptive[0] == f"Adaptive Skip-Cache B=1 {pair.adaptive_thresholds[0]:g}"
    assert steps[0] == f"Skip-Cache N=3 B=1 + step skip {grid.PAIRS['class-to-image'].thresholds[0]:g}"
    assert table["quality"].notna().all() and set(table["pair"]) == {"class-to-image"}
    depths = grid.depth_table(table)
    assert list(depths.columns) == [1, 2] and list(depths.index) == [2, 3]
    assert grid.best_depth(table)["most_often_best"] in (1, 2)
    fresh = grid.make_bench(model, DataReference(classifier, real), s, seed=0, device="cpu")
    only_b1 = grid.evaluate(fresh, model, "class-to-image", s, depths=(1,))
    assert list(only_b1.loc[only_b1["variant"] == "Skip-Cache", "b"]) == [1, 1]
    # same noise and model: the B=1 rows of the smaller search are the B=1 rows of the full one
    assert list(only_b1["quality"])[:3] == list(table["quality"])[:3]
    with pytest.raises(ValueError, match="skip nothing on this 6-unit model"):
        grid.grid_methods(model, "class-to-image", (2,), depths=(3,))


def synthetic(points: list[tuple], threshold: float = 0.0) -> pd.DataFrame:
    """Rows (n, b, speedup, distance, accuracy[, threshold]) of a grid table; n=0 with a threshold: adaptive N."""
    rows = []
    for n, b, speed, q, acc, *th in points:
        th = th[0] if th else threshold
        variant = "uncached" if b == 0 else ("Skip-Cache" if not th else ("adaptive N" if n == 0 else "step skip"))
        name = {"uncached": "uncached", "Skip-Cache": grid.grid_name(n, b), "step skip": grid.step_skip_name(n, th),
                "adaptive N": grid.adaptive_name(th)}[variant]
        rows.append({"pair": "class-to-image", "sampler": "DDPM-250", "cfg_scale": 1.5, "num_samples": 100, "n": n,
                     "b": b, "threshold": th if b else 0.0, "variant": variant, "method": name,
                     "wallclock_speedup": speed, "quality": q, "class_accuracy": acc})
    return pd.DataFrame(rows)


def test_exactly_two_points_below_is_within_the_bound():
    table = synthetic([(1, 0, 1.0, 20.0, 0.68), (2, 1, 3.3, 21.0, 0.66), (4, 1, 3.5, 21.0, 0.65)])
    assert grid.fast_and_faithful(table)["fastest_faithful"]["method"] == "Skip-Cache N=2 B=1"


def test_step_skipping_rows_count_for_the_search_but_not_for_the_depth_table():
    table = synthetic([(1, 0, 1.0, 20.0, 0.90), (2, 1, 1.5, 20.5, 0.90), (2, 2, 1.3, 20.2, 0.90),
                       (4, 1, 3.2, 21.0, 0.89, 0.1), (4, 1, 3.6, 40.0, 0.70, 0.3)])
    assert list(grid.depth_table(table).columns) == [1, 2]  # the step-skipping rows stay out
    found = grid.fast_and_faithful(table)
    assert found["fastest_faithful"]["method"] == "Skip-Cache N=4 B=1 + step skip 0.1"
    claim = grid.past_three_claim({"class-to-image": table}, "cpu")[0]
    assert claim.verdict is Verdict.HELD and "step skip 0.1 at 3.20x" in claim.ours
    # the front, fastest first: 3.6x (step skip), 3.2x (step skip), 1.5x (B=1), 1.3x (B=2), uncached
    assert grid.front_by_family(table) == {"uncached": 1, "B=1": 1, "B=2": 1, "B=1 + step skip": 2}
    dominated = synthetic([(1, 0, 1.0, 20.0, 0.90), (2, 1, 1.5, 20.5, 0.90), (2, 2, 1.4, 20.6, 0.90)])
    assert grid.front_by_family(dominated) == {"uncached": 1, "B=1": 1, "B=2": 0}


def test_adaptive_rows_are_searched_and_counted_as_their_own_family():
    table = synthetic([(1, 0, 1.0, 20.0, 0.90), (2, 1, 1.5, 20.5, 0.90), (0, 1, 1.8, 20.6, 0.90, 0.25),
                       (0, 1, 1.2, 21.0, 0.90, 0.1)])
    assert list(grid.depth_table(table).columns) == [1] and list(grid.depth_table(table).index) == [2]
    assert grid.fast_and_faithful(table)["fastest_faithful"]["method"] == "Adaptive Skip-Cache B=1 0.25"
    assert grid.front_by_family(table) == {"uncached": 1, "B=1": 1, "B=1 adaptive N": 1}


def test_adaptive_methods_take_the_pairs_window():
    for pair, spec in grid.PAIRS.items():
        methods = grid.adaptive_methods(pair)
        preset = grid.skip_cache_preset(spec.preset, 2, branch_depth=1)
        assert [m.threshold for m in methods.values()] == list(spec.adaptive_thresholds)
        assert all((m.branch_depth, m.warmup_t, m.stop_t) == (1, preset.warmup_t, preset.stop_t)
                   for m in methods.values())
        assert grid.knobs(next(iter(methods.values())))[::3] == (0, "adaptive N")


def test_step_skip_methods_take_the_pairs_window():
    methods = grid.step_skip_methods("class-to-video", (2, 4))
    assert len(methods) == 2 * len(grid.PAIRS["class-to-video"].thresholds)
    config = methods[grid.step_skip_name(4, grid.PAIRS["class-to-video"].thresholds[0])]
    assert (config.interval, config.branch_depth, config.warmup_t, config.stop_t) == (4, 1, 900, 50)
    assert config.threshold == grid.PAIRS["class-to-video"].thresholds[0] and not config.stop_inclusive


def test_the_fastest_faithful_point_and_the_verdict():
    table = synthetic([(1, 0, 1.0, 20.0, 0.90), (2, 1, 1.6, 20.5, 0.90), (8, 1, 3.1, 21.9, 0.89),
                       (8, 2, 2.6, 20.1, 0.91), (4, 3, 3.5, 30.0, 0.80)])
    found = grid.fast_and_faithful(table)
    assert found["fastest_faithful"]["method"] == "Skip-Cache N=8 B=1"
    claim = grid.past_three_claim({"class-to-image": table}, "cpu")[0]
    assert claim.verdict is Verdict.HELD and "Skip-Cache N=8 B=1 at 3.10x" in claim.ours
    slower = synthetic([(1, 0, 1.0, 20.0, 0.90), (8, 1, 3.1, 25.0, 0.89), (6, 1, 2.5, 21.0, 0.90)])
    claim = grid.past_three_claim({"class-to-image": slower}, "cpu")[0]
    assert claim.verdict is Verdict.PARTLY and "best at 3.00x or more: Skip-Cache N=8 B=1" in claim.ours
    none = synthetic([(1, 0, 1.0, 20.0, 0.90), (8, 1, 3.1, 25.0, 0.80)])
    assert grid.past_three_claim({"class-to-image": none}, "cpu")[0].verdict is Verdict.NOT_HELD
    slow = synthetic([(1, 0, 1.0, 20.0, 0.90), (8, 1, 2.1, 20.0, 0.90), (4, 1, 1.5, 20.0, 0.90)])
    claim = grid.past_three_claim({"class-to-image": slow}, "cpu")[0]
    assert claim.verdict is Verdict.NOT_HELD and "no point reaches 3.00x; the fastest: Skip-Cache N=8 B=1" in claim.ours


def test_committed_rows_are_read_at_the_grids_setting(tmp_path):
    assert grid.committed("class-to-video", tmp_path) is None
    rows = [{"dataset": "bounce", "model": "Latte", "method": "FORA", "fvd": 700.0, "wallclock_speedup": 1.7},
            {"dataset": "orbit", "model": "Latte", "method": "FORA", "fvd": 1200.0, "wallclock_speedup": 1.6}]
    folder = tmp_path / "04_class_to_video"
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps({"values": {"table": rows}}))
    found = grid.committed("class-to-video", tmp_path)
    assert list(found["quality"]) == [700.0]


def test_grid_figure_draws_both_pairs():
    table = synthetic([(1, 0, 1.0, 20.0, 0.9), (2, 1, 1.5, 21.0, 0.9)])
    fig = grid.grid_figure({"class-to-image": table}, {"class-to-image": None})
    assert len(fig.axes) == 1
    with pytest.raises(KeyError):
        grid.committed("class-to-audio")
