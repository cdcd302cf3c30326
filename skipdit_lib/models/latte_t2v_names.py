"""Our text-to-video Latte's state dict <-> the authors' (diffusers `LatteT2V` / `LatteT2V_skip`) names.

The authors' released text-to-video Skip-DiT (`Latte-skip.pt`: {"model", "ema"}, 1,024 tensors at
Latte-T2V-XL/2 size) is a diffusers `LatteT2V_skip` (text-to-video/models/latte_t2v_skip.py, diffusers
0.24). Ours (`Latte(caption_dim > 0)`) computes the same function with other names (746 tensors):
- q, k and v of every attention are one Linear here (`attn.qkv` = rows [to_q; to_k; to_v]), and the
  cross-attention's k and v are one (`cross_attn.kv_linear` = [to_k; to_v]);
- spatial block `blocks.{2p}` is `transformer_blocks.{p}`, temporal block `blocks.{2p+1}` is
  `temporal_transformer_blocks.{p}`; the final layer's table and Linear are theirs at the top level;
- their position embeddings are non-persistent buffers (not in the file): ours are fixed parameters,
  filled here with the sin-cos theirs recompute (diffusers scales the 2-D grid by sample_size // 64).
`from_latte_t2v` uses every tensor of their file exactly once and fills every key of ours;
`to_latte_t2v` is the inverse, so a model trained here can be used by the authors' scripts. Other
differences that names cannot carry are for the caller: their videos are (B, C, F, H, W), ours
(B, F, C, H, W); their guidance's negative is the encoded empty prompt, not `y_embedding`
(`Latte(negative_prompt=...)`); they skip the temporal embedding for one-frame inputs.
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from .layers import sincos_2d, sincos_temporal

# A key only the authors' layout has (checked before converting a loaded file).
AUTHORS_MARKERS = ("transformer_blocks.0.attn1.to_q.weight", "adaln_single.linear.weight")
_POSITION_KEYS = ("pos_embed", "temp_embed")  # ours only: recomputed by the authors' model


def is_latte_t2v_state(state: Mapping[str, object]) -> bool:
    """Whether a state dict is in the authors' diffusers LatteT2V names."""
    return all(k in state for k in AUTHORS_MARKERS)


def _linear(ours: str, *theirs: str) -> list[tuple[str, tuple[str, ...]]]:
    """A Linear of ours made of the row-wise concatenation of `theirs` (weight and bias)."""
    return [(f"{ours}.{p}", tuple(f"{t}.{p}" for t in theirs)) for p in ("weight", "bias")]


def _block(ours: str, theirs: str, cross: bool) -> list[tuple[str, tuple[str, ...]]]:
    pairs = _linear(f"{ours}.attn.qkv", f"{theirs}.attn1.to_q", f"{theirs}.attn1.to_k", f"{theirs}.attn1.to_v")
    pairs += _linear(f"{ours}.attn.proj", f"{theirs}.attn1.to_out.0")
    if cross:
        pairs += _linear(f"{ours}.cross_attn.q_linear", f"{theirs}.attn2.to_q")
        pairs += _linear(f"{ours}.cross_attn.kv_linear", f"{theirs}.attn2.to_k", f"{theirs}.attn2.to_v")
        pairs += _linear(f"{ours}.cross_attn.proj", f"{theirs}.attn2.to_out.0")
    pairs += _linear(f"{ours}.mlp.fc1", f"{theirs}.ff.net.0.proj") + _linear(f"{ours}.mlp.fc2", f"{theirs}.ff.net.2")
    return pairs + [(f"{ours}.scale_shift_table", (f"{theirs}.scale_shift_table",))]


def name_map(num_pairs: int, num_skips: int) -> list[tuple[str, tuple[str, ...]]]:
    """(our key, the authors' keys whose rows concatenate into it) for every key but the position embeddings."""
    pairs = _linear("x_embedder.proj", "pos_embed.proj")
    pairs += _linear("t_embedder.mlp.0", "adaln_single.emb.timestep_embedder.linear_1")
    pairs += _linear("t_embedder.mlp.2", "adaln_single.emb.timestep_embedder.linear_2")
    pairs += _linear("t_block.1", "adaln_single.linear")
    pairs += _linear("y_embedder.y_proj.fc1", "caption_projection.linear_1")
    pairs += _linear("y_embedder.y_proj.fc2", "caption_projection.linear_2")
    pairs += [("y_embedder.y_embedding", ("caption_projection.y_embedding",))]
    for p in range(num_pairs):  # Paper: pair p = spatial block 2p, temporal block 2p+1
        pairs += _block(f"blocks.{2 * p}", f"transformer_blocks.{p}", cross=True)
        pairs += _block(f"blocks.{2 * p + 1}", f"temporal_transformer_blocks.{p}", cross=False)
    for j in range(num_skips):  # the skip modules keep the official names
        pairs += _linear(f"skip_norms.{j}", f"skip_norms.{j}") + _linear(f"skip_linears.{j}.linear",
                                                                        f"skip_linears.{j}.linear")
    pairs += [("final_layer.scale_shift_table", ("scale_shift_table",))]
    return pairs + _linear("final_layer.linear", "proj_out")


def _sizes(model: nn.Module) -> tuple[int, int]:
    if not getattr(model, "text", False) or not hasattr(model, "blocks"):
        raise TypeError(f"the authors' LatteT2V names fit a text-conditional Latte (caption_dim > 0), "
                        f"not {type(model).__name__}{'' if hasattr(model, 'blocks') else ' without blocks'}")
    skips = len(model.skip_norms) if getattr(model, "skip", False) else 0
    return len(model.blocks) // 2, skips


def authors_position_embeddings(model: nn.Module) -> dict[str, torch.Tensor]:
    """The sin-cos position embeddings the authors' model recomputes for `model`'s sizes."""
    dim, grid = model.pos_embed.shape[-1], model.x_embedder.grid_size
    sample_size = grid * model.patch_size
    scale = max(sample_size // 64, 1)  # diffusers LatteT2V: interpolation_scale = max(sample_size // 64, 1)
    return {"pos_embed": sincos_2d(dim, grid, scale), "temp_embed": sincos_temporal(dim, model.num_frames)}


def from_latte_t2v(state: Mapping[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """The authors' LatteT2V(_skip) state dict in `model`'s names; every tensor of `state` used once."""
    num_pairs, num_skips = _sizes(model)
    mapping = name_map(num_pairs, num_skips)
    wanted = [t for _, theirs in mapping for t in theirs]
    missing = [t for t in wanted if t not in state]
    unused = sorted(set(state) - set(wanted))
    if missing or unused:
        kind = "skip" if num_skips else "plain (no skip modules)"
        raise KeyError(f"this is not the authors' LatteT2V file for a {kind} model with {num_pairs} pairs:\n"
                       f"  missing ({len(missing)}): {missing[:12]}{' ...' if len(missing) > 12 else ''}\n"
                       f"  unused ({len(unused)}): {unused[:12]}{' ...' if len(unused) > 12 else ''}\n"
                       "build the model with the file's depth and skip setting (Latte-T2V-XL/2-skip for "
                       "Latte-skip.pt)")
    out = {ours: torch.cat([state[t] for t in theirs], dim=0) if len(theirs) > 1 else state[theirs[0]]
           for ours, theirs in mapping}
    return {**out, **authors_position_embeddings(model)}


def to_latte_t2v(model: nn.Module) -> dict[str, torch.Tensor]:
    """`model`'s weights in the authors' LatteT2V(_skip) names (their files hold no position embeddings:
    a model whose embeddings differ from the sin-cos theirs recompute cannot be written)."""
    num_pairs, num_skips = _sizes(model)
    state = model.state_dict()
    for key, expected in authors_position_embeddings(model).items():
        if not torch.allclose(state[key].float().cpu(), expected, atol=1e-6):
            raise ValueError(f"{key} differs from the sin-cos the authors' model recomputes: their format "
                             "cannot carry it")
    mapping = name_map(num_pairs, num_skips)
    left = sorted(set(state) - {ours for ours, _ in mapping} - set(_POSITION_KEYS))
    if left:
        raise KeyError(f"keys of ours with no place in the authors' names: {left}")
    out = {}
    for ours, theirs in mapping:
        for name, part in zip(theirs, state[ours].chunk(len(theirs), dim=0)):
            out[name] = part.clone()
    return out


def export_latte_t2v(model: nn.Module, path: str, ema: nn.Module | None = None) -> None:
    """Write `model` (and `ema`, else the model again) as the authors' {"model", "ema"} file, atomically."""
    from ..io import atomic_save_torch

    theirs = to_latte_t2v(model)
    atomic_save_torch({"model": theirs, "ema": to_latte_t2v(ema) if ema is not None else theirs}, path)
