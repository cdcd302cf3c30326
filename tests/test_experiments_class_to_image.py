"""Notebook 03's library: the methods it runs, the bench on tiny models, the paper table and the verdicts."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from caching_fixtures import tiny_dit
from skipdit_lib.caching import AdaptiveSkipCacheConfig, SamplerSettings, SkipCacheConfig, get_cache
from skipdit_lib.caching.compare import run_sampler
from skipdit_lib.evaluation import load_paper_table
from skipdit_lib.evaluation.classifiers import DigitClassifier
from skipdit_lib.experiments.class_to_image import (PEER_THRESHOLDS, C2IBench, accuracy_claim, beats_baselines_claim,
                                                    cfg1_claim, delta_dit_config, dit_methods, label_paper_rows,
                                                    near_lossless_claim, paper_beside_ours, sample_methods,
                                                    skipdit_matches_dit_claim, skipdit_methods, verdict_sentence)


def test_skipdit_methods_use_the_paper_window_and_our_branch_depth():
    methods = skipdit_methods([2, 3], branch_depth=1, thresholds=[0.05])
    assert list(methods) == ["Skip-Cache N=2", "Skip-Cache N=3", "Adaptive Skip-Cache 0.05"]
    assert methods["Skip-Cache N=3"] == SkipCacheConfig(interval=3, branch_depth=1, warmup_t=1000, stop_t=20,
                                                        stop_inclusive=True)
    assert methods["Adaptive Skip-Cache 0.05"] == AdaptiveSkipCacheConfig(threshold=0.05, branch_depth=1)


def test_delta_dit_follows_the_paper_boundaries_and_share():
    assert delta_dit_config(250).boundary_step == 60 and delta_dit_config(50).boundary_step == 12
    assert delta_dit_config(250).cached_units(28) == 21 and delta_dit_config(250).cached_units(8) == 6


def test_dit_methods_take_the_samplers_thresholds_and_a_calibrated_teacache():
    model = tiny_dit(skip=False)
    noise, y = torch.randn(2, 1, 8, 8), torch.tensor([1, 2])
    methods = dit_methods(model, SamplerSettings("ddpm", 8, 1.5), noise, y)
    assert list(methods) == ["FORA", "Delta-DiT", "TeaCache", "First-Block-Cache"]
    assert methods["TeaCache"].threshold == PEER_THRESHOLDS["ddpm"]["TeaCache"] == 0.3
    assert methods["TeaCache"].coefficients != (1.0, 0.0) and len(methods["TeaCache"].coefficients) == 5
    assert methods["First-Block-Cache"].threshold == PEER_THRESHOLDS["ddpm"]["First-Block-Cache"]
    assert methods["Delta-DiT"].boundary_step == 2 and get_cache(model) is None


def test_paper_rows_are_labelled_with_our_names():
    paper = label_paper_rows(load_paper_table("table7_8"))
    at15 = paper[paper["cfg_scale"] == 1.5].set_index("method")
    assert list(at15.index) == ["DiT", "FORA", "Delta-DiT", "Skip-DiT", "Skip-Cache N=2", "Skip-Cache N=3",
                                "Skip-Cache N=4"]
    assert at15.loc["Skip-Cache N=3", "fid"] == 2.40 and at15.loc["Skip-Cache N=4", "speedup"] == 1.93
    assert at15.loc["DiT", "speedup"] == 1.0


def synthetic_table(fids: dict[str, float], speeds: dict[str, float], cfgs=(1.5, 1.0)) -> pd.DataFrame:
    """A results table with the same FID and speedup per method at every guidance scale."""
    rows = [{"sampler": "DDPM-250", "cfg_scale": cfg, "method": m, "fid": fids[m], "wallclock_speedup": speeds[m],
             "flops_speedup": speeds[m], "psnr_db": 30.0} for cfg in cfgs for m in fids]
    return pd.DataFrame(rows)


FIDS = {"DiT": 10.0, "FORA": 12.0, "Delta-DiT": 11.0, "Skip-DiT": 9.8, "Skip-Cache N=2": 10.1, "Skip-Cache N=3": 10.9}
SPEEDS = {"DiT": 1.0, "FORA": 2.0, "Delta-DiT": 1.5, "Skip-DiT": 1.0, "Skip-Cache N=2": 1.5, "Skip-Cache N=3": 1.95}


def test_paper_beside_ours_joins_on_method_and_guidance():
    beside = paper_beside_ours(synthetic_table(FIDS, SPEEDS), load_paper_table("table7_8"))
    row = beside[(beside["cfg_scale"] == 1.0) & (beside["method"] == "FORA")].iloc[0]
    ours = (row["paper_fid"], row["paper_speedup"], row["our_fid"], row["our_wallclock_speedup"])
    assert ours == (11.72, 1.53, 12.0, 2.0)
    assert math.isnan(beside[beside["method"] == "Skip-Cache N=4"]["our_fid"].iloc[0])


def test_verdicts_from_a_table_where_the_claims_hold():
    table = synthetic_table(FIDS, SPEEDS)
    assert skipdit_matches_dit_claim(table)["verdict"] == "held"
    assert near_lossless_claim(table)["verdict"] == "held"  # 10.1 vs 9.8 (+3%) at 1.5x
    assert beats_baselines_claim(table)["verdict"] == "held"  # N=3 10.9 @1.95 beats FORA 12 @2.0 (>= 95%)
    assert cfg1_claim(table)["verdict"] == "partly"  # 10.1 vs 10.0: not lower, within 5%


def test_verdicts_from_a_table_where_the_claims_fail():
    fids = {**FIDS, "Skip-DiT": 12.0, "Skip-Cache N=2": 13.0, "Skip-Cache N=3": 11.5}
    table = synthetic_table(fids, {**SPEEDS, "Skip-Cache N=2": 1.1, "Skip-Cache N=3": 1.6})
    assert skipdit_matches_dit_claim(table)["verdict"] == "not held"  # 20% above DiT
    assert near_lossless_claim(table)["verdict"] == "partly"  # +8% FID and 1.1x (25% short of 1.46x): both partly
    claim3 = beats_baselines_claim(table)  # beats Delta-DiT (11.5 @1.6 vs 11 @1.5: no), none as fast as FORA
    assert claim3["verdict"] == "not held" and "no Skip-Cache as fast" in claim3["ours"]
    assert cfg1_claim(table)["verdict"] == "not held"
    assert "did NOT hold here" in verdict_sentence(cfg1_claim(table))


def test_accuracy_claim_needs_every_model_above_the_floor():
    assert accuracy_claim({"DiT": 0.95, "Skip-DiT": 0.91}, 1000, "DDIM-50")["verdict"] == "held"
    assert accuracy_claim({"DiT": 0.95, "Skip-DiT": 0.85}, 1000, "DDIM-50")["verdict"] == "partly"
    assert accuracy_claim({"DiT": 0.5, "Skip-DiT": 0.85}, 1000, "DDIM-50")["verdict"] == "not held"


@pytest.fixture(scope="module")
def bench() -> C2IBench:
    torch.manual_seed(0)
    classifier = DigitClassifier(1, 8, {"digit": 10}, width=4, feature_dim=4).eval()
    real = torch.rand(40, 1, 8, 8) * 2 - 1
    return C2IBench(tiny_dit(skip=False), tiny_dit(skip=True), classifier, real, intervals=[2], branch_depth=1,
                    latency_batch=2, seed=3)


def test_bench_evaluates_every_method_from_the_same_noise(bench: C2IBench):
    settings = SamplerSettings("ddim", 6, 1.5)
    table = bench.evaluate(settings, num_samples=12)
    assert list(table["method"]) == ["DiT", "FORA", "Delta-DiT", "TeaCache", "First-Block-Cache", "Skip-DiT",
                                     "Skip-Cache N=2", "Adaptive Skip-Cache 0.02", "Adaptive Skip-Cache 0.05"]
    assert list(table["model"]) == ["DiT"] * 5 + ["Skip-DiT"] * 4
    assert set(table["sampler"]) == {"DDIM-6"} and set(table["cfg_scale"]) == {1.5}
    by = table.set_index("method")
    assert by.loc["Skip-Cache N=2", "full_step_fraction"] == 0.5 and by.loc["DiT", "flops_speedup"] == 1.0
    assert 1.0 < by.loc["Skip-Cache N=2", "flops_speedup"] < 2.0
    assert math.isnan(by.loc["Skip-DiT", "psnr_db"]) and by.loc["Skip-Cache N=2", "psnr_db"] > 0
    noise, labels = bench.batch(12, 3)
    assert torch.equal(labels, torch.arange(12) % 10)
    expected = run_sampler(bench.skipdit, settings, noise, labels)
    assert torch.equal(bench.samples[("DDIM-6", 1.5)]["Skip-DiT"], expected)
    assert table[["fid", "inception_score", "precision", "recall", "class_accuracy"]].notna().all().all()
    assert get_cache(bench.dit) is None and get_cache(bench.skipdit) is None


def test_sample_methods_removes_the_cache_and_n1_equals_uncached(bench: C2IBench):
    settings = SamplerSettings("ddpm", 5, 1.0)
    noise, labels = bench.batch(3, 0)
    out = sample_methods(bench.skipdit, {"plain": None, "n1": SkipCacheConfig(interval=1, branch_depth=1)},
                         settings, noise, labels)
    assert torch.equal(out["plain"], out["n1"]) and get_cache(bench.skipdit) is None


def test_speed_quality_figure_puts_the_paper_above_ours_and_colours_by_model():
    import matplotlib
    from matplotlib.colors import to_rgba

    matplotlib.use("Agg")
    from skipdit_lib.experiments.class_to_image import speed_quality_figure

    table = synthetic_table(FIDS, SPEEDS)
    table["model"] = ["Skip-DiT" if m.startswith("Skip") else "DiT" for m in table["method"]]
    fig = speed_quality_figure(table, load_paper_table("table7_8"))
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title().startswith("Paper") and fig.axes[2].get_title().startswith("Ours")
    colours = [tuple(c.get_facecolor()[0]) for c in fig.axes[2].collections]
    assert colours == [to_rgba("tab:blue")] * 3 + [to_rgba("tab:red")] * 3
