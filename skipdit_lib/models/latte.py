"""Latte (video) with alternating spatial / temporal blocks and optional Skip-DiT long skips.

Conditioning variants (one class):
- class-conditional (`num_classes > 0`, official `extras=2`): adaLN-Zero on t_emb + y_emb;
- unconditional (`num_classes == 0`, official `extras=1`): adaLN-Zero on t_emb, y ignored;
- text-conditional (`caption_dim > 0`): PixArt-alpha style as in LatteT2V (adaLN-single,
  caption projection, cross-attention in the spatial blocks only).
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from einops import rearrange, repeat
from torch import nn

from .layers import (
    AdaLNBlock,
    AdaLNSingleBlock,
    CaptionEmbedder,
    FinalLayer,
    LabelEmbedder,
    PatchEmbed,
    T2IFinalLayer,
    TimestepEmbedder,
    UnitContext,
    UnitModel,
    check_time_and_batch,
    fuse,
    init_linear_xavier,
    init_patch_embed,
    record_config,
    sincos_2d,
    sincos_temporal,
    skip_modules,
    split_text_condition,
    unpatchify,
    zero_,
)


class Latte(UnitModel):
    """Latte video DiT; `depth` counts sub-blocks (`blocks.{2p}` spatial, `blocks.{2p+1}` temporal)."""

    def __init__(self, input_size: int = 32, patch_size: int = 2, in_channels: int = 4,
                 hidden_size: int = 1152, depth: int = 28, num_heads: int = 16, mlp_ratio: float = 4.0,
                 num_frames: int = 16, class_dropout_prob: float = 0.1, num_classes: int = 0,
                 learn_sigma: bool = True, caption_dim: int = 0, text_len: int = 0,
                 skip: bool = False):
        arguments = dict(locals())
        super().__init__()
        self.config = record_config("Latte", arguments)
        self._check_args(depth, skip, num_classes, caption_dim, text_len)
        self.in_channels, self.patch_size, self.num_heads = in_channels, patch_size, num_heads
        self.out_channels = in_channels * 2 if learn_sigma else in_channels
        self.num_classes, self.num_frames, self.skip = num_classes, num_frames, skip
        self.text = caption_dim > 0
        self.negative_prompt: Optional[tuple[torch.Tensor, torch.Tensor]] = None  # see use_negative_prompt

        self.x_embedder = PatchEmbed(input_size, patch_size, in_channels, hidden_size)
        self.t_embedder = TimestepEmbedder(hidden_size)
        self._build_conditioning(hidden_size, num_classes, class_dropout_prob, caption_dim, text_len)
        if skip:  # created before the init, so (as in the official Latte_skip) they get xavier too
            self.skip_norms, self.skip_linears = skip_modules(hidden_size, depth // 4)
        self.pos_embed = nn.Parameter(torch.zeros(1, self.x_embedder.num_patches, hidden_size),
                                      requires_grad=False)
        self.temp_embed = nn.Parameter(torch.zeros(1, num_frames, hidden_size), requires_grad=False)
        self.blocks = nn.ModuleList(self._make_block(k, hidden_size, num_heads, mlp_ratio) for k in range(depth))
        final = T2IFinalLayer if self.text else FinalLayer
        self.final_layer = final(hidden_size, patch_size, self.out_channels)
        self.initialize_weights()
        pairs = depth // 2  # Paper: pair p < P/2 feeds pair P-1-p.
        self.skip_map = {pairs - 1 - p: p for p in range(pairs // 2)} if skip else {}

    @staticmethod
    def _check_args(depth: int, skip: bool, num_classes: int, caption_dim: int, text_len: int) -> None:
        if depth < 2 or depth % 2:
            raise ValueError(f"Latte depth counts spatial+temporal sub-blocks and must be even, got {depth}")
        if skip and depth % 4:
            raise ValueError(f"Latte with skip=True needs depth divisible by 4 (an even number of "
                             f"spatial+temporal pairs to join symmetrically), got {depth}")
        if num_classes > 0 and caption_dim > 0:
            raise ValueError("choose class conditioning (num_classes>0) or text (caption_dim>0), not both")
        if caption_dim > 0 and text_len <= 0:
            raise ValueError("text-conditional Latte needs text_len > 0 (tokens of the null caption)")

    def _build_conditioning(self, hidden_size: int, num_classes: int, dropout: float,
                            caption_dim: int, text_len: int) -> None:
        if num_classes > 0:
            self.y_embedder = LabelEmbedder(num_classes, hidden_size, dropout)
        if caption_dim > 0:  # PixArt-alpha / LatteT2V: adaLN-single and caption projection
            self.t_block = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))
            self.y_embedder = CaptionEmbedder(caption_dim, hidden_size, text_len, dropout)

    def _make_block(self, k: int, hidden_size: int, num_heads: int, mlp_ratio: float) -> nn.Module:
        if not self.text:
            return AdaLNBlock(hidden_size, num_heads, mlp_ratio)
        # LatteT2V: cross-attention to the caption only in the spatial blocks (even k).
        return AdaLNSingleBlock(hidden_size, num_heads, mlp_ratio, cross_attention=(k % 2 == 0))

    def initialize_weights(self) -> None:
        """Official Latte init: xavier Linear (skip linears included), sin-cos embeddings, zeroed adaLN/final."""
        self.apply(init_linear_xavier)
        self.pos_embed.data.copy_(sincos_2d(self.pos_embed.shape[-1], self.x_embedder.grid_size))
        self.temp_embed.data.copy_(sincos_temporal(self.temp_embed.shape[-1], self.temp_embed.shape[-2]))
        init_patch_embed(self.x_embedder)
        if self.num_classes > 0:
            nn.init.normal_(self.y_embedder.embedding_table.weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        if self.text:
            self._init_text_weights()
        else:
            for block in self.blocks:
                zero_(block.adaLN_modulation[-1])
            zero_(self.final_layer.adaLN_modulation[-1])
        zero_(self.final_layer.linear)

    def _init_text_weights(self) -> None:
        """PixArt-alpha init of t_block, caption projection and cross-attention output."""
        nn.init.normal_(self.t_block[1].weight, std=0.02)
        nn.init.normal_(self.y_embedder.y_proj.fc1.weight, std=0.02)
        nn.init.normal_(self.y_embedder.y_proj.fc2.weight, std=0.02)
        for block in self.blocks:
            if block.cross_attn is not None:
                zero_(block.cross_attn.proj)

    @property
    def num_units(self) -> int:
        """Units a cache can skip over: spatial+temporal pairs."""
        return len(self.blocks) // 2

    def embed(self, x: torch.Tensor, t: torch.Tensor, y: Any = None) -> tuple[torch.Tensor, UnitContext]:
        """Per-frame patch tokens and the spatial / temporal conditioning."""
        check_time_and_batch(x, t)
        if x.ndim != 5 or x.shape[1] != self.num_frames:
            raise ValueError(f"expected videos (N, {self.num_frames}, C, H, W), got {tuple(x.shape)}")
        b, f = x.shape[:2]
        h = self.x_embedder(rearrange(x, "b f c h w -> (b f) c h w")) + self.pos_embed  # (B*F, T, D)
        t_emb = self.t_embedder(t)  # (B, D)
        ctx = UnitContext(t=t, y=y, batch=b, frames=f)
        if self.text:
            self._text_context(ctx, t_emb, y, h.shape[1])
        else:
            self._adaln_context(ctx, t_emb, y, h.shape[1])
        return h, ctx

    def _adaln_context(self, ctx: UnitContext, t_emb: torch.Tensor, y: Any, tokens: int) -> None:
        c = t_emb  # (B, D)
        if self.num_classes > 0:
            if y is None:
                raise ValueError("this Latte is class-conditional: pass labels y (B,) or null_condition(y)")
            c = c + self.y_embedder(y, self.training)  # (B, D)
        ctx.c_spatial = repeat(c, "b d -> (b f) d", f=ctx.frames)  # (B*F, D)
        ctx.c_temporal = repeat(c, "b d -> (b t) d", t=tokens)  # (B*T, D)
        ctx.c_final = ctx.c = ctx.c_spatial  # (B*F, D); official: t + y when class-conditional

    def _text_context(self, ctx: UnitContext, t_emb: torch.Tensor, y: Any, tokens: int) -> None:
        if y is None:
            raise ValueError("this Latte is text-conditional: pass (tokens, mask) or null_condition(y)")
        caption, mask = split_text_condition(y)  # (B, S, E), (B, S)
        t6 = self.t_block(t_emb)  # (B, 6D)
        ctx.c_spatial = repeat(t6, "b d -> (b f) d", f=ctx.frames)  # (B*F, 6D)
        ctx.c_temporal = repeat(t6, "b d -> (b t) d", t=tokens)  # (B*T, 6D)
        ctx.c = ctx.c_spatial  # (B*F, 6D) the first block of a unit is spatial
        ctx.c_final = repeat(t_emb, "b d -> (b f) d", f=ctx.frames)  # (B*F, D)
        cap = self.y_embedder(caption, self.training)  # (B, S, D)
        ctx.tokens = repeat(cap, "b s d -> (b f) s d", f=ctx.frames)  # (B*F, S, D)
        ctx.mask = None if mask is None else repeat(mask, "b s -> (b f) s", f=ctx.frames)  # (B*F, S)

    def run_unit(self, i: int, h: torch.Tensor, ctx: UnitContext) -> torch.Tensor:
        """Pair i: spatial block 2i, temporal block 2i+1 (temporal embedding added in pair 0)."""
        spatial, temporal = self.blocks[2 * i], self.blocks[2 * i + 1]
        h = self._run_block(spatial, h, ctx.c_spatial, ctx)  # (B*F, T, D)
        h = swap_frames_and_tokens(h, ctx.batch)  # (B*T, F, D)
        if i == 0:
            h = h + self.temp_embed  # (B*T, F, D); Paper: temporal embedding after the first spatial block
        h = self._run_block(temporal, h, ctx.c_temporal, None)  # (B*T, F, D)
        return swap_frames_and_tokens(h, ctx.batch)  # (B*F, T, D)

    def _run_block(self, block: nn.Module, h: torch.Tensor, c: torch.Tensor,
                   ctx: Optional[UnitContext]) -> torch.Tensor:
        if self.text and ctx is not None:
            return block(h, c, ctx.tokens, ctx.mask)  # (B*F, T, D)
        return block(h, c)  # (B', L, D)

    def fuse_skip(self, i: int, h: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Fusion before pair i >= P/2 with skip_norms/skip_linears[i - P/2], before its spatial block."""
        j = i - self.num_units // 2
        return fuse(h, skip, self.skip_norms[j], self.skip_linears[j])  # (B*F, T, D)

    def head(self, h: torch.Tensor, ctx: UnitContext) -> torch.Tensor:
        """Final layer, unpatchify per frame, back to (B, F, C_out, H, W)."""
        h = self.final_layer(h, ctx.c_final)  # (B*F, T, p*p*C_out)
        h = unpatchify(h, self.patch_size, self.out_channels)  # (B*F, C_out, H, W)
        return rearrange(h, "(b f) c h w -> b f c h w", b=ctx.batch)  # (B, F, C_out, H, W)

    def use_negative_prompt(self, tokens: Optional[torch.Tensor], mask: Optional[torch.Tensor] = None) -> None:
        """Guide away from this encoded prompt (S, E) (mask (S,), True = a real token) instead of the null
        caption `y_embedding`; None goes back to the null caption. The authors' text-to-video pipeline uses
        the encoded empty prompt (T5("")); our captioned-digit models were trained with the null caption."""
        if not self.text:
            raise ValueError("a negative prompt needs a text-conditional Latte (caption_dim > 0)")
        if tokens is not None and (tokens.ndim != 2 or tokens.shape[1] != self.y_embedder.y_embedding.shape[1]):
            raise ValueError(f"the negative prompt must be encoded tokens (S, {self.y_embedder.y_embedding.shape[1]}), "
                             f"got {tuple(tokens.shape)}")
        if tokens is not None and mask is not None and tuple(mask.shape) != tokens.shape[:1]:
            raise ValueError(f"the negative prompt's mask must be ({tokens.shape[0]},), got {tuple(mask.shape)}")
        self.negative_prompt = None if tokens is None else (
            tokens.detach(), torch.ones(tokens.shape[0], dtype=torch.bool) if mask is None else mask.bool())

    def null_condition(self, y: Any) -> Any:
        """Null label / null caption (or the negative prompt) for CFG; None when unconditional."""
        if self.text:
            caption, _ = split_text_condition(y)
            n, s = caption.shape[:2]
            if self.negative_prompt is not None:
                return self._negative_condition(self.negative_prompt, n, s, caption)
            null = self.y_embedder.null_tokens(n, s).to(caption.dtype)  # (B, S, E)
            return null, torch.ones(n, s, dtype=torch.bool, device=caption.device)
        if self.num_classes == 0:
            return None
        if self.y_embedder.dropout_prob <= 0:
            raise ValueError("this Latte has no null class (class_dropout_prob=0): it cannot do CFG")
        return torch.full_like(y, self.num_classes)  # (B,)

    @staticmethod
    def _negative_condition(negative: tuple[torch.Tensor, torch.Tensor], n: int, s: int,
                            caption: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The negative prompt padded (masked out) to the captions' length s, repeated over the batch."""
        tokens, mask = negative  # (S', E), (S',)
        if tokens.shape[0] > s:
            raise ValueError(f"the negative prompt has {tokens.shape[0]} tokens, the captions {s}: encode both "
                             "to the same length")
        pad = s - tokens.shape[0]
        tokens = torch.cat([tokens, tokens.new_zeros(pad, tokens.shape[1])]).to(caption)  # (S, E)
        mask = torch.cat([mask, mask.new_zeros(pad)]).to(caption.device)  # (S,)
        return tokens.expand(n, -1, -1), mask.expand(n, -1)  # (B, S, E), (B, S)

    def attention_modules(self) -> list[tuple[str, str, nn.Module]]:
        """Every attention module as (name, kind, module); kinds spatial, temporal, cross."""
        out = []
        for k, block in enumerate(self.blocks):
            out.append((f"blocks.{k}.attn", "spatial" if k % 2 == 0 else "temporal", block.attn))
            if getattr(block, "cross_attn", None) is not None:
                out.append((f"blocks.{k}.cross_attn", "cross", block.cross_attn))
        return out

    def unit_blocks(self, i: int) -> list[nn.Module]:
        return [self.blocks[2 * i], self.blocks[2 * i + 1]]


def swap_frames_and_tokens(h: torch.Tensor, batch: int) -> torch.Tensor:
    """(B*F, T, D) -> (B*T, F, D) and back: einops' "(b f) t d -> (b t) f d" in plain view, transpose and
    reshape, which skip its pattern handling (this runs twice per pair on every step, cached or not)."""
    rows, length, dim = h.shape
    return h.view(batch, rows // batch, length, dim).transpose(1, 2).reshape(batch * length, rows // batch, dim)
