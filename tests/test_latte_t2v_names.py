"""The authors' text-to-video checkpoint names (diffusers LatteT2V_skip) load strictly into our Latte and
give the authors' outputs.

`AuthorsLatteT2V` below is written for this test from the authors' text-to-video/models/latte_t2v_skip.py
and diffusers 0.24 (BasicTransformerBlock with ada_norm_single, Attention, FeedForward "gelu-approximate",
CaptionProjection, AdaLayerNormSingle, PatchEmbed), in their module names, with their computation order:
separate q/k/v and explicit softmax, the caption mask as a -10000 bias, the final table at the top level,
inputs and outputs (B, C, F, H, W). Nothing of skipdit_lib is used inside it.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from caching_fixtures import randomize
from einops import rearrange, repeat
from torch import nn

from skipdit_lib.diffusion import create_diffusion, sample_ddim
from skipdit_lib.models import create_model, load_checkpoint
from skipdit_lib.models.latte_t2v_names import export_latte_t2v, from_latte_t2v, name_map, to_latte_t2v

DIM, HEADS, CAPTION, TOKENS = 32, 2, 24, 6


def _sincos(dim: int, positions: np.ndarray) -> np.ndarray:
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    out = np.einsum("m,d->md", positions.reshape(-1).astype(np.float64), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def _pos_embed_2d(dim: int, grid: int, sample_size: int, patch: int) -> torch.Tensor:
    """diffusers get_2d_sincos_pos_embed(dim, grid, base_size=sample_size // patch, interpolation_scale)."""
    scale = max(sample_size // 64, 1)
    axis = np.arange(grid, dtype=np.float32) / (grid / (sample_size // patch)) / scale
    w, h = np.meshgrid(axis, axis)
    emb = np.concatenate([_sincos(dim // 2, w), _sincos(dim // 2, h)], axis=1)
    return torch.from_numpy(emb).float().unsqueeze(0)


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.to_q, self.to_k, self.to_v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim), nn.Dropout(0.0)])

    def forward(self, x, context=None, bias=None):
        context = x if context is None else context
        q, k, v = (rearrange(f(z), "b n (h d) -> b h n d", h=self.heads)
                   for f, z in ((self.to_q, x), (self.to_k, context), (self.to_v, context)))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        if bias is not None:
            scores = scores + bias[:, None]  # (b, 1, 1, S)
        return self.to_out[0](rearrange(scores.softmax(-1) @ v, "b h n d -> b n (h d)"))


class _GeluProj(nn.Module):
    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.proj = nn.Linear(dim, inner)

    def forward(self, x):
        return F.gelu(self.proj(x), approximate="tanh")


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, cross: bool):
        super().__init__()
        self.attn1 = _Attention(dim, heads)
        self.attn2 = _Attention(dim, heads) if cross else None
        self.ff = nn.Module()
        self.ff.net = nn.ModuleList([_GeluProj(dim, 4 * dim), nn.Dropout(0.0), nn.Linear(4 * dim, dim)])
        self.scale_shift_table = nn.Parameter(torch.randn(6, dim) / dim ** 0.5)

    def forward(self, x, t6, context=None, bias=None):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = (
            self.scale_shift_table[None] + t6.reshape(x.shape[0], 6, -1)).chunk(6, dim=1)
        norm = F.layer_norm(x, x.shape[-1:], eps=1e-6) * (1 + scale_msa) + shift_msa
        x = gate_msa * self.attn1(norm) + x
        if self.attn2 is not None:  # PixArt / ada_norm_single: no norm before the cross-attention
            x = self.attn2(x, context, bias) + x
        norm = F.layer_norm(x, x.shape[-1:], eps=1e-6) * (1 + scale_mlp) + shift_mlp
        h = norm
        for layer in self.ff.net:
            h = layer(h)
        return gate_mlp * h + x


class AuthorsLatteT2V(nn.Module):
    """LatteT2V(_skip) in the authors' names: `pairs` spatial + temporal blocks, `skip` long skips."""

    def __init__(self, pairs: int = 4, skip: bool = True, sample_size: int = 8, patch: int = 2, channels: int = 3,
                 frames: int = 4):
        super().__init__()
        self.patch, self.channels, self.frames, self.skip = patch, channels, frames, skip
        self.pos_embed = nn.Module()
        self.pos_embed.proj = nn.Conv2d(channels, DIM, patch, stride=patch)
        grid = sample_size // patch
        self.pos_embed.register_buffer("pos_embed", _pos_embed_2d(DIM, grid, sample_size, patch), persistent=False)
        self.transformer_blocks = nn.ModuleList(_Block(DIM, HEADS, True) for _ in range(pairs))
        self.temporal_transformer_blocks = nn.ModuleList(_Block(DIM, HEADS, False) for _ in range(pairs))
        if skip:
            self.skip_norms = nn.ModuleList(nn.LayerNorm(2 * DIM, eps=1e-6) for _ in range(pairs // 2))
            self.skip_linears = nn.ModuleList(nn.Module() for _ in range(pairs // 2))
            for m in self.skip_linears:
                m.linear = nn.Linear(2 * DIM, DIM)
        self.scale_shift_table = nn.Parameter(torch.randn(2, DIM) / DIM ** 0.5)
        self.proj_out = nn.Linear(DIM, patch * patch * 2 * channels)
        self.adaln_single = nn.Module()
        self.adaln_single.emb = nn.Module()
        self.adaln_single.emb.timestep_embedder = nn.Module()
        self.adaln_single.emb.timestep_embedder.linear_1 = nn.Linear(256, DIM)
        self.adaln_single.emb.timestep_embedder.linear_2 = nn.Linear(DIM, DIM)
        self.adaln_single.linear = nn.Linear(DIM, 6 * DIM)
        self.caption_projection = nn.Module()
        self.caption_projection.linear_1 = nn.Linear(CAPTION, DIM)
        self.caption_projection.linear_2 = nn.Linear(DIM, DIM)
        self.caption_projection.register_buffer("y_embedding", torch.randn(TOKENS, CAPTION) / CAPTION ** 0.5)
        self.register_buffer("temp_pos_embed", torch.from_numpy(_sincos(DIM, np.arange(frames))).float()[None],
                             persistent=False)

    def timestep(self, t):
        half = 128  # diffusers Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
        args = t[:, None].float() * freqs[None]
        proj = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        emb = self.adaln_single.emb.timestep_embedder
        return emb.linear_2(F.silu(emb.linear_1(proj)))

    def forward(self, x, t, captions, mask):
        b, _, f, h, w = x.shape
        x = rearrange(x, "b c f h w -> (b f) c h w")
        bias = repeat((1 - mask.float()) * -10000.0, "b l -> (b f) 1 l", f=f)
        x = self.pos_embed.proj(x).flatten(2).transpose(1, 2) + self.pos_embed.pos_embed
        patches = x.shape[1]
        temb = self.timestep(t)
        t6 = self.adaln_single.linear(F.silu(temb))
        cp = self.caption_projection
        context = cp.linear_2(F.gelu(cp.linear_1(captions), approximate="tanh"))
        context = repeat(context, "b t d -> (b f) t d", f=f)
        t_spatial, t_temporal = repeat(t6, "b d -> (b f) d", f=f), repeat(t6, "b d -> (b p) d", p=patches)
        half, skips = len(self.transformer_blocks) // 2, []
        for i, (spatial, temporal) in enumerate(zip(self.transformer_blocks, self.temporal_transformer_blocks)):
            if self.skip and i >= half:
                cat = self.skip_norms[i - half](torch.cat([x, skips.pop()], dim=-1))
                x = self.skip_linears[i - half].linear(cat)
            x = spatial(x, t_spatial, context, bias)
            x = rearrange(x, "(b f) t d -> (b t) f d", b=b)
            if i == 0 and f > 1:
                x = x + self.temp_pos_embed
            x = rearrange(temporal(x, t_temporal), "(b t) f d -> (b f) t d", b=b)
            if self.skip and i < half:
                skips.append(x)
        shift, scale = (self.scale_shift_table[None] + repeat(temb, "b d -> (b f) d", f=f)[:, None]).chunk(2, dim=1)
        x = self.proj_out(F.layer_norm(x, x.shape[-1:], eps=1e-6) * (1 + scale) + shift)
        g, p, c = h // self.patch, self.patch, 2 * self.channels
        x = torch.einsum("nhwpqc->nchpwq", x.reshape(-1, g, g, p, p, c)).reshape(-1, c, g * p, g * p)
        return rearrange(x, "(b f) c h w -> b c f h w", b=b)


def _ours(skip: bool = True, pairs: int = 4):
    return create_model("Latte-S/4-digits-t2v" + ("-skip" if skip else ""), depth=2 * pairs, hidden_size=DIM,
                        num_heads=HEADS, caption_dim=CAPTION, text_len=TOKENS, patch_size=2, input_size=8,
                        num_frames=4).eval()


def _inputs(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 4, 3, 8, 8, generator=gen)  # ours: (B, F, C, H, W)
    t = torch.tensor([999, 130])
    captions = torch.randn(2, TOKENS, CAPTION, generator=gen)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    return x, t, captions, mask


def _authors(skip: bool = True, seed: int = 0) -> AuthorsLatteT2V:
    torch.manual_seed(seed)
    model = AuthorsLatteT2V(skip=skip).eval()
    with torch.no_grad():  # every weight random, adaLN tables and gates included
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model


@pytest.mark.parametrize("skip", [True, False])
def test_the_authors_file_loads_strictly_and_gives_their_outputs(tmp_path, skip):
    authors, ours = _authors(skip), _ours(skip)
    path = tmp_path / "Latte-skip.pt"
    torch.save({"model": {k: v * 0 for k, v in authors.state_dict().items()}, "ema": authors.state_dict()}, path)
    load_checkpoint(ours, path)  # the "ema" entry, as the authors' loader takes
    x, t, captions, mask = _inputs()
    with torch.no_grad():
        expected = authors(rearrange(x, "b f c h w -> b c f h w"), t, captions, mask)  # (B, C, F, H, W)
        got = rearrange(ours(x, t, (captions, mask)), "b f c h w -> b c f h w")
    assert expected.abs().mean() > 0.1  # not a trivially zero output
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_every_tensor_is_used_once_and_what_does_not_fit_is_named():
    authors, ours = _authors(), _ours()
    state = authors.state_dict()
    converted = from_latte_t2v(state, ours)
    assert sorted(converted) == sorted(ours.state_dict())
    used = [t for _, theirs in name_map(4, 2) for t in theirs]
    assert sorted(used) == sorted(state) and len(used) == len(set(used))
    with pytest.raises(KeyError, match="unused.*extra.weight"):
        from_latte_t2v({**state, "extra.weight": torch.zeros(1)}, ours)
    with pytest.raises(KeyError, match=r"missing \(1\).*attn2.to_v.bias"):
        from_latte_t2v({k: v for k, v in state.items() if k != "transformer_blocks.1.attn2.to_v.bias"}, ours)
    with pytest.raises(KeyError, match="skip_norms.0.weight"):  # a skip file into a plain model
        from_latte_t2v(state, _ours(skip=False))
    with pytest.raises(TypeError, match="text-conditional Latte"):
        from_latte_t2v(state, create_model("Latte-S/4-digits", depth=8, hidden_size=DIM, num_heads=HEADS))


def test_ours_written_in_their_names_loads_into_their_model(tmp_path):
    ours = randomize(_ours())
    path = tmp_path / "ours-in-their-names.pt"
    export_latte_t2v(ours, path)
    authors = AuthorsLatteT2V().eval()
    authors.load_state_dict(torch.load(path, weights_only=True)["ema"], strict=True)
    x, t, captions, mask = _inputs(1)
    with torch.no_grad():
        torch.testing.assert_close(authors(rearrange(x, "b f c h w -> b c f h w"), t, captions, mask),
                                   rearrange(ours(x, t, (captions, mask)), "b f c h w -> b c f h w"),
                                   rtol=1e-4, atol=1e-5)
    back = from_latte_t2v(to_latte_t2v(ours), _ours())
    assert all(torch.equal(back[k], v) for k, v in ours.state_dict().items())
    with torch.no_grad():
        ours.temp_embed.add_(1.0)
    with pytest.raises(ValueError, match="temp_embed differs"):
        to_latte_t2v(ours)


def test_the_released_file_names_and_count_at_full_size():
    with torch.device("meta"):
        model = create_model("Latte-T2V-XL/2-skip")
    ours = model.state_dict()
    mapping = name_map(28, 14)
    theirs = {}
    for key, names in mapping:
        for name, part in zip(names, ours[key].chunk(len(names), dim=0)):
            theirs[name] = tuple(part.shape)
    # WAVE2.md section 2, from the authors' LatteT2V_skip built with diffusers 0.24 at the Latte-0 config.
    assert len(theirs) == 1024 and len(ours) == 746
    assert sorted({k for k, _ in mapping} | {"pos_embed", "temp_embed"}) == sorted(ours)
    assert theirs["adaln_single.linear.weight"] == (6912, 1152)
    assert theirs["caption_projection.y_embedding"] == (120, 4096)
    assert theirs["scale_shift_table"] == (2, 1152) and theirs["proj_out.weight"] == (32, 1152)
    assert theirs["transformer_blocks.0.attn1.to_q.weight"] == (1152, 1152)
    assert theirs["temporal_transformer_blocks.27.ff.net.2.bias"] == (1152,)
    assert theirs["skip_linears.13.linear.weight"] == (1152, 2304)
    assert "temporal_transformer_blocks.0.attn2.to_q.weight" not in theirs  # no cross-attention in time


def test_negative_prompt_replaces_the_null_caption_in_guidance():
    model = randomize(_ours())
    x, t, captions, mask = _inputs()
    null_tokens, null_mask = model.null_condition((captions, mask))
    assert torch.equal(null_tokens[0], model.y_embedder.y_embedding) and null_mask.all()
    empty = torch.randn(3, CAPTION)
    model.use_negative_prompt(empty)
    tokens, neg_mask = model.null_condition((captions, mask))
    assert torch.equal(tokens[:, :3], empty.expand(2, -1, -1)) and not tokens[:, 3:].any()
    assert neg_mask.tolist() == [[True, True, True, False, False, False]] * 2
    diffusion = create_diffusion("ddim5")
    noise = torch.randn(2, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    guided = sample_ddim(model, diffusion, noise.shape, (captions, mask), cfg_scale=4.0, noise=noise)
    model.use_negative_prompt(None)
    plain = sample_ddim(model, diffusion, noise.shape, (captions, mask), cfg_scale=4.0, noise=noise)
    assert not torch.allclose(guided, plain)
    with pytest.raises(ValueError, match="same length"):
        model.use_negative_prompt(torch.randn(TOKENS + 1, CAPTION))
        model.null_condition((captions, mask))
    with pytest.raises(ValueError, match=r"encoded tokens \(S, 24\)"):
        model.use_negative_prompt(torch.randn(3, 7))
