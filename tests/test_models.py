"""Model families: official key names and shapes, skip wiring, hook points, configs."""
import math

import pytest
import torch

from skipdit_lib.models import MODEL_CONFIGS, DiT, Latte, TextDiT, create_model
from skipdit_lib.models.layers import PatchEmbed, TimestepEmbedder, masked_mean, sinusoid_frequencies

TINY = {"depth": 4, "hidden_size": 32, "num_heads": 4}


# ----------------------------------------------------------------------------- official names
# Expected state dicts, written from the official sources (class-to-image/models.py DiT_skip and
# class-to-video/models/latte.py Latte_skip) as per-block templates.

def _block_keys(k, d):
    yield from [(f"blocks.{k}.attn.qkv.weight", (3 * d, d)), (f"blocks.{k}.attn.qkv.bias", (3 * d,)),
                (f"blocks.{k}.attn.proj.weight", (d, d)), (f"blocks.{k}.attn.proj.bias", (d,)),
                (f"blocks.{k}.mlp.fc1.weight", (4 * d, d)), (f"blocks.{k}.mlp.fc1.bias", (4 * d,)),
                (f"blocks.{k}.mlp.fc2.weight", (d, 4 * d)), (f"blocks.{k}.mlp.fc2.bias", (d,)),
                (f"blocks.{k}.adaLN_modulation.1.weight", (6 * d, d)),
                (f"blocks.{k}.adaLN_modulation.1.bias", (6 * d,))]


def _skip_keys(count, d):
    for j in range(count):
        yield from [(f"skip_norms.{j}.weight", (2 * d,)), (f"skip_norms.{j}.bias", (2 * d,)),
                    (f"skip_linears.{j}.linear.weight", (d, 2 * d)), (f"skip_linears.{j}.linear.bias", (d,))]


def _common_keys(d, tokens, patch, in_ch, out_ch, depth):
    yield from [("pos_embed", (1, tokens, d)), ("x_embedder.proj.weight", (d, in_ch, patch, patch)),
                ("x_embedder.proj.bias", (d,)), ("t_embedder.mlp.0.weight", (d, 256)),
                ("t_embedder.mlp.0.bias", (d,)), ("t_embedder.mlp.2.weight", (d, d)), ("t_embedder.mlp.2.bias", (d,)),
                ("final_layer.linear.weight", (patch * patch * out_ch, d)),
                ("final_layer.linear.bias", (patch * patch * out_ch,)),
                ("final_layer.adaLN_modulation.1.weight", (2 * d, d)),
                ("final_layer.adaLN_modulation.1.bias", (2 * d,))]
    for k in range(depth):
        yield from _block_keys(k, d)


def official_dit_skip_keys():
    d = 1152
    keys = dict(_common_keys(d, 256, 2, 4, 8, 28))
    keys["y_embedder.embedding_table.weight"] = (1001, d)
    keys.update(_skip_keys(14, d))
    return keys


def official_latte_skip_keys(num_classes):
    d = 1152
    keys = dict(_common_keys(d, 256, 2, 4, 8, 28))
    keys["temp_embed"] = (1, 16, d)
    if num_classes:
        keys["y_embedder.embedding_table.weight"] = (num_classes + 1, d)
    keys.update(_skip_keys(7, d))
    return keys


def shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_dit_xl2_skip_has_the_official_keys_and_shapes():
    with torch.device("meta"):
        model = create_model("DiT-XL/2-skip")
    assert shapes(model) == official_dit_skip_keys()


@pytest.mark.parametrize("num_classes", [0, 101])  # Taichi/FFS/Sky (extras=1) and UCF101 (extras=2)
def test_latte_xl2_skip_has_the_official_keys_and_shapes(num_classes):
    with torch.device("meta"):
        model = create_model("Latte-XL/2-skip", num_classes=num_classes)
    assert shapes(model) == official_latte_skip_keys(num_classes)


def test_dit_xl2_skip_branch_size_and_overhead():
    with torch.device("meta"):
        skip, plain = create_model("DiT-XL/2-skip"), create_model("DiT-XL/2")
    branch = sum(p.numel() for n, p in skip.named_parameters() if n.startswith(("skip_norms.0.", "skip_linears.0.")))
    extra = sum(p.numel() for p in skip.parameters()) - sum(p.numel() for p in plain.parameters())
    assert branch == 2 * 2304 + 2304 * 1152 + 1152  # LayerNorm(2D) + Linear(2D -> D)
    assert branch == pytest.approx(2.66e6, rel=0.01)  # Paper: ~2.66M per branch
    assert extra == 14 * branch
    assert extra / sum(p.numel() for p in plain.parameters()) == pytest.approx(0.055, abs=0.002)  # Paper: ~5.5%


def test_text_dit_has_hunyuan_native_skip_modules():
    model = create_model("TextDiT-S/4-digits", **{**TINY, "depth": 8})
    with_skip = sorted({int(k.split(".")[1]) for k in model.state_dict() if ".skip_linear." in k})
    assert with_skip == [5, 6, 7]  # Hunyuan-DiT: blocks k > depth // 2
    assert model.skip_map == {7: 0, 6: 1, 5: 2}
    assert tuple(model.blocks[5].skip_norm.weight.shape) == (64,)
    assert tuple(model.blocks[5].skip_linear.weight.shape) == (32, 64)
    assert {"t_block.1.weight", "y_embedder.y_proj.fc1.weight", "y_embedder.y_embedding",
            "blocks.0.cross_attn.q_linear.weight", "blocks.0.cross_attn.kv_linear.weight",
            "blocks.0.scale_shift_table", "final_layer.scale_shift_table"} <= set(model.state_dict())


# ----------------------------------------------------------------------------- skip wiring
def test_skip_false_is_a_plain_dit():
    skip = create_model("DiT-S/4-digits-skip", **TINY)
    plain = create_model("DiT-S/4-digits", **TINY)
    assert set(skip.state_dict()) - set(plain.state_dict()) == {
        k for k in skip.state_dict() if k.startswith(("skip_norms.", "skip_linears."))}
    assert set(plain.state_dict()) <= set(skip.state_dict())
    assert plain.skip is False and plain.skip_map == {}
    _perturb(plain)
    x, t, y = torch.randn(2, 1, 16, 16), torch.tensor([3, 700]), torch.tensor([1, 8])
    h, ctx = plain.embed(x, t, y)
    for block in plain.blocks:
        h = block(h, ctx.c)
    assert torch.equal(plain(x, t, y), plain.head(h, ctx))


def test_dit_skip_fusion_follows_the_paper():
    model = _perturb(create_model("DiT-S/4-digits-skip", **{**TINY, "depth": 6}))
    x, t, y = torch.randn(2, 1, 16, 16), torch.tensor([3, 700]), torch.tensor([1, 8])
    h, ctx = model.embed(x, t, y)
    stack = []
    for i, block in enumerate(model.blocks):
        if i >= 3:  # block L/2 + j uses modules j and the skip of block L/2 - 1 - j
            cat = torch.cat([h, stack.pop()], dim=-1)
            h = model.skip_linears[i - 3].linear(model.skip_norms[i - 3](cat))
        h = block(h, ctx.c)
        if i < 3:
            stack.append(h)
    assert model.skip_map == {5: 0, 4: 1, 3: 2}
    assert torch.equal(model(x, t, y), model.head(h, ctx))


def test_latte_skip_pairs():
    model = create_model("Latte-S/4-digits-skip", **{**TINY, "depth": 8})
    assert model.num_units == 4 and model.skip_map == {3: 0, 2: 1}
    assert len(model.skip_norms) == len(model.skip_linears) == 2


def test_skip_module_initialisation_matches_the_official_code():
    torch.manual_seed(0)
    dit = create_model("DiT-S/4-digits-skip", **TINY)
    latte = create_model("Latte-S/4-digits-skip", **TINY)
    # DiT_skip creates the skip modules after initialize_weights: PyTorch default (non-zero bias).
    assert dit.skip_linears[0].linear.bias.abs().sum() > 0
    # Latte_skip creates them before: xavier weights, zero bias.
    assert torch.equal(latte.skip_linears[0].linear.bias, torch.zeros(32))
    assert torch.equal(dit.blocks[0].adaLN_modulation[1].weight, torch.zeros(192, 32))
    assert torch.equal(dit.final_layer.linear.weight, torch.zeros(32, 32))


@pytest.mark.parametrize("family, depth", [(DiT, 5), (Latte, 7), (TextDiT, 3), (Latte, 0)])
def test_odd_depth_raises(family, depth):
    with pytest.raises(ValueError, match="depth"):
        family(input_size=16, patch_size=4, hidden_size=32, num_heads=4, depth=depth)


def test_latte_skip_needs_an_even_number_of_pairs():
    with pytest.raises(ValueError, match="divisible by 4"):
        Latte(input_size=16, patch_size=4, hidden_size=32, num_heads=4, depth=6, skip=True)


# ----------------------------------------------------------------------------- forward and hooks
def _perturb(model, scale=0.1):
    """Random weights everywhere (the zero-init adaLN would make every output trivial)."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name not in ("pos_embed", "temp_embed"):
                p.add_(torch.randn(p.shape, generator=gen) * scale)
    return model.eval()


def _inputs(model, n=2, tokens=6):
    kw = model.config["kwargs"]
    size, ch = kw["input_size"], kw["in_channels"]
    x = torch.randn(n, kw["num_frames"], ch, size, size) if "num_frames" in kw else torch.randn(n, ch, size, size)
    if kw.get("caption_dim"):
        mask = torch.ones(n, tokens, dtype=torch.bool)
        mask[0, 3:] = False
        y = (torch.randn(n, tokens, kw["caption_dim"]), mask)
    else:
        y = torch.arange(n) % kw["num_classes"] if kw.get("num_classes") else None
    return x, torch.tensor([10, 900])[:n], y


FAMILY_CASES = [("DiT-S/4-digits-skip", {}, (2, 2, 16, 16)),
                ("Latte-S/4-digits-skip", {}, (2, 8, 2, 16, 16)),
                ("Latte-S/4-digits-skip", {"num_classes": 0}, (2, 8, 2, 16, 16)),
                ("Latte-S/4-digits-t2v-skip", {}, (2, 8, 6, 16, 16)),
                ("TextDiT-S/4-digits", {}, (2, 6, 16, 16))]


@pytest.mark.parametrize("name, extra, shape", FAMILY_CASES)
def test_forward_shape_and_hook_composition(name, extra, shape):
    model = _perturb(create_model(name, **TINY, **extra))
    x, t, y = _inputs(model)
    with torch.no_grad():
        out = model(x, t, y)
        h, ctx = model.embed(x, t, y)
        composed = model.head(model.forward_units(h, ctx), ctx)
    assert tuple(out.shape) == shape
    assert torch.equal(out, composed)
    assert torch.isfinite(out).all()
    assert out.abs().max() > 0


def test_unconditional_latte_ignores_y():
    model = _perturb(create_model("Latte-S/4-digits", **TINY, num_classes=0))
    x, t, _ = _inputs(model)
    with torch.no_grad():
        assert torch.equal(model(x, t, None), model(x, t, torch.tensor([3, 4])))
    assert model.null_condition(None) is None


def test_text_mask_hides_padding_tokens():
    model = _perturb(create_model("TextDiT-S/4-digits", **TINY))
    x, t, (tokens, mask) = _inputs(model)
    changed = tokens.clone()
    changed[0, 3:] += 5.0  # only padding positions of sample 0 change
    with torch.no_grad():
        assert torch.equal(model(x, t, (tokens, mask)), model(x, t, (changed, mask)))
        assert not torch.equal(model(x, t, (tokens, None)), model(x, t, (changed, None)))


def test_null_conditions():
    dit = create_model("DiT-S/4-digits", **TINY)
    assert torch.equal(dit.null_condition(torch.tensor([1, 2])), torch.tensor([10, 10]))
    text = create_model("TextDiT-S/4-digits", **TINY)
    caption_mask = torch.arange(5).expand(3, 5) < torch.tensor([[2], [5], [3]])  # (3, 5) 2, 5 and 3 tokens
    tokens, mask = text.null_condition((torch.randn(3, 5, 384), caption_mask))
    assert tokens.shape == (3, 5, 384) and torch.equal(tokens[0], text.y_embedder.y_embedding[:5])
    assert torch.equal(mask, caption_mask)  # PixArt: one mask for both guidance halves, as training drops captions
    assert text.null_condition(torch.randn(3, 5, 384))[1].all()  # no mask: every token


def test_pooled_caption_is_the_masked_token_mean():
    text = _perturb(create_model("TextDiT-S/4-digits", **{**TINY, "pooled_caption": True}))
    assert "pool_embedder.fc1.weight" in text.state_dict()
    assert "pool_embedder.fc1.weight" not in create_model("TextDiT-S/4-digits", **TINY).state_dict()
    tokens, mask = torch.randn(2, 4, 384), torch.tensor([[True, True, False, False], [True] * 4])
    pooled = masked_mean(tokens, mask)
    assert torch.allclose(pooled[0], tokens[0, :2].mean(0)) and torch.allclose(pooled[1], tokens[1].mean(0))
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([10, 500])
    changed = tokens.clone()
    changed[0, 3] += 5.0  # a masked-out token: neither cross-attention nor the pooled caption sees it
    with torch.no_grad():
        before = text.eval()(x, t, (tokens, mask))
        assert torch.equal(before, text(x, t, (changed, mask)))
        text.pool_embedder.fc2.bias.add_(1.0)  # the pooled path reaches the output
        assert not torch.equal(text(x, t, (tokens, mask)), before)


def test_units_and_attention_modules():
    latte = create_model("Latte-S/4-digits-t2v-skip", **TINY)
    units = latte.units_modules()
    assert len(units) == latte.num_units == 2
    assert units[1]["attn"] == [latte.blocks[2].attn, latte.blocks[3].attn]
    assert units[1]["mlp"] == [latte.blocks[2].mlp, latte.blocks[3].mlp]
    assert units[1]["cross_attn"] == [latte.blocks[2].cross_attn]
    kinds = [(name, kind) for name, kind, _ in latte.attention_modules()]
    assert kinds[:3] == [("blocks.0.attn", "spatial"), ("blocks.0.cross_attn", "cross"), ("blocks.1.attn", "temporal")]
    dit = create_model("DiT-S/4-digits", **TINY)
    assert [k for _, k, _ in dit.attention_modules()] == ["self"] * 4
    assert dit.units_modules()[2] == {"attn": [dit.blocks[2].attn], "mlp": [dit.blocks[2].mlp], "cross_attn": []}


# ----------------------------------------------------------------------------- configs
def test_create_model_overrides_and_records_config():
    model = create_model("DiT-S/4-digits", depth=6, hidden_size=64, num_heads=2, num_classes=3)
    assert len(model.blocks) == 6 and model.y_embedder.embedding_table.weight.shape == (4, 64)
    assert model.config == {"family": "DiT", "name": "DiT-S/4-digits", "kwargs": {
        **MODEL_CONFIGS["DiT-S/4-digits"]["kwargs"], "depth": 6, "hidden_size": 64, "num_heads": 2,
        "num_classes": 3, "mlp_ratio": 4.0, "class_dropout_prob": 0.1, "skip": False}}


def test_create_model_rejects_unknown_names_and_keys():
    with pytest.raises(ValueError, match="DiT-XL/2-skip"):
        create_model("DiT-XXL")
    with pytest.raises(ValueError, match="num_frames"):  # the message lists the valid keys
        create_model("Latte-S/4-digits", dept=4)
    with pytest.raises(ValueError, match="unknown override"):
        create_model("DiT-S/4-digits", num_frames=4)


@pytest.mark.parametrize("channels,size,patch", [(1, 16, 4), (3, 16, 4), (4, 8, 2)])
def test_patch_embed_is_its_strided_convolution(channels, size, patch):
    """The matmul over flattened patches gives what timm's convolution `proj` gives, token by token."""
    torch.manual_seed(0)
    embed = PatchEmbed(size, patch, channels, 24)
    torch.nn.init.normal_(embed.proj.bias)
    x = torch.randn(5, channels, size, size)
    conv = embed.proj(x).flatten(2).transpose(1, 2)  # (N, T, D), tokens row-major
    out = embed(x)
    assert out.shape == (5, (size // patch) ** 2, 24) and out.is_contiguous()
    torch.testing.assert_close(out, conv, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dim", [256, 7])
def test_timestep_features_are_glides_sinusoids(dim):
    """Cosines then sines of t * exp(-log(10000) k / half), with the odd dimension zero-padded; the frequencies are
    made once and kept, also when the first call runs under inference mode."""
    t = torch.tensor([0, 3, 999])
    sinusoid_frequencies.cache_clear()  # so that the call below is the first one
    with torch.inference_mode():
        first = TimestepEmbedder.timestep_embedding(t, dim)
    half = dim // 2
    args = t[:, None].double() * torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
    expected = torch.cat([args.cos(), args.sin()] + ([torch.zeros(3, 1, dtype=torch.float64)] if dim % 2 else []), 1)
    assert first.shape == (3, dim) and torch.allclose(first.double(), expected, atol=1e-4)
    kept = sinusoid_frequencies(half, 10000, t.device)
    assert not kept.is_inference() and sinusoid_frequencies(half, 10000, t.device) is kept
    embedder = TimestepEmbedder(8)
    embedder(t).sum().backward()  # the kept frequencies work in training too
    assert embedder.mlp[0].weight.grad is not None


def test_patch_embed_rejects_the_wrong_channels():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        PatchEmbed(16, 4, 3, 24)(torch.randn(2, 1, 16, 16))


def test_swap_frames_and_tokens_is_the_einops_pattern_and_its_own_inverse():
    from einops import rearrange

    from skipdit_lib.models.latte import swap_frames_and_tokens

    h = torch.randn(2 * 3, 5, 4)  # (B*F, T, D) with B=2, F=3
    swapped = swap_frames_and_tokens(h, 2)
    assert torch.equal(swapped, rearrange(h, "(b f) t d -> (b t) f d", b=2))  # (B*T, F, D)
    assert torch.equal(swap_frames_and_tokens(swapped, 2), h)
