"""compare_methods on a tiny DiT: one table with exact structure and exact cost ratios."""
from __future__ import annotations

import math

import torch

from caching_fixtures import tiny_dit
from skipdit_lib.caching import FewerStepsConfig, SamplerSettings, SkipCacheConfig, compare_methods


def test_compare_methods_table():
    model = tiny_dit()
    methods = {"identity": SkipCacheConfig(interval=1, branch_depth=1),
               "skip-cache n=2": SkipCacheConfig(interval=2, branch_depth=1),
               "5 steps": FewerStepsConfig(num_steps=5)}
    reference = torch.rand(6, 1, 8, 8) * 2 - 1
    table = compare_methods(model, methods, shape=(1, 8, 8), seeds=[0, 1, 2], y=torch.tensor([1, 2, 3]),
                            sampler=SamplerSettings("ddim", num_steps=10, cfg_scale=2.0),
                            reference_data=reference, extractor=lambda x: x.flatten(1)[:, :2],
                            repeats=1, warmup=0)
    assert list(table.index) == ["uncached", "identity", "skip-cache n=2", "5 steps"]
    assert list(table["steps"]) == [10, 10, 10, 5]
    assert list(table["full_step_fraction"]) == [1.0, 1.0, 0.5, 1.0]
    assert table.loc["identity", "flops_speedup"] == 1.0 and table.loc["identity", "psnr_db"] == math.inf
    assert math.isnan(table.loc["identity", "ssim"])  # 8x8 frames are below SSIM's 11x11 window
    assert table.loc["skip-cache n=2", "psnr_db"] < 100
    assert table.loc["5 steps", "flops_speedup"] == 2.0
    assert 1.0 < table.loc["skip-cache n=2", "flops_speedup"] < 2.0
    assert math.isnan(table.loc["uncached", "psnr_db"]) and table["fid"].notna().all()
    assert (table["latency_s"] > 0).all()
    assert table.loc["5 steps", "wallclock_over_flops"] == table.loc["5 steps", "wallclock_speedup"] / 2.0
