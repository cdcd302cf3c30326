"""Gaussian diffusion (DiT recipe), timestep respacing and the DDPM / DDIM samplers."""
from .gaussian_diffusion import GaussianDiffusion, create_diffusion, linear_betas
from .respace import space_timesteps
from .sampling import guided_output, sample_ddim, sample_ddpm

__all__ = ["GaussianDiffusion", "create_diffusion", "linear_betas", "space_timesteps",
           "guided_output", "sample_ddim", "sample_ddpm"]
