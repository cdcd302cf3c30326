"""The sampling precision: one process-wide setting, applied by run_sampler, recorded in metrics.json."""
from __future__ import annotations

import json

import pytest
import torch
from caching_fixtures import inputs, tiny_dit

from skipdit_lib import precision as prec
from skipdit_lib.diffusion.sampling import SamplerSettings, run_sampler
from skipdit_lib.results import start_run


@pytest.fixture(autouse=True)
def fp32_after():
    yield
    prec.set_precision("fp32")


def test_unknown_precision_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="fp32, tf32, bf16"):
        prec.set_precision("fp16")


def test_tf32_switches_tf32_matmuls_on_and_back_off():
    with prec.using_precision("tf32"):
        assert prec.get_precision() == "tf32" and torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32
    assert prec.get_precision() == "fp32" and not torch.backends.cuda.matmul.allow_tf32


def test_bf16_samples_in_autocast_and_returns_float32():
    model = tiny_dit()
    _, noise, y = inputs(model, n=4)
    settings = SamplerSettings("ddim", 5, 2.0)
    full = run_sampler(model, settings, noise, y)
    assert torch.equal(full, run_sampler(model, settings, noise, y))  # fp32 is deterministic
    seen = []
    handle = model.blocks[0].attn.qkv.register_forward_hook(lambda m, a, out: seen.append(out.dtype))
    with prec.using_precision("bf16"):
        half = run_sampler(model, settings, noise, y)
    handle.remove()
    assert set(seen) == {torch.bfloat16} and half.dtype == torch.float32
    assert not torch.equal(half, full)
    assert (half - full).abs().mean() < 0.05 * full.abs().mean()  # bf16 rounding (~1%), not another sample
    assert isinstance(prec.autocast_for("cpu", "fp32"), type(prec.autocast_for("cpu", "tf32")))


def test_start_run_sets_the_precision_and_metrics_record_it(tmp_path):
    run = start_run("00_x", "smoke", {"precision": "bf16"}, tmp_path)
    assert prec.get_precision() == "bf16"
    record = json.loads(run.record({"v": 1}).read_text())
    assert record["precision"] == "bf16" and record["parameters"]["precision"] == "bf16"
    with pytest.raises(ValueError, match="unknown precision"):
        start_run("00_x", "smoke", {"precision": "int8"}, tmp_path)
