"""TeaCache (ali-vilab/TeaCache), a peer the paper does not run, with a calibration for our models.

Per call: take the timestep-modulated input of the first block, add the rescaled relative L1
change since the previous call to an accumulator; while the accumulator stays under the
threshold, skip the whole unit stack and add the residual (stack output - stack input) of the
last full call; otherwise run everything, store the residual and zero the accumulator. The
first call of a run and the final step are always full. The rescaling is a polynomial fitted
per model (`calibrate_teacache`) from one uncached sampling run.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from .hooks import (
    CacheHook,
    CacheState,
    apply_cache,
    register_cache_method,
    relative_l1,
    remove_cache,
    require_units,
    run_units,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TeaCacheConfig:
    """TeaCache settings; `coefficients` are highest power first (numpy.poly1d order)."""

    threshold: float = 0.1                  # TeaCache rel_l1_thresh (0.1 is its "~1.6x" setting for Latte/Open-Sora)
    coefficients: Sequence[float] = (1.0, 0.0)  # identity rescaling until calibrate_teacache fits ours
    final_t: int = 0                        # TeaCache always computes the last step; our samplers end at t=0

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise ValueError(f"threshold must be >= 0 (got {self.threshold}); 0 recomputes every step")
        if len(self.coefficients) < 1:
            raise ValueError("coefficients must hold at least one polynomial coefficient")


class TeaCacheState(CacheState):
    """Previous modulated input, accumulated rescaled distance and the stack residual."""

    def reset(self) -> None:
        super().reset()
        self.previous: torch.Tensor | None = None
        self.accumulated = 0.0
        self.residual: torch.Tensor | None = None
        self.changes: list[float] = []   # raw relative L1 change of the modulated input per call


@register_cache_method(TeaCacheConfig)
class TeaCacheHook(CacheHook):
    """Replaces `forward_units`: the whole stack or the residual of the last full call."""

    state_class = TeaCacheState
    eager_methods = CacheHook.eager_methods + ("should_compute",)

    def install(self) -> None:
        require_units(self.model, "TeaCache")
        self.rescale = np.poly1d(np.asarray(self.config.coefficients, dtype=np.float64))
        self.patch(self.model, "forward_units", self.forward_units)

    def should_compute(self, modulated: torch.Tensor) -> bool:
        """TeaCache: accumulate rescaled changes; compute (and zero the sum) once it reaches the threshold."""
        st, cfg = self.state, self.config
        first = st.previous is None or st.residual is None
        change = 0.0 if st.previous is None else relative_l1(modulated, st.previous)
        st.previous = modulated
        st.changes.append(change)
        # Differs from TeaCache: a negative polynomial value is clipped to 0 (a distance is >= 0),
        # so that threshold 0 always recomputes.
        st.accumulated += max(float(self.rescale(change)), 0.0)
        if first or st.t <= cfg.final_t or st.accumulated >= cfg.threshold:
            st.accumulated = 0.0
            return True
        return False

    def forward_units(self, h: torch.Tensor, ctx: Any) -> torch.Tensor:
        """The unit loop, or input + cached residual."""
        full = self.should_compute(self.model.modulated_input(h, ctx))  # (N, T, D) first block's input
        if full:
            out = run_units(self.model, h, ctx, range(self.model.num_units), {})  # (N, T, D)
            self.state.residual = out - h  # (N, T, D)
        else:
            out = h + self.state.residual  # (N, T, D)
        self.state.record(full=full, units=self.model.num_units if full else 0)
        return out


class _TeaCacheRecorder(TeaCacheHook):
    """Never skips; records the input change and the model-output change of every call."""

    def install(self) -> None:
        super().install()
        self.outputs: list[torch.Tensor] = []
        self._handles.append(self.model.register_forward_hook(self._keep_output))

    def should_compute(self, modulated: torch.Tensor) -> bool:
        st = self.state
        st.changes.append(0.0 if st.previous is None else relative_l1(modulated, st.previous))
        st.previous = modulated
        return True

    def _keep_output(self, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        self.outputs.append(output.detach())


@dataclass(frozen=True)
class _TeaCacheCalibration(TeaCacheConfig):
    """Marker config that attaches the recorder (identity rescaling, never skips)."""


register_cache_method(_TeaCacheCalibration)(_TeaCacheRecorder)


def calibrate_teacache(model: nn.Module, run_sampler: Callable[[], Any], degree: int = 4,
                       threshold: float = 0.1) -> TeaCacheConfig:
    """Fit TeaCache's rescaling polynomial on `model` from one uncached sampling run.

    `run_sampler()` must run one sampling loop with `model` (e.g. a lambda around sample_ddim).
    Pairs (relative L1 change of the modulated input, relative L1 change of the model output)
    between consecutive calls are fitted with numpy.polyfit(x, y, degree), as TeaCache does."""
    recorder = apply_cache(model, _TeaCacheCalibration())
    try:
        run_sampler()
    finally:
        remove_cache(model)
    x = np.asarray(recorder.state.changes[1:], dtype=np.float64)
    y = np.asarray([relative_l1(b, a) for a, b in zip(recorder.outputs, recorder.outputs[1:])])
    if len(x) < degree + 1:
        raise ValueError(f"calibration needs at least {degree + 2} model calls, got {len(x) + 1}; "
                         "run more sampling steps or lower `degree`")
    coefficients = np.polyfit(x, y, degree)
    log.info("TeaCache polynomial fitted on %d pairs: %s", len(x), coefficients)
    return TeaCacheConfig(threshold=threshold, coefficients=tuple(float(c) for c in coefficients))
