"""Frechet distances between two sample sets: FID-style for images, FVD-style for videos.

d^2 = |mu_r - mu_f|^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)) between Gaussians fitted to features.
`frechet_distance` runs torchmetrics' `FrechetInceptionDistance` with one of our feature
extractors as its `feature` module; `frechet_from_features` is the plain numpy formula
(scipy's sqrtm, as in the ADM / StyleGAN-V evaluators) used for the Inception and I3D paths.
"""
from __future__ import annotations

import logging
from typing import Callable, Union

import numpy as np
import scipy.linalg
import torch
import torch.nn as nn

log = logging.getLogger(__name__)

ArrayLike = Union[np.ndarray, torch.Tensor]


def check_enough_samples(num_samples: int, num_features: int, what: str = "set") -> None:
    """Raise ValueError unless a covariance of `num_features` dims can be estimated from `num_samples`."""
    if num_samples < num_features + 1:
        raise ValueError(f"the {what} has {num_samples} samples but a Frechet distance on {num_features}-d "
                         f"features needs at least {num_features + 1} (d + 1) for a full-rank covariance; "
                         f"draw more samples or use an extractor with fewer features")


def feature_statistics(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and unbiased covariance (d, d) of features (N, d), in float64."""
    feats = np.asarray(features.detach().cpu() if isinstance(features, torch.Tensor) else features, np.float64)
    if feats.ndim != 2:
        raise ValueError(f"features must be (N, d), got shape {feats.shape}")
    check_enough_samples(feats.shape[0], feats.shape[1])
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def frechet_from_features(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike,
                          eps: float = 1e-6) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shapes do not match: mu {mu1.shape} / {mu2.shape}, sigma {sigma1.shape} / {sigma2.shape}")
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():  # singular product: regularise both covariances (pytorch-fid's fix)
        log.warning("Frechet distance: singular covariance product; adding %g to the diagonals", eps)
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def frechet_distance_from_features(real_features: ArrayLike, fake_features: ArrayLike) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N, d) and (M, d)."""
    mu1, sigma1 = feature_statistics(real_features)
    mu2, sigma2 = feature_statistics(fake_features)
    return frechet_from_features(mu1, sigma1, mu2, sigma2)


class FeatureModule(nn.Module):
    """Wraps an extractor (`.features(x)` or a callable) as torchmetrics' `feature` module, without gradients."""

    def __init__(self, extractor: Union[nn.Module, Callable[[torch.Tensor], torch.Tensor]], num_features: int):
        super().__init__()
        self.extractor = extractor
        self.num_features = num_features  # torchmetrics reads this instead of probing a 299x299 dummy image

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            features = getattr(self.extractor, "features", self.extractor)
            return features(x).flatten(1).float()  # (N, d)


def _batches(x: torch.Tensor, batch_size: int):
    """Consecutive slices of `x` along the first dimension."""
    return (x[start:start + batch_size] for start in range(0, len(x), batch_size))


def frechet_distance(real: torch.Tensor, fake: torch.Tensor,
                     extractor: Union[nn.Module, Callable[[torch.Tensor], torch.Tensor]],
                     batch_size: int = 256) -> float:
    """Frechet distance between the extractor's features of two sample sets (images or videos).

    Computed by torchmetrics' `FrechetInceptionDistance` with `feature=` our extractor; samples
    are passed as they are (float, [-1, 1]): torchmetrics only rescales/casts (`normalize`) for
    its own Inception, never for a custom module. Each set needs at least d + 1 samples.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(f"real and fake samples differ in shape: {tuple(real.shape)} vs {tuple(fake.shape)}")
    module = FeatureModule(extractor, num_features=0)
    known = getattr(extractor, "num_features", None)
    module.num_features = int(known) if isinstance(known, int) else int(module(real[:2]).shape[1])
    check_enough_samples(len(real), module.num_features, "real set")
    check_enough_samples(len(fake), module.num_features, "fake set")
    metric = FrechetInceptionDistance(feature=module, normalize=False)
    for batch in _batches(real, batch_size):
        metric.update(batch, real=True)
    for batch in _batches(fake, batch_size):
        metric.update(batch, real=False)
    return float(metric.compute())
