"""Skip-Cache on tiny models: exact per-step unit counts, identities, edge cases of PAPER.md section 3."""
from __future__ import annotations

import pytest
import torch
from caching_fixtures import (
    DDIM10_T,
    TINY,
    block_counter,
    counted_sample,
    randomize,
    sample,
    tiny_dit,
    tiny_latte,
    tiny_text_dit,
)

from skipdit_lib.caching import (
    AdaptiveSkipCacheConfig,
    SkipCacheConfig,
    apply_cache,
    remove_cache,
    reset_cache,
    skip_cache_preset,
)
from skipdit_lib.models.configs import create_model

FULL, CACHED = 4, 2  # blocks run by a depth-4 DiT on a full step and with B=1 on a cached step


def counted_run(model, config, cfg_scale=1.0):
    """Sample once with `config` attached; return blocks run per call and the hook."""
    counter, hook, _ = counted_sample(model, config, cfg_scale)
    return counter, hook


@pytest.mark.parametrize("cfg_scale", [1.0, 4.0])
def test_n2_b1_runs_two_blocks_on_cached_steps(cfg_scale):
    counter, hook = counted_run(tiny_dit(), SkipCacheConfig(interval=2, branch_depth=1), cfg_scale)
    assert counter.totals("block.") == [FULL, CACHED] * 5
    assert counter.names("block.")[1] == {"block.0", "block.3"}  # outer units only
    assert [e["t"] for e in hook.state.log] == DDIM10_T  # one step per call, CFG halves share it


def test_b2_n3_counts():
    counter, _ = counted_run(tiny_dit(), SkipCacheConfig(interval=3, branch_depth=2))
    assert counter.totals("block.") == [4, 4, 4, 4, 4, 4, 4, 4, 4, 4]  # B=2 of 4 units: nothing skipped
    counter, _ = counted_run(tiny_dit(), SkipCacheConfig(interval=3, branch_depth=1))
    assert counter.totals("block.") == [4, 2, 2, 4, 2, 2, 4, 2, 2, 4]


def test_counter_advances_during_warmup():
    # t: 900 800 700 | 600 ... ; counter 0,1,2 on warm-up, so t=600 (counter 3) is already cached.
    counter, _ = counted_run(tiny_dit(), SkipCacheConfig(interval=2, branch_depth=1, warmup_t=700))
    assert counter.totals("block.") == [4, 4, 4, 2, 4, 2, 4, 2, 4, 2]


def test_reset_comes_after_the_crossing_step():
    # T_close=200 inclusive: t=200 (counter 7) is still served from the cache, then everything is full.
    counter, _ = counted_run(tiny_dit(), SkipCacheConfig(interval=2, branch_depth=1, stop_t=200))
    assert counter.totals("block.") == [4, 2, 4, 2, 4, 2, 4, 2, 4, 4]


def test_stop_inclusive_versus_exclusive():
    inclusive, _ = counted_run(tiny_dit(), SkipCacheConfig(2, 1, stop_t=100, stop_inclusive=True))
    exclusive, _ = counted_run(tiny_dit(), SkipCacheConfig(2, 1, stop_t=100, stop_inclusive=False))
    assert inclusive.totals("block.") == [4, 2, 4, 2, 4, 2, 4, 2, 4, 4]  # reset after t=100 (t <= 100)
    assert exclusive.totals("block.") == [4, 2, 4, 2, 4, 2, 4, 2, 4, 2]  # no reset at t=100 (t < 100 false)


@pytest.mark.parametrize("make", [tiny_dit, tiny_latte, tiny_text_dit])
@pytest.mark.parametrize("cfg_scale", [1.0, 3.0])
def test_interval_one_is_bit_identical(make, cfg_scale):
    model = make()
    plain = sample(model, cfg_scale=cfg_scale)
    apply_cache(model, SkipCacheConfig(interval=1, branch_depth=1))
    cached = sample(model, cfg_scale=cfg_scale)
    remove_cache(model)
    assert torch.equal(plain, cached)


def test_caching_changes_output_and_remove_restores_it():
    model = tiny_dit()
    keys = {name: set(m.__dict__) for name, m in model.named_modules()}
    plain = sample(model)
    apply_cache(model, SkipCacheConfig(interval=3, branch_depth=1))
    assert not torch.equal(sample(model), plain)
    remove_cache(model)
    assert {name: set(m.__dict__) for name, m in model.named_modules()} == keys
    assert not model._forward_hooks and not model._forward_pre_hooks
    assert torch.equal(sample(model), plain)


def test_second_cache_raises_and_skip_is_required():
    model = tiny_dit()
    apply_cache(model, SkipCacheConfig(branch_depth=1))
    with pytest.raises(ValueError, match="remove_cache"):
        apply_cache(model, SkipCacheConfig(branch_depth=1))
    remove_cache(model)
    with pytest.raises(ValueError, match="skip=True"):
        apply_cache(tiny_dit(skip=False), SkipCacheConfig(branch_depth=1))
    with pytest.raises(ValueError, match="branch_depth"):
        apply_cache(model, SkipCacheConfig(branch_depth=3))
    assert "_skipdit_cache" not in model.__dict__


def test_state_reset_between_runs_gives_identical_samples():
    model = tiny_dit()
    hook = apply_cache(model, SkipCacheConfig(interval=3, branch_depth=1, stop_t=0, stop_inclusive=False))
    first, second = sample(model), sample(model)
    assert torch.equal(first, second)
    assert hook.state.counter == 10 and hook.state.cache is not None  # never closed: reset by the sampler
    reset_cache(model)
    assert hook.state.counter == 0 and hook.state.cache is None and hook.state.log == []


def test_cfg_halves_share_one_cache():
    model = tiny_dit()
    hook = apply_cache(model, SkipCacheConfig(interval=2, branch_depth=1, stop_t=0, stop_inclusive=False))
    sample(model, cfg_scale=4.0, n=3)
    assert hook.state.cache.shape[0] == 6 and hook.state.counter == 10
    remove_cache(model)


def test_latte_units_are_pairs():
    model = tiny_latte()  # 4 pairs = 8 sub-blocks
    counter, _ = counted_run(model, skip_cache_preset("class-to-video", interval=2))
    # warm-up t >= 900: call 0 full; counter 1 at t=800 -> cached (pairs 0 and 3 = blocks 0, 1, 6, 7);
    # t < 50 never reached before t=0, which is computed from the cache and then closes.
    assert counter.totals("block.") == [8, 4, 8, 4, 8, 4, 8, 4, 8, 4]
    assert counter.names("block.")[1] == {"block.0", "block.1", "block.6", "block.7"}


def test_text_dit_native_skips():
    counter, _ = counted_run(tiny_text_dit(), skip_cache_preset("text-to-image", interval=2))
    # warm-up t >= 700: calls 0-2 full (counter -> 3); then alternate; t=0 (counter 9) is cached, then closes.
    assert counter.totals("block.") == [4, 4, 4, 2, 4, 2, 4, 2, 4, 2]


# --- a reference written from PAPER.md section 3, independent of the hook machinery ------------

class ReferenceSkipCacheDiT:
    """Skip-Cache on a skip DiT, straight from the pseudo-code: a stack of skips, one counter."""

    def __init__(self, model, n, b, t_start, t_close, inclusive):
        self.m, self.n, self.b = model, n, b
        self.t_start, self.t_close, self.inclusive = t_start, t_close, inclusive
        self.counter, self.cache = 0, None

    def fuse(self, j, x, skip):
        cat = torch.cat([x, skip], dim=-1)
        return self.m.skip_linears[j](self.m.skip_norms[j](cat))

    def blocks(self, x, c, indices):
        depth, stack = len(self.m.blocks), []
        for i in indices:
            if i == depth - self.b and indices is self.full_order:
                self.cache = x
            if i == depth - self.b and indices is not self.full_order:
                x = self.cache
            if i >= depth // 2:
                x = self.fuse(i - depth // 2, x, stack.pop())
            x = self.m.blocks[i](x, c)
            if i < depth // 2:
                stack.append(x)
        return x

    def __call__(self, x, t, y):
        m, now, depth = self.m, t[0].item(), len(self.m.blocks)
        h = m.x_embedder(x) + m.pos_embed
        c = m.t_embedder(t) + m.y_embedder(y, False)
        self.full_order = list(range(depth))
        full = self.counter % self.n == 0 or self.cache is None or now >= self.t_start
        outer = list(range(self.b)) + list(range(depth - self.b, depth))
        h = self.blocks(h, c, self.full_order if full else outer)
        self.counter += 1
        if now <= self.t_close if self.inclusive else now < self.t_close:
            self.counter, self.cache = 0, None
        h = m.final_layer(h, c)
        p, ch, g = m.patch_size, m.out_channels, int(h.shape[1] ** 0.5)
        h = h.reshape(h.shape[0], g, g, p, p, ch)
        return torch.einsum("nhwpqc->nchpwq", h).reshape(h.shape[0], ch, g * p, g * p)


@pytest.mark.parametrize("n,b,t_start,t_close,inclusive", [(2, 1, 1000, 20, True), (3, 2, 700, 100, True),
                                                           (2, 1, 800, 100, False), (4, 1, 900, 300, True)])
@pytest.mark.parametrize("batch", [2, 4])  # 4 = a CFG-sized batch
def test_matches_reference_call_by_call(n, b, t_start, t_close, inclusive, batch):
    model = tiny_dit()
    ref = ReferenceSkipCacheDiT(model, n, b, t_start, t_close, inclusive)
    apply_cache(model, SkipCacheConfig(n, b, t_start, t_close, inclusive))
    gen = torch.Generator().manual_seed(3)
    y = torch.arange(batch) % 10
    with torch.no_grad():
        for t in DDIM10_T + DDIM10_T[:4]:  # run past a reset into a second schedule
            x = torch.randn(batch, 1, 8, 8, generator=gen)
            tt = torch.full((batch,), t)
            assert torch.equal(model(x, tt, y), ref(x, tt, y)), f"call at t={t}"
    remove_cache(model)


# --- Adaptive Skip-Cache -------------------------------------------------------------------------

def test_adaptive_threshold_zero_is_the_plain_model():
    model = tiny_dit()
    plain = sample(model)
    counter, _ = counted_run(model, AdaptiveSkipCacheConfig(threshold=0.0, branch_depth=1))
    assert counter.totals("block.") == [4] * 10
    apply_cache(model, AdaptiveSkipCacheConfig(threshold=0.0, branch_depth=1))
    assert torch.equal(sample(model), plain)
    remove_cache(model)


def test_adaptive_huge_threshold_reuses_until_the_stop():
    counter, hook = counted_run(tiny_dit(), AdaptiveSkipCacheConfig(threshold=1e9, branch_depth=1))
    assert counter.totals("block.") == [4, 2, 2, 2, 2, 2, 2, 2, 2, 4]  # first call, then t=0 <= stop_t
    assert len(hook.state.distances) == 8 and all(d > 0 for d in hook.state.distances)


def test_adaptive_threshold_decides_by_measured_drift():
    model = tiny_dit()
    _, probe = counted_run(model, AdaptiveSkipCacheConfig(threshold=1e9, branch_depth=1))
    d = probe.state.distances  # drift of calls 1..8 against call 0
    threshold = (d[0] + d[1]) / 2 if d[0] < d[1] else d[0] * 1.01
    counter, hook = counted_run(model, AdaptiveSkipCacheConfig(threshold=threshold, branch_depth=1))
    assert counter.totals("block.")[1] == 2  # call 1 drifted less than the threshold: reused
    if d[0] < d[1]:
        assert counter.totals("block.")[2] == 4  # call 2 drifted more: recomputed
    assert hook.state.distances[0] == pytest.approx(d[0])


def test_empty_window_is_bit_identical():
    model = tiny_dit()
    plain = sample(model, cfg_scale=2.0)
    apply_cache(model, SkipCacheConfig(interval=3, branch_depth=1, warmup_t=0))  # every t >= T_start: all full
    cached = sample(model, cfg_scale=2.0)
    remove_cache(model)
    assert torch.equal(plain, cached)


def test_a_cache_resets_through_the_samplers_begin_sampling_call():
    model = tiny_dit()
    assert "begin_sampling" not in model.__dict__  # the class's no-op
    hook = apply_cache(model, SkipCacheConfig(interval=2, branch_depth=1))
    sample(model)
    assert hook.state.step == 10
    model.begin_sampling()  # what every sampler calls first
    assert hook.state.step == 0 and hook.state.cache is None
    remove_cache(model)
    assert "begin_sampling" not in model.__dict__


# --- the authors' Hunyuan-DiT semantics (text-to-image/hydit/modules/models_cache.py), call by call -----------

def deep_text_dit():
    """Depth-8 TextDiT: blocks 5, 6, 7 take the skips of blocks 2, 1, 0; blocks 3 and 4 have none."""
    torch.manual_seed(0)
    return randomize(create_model("TextDiT-S/4-digits", depth=8, caption_dim=8, text_len=4, **TINY))


class ReferenceHunyuanCache:
    """The block loop of the authors' HunYuanDiT_cache.forward on our TextDiT's blocks: full when
    cache_cont % N == 0 or t >= 700 (no check for an empty cache); the cache is the input of block L-B before
    its fusion; a cached call runs blocks < B and >= L-B only; cache_cont += 1, then reset when t <= 50."""

    def __init__(self, model, step, branch):
        self.m, self.step, self.branch = model, step, branch
        self.cache_cont, self.cache_val = 0, None

    def __call__(self, x, t, y):
        m, now, depth = self.m, t[0].item(), len(self.m.blocks)
        h, ctx = m.embed(x, t, y)
        skips, full = [], self.cache_cont % self.step == 0 or now >= 700
        for layer in range(depth):
            if not full and not (layer < self.branch or layer >= depth - self.branch):
                continue
            if layer == depth - self.branch:
                if full:
                    self.cache_val = h
                else:
                    h = self.cache_val
            if layer > depth // 2:  # decoder: fuse the encoder's skip
                h = m.fuse_skip(layer, h, skips.pop())
            h = m.run_unit(layer, h, ctx)
            if layer < depth // 2 - 1:
                skips.append(h)
        self.cache_cont += 1
        if now <= 50:
            self.cache_cont, self.cache_val = 0, None
        return m.head(h, ctx)


ALL = set(range(8))
# Which blocks run at each call of a DDPM-like schedule, written out by hand from the authors' rule.
HUNYUAN_T = [999, 899, 799, 699, 599, 499, 399, 299, 199, 99, 50, 0]
HUNYUAN_TRACES = {
    # N=2, B=1: t >= 700 full (counter 0, 1, 2 -> 3); counter 3 (t=699) cached, 4 full, ...; t=50 (counter 10) full,
    # then reset; t=0 (counter 0) full.
    (2, 1): [ALL, ALL, ALL, {0, 7}, ALL, {0, 7}, ALL, {0, 7}, ALL, {0, 7}, ALL, ALL],
    # N=3, B=2: counter 3 (t=699) full, 4-5 cached, 6 full, 7-8 cached, 9 (t=99) full, 10 (t=50) cached,
    # then reset (t <= 50); t=0 (counter 0) full.
    (3, 2): [ALL, ALL, ALL, ALL, {0, 1, 6, 7}, {0, 1, 6, 7}, ALL, {0, 1, 6, 7}, {0, 1, 6, 7}, ALL,
             {0, 1, 6, 7}, ALL],
}


@pytest.mark.parametrize("n,b", sorted(HUNYUAN_TRACES))
def test_text_to_image_preset_follows_the_authors_hunyuan_loop(n, b):
    model = deep_text_dit()
    ref = ReferenceHunyuanCache(model, n, b)
    apply_cache(model, skip_cache_preset("text-to-image", n, branch_depth=b))
    counter = block_counter(model)
    gen = torch.Generator().manual_seed(5)
    y = (torch.randn(4, 4, 8, generator=gen), torch.ones(4, 4, dtype=torch.bool))
    with torch.no_grad():
        for t in HUNYUAN_T + HUNYUAN_T[:5]:  # past the reset into a second run
            x, tt = torch.randn(4, 3, 8, 8, generator=gen), torch.full((4,), t)
            assert torch.equal(model(x, tt, y), ref(x, tt, y)), f"call at t={t}"
            counter.flush()
    counter.remove()
    remove_cache(model)
    ran = [{int(name.split(".")[1]) for name in names} for names in counter.names("block.")]
    assert ran == HUNYUAN_TRACES[(n, b)] + HUNYUAN_TRACES[(n, b)][:5]
