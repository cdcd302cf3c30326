"""Gaussian diffusion (DiT recipe), timestep respacing and the DDPM / DDIM samplers."""
from .gaussian_diffusion import GaussianDiffusion, create_diffusion, linear_betas
from .respace import space_timesteps
from .sampling import (
                       SamplerSettings,
                       balanced_labels,
                       guidance_condition,
                       guided_output,
                       run_sampler,
                       sample_ddim,
                       sample_ddpm,
                       start_noise,
)

__all__ = ["GaussianDiffusion", "create_diffusion", "linear_betas", "space_timesteps", "SamplerSettings",
           "balanced_labels", "guidance_condition", "guided_output", "run_sampler", "sample_ddim", "sample_ddpm",
           "start_noise"]
