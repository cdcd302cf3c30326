"""TextDiT: a text-to-image DiT with PixArt-alpha conditioning and Hunyuan-DiT native long skips.

Conditioning (PixArt-alpha): adaLN-single (one `t_block` shared by all blocks, a learned
`scale_shift_table` per block), a caption projection of sentence-encoder token embeddings
(E=384 for MiniLM), and cross-attention to those tokens with a key mask.
Long skips (Hunyuan-DiT): block k > depth/2 owns `blocks.{k}.skip_norm|skip_linear` and takes the
output of block depth-1-k; the two middle blocks have no branch. `prediction="v"` makes the output
a v-prediction, as Hunyuan-DiT's (the diffusion reads `model.prediction`); `pooled_caption=True`
adds the masked mean of the caption tokens (MiniLM's own sentence embedding) to the timestep
embedding, as Hunyuan-DiT adds its pooled T5 vector.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..diffusion.gaussian_diffusion import PREDICTIONS
from .layers import (
    AdaLNSingleBlock,
    CaptionEmbedder,
    Mlp,
    PatchEmbed,
    T2IFinalLayer,
    TimestepEmbedder,
    UnitContext,
    UnitModel,
    check_time_and_batch,
    fuse,
    init_linear_xavier,
    init_patch_embed,
    masked_mean,
    record_config,
    sincos_2d,
    split_text_condition,
    unpatchify,
    zero_,
)


class TextDiT(UnitModel):
    """Text-to-image DiT; `skip=True` (default) keeps the native Hunyuan-DiT long skips."""

    def __init__(self, input_size: int = 32, patch_size: int = 2, in_channels: int = 4,
                 hidden_size: int = 1152, depth: int = 28, num_heads: int = 16, mlp_ratio: float = 4.0,
                 caption_dim: int = 384, text_len: int = 32, class_dropout_prob: float = 0.1,
                 learn_sigma: bool = True, skip: bool = True, prediction: str = "eps", pooled_caption: bool = False):
        arguments = dict(locals())
        super().__init__()
        self.config = record_config("TextDiT", arguments)
        if depth < 2 or depth % 2:
            raise ValueError(f"depth must be an even number >= 2 (blocks pair up around the middle), got {depth}")
        if caption_dim <= 0 or text_len <= 0:
            raise ValueError("TextDiT needs caption_dim > 0 (e.g. 384 for MiniLM) and text_len > 0")
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS} (what the output predicts), got {prediction!r}")
        self.in_channels, self.patch_size, self.num_heads = in_channels, patch_size, num_heads
        self.out_channels = in_channels * 2 if learn_sigma else in_channels
        self.skip = skip
        self.prediction = prediction  # Paper: Hunyuan-DiT predicts v; samplers and training read this

        self.x_embedder = PatchEmbed(input_size, patch_size, in_channels, hidden_size)
        self.t_embedder = TimestepEmbedder(hidden_size)
        self.t_block = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))
        self.y_embedder = CaptionEmbedder(caption_dim, hidden_size, text_len, class_dropout_prob)
        # Paper: Hunyuan-DiT adds a pooled text vector to the timestep embedding (`extra_embedder`); PixArt does not.
        self.pool_embedder = Mlp(caption_dim, hidden_size, hidden_size) if pooled_caption else None
        self.pos_embed = nn.Parameter(torch.zeros(1, self.x_embedder.num_patches, hidden_size),
                                      requires_grad=False)
        # Hunyuan-DiT: block `layer` has skip modules iff layer > depth // 2.
        self.blocks = nn.ModuleList(
            AdaLNSingleBlock(hidden_size, num_heads, mlp_ratio, cross_attention=True,
                             native_skip=skip and k > depth // 2) for k in range(depth))
        self.final_layer = T2IFinalLayer(hidden_size, patch_size, self.out_channels)
        self.initialize_weights()
        # Hunyuan-DiT: blocks k < depth/2 - 1 push their output; block depth-1-k pops it.
        self.skip_map = {depth - 1 - k: k for k in range(depth // 2 - 1)} if skip else {}

    def initialize_weights(self) -> None:
        """PixArt-alpha / Hunyuan-DiT init: xavier Linear (skip linears included, as in Hunyuan-DiT)."""
        self.apply(init_linear_xavier)
        self.pos_embed.data.copy_(sincos_2d(self.pos_embed.shape[-1], self.x_embedder.grid_size))
        init_patch_embed(self.x_embedder)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        nn.init.normal_(self.t_block[1].weight, std=0.02)
        nn.init.normal_(self.y_embedder.y_proj.fc1.weight, std=0.02)
        nn.init.normal_(self.y_embedder.y_proj.fc2.weight, std=0.02)
        if self.pool_embedder is not None:
            nn.init.normal_(self.pool_embedder.fc1.weight, std=0.02)
            nn.init.normal_(self.pool_embedder.fc2.weight, std=0.02)
        for block in self.blocks:
            zero_(block.cross_attn.proj)
        zero_(self.final_layer.linear)

    @property
    def num_units(self) -> int:
        """Units a cache can skip over: the transformer blocks."""
        return len(self.blocks)

    def embed(self, x: torch.Tensor, t: torch.Tensor, y: Any = None) -> tuple[torch.Tensor, UnitContext]:
        """Patch tokens, adaLN-single vector and projected caption tokens."""
        check_time_and_batch(x, t)
        if y is None:
            raise ValueError("TextDiT is text-conditional: pass (tokens, mask) or null_condition(y)")
        caption, mask = split_text_condition(y)  # (N, S, E), (N, S)
        if mask is not None and not bool(mask.any(dim=1).all()):
            raise ValueError("every caption mask needs at least one True (attended) token")
        h = self.x_embedder(x) + self.pos_embed  # (N, T, D)
        c = self.t_embedder(t)  # (N, D)
        caption = self.y_embedder.drop(caption, self.training)  # (N, S, E) null caption where dropped
        if self.pool_embedder is not None:  # Hunyuan-DiT: c = t + extra_embedder(pooled text)
            c = c + self.pool_embedder(masked_mean(caption, mask))  # (N, D)
        t6 = self.t_block(c)  # (N, 6D)
        tokens = self.y_embedder.y_proj(caption)  # (N, S, D)
        return h, UnitContext(t=t, y=y, c=t6, c_final=c, tokens=tokens, mask=mask, batch=x.shape[0])

    def run_unit(self, i: int, h: torch.Tensor, ctx: UnitContext) -> torch.Tensor:
        """Run block i (self-attention, cross-attention, MLP)."""
        return self.blocks[i](h, ctx.c, ctx.tokens, ctx.mask)  # (N, T, D)

    def fuse_skip(self, i: int, h: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Hunyuan-DiT fusion with block i's own skip_norm / skip_linear (i > depth/2)."""
        block = self.blocks[i]
        return fuse(h, skip, block.skip_norm, block.skip_linear)  # (N, T, D)

    def head(self, h: torch.Tensor, ctx: UnitContext) -> torch.Tensor:
        """Final PixArt layer and unpatchify."""
        h = self.final_layer(h, ctx.c_final)  # (N, T, p*p*C_out)
        return unpatchify(h, self.patch_size, self.out_channels)  # (N, C_out, H, W)

    def null_condition(self, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The fixed null caption (N, S, E) under the caption's own mask (all True without one), for CFG.

        PixArt-alpha guides with one mask for both halves, and training drops a caption the same way: null
        tokens under the caption's mask (which the pooled caption of `pooled_caption=True` averages over)."""
        caption, mask = split_text_condition(y)
        n, s = caption.shape[:2]
        null = self.y_embedder.null_tokens(n, s).to(caption.dtype)  # (N, S, E)
        return null, (torch.ones(n, s, dtype=torch.bool, device=caption.device) if mask is None else mask)

    def attention_modules(self) -> list[tuple[str, str, nn.Module]]:
        """Every attention module as (name, kind, module); kinds self and cross."""
        out = []
        for k, block in enumerate(self.blocks):
            out.append((f"blocks.{k}.attn", "self", block.attn))
            out.append((f"blocks.{k}.cross_attn", "cross", block.cross_attn))
        return out

    def unit_blocks(self, i: int) -> list[nn.Module]:
        return [self.blocks[i]]
