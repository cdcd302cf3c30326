"""Gaussian diffusion: linear betas, the forward process, the posterior and the training losses.

Written for this project from the formulas of DDPM (Ho et al. 2020) and improved DDPM
(Nichol & Dhariwal 2021) as the DiT / Skip-DiT code uses them: epsilon prediction, learned
variance interpolated in log space between the posterior variance and beta ("learned range"),
and DiT's hybrid loss `MSE(eps) + VLB` with the mean detached inside the VLB term. A model may
instead predict v = sqrt(abar) eps - sqrt(1 - abar) x_0 (`prediction="v"`, Salimans & Ho 2022),
as Hunyuan-DiT does; its output is turned into eps wherever the sampler needs one.

Tensor layout: images `(N, C, H, W)` (channel dim 1) and videos `(N, F, C, H, W)` (channel dim 2,
as Latte). A model with learned sigma returns twice the channels along that dim.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from .respace import respace_betas, space_timesteps

# Paper: linear betas over 1000 steps, scale 0.0001..0.02 (DiT recipe, Sec. 5 of PAPER.md).
DIFFUSION_STEPS = 1000
BETA_START = 0.0001
BETA_END = 0.02
PREDICTIONS = ("eps", "v")  # what the model's first C output channels predict


def linear_betas(num_steps: int = DIFFUSION_STEPS) -> np.ndarray:
    """Ho et al.'s linear schedule, rescaled so any `num_steps` matches 1000 steps (float64)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    scale = 1000.0 / num_steps
    return np.linspace(scale * BETA_START, scale * BETA_END, num_steps, dtype=np.float64)


def channel_dim(x: torch.Tensor) -> int:
    """The channel dimension: 1 for images `(N, C, H, W)`, 2 for videos `(N, F, C, H, W)`."""
    if x.ndim == 5:
        return 2
    if x.ndim < 2:
        raise ValueError(f"expected a batch (N, C, ...) or (N, F, C, H, W), got shape {tuple(x.shape)}")
    return 1


def mean_flat(x: torch.Tensor) -> torch.Tensor:
    """Mean over every dimension but the batch dimension."""
    return x.mean(dim=list(range(1, x.ndim)))


def normal_kl(mean1: torch.Tensor, logvar1: torch.Tensor, mean2: torch.Tensor,
              logvar2: torch.Tensor) -> torch.Tensor:
    """Elementwise KL(N(mean1, exp(logvar1)) || N(mean2, exp(logvar2))) in nats."""
    return 0.5 * (logvar2 - logvar1 - 1.0 + torch.exp(logvar1 - logvar2)
                  + (mean1 - mean2) ** 2 * torch.exp(-logvar2))


def approx_standard_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    """The tanh approximation of the standard normal CDF used by improved DDPM."""
    return 0.5 * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def discretized_gaussian_log_likelihood(x: torch.Tensor, means: torch.Tensor,
                                        log_scales: torch.Tensor) -> torch.Tensor:
    """Log-likelihood (nats) of data in [-1, 1] quantised to 256 bins under a Gaussian, elementwise."""
    inv_std = torch.exp(-log_scales)
    cdf_plus = approx_standard_normal_cdf(inv_std * (x - means + 1.0 / 255.0))
    cdf_min = approx_standard_normal_cdf(inv_std * (x - means - 1.0 / 255.0))
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))  # lowest bin: everything below it
    log_one_minus_cdf_min = torch.log((1.0 - cdf_min).clamp(min=1e-12))  # highest bin
    log_delta = torch.log((cdf_plus - cdf_min).clamp(min=1e-12))
    return torch.where(x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_min, log_delta))


def split_model_output(output: torch.Tensor, x: torch.Tensor, learn_sigma: bool) -> tuple[torch.Tensor,
                                                                                          torch.Tensor | None]:
    """Split a model output into (eps, variance values in [-1, 1]) along the channel dim."""
    dim = channel_dim(x)
    channels = x.shape[dim]
    expected = 2 * channels if learn_sigma else channels
    if output.shape[dim] != expected or output.shape[0] != x.shape[0]:
        raise ValueError(f"model output {tuple(output.shape)} does not fit input {tuple(x.shape)} "
                         f"(expected {expected} channels on dim {dim}); check learn_sigma of model and diffusion")
    if not learn_sigma:
        return output, None
    eps, var_values = torch.split(output, channels, dim=dim)
    return eps, var_values


class GaussianDiffusion:
    """A discrete Gaussian diffusion over `len(betas)` steps with epsilon prediction.

    `timestep_map[i]` is the ORIGINAL timestep (0..999) of step index `i`; every model call goes
    through `call_model`, which passes the original timestep (never a rescaled one), as the
    official `_WrappedModel` does. Without respacing the map is the identity.
    """

    def __init__(self, betas: np.ndarray, learn_sigma: bool = True, sigma_small: bool = False,
                 vb_weight: float = 1.0, timestep_map: list[int] | None = None, prediction: str = "eps") -> None:
        betas = np.asarray(betas, dtype=np.float64)  # float64 for accuracy, as upstream
        if betas.ndim != 1 or len(betas) < 2 or not ((betas > 0).all() and (betas <= 1).all()):
            raise ValueError("betas must be a 1-D array of at least 2 values in (0, 1]")
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
        self.num_timesteps = len(betas)
        self.learn_sigma = learn_sigma
        self.prediction = prediction
        self.sigma_small = sigma_small
        self.vb_weight = vb_weight
        self.timestep_map = torch.tensor(timestep_map if timestep_map is not None else range(len(betas)),
                                         dtype=torch.long)
        if len(self.timestep_map) != len(betas):
            raise ValueError("timestep_map must have one original timestep per beta")
        self._build_tables(betas)

    def _build_tables(self, betas: np.ndarray) -> None:
        """Precompute every per-timestep coefficient as a float64 tensor."""
        alphas = 1.0 - betas
        acp = np.cumprod(alphas)
        acp_prev = np.append(1.0, acp[:-1])
        post_var = betas * (1.0 - acp_prev) / (1.0 - acp)
        # The posterior variance is 0 at t=0: its log is clipped to the value at t=1 (as upstream).
        post_log_var = np.log(np.append(post_var[1], post_var[1:]))
        large_var = np.append(post_var[1], betas[1:])  # "fixed large" variance with the same t=0 fix
        tables = {
            "betas": betas, "alphas_cumprod": acp, "alphas_cumprod_prev": acp_prev,
            "sqrt_alphas_cumprod": np.sqrt(acp), "sqrt_one_minus_alphas_cumprod": np.sqrt(1.0 - acp),
            "sqrt_recip_alphas_cumprod": np.sqrt(1.0 / acp), "sqrt_recipm1_alphas_cumprod": np.sqrt(1.0 / acp - 1),
            "posterior_variance": post_var, "posterior_log_variance_clipped": post_log_var,
            "posterior_mean_coef1": betas * np.sqrt(acp_prev) / (1.0 - acp),
            "posterior_mean_coef2": (1.0 - acp_prev) * np.sqrt(alphas) / (1.0 - acp),
            "log_betas": np.log(betas), "fixed_large_variance": large_var,
            "fixed_large_log_variance": np.log(large_var),
        }
        for name, values in tables.items():
            setattr(self, name, torch.from_numpy(np.ascontiguousarray(values)))

    def extract(self, table: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """`table[t]` in x's dtype and device, shaped (N, 1, ..., 1) to broadcast against x."""
        values = table.to(t.device)[t].to(x.dtype)  # (N,)
        return values.view(-1, *([1] * (x.ndim - 1)))  # (N, 1, ...)

    # ----------------------------------------------------------------- model calls
    def original_timesteps(self, t: torch.Tensor) -> torch.Tensor:
        """Map step indices of this (possibly respaced) diffusion to original timesteps 0..999."""
        return self.timestep_map.to(t.device)[t]  # (N,) long

    def call_model(self, model: Any, x: torch.Tensor, t: torch.Tensor, y: Any = None) -> torch.Tensor:
        """Run `model(x, original_t, y)`; `t` holds step indices of this diffusion."""
        output = model(x, self.original_timesteps(t), y)
        return output[0] if isinstance(output, tuple) else output

    # ----------------------------------------------------------------- forward process
    def q_mean_variance(self, x_start: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                               torch.Tensor]:
        """Mean, variance and log variance of q(x_t | x_0)."""
        mean = self.extract(self.sqrt_alphas_cumprod, t, x_start) * x_start
        variance = self.extract(1.0 - self.alphas_cumprod, t, x_start)
        return mean, variance, torch.log(variance)

    def q_sample(self, x_start: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Sample x_t ~ q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)."""
        noise = torch.randn_like(x_start) if noise is None else noise
        if noise.shape != x_start.shape:
            raise ValueError(f"noise {tuple(noise.shape)} must have the shape of x_start {tuple(x_start.shape)}")
        return (self.extract(self.sqrt_alphas_cumprod, t, x_start) * x_start
                + self.extract(self.sqrt_one_minus_alphas_cumprod, t, x_start) * noise)

    def q_posterior_mean_variance(self, x_start: torch.Tensor, x_t: torch.Tensor,
                                  t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mean, variance and clipped log variance of the posterior q(x_{t-1} | x_t, x_0)."""
        mean = (self.extract(self.posterior_mean_coef1, t, x_t) * x_start
                + self.extract(self.posterior_mean_coef2, t, x_t) * x_t)
        variance = self.extract(self.posterior_variance, t, x_t)
        log_variance = self.extract(self.posterior_log_variance_clipped, t, x_t)
        return mean, variance, log_variance

    def predict_xstart_from_eps(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)."""
        return (self.extract(self.sqrt_recip_alphas_cumprod, t, x_t) * x_t
                - self.extract(self.sqrt_recipm1_alphas_cumprod, t, x_t) * eps)

    def predict_eps_from_xstart(self, x_t: torch.Tensor, t: torch.Tensor, x_start: torch.Tensor) -> torch.Tensor:
        """eps = (x_t / sqrt(abar_t) - x_0) / sqrt(1 / abar_t - 1)."""
        return ((self.extract(self.sqrt_recip_alphas_cumprod, t, x_t) * x_t - x_start)
                / self.extract(self.sqrt_recipm1_alphas_cumprod, t, x_t))

    # ----------------------------------------------------------------- reverse process
    def eps_from_prediction(self, x_t: torch.Tensor, t: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        """eps from the model's prediction: itself for "eps"; sqrt(abar) v + sqrt(1 - abar) x_t for "v"."""
        if self.prediction == "eps":
            return prediction
        return (self.extract(self.sqrt_alphas_cumprod, t, x_t) * prediction
                + self.extract(self.sqrt_one_minus_alphas_cumprod, t, x_t) * x_t)  # (N, C, ...)

    def prediction_target(self, x_start: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """What the model is trained to predict: eps, or v = sqrt(abar) eps - sqrt(1 - abar) x_0."""
        if self.prediction == "eps":
            return noise
        return (self.extract(self.sqrt_alphas_cumprod, t, x_start) * noise
                - self.extract(self.sqrt_one_minus_alphas_cumprod, t, x_start) * x_start)  # (N, C, ...)

    def snr(self, t: torch.Tensor) -> torch.Tensor:
        """Signal-to-noise ratio abar / (1 - abar) at step indices t, (N,) float64."""
        abar = self.alphas_cumprod.to(t.device)[t]
        return abar / (1.0 - abar)

    def min_snr_weights(self, t: torch.Tensor, gamma: float) -> torch.Tensor:
        """Min-SNR-gamma loss weights (Hang et al. 2023) for the prediction MSE at step indices t, (N,) float32.

        The x_0 loss weighted by min(SNR, gamma): in this diffusion's target that is min(SNR, gamma) / SNR for
        eps and min(SNR, gamma) / (SNR + 1) for v. Steps with little noise (SNR above gamma) weigh less, so a
        short run spends its updates where the global shape is decided."""
        if gamma <= 0:
            raise ValueError(f"min-SNR gamma must be > 0, got {gamma}")
        snr = self.snr(t)
        denominator = snr if self.prediction == "eps" else snr + 1.0
        return (snr.clamp(max=gamma) / denominator).float()

    def model_log_variance(self, var_values: torch.Tensor | None, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Log variance of p(x_{t-1} | x_t): learned range, or fixed large / small."""
        if var_values is None:
            table = self.posterior_log_variance_clipped if self.sigma_small else self.fixed_large_log_variance
            return self.extract(table, t, x).expand_as(x)
        min_log = self.extract(self.posterior_log_variance_clipped, t, x)
        max_log = self.extract(self.log_betas, t, x)
        frac = (var_values + 1) / 2  # the model's [-1, 1] maps to [posterior variance, beta]
        return frac * max_log + (1 - frac) * min_log

    def p_mean_variance(self, model_output: torch.Tensor, x: torch.Tensor, t: torch.Tensor,
                        clip_denoised: bool = True) -> dict[str, torch.Tensor]:
        """Mean, log variance, predicted x_0 and eps of p(x_{t-1} | x_t) from a model output."""
        prediction, var_values = split_model_output(model_output, x, self.learn_sigma)
        pred_xstart, eps = self._xstart_and_eps(prediction, x, t, clip_denoised)
        log_variance = self.model_log_variance(var_values, x, t)
        mean, _, _ = self.q_posterior_mean_variance(pred_xstart, x, t)
        return {"mean": mean, "log_variance": log_variance, "pred_xstart": pred_xstart, "eps": eps}

    def predict_xstart(self, model_output: torch.Tensor, x: torch.Tensor, t: torch.Tensor,
                       clip_denoised: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """The predicted x_0 (clipped to [-1, 1] when `clip_denoised`) and eps of a model output: the part of
        `p_mean_variance` DDIM needs (it has no use for the variance or the posterior mean)."""
        prediction, _ = split_model_output(model_output, x, self.learn_sigma)
        return self._xstart_and_eps(prediction, x, t, clip_denoised)

    def _xstart_and_eps(self, prediction: torch.Tensor, x: torch.Tensor, t: torch.Tensor,
                        clip_denoised: bool) -> tuple[torch.Tensor, torch.Tensor]:
        eps = self.eps_from_prediction(x, t, prediction)
        pred_xstart = self.predict_xstart_from_eps(x, t, eps)
        return (pred_xstart.clamp(-1, 1) if clip_denoised else pred_xstart), eps

    # ----------------------------------------------------------------- losses
    def vb_terms_bpd(self, model_output: torch.Tensor, x_start: torch.Tensor, x_t: torch.Tensor,
                     t: torch.Tensor) -> torch.Tensor:
        """The VLB term L_t in bits per dimension, (N,): the decoder NLL at t == 0, else the KL."""
        true_mean, _, true_log_var = self.q_posterior_mean_variance(x_start, x_t, t)
        out = self.p_mean_variance(model_output, x_t, t, clip_denoised=False)
        kl = mean_flat(normal_kl(true_mean, true_log_var, out["mean"], out["log_variance"])) / math.log(2.0)
        nll = -discretized_gaussian_log_likelihood(x_start, out["mean"], 0.5 * out["log_variance"])
        nll = mean_flat(nll) / math.log(2.0)
        return torch.where(t == 0, nll, kl)  # (N,)

    def training_losses(self, model: Any, x_start: torch.Tensor, t: torch.Tensor, y: Any = None,
                        noise: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Per-sample losses (N,): "mse" on the prediction (eps or v), "vb" (learned sigma only) and their sum
        "loss"."""
        noise = torch.randn_like(x_start) if noise is None else noise
        x_t = self.q_sample(x_start, t, noise)
        output = self.call_model(model, x_t, t, y)
        prediction, var_values = split_model_output(output, x_t, self.learn_sigma)
        terms = {"mse": mean_flat((self.prediction_target(x_start, t, noise) - prediction) ** 2)}
        if var_values is not None:
            # Paper (DiT recipe): the VLB trains only the variance; the mean is detached.
            frozen = torch.cat([prediction.detach(), var_values], dim=channel_dim(x_t))
            # Official code: loss = mse + vb with vb the per-step term in bits; this equals improved
            # DDPM's lambda = 0.001 on the T-term VLB for T = 1000.
            terms["vb"] = self.vb_terms_bpd(frozen, x_start, x_t, t) * self.vb_weight
            terms["loss"] = terms["mse"] + terms["vb"]
        else:
            terms["loss"] = terms["mse"]
        return terms


def create_diffusion(timestep_respacing: str | list[int] | None = None, learn_sigma: bool = True,
                     sigma_small: bool = False, vb_weight: float = 1.0,
                     diffusion_steps: int = DIFFUSION_STEPS, prediction: str = "eps") -> GaussianDiffusion:
    """The DiT diffusion: linear betas, eps prediction (or v, `prediction="v"`), hybrid loss if `learn_sigma`
    else plain MSE.

    `timestep_respacing`: None or "" for all steps; "250" / "50" / "10,20" for evenly strided
    sections, or "ddim50" for DDIM's fixed stride (upstream `space_timesteps`). The model always
    receives the original timestep of each retained step.
    `learn_sigma=False` gives plain MSE training with a fixed variance ("fixed large", or the
    posterior variance when `sigma_small`), as upstream.
    """
    betas = linear_betas(diffusion_steps)
    if timestep_respacing is None or timestep_respacing == "":
        timestep_respacing = [diffusion_steps]
    use_timesteps = space_timesteps(diffusion_steps, timestep_respacing)
    alphas_cumprod = np.cumprod(1.0 - betas)
    new_betas = respace_betas(alphas_cumprod, use_timesteps)
    return GaussianDiffusion(new_betas, learn_sigma=learn_sigma, sigma_small=sigma_small,
                             vb_weight=vb_weight, timestep_map=use_timesteps, prediction=prediction)


def model_learns_sigma(model: nn.Module, default: bool = True) -> bool:
    """Whether a model predicts a variance (`model.learn_sigma`), else `default`."""
    return bool(getattr(model, "learn_sigma", default))


def model_prediction(model: nn.Module) -> str:
    """What a model's output predicts (`model.prediction`: "eps" or "v"); "eps" for models without one."""
    return str(getattr(model, "prediction", "eps"))


def diffusion_for(model: nn.Module, timestep_respacing: str | list[int] | None = None) -> GaussianDiffusion:
    """`create_diffusion` with the model's own learned-sigma and prediction settings."""
    return create_diffusion(timestep_respacing, learn_sigma=model_learns_sigma(model),
                            prediction=model_prediction(model))
