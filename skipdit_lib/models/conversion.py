"""A trained plain model (DiT, Latte) turned into its Skip-DiT twin, as continued pre-training starts.

`to_skip_model(plain, init)` builds the same family and sizes with `skip=True` and copies every
weight the two share, strictly: a key of the plain model with no place in the twin, a new key of
the twin that is not a skip module, or a shape that differs is an error that names it. The new
skip modules (`skip_norms`, `skip_linears`) are then initialised by `init`:
- "default": PyTorch's defaults (`reset_parameters`: LayerNorm 1/0, Linear kaiming-uniform), as the
  authors' `LatteT2V_skip.from_pretrained` leaves the new modules: the fusion
  *replaces* the deep stream, so the converted model is broken at step 0 and must recover;
- "lstsq" (ours): each fusion is fitted by least squares, on a calibration batch run through the
  plain model, to output the deep stream it receives, so the twin starts closer to its parent. The
  fusion normalises each token before its Linear, so the deep stream's per-token scale cannot pass
  through exactly: this is the best linear map, not an identity.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .configs import build_from_config
from .layers import UnitModel

SKIP_INITS = ("default", "lstsq")
SKIP_KEY_MARKERS = ("skip_norms.", "skip_linears.")  # Paper: the official names of the skip modules


def is_skip_key(key: str) -> bool:
    """Whether a state_dict key belongs to the long-skip modules."""
    return key.startswith(SKIP_KEY_MARKERS)


def skip_twin(plain: nn.Module) -> UnitModel:
    """The untrained twin of `plain` with skip branches (same family, sizes and seedless init)."""
    config = getattr(plain, "config", None)
    if not isinstance(config, dict) or "skip" not in config.get("kwargs", {}):
        raise TypeError(f"{type(plain).__name__} has no `skip` switch to turn on; to_skip_model takes a DiT or "
                        "Latte of skipdit_lib.models (TextDiT has native skips already)")
    if config["kwargs"]["skip"]:
        raise ValueError(f"this {config['family']} already has skip branches; convert its plain twin instead")
    return build_from_config({**config, "kwargs": {**config["kwargs"], "skip": True}})


def copy_shared_weights(plain: nn.Module, twin: nn.Module) -> list[str]:
    """Copy every weight of `plain` into `twin` (strict both ways); returns the twin's new (skip) keys."""
    source, target = plain.state_dict(), twin.state_dict()
    extra = sorted(k for k in source if k not in target)
    if extra:
        raise KeyError(f"keys of the plain model with no place in the skip twin: {extra}")
    unexpected = sorted(k for k in target if k not in source and not is_skip_key(k))
    if unexpected:
        raise KeyError(f"keys new in the skip twin that are not skip modules: {unexpected}")
    shapes = sorted(k for k in source if source[k].shape != target[k].shape)
    if shapes:
        raise ValueError(f"shapes differ between the plain model and its twin for {shapes}")
    twin.load_state_dict({**target, **source}, strict=True)
    return sorted(k for k in target if k not in source)


@torch.no_grad()
def streams_at_fusions(plain: UnitModel, skip_map: dict[int, int], x: torch.Tensor, t: torch.Tensor,
                       y: Any) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Per consumer unit i of `skip_map`: (its input, its skip source's output) in the plain model's forward."""
    h, ctx = plain.embed(x, t, y)  # (N', T, D)
    outputs, inputs = {}, {}
    for i in range(plain.num_units):
        inputs[i] = h
        h = plain.run_unit(i, h, ctx)  # (N', T, D)
        outputs[i] = h
    return {i: (inputs[i], outputs[s]) for i, s in skip_map.items()}


RIDGE = 1e-3  # ridge penalty, relative to the mean feature energy: keeps the fitted weights (and grads) tame


@torch.no_grad()
def fit_pass_through(twin: UnitModel, streams: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> dict[int, float]:
    """Fit each fusion Linear(LayerNorm(concat[deep, skip])) to return `deep` (LayerNorm: weight 1, bias 0),
    by ridge regression (the normalised deep and skip halves are strongly correlated, so plain least
    squares gives huge, cancelling weights).

    Returns each fusion's relative residual ||fit - deep|| / ||deep|| on the calibration streams."""
    residuals = {}
    for i, (deep, skip) in streams.items():
        j = i - twin.num_units // 2
        norm, linear = twin.skip_norms[j], twin.skip_linears[j].linear
        norm.weight.fill_(1.0)
        norm.bias.zero_()
        z = norm(torch.cat([deep, skip], dim=-1)).flatten(0, -2).double()  # (rows, 2D)
        target = deep.flatten(0, -2).double()  # (rows, D)
        design = torch.cat([z, torch.ones(len(z), 1, dtype=z.dtype)], dim=1)  # (rows, 2D + 1)
        gram = design.T @ design  # (2D + 1, 2D + 1)
        penalty = RIDGE * gram.diagonal()[:-1].mean() * torch.eye(len(gram), dtype=gram.dtype)
        penalty[-1, -1] = 0.0  # the bias is not penalised
        solution = torch.linalg.solve(gram + penalty, design.T @ target)  # (2D + 1, D)
        linear.weight.copy_(solution[:-1].T.to(linear.weight.dtype))
        linear.bias.copy_(solution[-1].to(linear.bias.dtype))
        residuals[i] = float((design @ solution - target).norm() / target.norm())
    return residuals


def to_skip_model(plain: UnitModel, init: str = "default", calibration: tuple | None = None) -> UnitModel:
    """The skip twin of trained `plain`: shared weights copied strictly, skip modules initialised by `init`.

    "lstsq" needs `calibration` = (x, t, y), a batch of noised inputs, timesteps and conditions."""
    if init not in SKIP_INITS:
        raise ValueError(f"init must be one of {SKIP_INITS}, got {init!r}")
    if init == "lstsq" and calibration is None:
        raise ValueError("init='lstsq' fits the fusions on a batch: pass calibration=(x, t, y)")
    twin = skip_twin(plain)
    copy_shared_weights(plain, twin)
    for module in (*twin.skip_norms, *(s.linear for s in twin.skip_linears)):
        module.reset_parameters()  # Paper: PyTorch defaults, whatever the family's own init does
    if init == "lstsq":
        was_training = plain.training
        plain.eval()
        fit_pass_through(twin, streams_at_fusions(plain, twin.skip_map, *calibration))
        plain.train(was_training)
    return twin.train(plain.training)
