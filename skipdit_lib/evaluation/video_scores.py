"""A VBench-like score for our captioned digit videos (Table 3's "VBench" column in miniature).

VBench (Huang et al., 2024) scores a text-to-video model on 16 dimensions with pretrained networks
(DINO, CLIP, RAFT, MUSIQ, AMT, GRiT, ...) and reports a Quality score, a Semantic score and their
weighted total. None of those networks exist offline here, and our videos are 8 frames of 16x16
coloured digits, so each dimension we keep is rebuilt from the same idea on our data:

Quality dimensions (each in [0, 1], higher is better):
- subject consistency: VBench's formula, mean over frames t >= 1 of (cos(f_1, f_t) + cos(f_{t-1}, f_t)) / 2,
  with f the video classifier's per-frame features (non-negative, so cosines lie in [0, 1]) for DINO's;
- temporal flickering: VBench's formula 1 - mean |x_t - x_{t-1}| (pixels in [0, 1]) on the videos whose
  caption asks for a still digit (VBench runs it on static prompts);
- motion smoothness: how well each interior frame's ink centroid is predicted by its neighbours,
  1 - mean ||c_{t-1} - 2 c_t + c_{t+1}|| / R (VBench predicts the frame with a frame interpolator, AMT);
- dynamic degree: the share of videos whose ink centroid travels at least DYNAMIC_PIXELS between two
  frames (VBench: RAFT flow above a threshold), over the videos whose caption asks for motion;
- imaging quality: how clean the black background is (1 - the mean brightness of the non-ink pixels over
  the ink threshold), for MUSIQ's technical quality (noise, haze).
Semantic dimensions: digit (object class), colour and motion accuracy read back by the classifier.

Scores: Quality = the weighted mean of the quality dimensions (dynamic degree weight 0.5, the others 1,
as VBench's leaderboard); Semantic = the mean of the semantic dimensions; Total = (4 Quality + Semantic)
/ 5, as VBench's leaderboard. Differs from VBench: no per-dimension min-max normalisation (every one of
ours already spans [0, 1]), and no background consistency, aesthetic quality or the other semantic
dimensions (scenes, spatial relations, styles), which our data do not have.
"""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..datasets.moving_digits import ink_centroids
from .scores import batched, prompt_adherence

QUALITY_WEIGHTS = {"subject_consistency": 1.0, "temporal_flickering": 1.0, "motion_smoothness": 1.0,
                   "dynamic_degree": 0.5, "imaging_quality": 1.0}  # VBench's leaderboard: dynamic degree 0.5
SEMANTIC = ("digit", "colour", "motion")
QUALITY_WEIGHT, SEMANTIC_WEIGHT = 4.0, 1.0  # VBench's leaderboard total: (4 Quality + 1 Semantic) / 5
INK = 0.3  # a pixel whose brightest channel (in [0, 1]) is above this is ink
DYNAMIC_PIXELS = 0.5  # a centroid step of half a pixel counts as motion (our digits move 8 px in 7 steps)
STILL = "still"


def subject_consistency(videos: torch.Tensor, classifier: nn.Module) -> float:
    """VBench's subject consistency of videos (N, F, C, R, R) on the classifier's per-frame features."""
    n, f = videos.shape[:2]
    feats = F.normalize(batched(classifier.frame_features, videos, 64).reshape(n, f, -1), dim=-1)  # (N, F, d)
    to_first = (feats[:, 1:] * feats[:, :1]).sum(-1)  # (N, F-1)
    to_previous = (feats[:, 1:] * feats[:, :-1]).sum(-1)  # (N, F-1)
    return float(((to_first + to_previous) / 2).mean())


def temporal_flickering(videos: torch.Tensor) -> float:
    """VBench's temporal flickering, 1 - mean absolute change between consecutive frames (pixels in [0, 1])."""
    pixels = (videos.float() + 1) / 2  # (N, F, C, R, R)
    return float(1 - (pixels[:, 1:] - pixels[:, :-1]).abs().mean())


def motion_smoothness(videos: torch.Tensor) -> float:
    """1 - mean of ||c_{t-1} - 2 c_t + c_{t+1}|| / R over interior frames (twice the distance of each ink centroid
    from the midpoint of its neighbours'), clipped to [0, 1]."""
    c = ink_centroids(videos)  # (N, F, 2)
    second = (c[:, :-2] - 2 * c[:, 1:-1] + c[:, 2:]).norm(dim=-1)  # (N, F-2)
    return float((1 - second / videos.shape[-1]).clamp(0, 1).mean())


def dynamic_degree(videos: torch.Tensor) -> float:
    """Share of videos whose ink centroid moves at least DYNAMIC_PIXELS in some frame step."""
    steps = ink_centroids(videos).diff(dim=1).norm(dim=-1)  # (N, F-1)
    return float((steps.amax(dim=1) >= DYNAMIC_PIXELS).double().mean())


def imaging_quality(videos: torch.Tensor) -> float:
    """How clean the background is: 1 - the mean brightness of the pixels below the ink threshold, over it
    (haze and speckle lower it; real digits on black score near 1, uniform noise near 0.25)."""
    bright = ((videos.float() + 1) / 2).clamp(0, 1).amax(dim=2)  # (N, F, R, R) brightest channel
    background = bright[bright < INK]  # (M,)
    return float(1 - background.mean() / INK) if background.numel() else 0.0


def vbench_like(videos: torch.Tensor, asked: Mapping[str, torch.Tensor], motions: list[str],
                classifier: nn.Module) -> dict[str, float]:
    """Every dimension, the Quality and Semantic scores and the Total (in %) of videos (N, F, C, R, R).

    `asked`: what each caption asked for, attribute -> (N,) long (digit, colour, motion); `motions` the
    motion vocabulary (STILL marks the static captions)."""
    if videos.ndim != 5:
        raise ValueError(f"videos must be (N, F, C, R, R), got {tuple(videos.shape)}")
    missing = [a for a in SEMANTIC if a not in asked]
    if missing:
        raise ValueError(f"vbench_like needs what each caption asked for: missing {missing}")
    still = asked["motion"] == motions.index(STILL)  # (N,)
    if still.all() or not still.any():
        raise ValueError("vbench_like needs captions that ask for a still digit and captions that ask for motion "
                         "(temporal flickering and dynamic degree each use one group)")
    dims = {"subject_consistency": subject_consistency(videos, classifier),
            "temporal_flickering": temporal_flickering(videos[still]),
            "motion_smoothness": motion_smoothness(videos),
            "dynamic_degree": dynamic_degree(videos[~still]),
            "imaging_quality": imaging_quality(videos)}
    semantic = prompt_adherence(videos, {a: asked[a] for a in SEMANTIC}, classifier)
    quality = sum(QUALITY_WEIGHTS[k] * v for k, v in dims.items()) / sum(QUALITY_WEIGHTS.values())
    total = (QUALITY_WEIGHT * quality + SEMANTIC_WEIGHT * semantic["mean"]) / (QUALITY_WEIGHT + SEMANTIC_WEIGHT)
    return {**dims, **{f"{a}_accuracy": semantic[a] for a in SEMANTIC},
            "quality_score": 100 * quality, "semantic_score": 100 * semantic["mean"], "vbench_like": 100 * total}
