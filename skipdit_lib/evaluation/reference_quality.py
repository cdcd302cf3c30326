"""Quality of cached samples against the uncached reference: PSNR, SSIM and (optionally) LPIPS.

Paper: Tables 3-6 compare each cached run to the same model run without caching, from the
same noise (PSNR, LPIPS, SSIM). Samples are images (N, C, H, W) or videos (N, F, C, H, W) in
[-1, 1]; videos are scored frame by frame and every score is the mean over all frames.
"""
from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

log = logging.getLogger(__name__)

DATA_RANGE = 2.0  # samples live in [-1, 1]
SSIM_KERNEL = 11  # torchmetrics' default Gaussian window
LPIPS_BACKBONES = {"alex": "AlexNet_Weights", "vgg": "VGG16_Weights", "squeeze": "SqueezeNet1_1_Weights"}
LPIPS_MIN_SIZE = 64  # smaller frames are upsampled first: AlexNet's pooling needs more than 16x16


def as_frames(reference: torch.Tensor, test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both sets as float frames (M, C, H, W); raise ValueError if their shapes differ."""
    if reference.shape != test.shape:
        raise ValueError(f"reference and test samples must have the same shape (same noise, same count), "
                         f"got {tuple(reference.shape)} and {tuple(test.shape)}")
    if reference.dim() not in (4, 5):
        raise ValueError(f"expected images (N, C, H, W) or videos (N, F, C, H, W), got shape {tuple(reference.shape)}")
    flat = (lambda x: x.flatten(0, 1)) if reference.dim() == 5 else (lambda x: x)
    return flat(reference).float(), flat(test).float()


def psnr(reference: torch.Tensor, test: torch.Tensor) -> float:
    """Mean over frames of 10 log10(range^2 / MSE) with range 2 ([-1, 1]); identical frames give inf."""
    ref, out = as_frames(reference, test)
    per_frame = peak_signal_noise_ratio(out, ref, data_range=DATA_RANGE, reduction="none", dim=(1, 2, 3))  # (M,)
    return float(per_frame.double().mean())


def ssim(reference: torch.Tensor, test: torch.Tensor) -> float:
    """Mean over frames of SSIM (11x11 Gaussian window, sigma 1.5, range 2)."""
    ref, out = as_frames(reference, test)
    if min(ref.shape[-2:]) < SSIM_KERNEL:
        raise ValueError(f"SSIM uses an {SSIM_KERNEL}x{SSIM_KERNEL} window; "
                         f"frames of {tuple(ref.shape[-2:])} are too small")
    per_frame = structural_similarity_index_measure(out, ref, data_range=DATA_RANGE, reduction="none")  # (M,)
    return float(per_frame.double().mean())


def lpips_backbone_file(net: str = "alex") -> Path:
    """Where torchvision keeps the ImageNet weights LPIPS(`net`) needs (it would download them there)."""
    import torchvision

    if net not in LPIPS_BACKBONES:
        raise ValueError(f"net must be one of {list(LPIPS_BACKBONES)}, got {net!r}")
    url = getattr(torchvision.models, LPIPS_BACKBONES[net]).DEFAULT.url
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def lpips(reference: torch.Tensor, test: torch.Tensor, net: str = "alex", batch_size: int = 64) -> Optional[float]:
    """Mean LPIPS over frames, or None (logged) when the backbone weights are not on this machine.

    Differs from the paper: frames smaller than 64 px are bilinearly upsampled to 64 px first;
    grey frames are repeated to three channels.
    """
    weights = lpips_backbone_file(net)
    if not weights.exists():
        warn_missing_backbone(net, str(weights))
        return None
    from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

    ref, out = as_frames(reference, test)
    metric = LearnedPerceptualImagePatchSimilarity(net_type=net, reduction="mean", normalize=False)
    for start in range(0, len(ref), batch_size):
        metric.update(_lpips_input(out[start:start + batch_size]), _lpips_input(ref[start:start + batch_size]))
    return float(metric.compute())


@functools.lru_cache(maxsize=None)
def warn_missing_backbone(net: str, weights: str) -> None:
    """Log once per backbone file (not once per scored method) that LPIPS is skipped and how to enable it."""
    log.warning("LPIPS skipped: torchmetrics' LPIPS(%s) needs the torchvision ImageNet weights %s; download "
                "them there (e.g. `torchvision.models.%s(weights='DEFAULT')` once online) to enable it",
                net, weights, {"alex": "alexnet", "vgg": "vgg16", "squeeze": "squeezenet1_1"}[net])


def _lpips_input(frames: torch.Tensor) -> torch.Tensor:
    """Frames (M, C, H, W) as LPIPS wants them: 3 channels, at least 64 px, clamped to [-1, 1]."""
    if frames.shape[1] == 1:
        frames = frames.repeat(1, 3, 1, 1)  # (M, 3, H, W)
    if min(frames.shape[-2:]) < LPIPS_MIN_SIZE:
        scale = LPIPS_MIN_SIZE / min(frames.shape[-2:])
        frames = F.interpolate(frames, scale_factor=scale, mode="bilinear", align_corners=False)  # (M, 3, >=64, >=64)
    return frames.clamp(-1, 1)


def reference_quality(reference: torch.Tensor, test: torch.Tensor,
                      lpips_net: Optional[str] = "alex") -> dict[str, Optional[float]]:
    """PSNR, SSIM and LPIPS (None when unavailable or `lpips_net` is None) of `test` against `reference`."""
    return {"psnr": psnr(reference, test), "ssim": ssim(reference, test),
            "lpips": lpips(reference, test, lpips_net) if lpips_net else None}
