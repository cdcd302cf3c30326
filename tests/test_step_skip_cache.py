"""Skip-Cache with whole-step skipping (ours): Skip-Cache at threshold 0, skipped steps run only the probe,
a skipped full step stays due, the output of a skipped step is the probe plus the stored residual."""
from __future__ import annotations

import pytest
import torch
from caching_fixtures import counted_sample, sample, tiny_dit, tiny_latte

from skipdit_lib.caching import SkipCacheConfig, StepSkipCacheConfig, apply_cache, remove_cache, skip_cache_preset
from skipdit_lib.caching.hooks import relative_l1

counted_run = counted_sample  # (counter, hook, sample) of one DDIM-10 run with a config attached


@pytest.mark.parametrize("n, b, warmup_t, stop_t, inclusive", [
    (2, 1, 1000, 20, True), (3, 1, 700, 200, False), (4, 1, 1000, 300, True)])
def test_threshold_zero_is_skip_cache_call_by_call(n, b, warmup_t, stop_t, inclusive):
    model = tiny_dit()
    plain = SkipCacheConfig(n, b, warmup_t, stop_t, inclusive)
    skip_counts, _, skip_out = counted_run(model, plain, cfg_scale=3.0)
    counts, hook, out = counted_run(model, StepSkipCacheConfig.from_skip_cache(plain, threshold=0.0), cfg_scale=3.0)
    assert counts.totals("block.") == skip_counts.totals("block.")
    assert torch.equal(out, skip_out)
    assert "skipped" not in {e["kind"] for e in hook.state.log}


def test_huge_threshold_skips_every_step_after_the_first_until_the_stop():
    counts, hook, _ = counted_run(tiny_dit(), StepSkipCacheConfig(interval=2, branch_depth=1, threshold=1e9))
    # call 0 is full (no cache); calls 1..8 run only block 0 (the probe); t=0 <= stop_t, but still skipped
    # since the caches are dropped only after it
    assert counts.totals("block.") == [4] + [1] * 9
    assert counts.names("block.")[1] == {"block.0"}
    assert [e["kind"] for e in hook.state.log] == ["full"] + ["skipped"] * 9


def test_a_skipped_full_step_stays_due(monkeypatch):
    # scripted drifts for calls 1..9: calls 1-2 skipped, call 3 computed, 4 skipped, then all computed
    drifts = iter([0.0, 0.0, 1.0, 0.0] + [1.0] * 5)
    monkeypatch.setattr("skipdit_lib.caching.step_skip_cache.relative_l1", lambda a, b: next(drifts))
    counts, hook, _ = counted_run(tiny_dit(), StepSkipCacheConfig(interval=2, branch_depth=1, threshold=0.5))
    kinds = [e["kind"] for e in hook.state.log]
    # call 2 (counter 2) owes a full step and is skipped: call 3, cached at N=2 otherwise, pays it; call 4 comes
    # due and is skipped, so call 5 is full; calls 6-9 follow N=2 again (6, 8 full; 7, 9 cached)
    assert kinds == ["full", "skipped", "skipped", "full", "skipped", "full", "full", "cached", "full", "cached"]
    assert counts.totals("block.") == [4, 1, 1, 4, 1, 4, 4, 2, 4, 2]


def test_skipped_step_output_is_probe_plus_stored_residual():
    model = tiny_dit()
    hook = apply_cache(model, StepSkipCacheConfig(interval=2, branch_depth=1, threshold=1e9))
    outs, probes = [], []
    model.blocks[3].register_forward_hook(lambda m, a, o: outs.append(o))
    model.blocks[0].register_forward_hook(lambda m, a, o: probes.append(o))
    seen = []
    original = model.head

    def head(h, ctx):  # the units' output of every call, as the head receives it
        seen.append(h)
        return original(h, ctx)

    model.head = head
    sample(model)
    remove_cache(model)
    assert hook.state.log[1]["kind"] == "skipped"
    residual = outs[0] - probes[0]  # call 0: last unit's output minus the probe
    torch.testing.assert_close(seen[1], probes[1] + residual)


def test_skipping_changes_the_output_and_measures_drift_on_the_probe():
    model = tiny_dit()
    _, base_hook, base = counted_run(model, StepSkipCacheConfig(interval=2, branch_depth=1, threshold=0.0))
    _, hook, out = counted_run(model, StepSkipCacheConfig(interval=2, branch_depth=1, threshold=1e9))
    assert not torch.equal(out, base)
    assert all(d > 0 for d in hook.state.distances)
    assert relative_l1(torch.ones(3), torch.ones(3)) == 0.0


def test_latte_pairs_and_the_presets():
    model = tiny_latte()  # 4 pairs; B=1 is one spatial + one temporal sub-block
    config = StepSkipCacheConfig.from_skip_cache(skip_cache_preset("class-to-video", 2, branch_depth=1), 1e9)
    assert (config.warmup_t, config.stop_t, config.stop_inclusive) == (900, 50, False)
    counts, hook, _ = counted_run(model, config)
    kinds = [e["kind"] for e in hook.state.log]
    assert kinds[0] == "full" and "skipped" in kinds
    assert counts.totals("block.")[kinds.index("skipped")] == 2


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="threshold"):
        StepSkipCacheConfig(threshold=-1)
    with pytest.raises(ValueError, match="interval"):
        StepSkipCacheConfig(interval=0)
    with pytest.raises(ValueError, match="branch_depth"):
        apply_cache(tiny_dit(), StepSkipCacheConfig(branch_depth=2))  # 4 units: B=2 caches nothing
    with pytest.raises(ValueError, match="skip branches"):
        apply_cache(tiny_dit(skip=False), StepSkipCacheConfig())
