"""compare_methods on a tiny DiT: one table with exact structure and exact cost ratios, quality included."""
from __future__ import annotations

import math

import pytest
import torch
from caching_fixtures import tiny_dit

from skipdit_lib.caching import FewerStepsConfig, SkipCacheConfig, apply_cache, remove_cache
from skipdit_lib.diffusion import SamplerSettings, start_noise
from skipdit_lib.evaluation import COLUMNS, COST_COLUMNS, DataReference, compare_methods
from skipdit_lib.evaluation.classifiers import DigitClassifier


def test_compare_methods_table():
    model = tiny_dit()
    methods = {"identity": SkipCacheConfig(interval=1, branch_depth=1),
               "skip-cache n=2": SkipCacheConfig(interval=2, branch_depth=1),
               "5 steps": FewerStepsConfig(num_steps=5)}
    torch.manual_seed(0)
    data = DataReference(DigitClassifier(1, 8, {"digit": 10}, width=4, feature_dim=2).eval(),
                         torch.rand(8, 1, 8, 8) * 2 - 1)
    labels = torch.tensor([1, 2, 3, 4, 5])
    table = compare_methods(model, methods, noise=start_noise(5, (1, 8, 8), seed=0), y=labels,
                            sampler=SamplerSettings("ddim", num_steps=10, cfg_scale=2.0), data=data, labels=labels,
                            repeats=1, warmup=0)
    assert list(table.index) == ["uncached", "identity", "skip-cache n=2", "5 steps"]
    assert list(table.columns[:len(COST_COLUMNS)]) == COST_COLUMNS and set(table.columns) <= set(COLUMNS)
    assert list(table["steps"]) == [10, 10, 10, 5]
    assert list(table["full_step_fraction"]) == [1.0, 1.0, 0.5, 1.0]
    assert table.loc["identity", "flops_speedup"] == 1.0 and table.loc["identity", "psnr_db"] == math.inf
    assert math.isnan(table.loc["identity", "ssim"])  # 8x8 frames are below SSIM's 11x11 window
    assert table.loc["skip-cache n=2", "psnr_db"] < 100
    assert table.loc["5 steps", "flops_speedup"] == 2.0
    assert 1.0 < table.loc["skip-cache n=2", "flops_speedup"] < 2.0
    assert math.isnan(table.loc["uncached", "psnr_db"]) and table["fid"].notna().all()
    assert table.loc["identity", "fid"] == pytest.approx(table.loc["uncached", "fid"])
    assert table["class_accuracy"].between(0, 1).all() and (table["latency_s"] > 0).all()
    assert table.loc["5 steps", "wallclock_over_flops"] == table.loc["5 steps", "wallclock_speedup"] / 2.0


def test_compare_methods_refuses_a_model_that_already_has_a_cache():
    model = tiny_dit()
    apply_cache(model, SkipCacheConfig(interval=2, branch_depth=1))
    with pytest.raises(ValueError, match="remove_cache"):
        compare_methods(model, {}, noise=start_noise(1, (1, 8, 8), 0), y=torch.tensor([0]))
    remove_cache(model)
    with pytest.raises(ValueError, match="'uncached'"):
        compare_methods(model, {"uncached": None}, noise=start_noise(1, (1, 8, 8), 0), y=torch.tensor([0]))
