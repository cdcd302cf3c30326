"""Quality of samples, the same way for images and videos: against data and against the uncached output.

`DataReference` holds real data in an extractor's features (our digit or video classifier: the
stand-ins for Inception and I3D); `metrics(samples, labels)` gives the Frechet distance (`fid`
for images, `fvd` for videos, and `frame_fid` on the video classifier's per-frame features, the
paper's frame FID), the IS-style score, precision, recall and class accuracy.
`against_uncached(uncached, samples)` gives PSNR and SSIM against the same model uncached.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn as nn

from .frechet import frechet_distance_from_features
from .reference_quality import psnr, ssim
from .scores import batched, class_accuracy, extract_features, inception_score, precision_recall


def frechet_column(samples: torch.Tensor) -> str:
    """The name of the Frechet distance of these samples: "fid" for (N, C, H, W), "fvd" for (N, F, C, H, W)."""
    if samples.dim() not in (4, 5):
        raise ValueError(f"expected images (N, C, H, W) or videos (N, F, C, H, W), got shape {tuple(samples.shape)}")
    return "fid" if samples.dim() == 4 else "fvd"


@dataclass
class DataReference:
    """Real data seen through a feature extractor (with `.features` and `.logits`): what samples are judged against.

    Paper: FID / IS / precision / recall as in the ADM evaluator (Tables 7-8), FVD for videos
    (Table 1); here all in the features and digit head of `extractor` (see feature_extractors.py)."""

    extractor: nn.Module             # features (Frechet distance, precision/recall) and logits (IS, accuracy)
    real: torch.Tensor               # (M, C, H, W) images or (M, F, C, H, W) videos in [-1, 1]
    k: int = 3                       # neighbours of the precision/recall manifolds
    batch_size: int = 256
    real_features: torch.Tensor = field(init=False, repr=False)
    real_frame_features: Optional[torch.Tensor] = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        self.real_features = extract_features(self.extractor, self.real, self.batch_size)  # (M, d)
        if self.real.dim() == 5:
            self.real_frame_features = self.frame_features(self.real)  # (M*F, d)

    def frame_features(self, videos: torch.Tensor) -> torch.Tensor:
        """The extractor's per-frame features (N*F, d) of videos (N, F, C, H, W)."""
        return batched(self.extractor.frame_features, videos, self.batch_size).float()  # (N*F, d)

    def metrics(self, samples: torch.Tensor, labels: Optional[torch.Tensor] = None) -> dict[str, float]:
        """Frechet distance, IS-style score, precision and recall; class accuracy when `labels` are given."""
        features = extract_features(self.extractor, samples, self.batch_size)  # (N, d)
        logits = batched(self.extractor.logits, samples, self.batch_size)  # (N, classes)
        out = {frechet_column(samples): frechet_distance_from_features(self.real_features, features),
               "inception_score": inception_score(logits),
               **precision_recall(self.real_features[:len(samples)], features, k=self.k)}
        if samples.dim() == 5:
            out["frame_fid"] = frechet_distance_from_features(self.real_frame_features, self.frame_features(samples))
        if labels is not None:
            out["class_accuracy"] = class_accuracy(samples, labels, self.extractor, batch_size=self.batch_size)
        return out


def against_uncached(uncached: torch.Tensor, samples: torch.Tensor) -> dict[str, float]:
    """PSNR (dB) and SSIM of `samples` against the same model's uncached samples; NaN for the uncached
    samples themselves, and SSIM NaN for frames smaller than its 11x11 window."""
    if samples is uncached:
        return {"psnr_db": math.nan, "ssim": math.nan}
    try:
        structural = ssim(uncached, samples)
    except ValueError:  # frames below 11x11
        structural = math.nan
    return {"psnr_db": psnr(uncached, samples), "ssim": structural}
