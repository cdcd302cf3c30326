"""FLOPs (attention included on CPU), latency and same-run speedups of skipdit_lib.evaluation.cost."""
from __future__ import annotations

import time

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from skipdit_lib.evaluation.cost import compare_cost, count_flops, measure_latency, speedup_table
from skipdit_lib.models.layers import AdaLNBlock


def test_linear_flops_are_two_per_multiply_accumulate():
    n, d_in, d_out = 5, 7, 3
    assert count_flops(nn.Linear(d_in, d_out), torch.randn(n, d_in)) == 2 * n * d_in * d_out


def test_cpu_attention_is_counted():
    b, h, s_q, s_k, d = 2, 4, 16, 9, 8
    q, k, v = torch.randn(b, h, s_q, d), torch.randn(b, h, s_k, d), torch.randn(b, h, s_k, d)
    expected = 2 * b * h * s_q * s_k * d * 2  # QK^T and PV
    assert count_flops(F.scaled_dot_product_attention, q, k, v) == expected
    mask = torch.ones(b, 1, 1, s_k, dtype=torch.bool)  # the cross-attention path passes a key mask
    assert count_flops(F.scaled_dot_product_attention, q, k, v, attn_mask=mask) == expected


def test_dit_block_flops_match_the_formula():
    batch, tokens, width = 2, 16, 32
    block = AdaLNBlock(width, num_heads=4).eval()
    x, c = torch.randn(batch, tokens, width), torch.randn(batch, width)
    expected = (2 * batch * width * 6 * width  # adaLN modulation
                + 2 * batch * tokens * width * 3 * width  # qkv
                + 4 * batch * tokens * tokens * width  # attention matmuls over all heads
                + 2 * batch * tokens * width * width  # output projection
                + 2 * 2 * batch * tokens * width * 4 * width)  # MLP fc1 + fc2
    assert count_flops(block, x, c) == expected


def test_measure_latency_warms_up_then_times_each_repeat():
    calls = []
    result = measure_latency(lambda: (calls.append(1), time.sleep(0.01)), warmup=2, repeats=3)
    assert len(calls) == 5
    assert len(result["all"]) == 3
    assert result["median"] == sorted(result["all"])[1]
    assert min(result["all"]) >= 0.01
    with pytest.raises(ValueError, match="repeats"):
        measure_latency(lambda: None, repeats=0)


def test_speedup_table_ratios_against_the_baseline():
    costs = {"uncached": {"flops": 100, "median": 2.0}, "cached": {"flops": 50, "median": 1.6}}
    table = speedup_table(costs, "uncached").set_index("method")
    assert table.loc["uncached", "flops_speedup"] == 1.0 and table.loc["uncached", "wall_speedup"] == 1.0
    assert table.loc["cached", "flops_speedup"] == pytest.approx(2.0)
    assert table.loc["cached", "wall_speedup"] == pytest.approx(1.25)
    assert table.loc["cached", "efficiency"] == pytest.approx(0.625)
    with pytest.raises(ValueError, match="baseline"):
        speedup_table(costs, "missing")


def test_compare_cost_measures_every_method_in_one_run():
    layer = nn.Linear(8, 8)
    big, small = torch.randn(300, 8), torch.randn(100, 8)
    table = compare_cost({"big": lambda: layer(big), "small": lambda: layer(small)}, "big", warmup=1, repeats=2)
    table = table.set_index("method")
    assert table.loc["big", "flops"] == 2 * 300 * 8 * 8
    assert table.loc["small", "flops_speedup"] == pytest.approx(3.0)
    assert table.loc["small", "latency_s"] > 0
