"""Exponential moving average of model weights (the DiT recipe keeps one for sampling)."""
from __future__ import annotations

import copy

import torch
import torch.nn as nn


def create_ema(model: nn.Module) -> nn.Module:
    """A frozen, eval-mode copy of `model` to hold the moving average."""
    ema = copy.deepcopy(model)
    ema.requires_grad_(False)
    return ema.eval()


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model for trainable parameters; copy everything else.

    Paper: EMA 0.9999 over parameters (DiT recipe). Differs from the official code: parameters that
    do not train (the fixed pos_embed, weights frozen in stage 1) are copied rather than averaged
    (the official code leaves this as a TODO); without it they drift by float rounding only.
    """
    ema_params = dict(ema.named_parameters())
    for name, param in model.named_parameters():
        if param.requires_grad:
            ema_params[name].mul_(decay).add_(param.detach(), alpha=1 - decay)
        else:
            ema_params[name].copy_(param.detach())
    ema_buffers = dict(ema.named_buffers())
    for name, buffer in model.named_buffers():
        ema_buffers[name].copy_(buffer)
