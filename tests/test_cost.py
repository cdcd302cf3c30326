"""FLOPs (attention included on CPU), latency and same-run speedups of skipdit_lib.evaluation.cost."""
from __future__ import annotations

import time

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from caching_fixtures import inputs, tiny_dit, tiny_latte, tiny_text_dit
from torch.utils.flop_counter import FlopCounterMode

from skipdit_lib.caching import (
    AdaptiveSkipCacheConfig,
    DeltaDiTConfig,
    FirstBlockCacheConfig,
    FORAConfig,
    PABConfig,
    SkipCacheConfig,
    StepSkipCacheConfig,
    TeaCacheConfig,
    TGATEConfig,
)
from skipdit_lib.diffusion import SamplerSettings
from skipdit_lib.evaluation.cost import SDPA_CPU_FLOPS, count_flops, interleaved_latencies, measure_latency
from skipdit_lib.evaluation.methods import run_method
from skipdit_lib.models.configs import create_model
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


def test_interleaved_latencies_time_every_method_round_robin():
    order = []
    fns = {"a": lambda: (order.append("a"), time.sleep(0.002)), "b": lambda: (order.append("b"), time.sleep(0.02))}
    medians = interleaved_latencies(fns, repeats=2, warmup=1)
    assert order == ["a", "b"] * 3  # one warm-up round, then two timed rounds
    assert 0.002 <= medians["a"] < medians["b"] and medians["b"] >= 0.02
    with pytest.raises(ValueError, match="repeats"):
        interleaved_latencies(fns, repeats=0)


def test_random_weights_are_seeded_and_leave_no_block_an_identity():
    from skipdit_lib.evaluation.cost import random_weights
    from skipdit_lib.models.configs import create_model

    a = random_weights(create_model("DiT-S/4-digits-skip", depth=2, hidden_size=32, num_heads=2))
    b = random_weights(create_model("DiT-S/4-digits-skip", depth=2, hidden_size=32, num_heads=2))
    fresh = create_model("DiT-S/4-digits-skip", depth=2, hidden_size=32, num_heads=2)
    assert not a.training
    gate = a.blocks[0].adaLN_modulation[1].weight
    assert torch.equal(gate, b.blocks[0].adaLN_modulation[1].weight)  # same seed, same weights
    assert fresh.blocks[0].adaLN_modulation[1].weight.abs().max() == 0 and gate.abs().max() > 0



def _flop_cases() -> dict[str, tuple[nn.Module, list]]:
    """Every model family at toy size, with the caching methods it takes (None: uncached)."""
    torch.manual_seed(0)
    text_latte = create_model("Latte-S/4-digits-t2v-skip", depth=8, num_frames=2, hidden_size=32, num_heads=2,
                              input_size=8, caption_dim=8, text_len=4).eval()
    common = [None, FORAConfig(), DeltaDiTConfig(boundary_step=2, interval=2), PABConfig(),
              TeaCacheConfig(threshold=0.3), FirstBlockCacheConfig(threshold=0.3)]
    skip = [SkipCacheConfig(interval=2, branch_depth=1), AdaptiveSkipCacheConfig(threshold=0.3),
            StepSkipCacheConfig(threshold=0.3)]
    text = common + skip + [TGATEConfig(gate_step=2)]
    return {"DiT": (tiny_dit(skip=False), common), "Skip-DiT": (tiny_dit(), common + skip),
            "Skip-Latte": (tiny_latte(), common + skip), "TextDiT": (tiny_text_dit(), text),
            "text Skip-Latte": (text_latte, text)}


def test_count_flops_totals_what_pytorchs_flop_counter_totals_for_every_model_and_method():
    settings = SamplerSettings("ddim", 6, 2.0)  # guidance: the conditional and null halves in one batch
    for name, (model, methods) in _flop_cases().items():
        _, noise, y = inputs(model, 2)
        if name == "text Skip-Latte":  # captions with padding: the masked cross-attention path
            y = (torch.randn(2, 4, 8), torch.tensor([[True, True, False, False]] * 2))
        for config in methods:
            reference = FlopCounterMode(display=False, custom_mapping=SDPA_CPU_FLOPS)
            with torch.no_grad(), reference:
                run_method(model, config, settings, noise, y)
            ours = count_flops(run_method, model, config, settings, noise, y)
            assert ours == reference.get_total_flops() > 0, (name, config)
