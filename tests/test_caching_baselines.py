"""The paper's baselines and today's peers on tiny models: exact per-step compute counts and identities."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from caching_fixtures import counted_sample, sample, tiny_dit, tiny_latte, tiny_text_dit

from skipdit_lib.caching import (
    PAB_PRESETS,
    DeltaDiTConfig,
    FewerStepsConfig,
    FirstBlockCacheConfig,
    FORAConfig,
    PABConfig,
    TeaCacheConfig,
    TGATEConfig,
    apply_cache,
    calibrate_teacache,
    remove_cache,
)
from skipdit_lib.caching.hooks import ModuleReuseHook, register_cache_method
from skipdit_lib.diffusion.gaussian_diffusion import create_diffusion
from skipdit_lib.diffusion.sampling import sample_ddim

counted = counted_sample  # (counter, hook, sample) of one DDIM-10 run with a config attached


@pytest.mark.parametrize("config", [TeaCacheConfig(threshold=0.0), FirstBlockCacheConfig(threshold=0.0)])
@pytest.mark.parametrize("make", [tiny_dit, tiny_latte])
def test_threshold_zero_is_the_plain_model(config, make):
    model = make()
    plain = sample(model, cfg_scale=2.0)
    _, hook, cached = counted(model, config, cfg_scale=2.0)
    assert torch.equal(cached, plain)
    assert hook.state.full_fraction == 1.0


def test_first_block_cache_huge_threshold_runs_only_the_first_block():
    counter, hook, _ = counted(tiny_dit(), FirstBlockCacheConfig(threshold=1e9))
    assert counter.totals("block.") == [4] + [1] * 9
    assert counter.names("block.")[5] == {"block.0"}


def test_teacache_huge_threshold_runs_first_and_last_step_only():
    counter, hook, _ = counted(tiny_dit(), TeaCacheConfig(threshold=1e9))
    assert counter.totals("block.") == [4] + [0] * 8 + [4]  # TeaCache: the final step (t=0) is computed
    assert len(hook.state.changes) == 10 and hook.state.changes[0] == 0.0


def test_teacache_calibration_fits_a_polynomial_and_runs():
    model = tiny_dit()
    diffusion = create_diffusion("ddim10")
    noise = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    config = calibrate_teacache(model, lambda: sample_ddim(model, diffusion, (2, 1, 8, 8), y=torch.tensor([1, 2]),
                                                           noise=noise), degree=4, threshold=0.3)
    assert len(config.coefficients) == 5 and np.all(np.isfinite(config.coefficients))
    assert "_skipdit_cache" not in model.__dict__  # the recorder is gone
    counter, _, _ = counted(model, config)
    assert counter.totals("block.")[0] == 4 and counter.totals("block.")[-1] == 4
    with pytest.raises(ValueError, match="at least 6"):
        calibrate_teacache(model, lambda: sample_ddim(model, create_diffusion("ddim3"), (2, 1, 8, 8),
                                                      y=torch.tensor([1, 2])))


def test_fora_recomputes_attention_and_mlp_every_n_steps():
    counter, _, _ = counted(tiny_dit(), FORAConfig(interval=3))
    expected = [4, 0, 0, 4, 0, 0, 4, 0, 0, 4]
    assert counter.totals("attn.") == expected and counter.totals("mlp.") == expected
    assert counter.totals("block.") == [4] * 10  # blocks still run (norms, gates), their heavy parts are reused


class ModuleFORAConfig(FORAConfig):
    """FORA as it was first written here: the attention and MLP modules themselves wrapped (their inputs computed)."""


@register_cache_method(ModuleFORAConfig)
class ModuleFORAHook(ModuleReuseHook):
    def install(self) -> None:
        for u, modules in enumerate(self.model.units_modules()):
            for kind in ("attn", "mlp", "cross_attn"):
                for j, module in enumerate(modules.get(kind, [])):
                    self.wrap(module, f"{u}.{kind}.{j}", kind)

    def compute_now(self, kind: str) -> bool:
        return self.state.step % self.config.interval == 0


@pytest.mark.parametrize("make", [tiny_dit, tiny_latte, tiny_text_dit])
def test_fora_reuses_whole_branches_with_the_outputs_of_module_reuse(make):
    model = make()
    norms = [b.norm1 for b in model.blocks]
    calls = []
    handles = [n.register_forward_hook(lambda m, a, o: calls.append(1)) for n in norms]
    _, _, branch = counted(model, FORAConfig(interval=3))
    branch_norms = len(calls)
    calls.clear()
    _, _, module = counted(model, ModuleFORAConfig(interval=3))
    for h in handles:
        h.remove()
    assert torch.equal(branch, module)  # the same reused tensors, so the same samples
    # module reuse still normalises every block's input on every call; branch reuse only on the 4 computed calls
    assert len(calls) == 10 * len(norms) and branch_norms == 4 * len(norms)


def test_fora_interval_one_is_the_plain_model():
    model = tiny_text_dit()
    plain = sample(model)
    _, _, cached = counted(model, FORAConfig(interval=1))
    assert torch.equal(cached, plain)


def test_pab_broadcasts_inside_the_window():
    # DiT self-attention counts as spatial (range 2); window 100..900; ddim10 t = 900, 800, ..., 0.
    counter, _, _ = counted(tiny_dit(), PAB_PRESETS["PAB235"])
    assert counter.totals("attn.") == [4, 0, 4, 0, 4, 0, 4, 0, 4, 4]  # t=0 is outside the window
    assert counter.totals("mlp.") == [4] * 10


def test_pab_ranges_per_attention_kind_on_latte():
    counter, _, _ = counted(tiny_latte(), PABConfig(spatial_range=2, temporal_range=3, window=(100, 900)))
    even = {f"attn.{k}" for k in range(0, 8, 2)}  # spatial blocks
    spatial = [sum(c[n] for n in even) for c in counter.per_call]
    temporal = [sum(v for k, v in c.items() if k.startswith("attn.") and k not in even) for c in counter.per_call]
    assert spatial == [4, 0, 4, 0, 4, 0, 4, 0, 4, 4]
    assert temporal == [4, 0, 0, 4, 0, 0, 4, 0, 0, 4]


def test_tgate_two_phases_on_a_text_model():
    counter, _, _ = counted(tiny_text_dit(), TGATEConfig(gate_step=4, self_attn_interval=2, warm_up=1))
    assert counter.totals("cross.") == [4, 4, 4, 4, 0, 0, 0, 0, 0, 0]
    assert counter.totals("attn.") == [4, 4, 0, 4, 4, 4, 4, 4, 4, 4]
    assert counter.totals("mlp.") == [4] * 10


def test_tgate_averaged_cross_attention_makes_cfg_halves_equal():
    model = tiny_text_dit()
    apply_cache(model, TGATEConfig(gate_step=4, warm_up=0, self_attn_interval=1, average_cfg_halves=True))
    outputs = []
    handle = model.register_forward_hook(lambda m, a, out: outputs.append(out))
    sample(model, cfg_scale=3.0)
    handle.remove()
    remove_cache(model)
    before, after = outputs[3].chunk(2), outputs[5].chunk(2)
    assert not torch.allclose(before[0], before[1])  # cond and uncond differ while cross-attention runs
    assert torch.allclose(after[0], after[1], atol=1e-6)  # T-GATE: one averaged text signal after the gate


def test_tgate_needs_cross_attention():
    with pytest.raises(ValueError, match="text-conditioned"):
        apply_cache(tiny_dit(), TGATEConfig())


def test_delta_dit_caches_rear_then_front_units():
    # 4 units, 3 cached (round(0.75 * 4)), boundary at call 4, refresh every 2 calls.
    counter, _, _ = counted(tiny_dit(), DeltaDiTConfig(boundary_step=4, interval=2))
    assert counter.totals("block.") == [4, 1, 4, 1, 4, 1, 4, 1, 4, 1]
    names = counter.names("block.")
    assert names[1] == {"block.0"} and names[3] == {"block.0"}  # early: rear blocks 1-3 cached
    assert names[5] == {"block.3"} and names[9] == {"block.3"}  # late: front blocks 0-2 cached


def test_delta_dit_interval_one_is_the_plain_model():
    model = tiny_latte()
    plain = sample(model)
    _, _, cached = counted(model, DeltaDiTConfig(boundary_step=4, interval=1, num_cached_units=2))
    assert torch.equal(cached, plain)


ALL_HOOKS = [TeaCacheConfig(threshold=10.0), FirstBlockCacheConfig(threshold=10.0), FORAConfig(), PAB_PRESETS["PAB347"],
             TGATEConfig(gate_step=3, average_cfg_halves=True), DeltaDiTConfig(boundary_step=3)]


@pytest.mark.parametrize("config", ALL_HOOKS, ids=lambda c: type(c).__name__)
def test_apply_then_remove_restores_the_plain_model(config):
    model = tiny_text_dit()  # has self-attention, cross-attention and MLPs: every method applies
    keys = {name: set(m.__dict__) for name, m in model.named_modules()}
    plain = sample(model, cfg_scale=2.0)
    apply_cache(model, config)
    assert not torch.equal(sample(model, cfg_scale=2.0), plain)
    with pytest.raises(ValueError, match="already has a cache"):
        apply_cache(model, config)
    remove_cache(model)
    assert {name: set(m.__dict__) for name, m in model.named_modules()} == keys
    assert torch.equal(sample(model, cfg_scale=2.0), plain)


def test_fewer_steps_is_not_a_hook():
    assert FewerStepsConfig(match_speedup=2.0).steps_for(50) == 25
    assert FewerStepsConfig(num_steps=7).steps_for(50) == 7
    with pytest.raises(TypeError, match="not a cache config"):
        apply_cache(tiny_dit(), FewerStepsConfig(num_steps=7))
    with pytest.raises(ValueError, match="exactly one"):
        FewerStepsConfig()


def test_delta_dit_presets_give_the_papers_block_counts():
    from skipdit_lib.caching import DELTA_DIT_PRESETS
    assert DELTA_DIT_PRESETS["DiT-250"].cached_units(28) == 21 and DELTA_DIT_PRESETS["DiT-250"].boundary_step == 60
    assert DELTA_DIT_PRESETS["Latte-50"].cached_units(14) == 10 and DELTA_DIT_PRESETS["Latte-50"].boundary_step == 12
    assert DELTA_DIT_PRESETS["Latte-50"].cached_units(4) == 3
