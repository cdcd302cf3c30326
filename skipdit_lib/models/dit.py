"""DiT (class-to-image) with an optional set of Skip-DiT long skip branches."""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from .layers import (
    AdaLNBlock,
    FinalLayer,
    LabelEmbedder,
    PatchEmbed,
    TimestepEmbedder,
    UnitContext,
    UnitModel,
    check_time_and_batch,
    fuse,
    init_linear_xavier,
    init_patch_embed,
    record_config,
    sincos_2d,
    skip_modules,
    unpatchify,
    zero_,
)


class DiT(UnitModel):
    """Diffusion transformer; `skip=True` adds the long skip branches of Skip-DiT (`DiT_skip`)."""

    def __init__(self, input_size: int = 32, patch_size: int = 2, in_channels: int = 4,
                 hidden_size: int = 1152, depth: int = 28, num_heads: int = 16, mlp_ratio: float = 4.0,
                 class_dropout_prob: float = 0.1, num_classes: int = 1000, learn_sigma: bool = True,
                 skip: bool = False):
        arguments = dict(locals())
        super().__init__()
        self.config = record_config("DiT", arguments)
        if depth < 2 or depth % 2:
            raise ValueError(f"depth must be an even number >= 2 (blocks pair up around the middle), got {depth}")
        self.in_channels, self.patch_size, self.num_heads = in_channels, patch_size, num_heads
        self.out_channels = in_channels * 2 if learn_sigma else in_channels
        self.num_classes, self.skip = num_classes, skip

        self.x_embedder = PatchEmbed(input_size, patch_size, in_channels, hidden_size)
        self.t_embedder = TimestepEmbedder(hidden_size)
        if num_classes > 0:
            self.y_embedder = LabelEmbedder(num_classes, hidden_size, class_dropout_prob)
        # Fixed sin-cos embedding stored as a frozen parameter (upstream does the same, so it is a key).
        self.pos_embed = nn.Parameter(torch.zeros(1, self.x_embedder.num_patches, hidden_size),
                                      requires_grad=False)
        self.blocks = nn.ModuleList(AdaLNBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth))
        self.final_layer = FinalLayer(hidden_size, patch_size, self.out_channels)
        self.initialize_weights()
        # Paper (official DiT_skip): the skip modules are created AFTER initialize_weights, so they
        # keep PyTorch's default init (kaiming-uniform Linear, unit/zero LayerNorm). We do the same.
        if skip:
            self.skip_norms, self.skip_linears = skip_modules(hidden_size, depth // 2)
        # Paper: block L-1-j takes the output of block j as its skip (j < L/2).
        self.skip_map = {depth - 1 - j: j for j in range(depth // 2)} if skip else {}

    def initialize_weights(self) -> None:
        """Upstream DiT init: xavier Linear, sin-cos pos_embed, zeroed adaLN and final layer."""
        self.apply(init_linear_xavier)
        self.pos_embed.data.copy_(sincos_2d(self.pos_embed.shape[-1], self.x_embedder.grid_size))
        init_patch_embed(self.x_embedder)
        if self.num_classes > 0:
            nn.init.normal_(self.y_embedder.embedding_table.weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        for block in self.blocks:
            zero_(block.adaLN_modulation[-1])
        zero_(self.final_layer.adaLN_modulation[-1], self.final_layer.linear)

    @property
    def num_units(self) -> int:
        """Units a cache can skip over: the transformer blocks."""
        return len(self.blocks)

    def embed(self, x: torch.Tensor, t: torch.Tensor, y: Any = None) -> tuple[torch.Tensor, UnitContext]:
        """Patch tokens plus position embedding, and the conditioning vector c = t_emb + y_emb."""
        check_time_and_batch(x, t)
        h = self.x_embedder(x) + self.pos_embed  # (N, T, D), T = H * W / p**2
        c = self.t_embedder(t)  # (N, D)
        if self.num_classes > 0:
            if y is None:
                raise ValueError("this DiT is class-conditional: pass labels y (N,) or null_condition(y)")
            c = c + self.y_embedder(y, self.training)  # (N, D)
        return h, UnitContext(t=t, y=y, c=c, c_final=c, batch=x.shape[0])

    def run_unit(self, i: int, h: torch.Tensor, ctx: UnitContext) -> torch.Tensor:
        """Run block i."""
        return self.blocks[i](h, ctx.c)  # (N, T, D)

    def fuse_skip(self, i: int, h: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Fusion before block i >= L/2 with modules skip_norms/skip_linears[i - L/2]."""
        j = i - self.num_units // 2
        return fuse(h, skip, self.skip_norms[j], self.skip_linears[j])  # (N, T, D)

    def head(self, h: torch.Tensor, ctx: UnitContext) -> torch.Tensor:
        """Final adaLN layer and unpatchify."""
        h = self.final_layer(h, ctx.c_final)  # (N, T, p*p*C_out)
        return unpatchify(h, self.patch_size, self.out_channels)  # (N, C_out, H, W)

    def null_condition(self, y: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        """The null label (index num_classes) for every sample, or None if unconditional."""
        if self.num_classes == 0:
            return None
        if self.y_embedder.dropout_prob <= 0:
            raise ValueError("this DiT has no null class (class_dropout_prob=0): it cannot do CFG")
        return torch.full_like(y, self.num_classes)  # (N,)

    def attention_modules(self) -> list[tuple[str, str, nn.Module]]:
        """Every attention module as (name, kind, module)."""
        return [(f"blocks.{k}.attn", "self", b.attn) for k, b in enumerate(self.blocks)]

    def unit_blocks(self, i: int) -> list[nn.Module]:
        return [self.blocks[i]]
