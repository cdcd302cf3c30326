"""Building blocks shared by the DiT, Latte and TextDiT families.

Module and parameter names follow the upstream code (DiT `models.py`, Latte `latte.py`,
PixArt-alpha, Hunyuan-DiT) so that released checkpoints load with `strict=True`.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN modulation with per-sample (N, D) shift and scale, broadcast over tokens."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)  # (N, T, D)


def t2i_modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """PixArt-alpha modulation where shift and scale are already (N, 1, D)."""
    return x * (1 + scale) + shift  # (N, T, D)


def approx_gelu() -> nn.Module:
    """The tanh-approximated GELU used by every DiT-style MLP."""
    return nn.GELU(approximate="tanh")


#################################################################################
#                    Fixed sine-cosine position embeddings                       #
#################################################################################

def sincos_1d(embed_dim: int, positions: np.ndarray) -> np.ndarray:
    """MAE-style 1-D sin-cos embedding (M, D) of positions (M,), computed in float64."""
    if embed_dim % 2:
        raise ValueError(f"embedding width must be even for sin-cos embeddings, got {embed_dim}")
    omega = 1.0 / 10000 ** (np.arange(embed_dim // 2, dtype=np.float64) / (embed_dim / 2.0))
    angles = np.einsum("m,d->md", positions.reshape(-1).astype(np.float64), omega)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def sincos_2d(embed_dim: int, grid_size: int, interpolation_scale: float = 1.0) -> torch.Tensor:
    """DiT's fixed 2-D sin-cos embedding (1, grid_size**2, D): first half rows, second half columns.

    `interpolation_scale` divides the positions (diffusers' PatchEmbed; 1 everywhere but the authors'
    text-to-video Latte at 1024px)."""
    positions = np.arange(grid_size, dtype=np.float32) / np.float32(interpolation_scale)  # (G,)
    grid_w, grid_h = np.meshgrid(positions, positions)  # w goes first, as upstream
    emb_h = sincos_1d(embed_dim // 2, grid_w)  # upstream encodes grid[0] (the w grid) first
    emb_w = sincos_1d(embed_dim // 2, grid_h)
    return torch.from_numpy(np.concatenate([emb_h, emb_w], axis=1)).float().unsqueeze(0)


def sincos_temporal(embed_dim: int, num_frames: int) -> torch.Tensor:
    """Latte's fixed 1-D temporal embedding (1, F, D)."""
    return torch.from_numpy(sincos_1d(embed_dim, np.arange(num_frames))).float().unsqueeze(0)


#################################################################################
#                      Embedding layers (timesteps, labels, text)                 #
#################################################################################

class PatchEmbed(nn.Module):
    """Image to patch tokens: timm's PatchEmbed (a `proj` convolution with kernel = stride = patch size, its
    weights and names kept), computed as one matmul over the flattened patches: the same sums, and on a CPU a
    fraction of the convolution's time (16 frames of 16x16 at patch 4: 53 -> 19 us; 16 latents of 32x32x4 at
    patch 2, width 1152: 6.2 -> 1.3 ms), which a cached step, running little else, feels most."""

    def __init__(self, input_size: int, patch_size: int, in_channels: int, hidden_size: int):
        super().__init__()
        if input_size % patch_size:
            raise ValueError(f"input_size {input_size} must be a multiple of patch_size {patch_size}")
        self.input_size, self.patch_size = input_size, patch_size
        self.grid_size = input_size // patch_size
        self.num_patches = self.grid_size ** 2
        self.proj = nn.Conv2d(in_channels, hidden_size, patch_size, stride=patch_size, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            raise ValueError(f"expected {self.input_size}x{self.input_size} inputs, got {tuple(x.shape)}")
        if x.ndim != 4 or x.shape[1] != self.proj.in_channels:
            raise ValueError(f"expected (N, {self.proj.in_channels}, H, W) inputs, got {tuple(x.shape)}")
        n, c, p, g = x.shape[0], x.shape[1], self.patch_size, self.grid_size
        # row-major patches, channels then rows then columns inside each: the layout of the kernel's weights
        patches = x.reshape(n, c, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(n, g * g, c * p * p)  # (N, T, C*p*p)
        # contiguous (N, T, D) out: a transposed view would make every later residual add a strided kernel
        return F.linear(patches, self.proj.weight.reshape(self.proj.out_channels, -1), self.proj.bias)  # (N, T, D)


@functools.lru_cache(maxsize=16)
def sinusoid_frequencies(half: int, max_period: float, device: torch.device) -> torch.Tensor:
    """exp(-log(max_period) * k / half) for k < half, float32 on `device`: made once per (half, max_period,
    device) and kept, as the timestep embedding of every model call (cached steps too) needs them. Made outside
    inference mode, so that a first call under `torch.inference_mode` does not leave an inference tensor behind."""
    with torch.inference_mode(False):
        return torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half).to(device)


class TimestepEmbedder(nn.Module):
    """Sinusoidal timestep features followed by a two-layer MLP (`mlp.0`, `mlp.2`)."""

    def __init__(self, hidden_size: int, frequency_embedding_size: int = 256):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(frequency_embedding_size, hidden_size), nn.SiLU(),
                                 nn.Linear(hidden_size, hidden_size))
        self.frequency_embedding_size = frequency_embedding_size

    @staticmethod
    def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000) -> torch.Tensor:
        """GLIDE sinusoidal features (N, dim): cosines first, then sines."""
        args = t[:, None].float() * sinusoid_frequencies(dim // 2, max_period, t.device)[None]  # (N, half)
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (N, 2*half)
        if dim % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)  # (N, dim)
        return emb

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        t_freq = self.timestep_embedding(t, self.frequency_embedding_size)  # (N, 256)
        return self.mlp(t_freq.to(self.mlp[0].weight.dtype))  # (N, D)


class LabelEmbedder(nn.Module):
    """Class-label table with one extra "null" row used for classifier-free guidance."""

    def __init__(self, num_classes: int, hidden_size: int, dropout_prob: float):
        super().__init__()
        self.embedding_table = nn.Embedding(num_classes + int(dropout_prob > 0), hidden_size)
        self.num_classes, self.dropout_prob = num_classes, dropout_prob

    def forward(self, labels: torch.Tensor, train: bool) -> torch.Tensor:
        if train and self.dropout_prob > 0:  # Paper: label dropout as in DiT training
            drop = torch.rand(labels.shape[0], device=labels.device) < self.dropout_prob  # (N,)
            labels = torch.where(drop, self.num_classes, labels)  # (N,)
        return self.embedding_table(labels)  # (N, D)


class Mlp(nn.Module):
    """Two-layer MLP with tanh-GELU (timm's Mlp names `fc1`, `fc2`)."""

    def __init__(self, in_features: int, hidden_features: int, out_features: Optional[int] = None):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = approx_gelu()
        self.fc2 = nn.Linear(hidden_features, out_features or in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))  # (N, T, D_out)


class CaptionEmbedder(nn.Module):
    """PixArt-alpha caption projection (`y_proj`) plus a fixed null caption (`y_embedding`)."""

    def __init__(self, caption_dim: int, hidden_size: int, text_len: int, dropout_prob: float):
        super().__init__()
        self.y_proj = Mlp(caption_dim, hidden_size, hidden_size)
        # PixArt registers the null caption as a (persistent) buffer: fixed, not trained.
        self.register_buffer("y_embedding", torch.randn(text_len, caption_dim) / caption_dim ** 0.5)
        self.dropout_prob = dropout_prob

    def null_tokens(self, batch: int, length: int) -> torch.Tensor:
        """The null caption (N, S, E) used for dropped captions and the CFG branch."""
        if length > self.y_embedding.shape[0]:
            raise ValueError(f"captions have {length} tokens but the model's text_len is "
                             f"{self.y_embedding.shape[0]}; build it with a larger text_len")
        return self.y_embedding[:length].unsqueeze(0).expand(batch, -1, -1)  # (N, S, E)

    def drop(self, tokens: torch.Tensor, train: bool) -> torch.Tensor:
        """Captions (N, S, E) with the null caption in place of a random `dropout_prob` share when training."""
        if train and self.dropout_prob > 0:  # Paper: caption dropout as in PixArt-alpha training
            drop = torch.rand(tokens.shape[0], device=tokens.device) < self.dropout_prob  # (N,)
            null = self.null_tokens(tokens.shape[0], tokens.shape[1]).to(tokens.dtype)  # (N, S, E)
            tokens = torch.where(drop[:, None, None], null, tokens)  # (N, S, E)
        return tokens

    def forward(self, tokens: torch.Tensor, train: bool) -> torch.Tensor:
        return self.y_proj(self.drop(tokens, train))  # (N, S, D)


def masked_mean(tokens: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """Mean (N, E) of the tokens (N, S, E) the mask (N, S) keeps (all of them without a mask)."""
    if mask is None:
        return tokens.mean(dim=1)  # (N, E)
    weights = mask.to(tokens.dtype).unsqueeze(-1)  # (N, S, 1)
    return (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)  # (N, E)


def split_text_condition(y: Any) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Token embeddings (N, S, E) and key mask (N, S) from a tensor or a (tokens, mask) pair."""
    if isinstance(y, torch.Tensor):
        return y, None
    if isinstance(y, (tuple, list)) and len(y) == 2:
        tokens, mask = y
        return tokens, (None if mask is None else mask.bool())
    raise TypeError("a text condition must be token embeddings (N, S, E) or a pair "
                    f"(tokens (N, S, E), mask (N, S)); got {type(y).__name__}")


#################################################################################
#                                 Attention                                      #
#################################################################################

class Attention(nn.Module):
    """Multi-head self-attention with fused `qkv` and output `proj` (timm / Latte names)."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"hidden_size {dim} must be divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.num_heads, d // self.num_heads)  # (N, T, 3, H, d)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (N, H, T, d)
        x = F.scaled_dot_product_attention(q, k, v)  # (N, H, T, d)
        return self.proj(x.transpose(1, 2).reshape(n, t, d))  # (N, T, D)


class CrossAttention(nn.Module):
    """PixArt-alpha cross-attention from image tokens to caption tokens with a key mask."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"hidden_size {dim} must be divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.q_linear = nn.Linear(dim, dim)
        self.kv_linear = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        n, t, d = x.shape
        heads, s = self.num_heads, tokens.shape[1]
        q = self.q_linear(x).reshape(n, t, heads, d // heads).transpose(1, 2)  # (N, H, T, d)
        kv = self.kv_linear(tokens).reshape(n, s, 2, heads, d // heads)  # (N, S, 2, H, d)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # 2 x (N, H, S, d)
        attn_mask = None if mask is None else mask[:, None, None, :]  # (N, 1, 1, S) True = attend
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (N, H, T, d)
        return self.proj(x.transpose(1, 2).reshape(n, t, d))  # (N, T, D)


#################################################################################
#                                Transformer blocks                              #
#################################################################################

class AdaLNBlock(nn.Module):
    """DiT / Latte block with adaLN-Zero conditioning on a per-sample vector c (N, D)."""

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        mods = self.adaLN_modulation(c).chunk(6, dim=1)  # 6 x (N, D)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mods
        # x + gate * branch as one fused op: on a step that reuses the branches (FORA) this is most of the block
        x = torch.addcmul(x, gate_msa.unsqueeze(1), self.attn_branch(x, shift_msa, scale_msa))  # (N, T, D)
        x = torch.addcmul(x, gate_mlp.unsqueeze(1), self.mlp_branch(x, shift_mlp, scale_mlp))  # (N, T, D)
        return x

    def attn_branch(self, x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """Attention on the normalised, modulated input, before its gate: what FORA reuses (a reused branch
        skips its norm and modulation too)."""
        return self.attn(modulate(self.norm1(x), shift, scale))  # (N, T, D)

    def mlp_branch(self, x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """MLP on the normalised, modulated input, before its gate."""
        return self.mlp(modulate(self.norm2(x), shift, scale))  # (N, T, D)

    def modulated_input(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """What the attention sees: norm1(x) modulated by the first shift and scale (TeaCache's signal)."""
        shift_msa, scale_msa = self.adaLN_modulation(c).chunk(6, dim=1)[:2]  # 2 x (N, D)
        return modulate(self.norm1(x), shift_msa, scale_msa)  # (N, T, D)


class AdaLNSingleBlock(nn.Module):
    """PixArt-alpha block: adaLN-single (shared t_block + per-block `scale_shift_table`),
    optional cross-attention to caption tokens, optional Hunyuan-DiT long-skip modules."""

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float = 4.0,
                 cross_attention: bool = True, native_skip: bool = False):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads)
        self.cross_attn = CrossAttention(hidden_size, num_heads) if cross_attention else None
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        self.scale_shift_table = nn.Parameter(torch.randn(6, hidden_size) / hidden_size ** 0.5)
        if native_skip:  # Paper: Hunyuan-DiT keeps its long-skip modules inside the block
            self.skip_norm = FP32LayerNorm(2 * hidden_size, elementwise_affine=True, eps=1e-6)
            self.skip_linear = nn.Linear(2 * hidden_size, hidden_size)

    def forward(self, x: torch.Tensor, t6: torch.Tensor, tokens: Optional[torch.Tensor] = None,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        n = x.shape[0]
        mods = (self.scale_shift_table[None] + t6.reshape(n, 6, -1)).chunk(6, dim=1)  # 6 x (N, 1, D)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mods
        x = torch.addcmul(x, gate_msa, self.attn_branch(x, shift_msa, scale_msa))  # (N, T, D): x + gate * branch
        if self.cross_attn is not None:
            x = x + self.cross_attn(x, tokens, mask)  # (N, T, D)
        x = torch.addcmul(x, gate_mlp, self.mlp_branch(x, shift_mlp, scale_mlp))  # (N, T, D)
        return x

    def attn_branch(self, x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """Self-attention on the normalised, modulated input, before its gate (what FORA reuses)."""
        return self.attn(t2i_modulate(self.norm1(x), shift, scale))  # (N, T, D)

    def mlp_branch(self, x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """MLP on the normalised, modulated input, before its gate."""
        return self.mlp(t2i_modulate(self.norm2(x), shift, scale))  # (N, T, D)

    def modulated_input(self, x: torch.Tensor, t6: torch.Tensor) -> torch.Tensor:
        """What the attention sees: norm1(x) modulated by the first shift and scale (TeaCache's signal)."""
        table = self.scale_shift_table[None] + t6.reshape(x.shape[0], 6, -1)  # (N, 6, D)
        return t2i_modulate(self.norm1(x), table[:, 0:1], table[:, 1:2])  # (N, T, D)


class FinalLayer(nn.Module):
    """DiT's final adaLN layer: modulate, then project each token to a patch."""

    def __init__(self, hidden_size: int, patch_size: int, out_channels: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)  # 2 x (N, D)
        return self.linear(modulate(self.norm_final(x), shift, scale))  # (N, T, p*p*C_out)


class T2IFinalLayer(nn.Module):
    """PixArt-alpha final layer: modulation from a learned table plus the timestep embedding."""

    def __init__(self, hidden_size: int, patch_size: int, out_channels: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels)
        self.scale_shift_table = nn.Parameter(torch.randn(2, hidden_size) / hidden_size ** 0.5)

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        shift, scale = (self.scale_shift_table[None] + t_emb[:, None]).chunk(2, dim=1)  # 2 x (N, 1, D)
        return self.linear(t2i_modulate(self.norm_final(x), shift, scale))  # (N, T, p*p*C_out)


#################################################################################
#                               Long-skip fusion                                 #
#################################################################################

class FP32LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 whatever the input dtype (the official skip norm)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.weight.float(), self.bias.float()  # (2D,), (2D,)
        out = F.layer_norm(x.float(), self.normalized_shape, weight, bias, self.eps)  # (N, T, 2D)
        return out.to(x.dtype)  # (N, T, 2D)


class ResidualLinear(nn.Module):
    """The official skip projection 2D -> D; despite its name it REPLACES the stream (no residual)."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.linear = nn.Linear(2 * hidden_size, hidden_size)

    def forward(self, cat: torch.Tensor) -> torch.Tensor:
        return self.linear(cat)  # (N, T, D)


def fuse(h: torch.Tensor, skip: torch.Tensor, norm: nn.Module, linear: nn.Module) -> torch.Tensor:
    """Paper: x = Linear(LayerNorm(concat([x, skip]))), deep stream first; replaces x."""
    cat = torch.cat([h, skip], dim=-1)  # (N, T, 2D)
    return linear(norm(cat))  # (N, T, D)


def skip_modules(hidden_size: int, count: int) -> tuple[nn.ModuleList, nn.ModuleList]:
    """`skip_norms` and `skip_linears` lists with the official names and shapes."""
    norms = nn.ModuleList(FP32LayerNorm(2 * hidden_size, elementwise_affine=True, eps=1e-6)
                          for _ in range(count))
    linears = nn.ModuleList(ResidualLinear(hidden_size) for _ in range(count))
    return norms, linears


#################################################################################
#                    Hook points shared by every model family                    #
#################################################################################

@dataclass
class UnitContext:
    """What the units and the head need besides the token stream.

    `c` conditions the (first) block of each unit (for Latte it equals `c_spatial`);
    `c_spatial` / `c_temporal` those of a Latte pair; `c_final` the final layer; `tokens` / `mask`
    the projected caption tokens and key mask. `t` holds the ORIGINAL timesteps (N,)."""

    t: torch.Tensor
    y: Any
    c: Optional[torch.Tensor] = None
    c_spatial: Optional[torch.Tensor] = None
    c_temporal: Optional[torch.Tensor] = None
    c_final: Optional[torch.Tensor] = None
    tokens: Optional[torch.Tensor] = None
    mask: Optional[torch.Tensor] = None
    batch: int = 0
    frames: int = 1


class UnitModel(nn.Module):
    """Base class implementing `forward` through the hook points of skipdit_lib/README.md.

    Subclasses define `embed`, `run_unit`, `head`, `num_units`, `skip_map` ({consumer unit:
    source unit}) and `fuse_skip`."""

    skip_map: dict[int, int]

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: Any = None) -> torch.Tensor:
        """head(forward_units(*embed(x, t, y)))."""
        h, ctx = self.embed(x, t, y)  # (N', T, D)
        h = self.forward_units(h, ctx)  # (N', T, D)
        return self.head(h, ctx)  # same layout as x, C_out channels

    def forward_units(self, h: torch.Tensor, ctx: UnitContext) -> torch.Tensor:
        """Run every unit; with skips on, fuse each consumer's input with its source's output."""
        return run_units(self, h, ctx, range(self.num_units), {})  # (N', T, D)

    def modulated_input(self, h: torch.Tensor, ctx: UnitContext) -> torch.Tensor:
        """The first block's timestep-modulated input (for Latte the first spatial block's): TeaCache's signal."""
        return self.blocks[0].modulated_input(h, ctx.c)  # (N', T, D)

    def compile_blocks(self, **options: Any) -> "UnitModel":
        """Opt-in compiled path: `torch.compile` every transformer block in place (`options` go to it, e.g.
        mode="max-autotune"). The unit loop, the caches' decisions and the sampler stay eager Python, so full
        and cached steps alike run compiled blocks, and a cache attaches as before. Returns the model."""
        for block in self.blocks:
            block.compile(**options)
        return self

    def begin_sampling(self) -> None:
        """Called by the samplers at the start of every sampling run; a no-op here, an attached
        cache overrides it on the instance to reset its state (so diffusion/ never imports caching/)."""

    def unit_blocks(self, i: int) -> list[nn.Module]:
        """The transformer blocks unit `i` runs (one for DiT and TextDiT, the spatial and temporal pair for Latte)."""
        raise NotImplementedError(f"{type(self).__name__} must say which blocks each unit runs")

    def units_modules(self) -> list[dict[str, list[nn.Module]]]:
        """Per unit: {"attn": [...], "mlp": [...], "cross_attn": [...]} submodules to wrap."""
        return [self._block_modules(self.unit_blocks(i)) for i in range(self.num_units)]

    @staticmethod
    def _block_modules(blocks: list[nn.Module]) -> dict[str, list[nn.Module]]:
        """The attention, MLP and cross-attention submodules of some blocks."""
        cross = [b.cross_attn for b in blocks if getattr(b, "cross_attn", None) is not None]
        return {"attn": [b.attn for b in blocks], "mlp": [b.mlp for b in blocks], "cross_attn": cross}


def run_units(model: UnitModel, h: torch.Tensor, ctx: Any, units: range, saved: dict) -> torch.Tensor:
    """Run `units` in order with the model's skip wiring (`model.skip_map`, {consumer: source}):
    fuse before each consumer, keep each source's output in `saved` until its consumer takes it."""
    skip_map = model.skip_map
    sources = set(skip_map.values())
    for i in units:
        if i in skip_map:
            h = model.fuse_skip(i, h, saved.pop(skip_map[i]))  # (N', T, D) deep stream first, skip second
        h = model.run_unit(i, h, ctx)  # (N', T, D)
        if i in sources:
            saved[i] = h
    return h


def record_config(family: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The {"family", "kwargs"} config a model keeps so checkpoints can rebuild it."""
    return {"family": family, "kwargs": {k: v for k, v in arguments.items() if k not in ("self", "__class__")}}


def check_time_and_batch(x: torch.Tensor, t: torch.Tensor) -> None:
    """Raise a helpful error when t is not one timestep per sample."""
    if t.ndim != 1 or t.shape[0] != x.shape[0]:
        raise ValueError(f"t must be a (N,) tensor of timesteps with N={x.shape[0]}, got {tuple(t.shape)}")


def unpatchify(x: torch.Tensor, patch_size: int, channels: int) -> torch.Tensor:
    """Tokens (N, T, p*p*C) back to images (N, C, H, W) for a square grid."""
    n, t, _ = x.shape
    g = int(round(t ** 0.5))
    x = x.reshape(n, g, g, patch_size, patch_size, channels)  # (N, h, w, p, p, C)
    x = torch.einsum("nhwpqc->nchpwq", x)  # (N, C, h, p, w, p)
    return x.reshape(n, channels, g * patch_size, g * patch_size)  # (N, C, H, W)


def init_linear_xavier(module: nn.Module) -> None:
    """DiT's basic init: xavier-uniform weights and zero biases for every nn.Linear."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def init_patch_embed(embedder: PatchEmbed) -> None:
    """Initialise the patch convolution like an nn.Linear, as DiT does."""
    w = embedder.proj.weight.data
    nn.init.xavier_uniform_(w.view(w.shape[0], -1))
    nn.init.zeros_(embedder.proj.bias)


def zero_(*modules: nn.Module) -> None:
    """Zero the weight and bias of each given linear layer."""
    for m in modules:
        nn.init.zeros_(m.weight)
        nn.init.zeros_(m.bias)
