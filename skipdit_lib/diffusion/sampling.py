"""Samplers: ancestral DDPM and DDIM, with classifier-free guidance in one batched forward.

Both samplers share one loop (`_run_sampler`): tell the model a run begins (`begin_sampling`, which
resets an attached cache), draw the start noise,
then for every retained step from the last to 0: one guided model call, one update rule.
`callback(step_index, t, x_t, model_output)` is called after every model call with the step
index (0 = first denoising step), the ORIGINAL timestep t (int, 0..999), the model input x_t and
the (guided) model output; this is how notebooks record trajectories and per-step features.

Randomness comes only from `noise` / `generator` (or the global RNG when neither is given), so a
run is deterministic given them. `SamplerSettings` names a sampler run (sampler, steps, guidance)
and `run_sampler` runs one from it; `start_noise` and `balanced_labels` make the seeded inputs
every experiment shares.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import torch
import torch.nn as nn

from ..precision import autocast_for
from .gaussian_diffusion import GaussianDiffusion, channel_dim, diffusion_for

StepCallback = Callable[[int, int, torch.Tensor, torch.Tensor], None]
UpdateRule = Callable[..., torch.Tensor]  # (diffusion, output, x, t, clip_denoised, generator, eta) -> x_prev


def concat_conditions(a: Any, b: Any) -> Any:
    """Concatenate two conditions along the batch: tensors, or tuples/dicts of tensors (text)."""
    if torch.is_tensor(a):
        return torch.cat([a, b], dim=0)  # (2N, ...)
    if isinstance(a, dict):
        return {key: concat_conditions(a[key], b[key]) for key in a}
    if isinstance(a, tuple) and hasattr(a, "_fields"):  # a NamedTuple such as TextCondition
        return type(a)(*(concat_conditions(u, v) for u, v in zip(a, b)))
    if isinstance(a, (tuple, list)):
        return type(a)(concat_conditions(u, v) for u, v in zip(a, b))
    raise TypeError(f"cannot batch a condition of type {type(a).__name__} for guidance; "
                    "use a tensor or a tuple/dict of tensors")


def guidance_condition(model: nn.Module, y: Any, cfg_scale: float) -> Any:
    """The condition of the model call at guidance `cfg_scale`: y itself at 1.0, otherwise [y, null_condition(y)]
    batched (the conditional half first). It does not change from step to step, so a sampling run makes it once."""
    if cfg_scale == 1.0:
        return y
    if y is None:
        raise ValueError("classifier-free guidance needs a condition y; use cfg_scale=1.0 for unconditional models")
    return concat_conditions(y, model.null_condition(y))


def guided_output(model: nn.Module, diffusion: GaussianDiffusion, x: torch.Tensor, t: torch.Tensor,
                  y: Any = None, cfg_scale: float = 1.0, cfg_channels: int | None = None, *,
                  call_condition: Any = None) -> torch.Tensor:
    """The model output at step indices t, with classifier-free guidance when cfg_scale != 1.

    cfg_scale == 1.0 runs ONE forward of batch N with y and no unconditional half.
    Otherwise ONE forward of batch 2N on [x, x] with [y, null_condition(y)] (as the authors run
    it); eps = uncond + s * (cond - uncond) on the first `cfg_channels` eps channels, every other
    channel (remaining eps channels, learned variance) taken from the conditional half.
    `call_condition`: `guidance_condition(model, y, cfg_scale)` made once by the caller (the sampling loop);
    made here when None.
    """
    if call_condition is None:
        call_condition = guidance_condition(model, y, cfg_scale)
    if cfg_scale == 1.0:
        return diffusion.call_model(model, x, t, call_condition)  # (N, C_out, ...)
    out = diffusion.call_model(model, torch.cat([x, x]), torch.cat([t, t]), call_condition)  # (2N, ...)
    cond, uncond = out.chunk(2, dim=0)  # (N, C_out, ...) each
    dim = channel_dim(x)
    k = x.shape[dim] if cfg_channels is None else cfg_channels
    if not 0 < k <= x.shape[dim]:
        raise ValueError(f"cfg_channels must be in 1..{x.shape[dim]} (the eps channels), got {cfg_channels}")
    guided = uncond.narrow(dim, 0, k) + cfg_scale * (cond.narrow(dim, 0, k) - uncond.narrow(dim, 0, k))
    rest = cond.narrow(dim, k, cond.shape[dim] - k)
    return torch.cat([guided, rest], dim=dim)  # (N, C_out, ...)


def _randn(shape: tuple[int, ...], like: torch.Tensor | None, device: torch.device,
           generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise from `generator` (on the generator's device, then moved). Without a generator
    it is drawn from the global CPU stream, so a seed gives the same samples on every device."""
    gen_device = generator.device if generator is not None else torch.device("cpu")
    dtype = like.dtype if like is not None else torch.float32
    return torch.randn(shape, generator=generator, device=gen_device, dtype=dtype).to(device)


def ddpm_update(diffusion: GaussianDiffusion, output: torch.Tensor, x: torch.Tensor, t: torch.Tensor,
                clip_denoised: bool, generator: torch.Generator | None, eta: float = 0.0) -> torch.Tensor:
    """One ancestral step x_{t-1} = mean + sigma * z (no noise at the last step)."""
    out = diffusion.p_mean_variance(output, x, t, clip_denoised)
    if int(t[0]) == 0:
        return out["mean"]
    noise = _randn(tuple(x.shape), x, x.device, generator)
    return out["mean"] + torch.exp(0.5 * out["log_variance"]) * noise  # (N, C, ...)


def ddim_update(diffusion: GaussianDiffusion, output: torch.Tensor, x: torch.Tensor, t: torch.Tensor,
                clip_denoised: bool, generator: torch.Generator | None, eta: float = 0.0) -> torch.Tensor:
    """One DDIM step (Song et al. eq. 12); eta = 0 is deterministic. Only what the step uses is computed (no
    variance, no posterior mean): on a cached step of a small model the update is a fair share of the time."""
    pred_xstart, _ = diffusion.predict_xstart(output, x, t, clip_denoised)
    eps = diffusion.predict_eps_from_xstart(x, t, pred_xstart)  # re-derived after clipping, as upstream
    abar_prev = diffusion.extract(diffusion.alphas_cumprod_prev, t, x)
    if eta == 0.0:  # sigma = 0: the same values as the general formula below, with fewer ops
        return pred_xstart * torch.sqrt(abar_prev) + torch.sqrt(1 - abar_prev) * eps  # (N, C, ...)
    abar = diffusion.extract(diffusion.alphas_cumprod, t, x)
    sigma = eta * torch.sqrt((1 - abar_prev) / (1 - abar)) * torch.sqrt(1 - abar / abar_prev)
    mean = pred_xstart * torch.sqrt(abar_prev) + torch.sqrt(1 - abar_prev - sigma ** 2) * eps
    if int(t[0]) == 0:
        return mean
    return mean + sigma * _randn(tuple(x.shape), x, x.device, generator)  # (N, C, ...)


def _begin_sampling(model: nn.Module) -> None:
    """Tell the model a sampling run starts: `model.begin_sampling()` when it has one (the models
    of the library do; an attached cache overrides it to reset its state)."""
    begin = getattr(model, "begin_sampling", None)
    if callable(begin):
        begin()


def _default_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a parameterless model)."""
    param = next(iter(model.parameters()), None)
    return param.device if param is not None else torch.device("cpu")


def _check_inputs(shape: tuple[int, ...], noise: torch.Tensor | None, y: Any) -> None:
    """Raise a helpful error for inconsistent sampler inputs."""
    if noise is not None and tuple(noise.shape) != tuple(shape):
        raise ValueError(f"noise has shape {tuple(noise.shape)} but shape is {tuple(shape)}")
    if torch.is_tensor(y) and y.shape[0] != shape[0]:
        raise ValueError(f"y has {y.shape[0]} entries but the batch is {shape[0]}; pass one condition per sample")


def _steps(diffusion: GaussianDiffusion, progress: bool) -> Any:
    """Step indices from the last to 0, optionally wrapped in a tqdm progress bar."""
    steps = range(diffusion.num_timesteps - 1, -1, -1)
    if progress:
        from tqdm.auto import tqdm

        return tqdm(steps, desc="sampling")
    return steps


def _run_sampler(update: UpdateRule, model: nn.Module, diffusion: GaussianDiffusion, shape: tuple[int, ...],
                 y: Any, cfg_scale: float, noise: torch.Tensor | None, generator: torch.Generator | None,
                 progress: bool, cfg_channels: int | None, device: Any, clip_denoised: bool,
                 callback: StepCallback | None, eta: float) -> torch.Tensor:
    """The shared sampling loop, run under `torch.inference_mode` (no autograd bookkeeping: a cached step of a small
    model is mostly per-op overhead); the model is put in eval mode for the run and restored after. The samples
    come back as an ordinary tensor (made outside inference mode), usable anywhere; what a `callback` is handed
    during the run are inference tensors (read them, or clone them to keep and modify)."""
    shape = tuple(shape)
    _check_inputs(shape, noise, y)
    device = torch.device(device) if device is not None else _default_device(model)
    _begin_sampling(model)  # every sampling run starts with an empty cache
    x = noise.to(device) if noise is not None else _randn(shape, None, device, generator)  # (N, C, ...)
    was_training = model.training
    model.eval()  # label dropout off while sampling, as upstream sample.py
    try:
        with torch.inference_mode():
            call_condition = guidance_condition(model, y, cfg_scale)  # the same at every step
            for i, step in enumerate(_steps(diffusion, progress)):
                t = torch.full((shape[0],), step, device=device, dtype=torch.long)  # (N,) step indices
                output = guided_output(model, diffusion, x, t, y, cfg_scale, cfg_channels,
                                       call_condition=call_condition)
                if callback is not None:
                    callback(i, int(diffusion.timestep_map[step]), x, output)
                x = update(diffusion, output, x, t, clip_denoised, generator, eta)
    finally:
        model.train(was_training)
    # Official code: the last step returns the clipped x_0 prediction; the clamp only removes
    # float rounding of the t = 0 coefficients. Made here, outside inference mode, either op gives an ordinary tensor.
    return x.clamp(-1, 1) if clip_denoised else x.clone()


def sample_ddpm(model: nn.Module, diffusion: GaussianDiffusion, shape: tuple[int, ...], y: Any = None,
                cfg_scale: float = 1.0, noise: torch.Tensor | None = None, generator: torch.Generator | None = None,
                progress: bool = False, cfg_channels: int | None = None, device: Any = None,
                clip_denoised: bool = True, callback: StepCallback | None = None) -> torch.Tensor:
    """Ancestral DDPM sampling over every step of `diffusion` (e.g. create_diffusion("250")).

    cfg_scale == 1.0 skips the unconditional half entirely (one forward of N per step).
    cfg_channels: eps channels that receive guidance (default all). The authors' DiT guides only
    the first 3 of its 4 latent channels "for exact reproducibility"; pass 3 to match it.
    """
    return _run_sampler(ddpm_update, model, diffusion, shape, y, cfg_scale, noise, generator,
                        progress, cfg_channels, device, clip_denoised, callback, 0.0)


def sample_ddim(model: nn.Module, diffusion: GaussianDiffusion, shape: tuple[int, ...], y: Any = None,
                cfg_scale: float = 1.0, noise: torch.Tensor | None = None, generator: torch.Generator | None = None,
                progress: bool = False, cfg_channels: int | None = None, device: Any = None,
                clip_denoised: bool = True, callback: StepCallback | None = None, eta: float = 0.0) -> torch.Tensor:
    """DDIM sampling over every step of `diffusion` (e.g. create_diffusion("ddim50")); eta=0 is deterministic.

    Guidance, cfg_channels and callback as in `sample_ddpm`.
    """
    return _run_sampler(ddim_update, model, diffusion, shape, y, cfg_scale, noise, generator,
                        progress, cfg_channels, device, clip_denoised, callback, eta)


# ----------------------------------------------------------------------------- named runs

SAMPLERS = ("ddim", "ddpm")


@dataclass(frozen=True)
class SamplerSettings:
    """Which sampler run an experiment makes: hashable, so samples can be keyed by it."""

    sampler: str = "ddim"          # "ddim" or "ddpm"
    num_steps: int = 50            # Paper: DDIM-50 for text-to-video/UCF101, DDPM-250 elsewhere
    cfg_scale: float = 1.0         # classifier-free guidance scale (1.0 = off)
    cfg_channels: Optional[int] = None  # eps channels guided (official DiT: 3 of 4)

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {self.num_steps}")

    @property
    def label(self) -> str:
        """"DDPM-250", "DDIM-50"."""
        return f"{self.sampler.upper()}-{self.num_steps}"


def run_sampler(model: nn.Module, settings: SamplerSettings, noise: torch.Tensor, y: Any,
                num_steps: Optional[int] = None) -> torch.Tensor:
    """One sampling run of `model` from `noise` (N, ...) with condition `y`; `num_steps` overrides
    the settings' step count (fewer-steps baselines). DDPM's per-step noise is seeded the same for
    every run, so two methods differ only by what they compute. The model runs at the process's
    precision (`skipdit_lib.precision`: under bf16 autocast when it is "bf16"); the samples are float32."""
    steps = num_steps or settings.num_steps
    spacing = f"ddim{steps}" if settings.sampler == "ddim" else str(steps)
    diffusion = diffusion_for(model, spacing)
    sample = sample_ddim if settings.sampler == "ddim" else sample_ddpm
    generator = torch.Generator().manual_seed(0)  # DDPM's per-step noise: the same for every method and device
    with autocast_for(noise.device):
        out = sample(model, diffusion, tuple(noise.shape), y=y, cfg_scale=settings.cfg_scale, noise=noise,
                     generator=generator, cfg_channels=settings.cfg_channels, device=noise.device)
    return out.float()


def start_noise(num: int, sample_shape: Sequence[int], seed: int, device: Any = "cpu") -> torch.Tensor:
    """Seeded start noise (num, *sample_shape), drawn on the CPU (the same on every device)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((num, *sample_shape), generator=generator).to(device)


def balanced_labels(num: int, num_classes: int, device: Any = "cpu") -> torch.Tensor:
    """Class labels 0, 1, ..., num_classes - 1, 0, 1, ... (num,)."""
    return (torch.arange(num) % num_classes).to(device)
