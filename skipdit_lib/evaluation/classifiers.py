"""The small digit classifiers whose penultimate layer stands in for Inception / I3D / CLIP features.

One network family for every evaluation task: a per-image CNN trunk, optionally followed by a
temporal convolution over frames (videos), then a `feature_dim` penultimate layer and one
linear head per attribute (digit; colour, place, motion/direction for the captioned data).

Differs from the paper: FID/FVD/CLIP use ImageNet Inception, Kinetics I3D and CLIP; our data
are 16x16 digits, so features come from classifiers trained on those digits (see inception.py
for the standard Inception/I3D path).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn


def conv_layer(in_channels: int, out_channels: int) -> nn.Sequential:
    """A 3x3 conv + BatchNorm + ReLU at constant resolution."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels), nn.ReLU())


class DigitClassifier(nn.Module):
    """CNN over images (N, C, R, R) or, with `num_frames`, videos (N, F, C, R, R); one head per attribute."""

    def __init__(self, in_channels: int, resolution: int, heads: dict[str, int], num_frames: Optional[int] = None,
                 width: int = 32, feature_dim: int = 64):
        super().__init__()
        if not heads:
            raise ValueError("heads must name at least one attribute, e.g. {'digit': 10}")
        self.in_channels, self.resolution, self.num_frames = in_channels, resolution, num_frames
        self.head_names = list(heads)
        self.num_features = feature_dim  # read by torchmetrics' FrechetInceptionDistance
        self.trunk = nn.Sequential(
            conv_layer(in_channels, width), nn.MaxPool2d(2),
            conv_layer(width, 2 * width), nn.MaxPool2d(2),
            conv_layer(2 * width, 4 * width), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
        )
        frame_dim = 4 * width * 16
        if num_frames is None:
            self.project = nn.Sequential(nn.Linear(frame_dim, feature_dim), nn.ReLU())
        else:
            self.frame_project = nn.Sequential(nn.Linear(frame_dim, feature_dim), nn.ReLU())
            self.temporal = nn.Sequential(nn.Conv1d(feature_dim, feature_dim, 3, padding=1), nn.ReLU())
            # appearance (frame mean) + motion (temporal conv, frame order kept) -> one feature vector
            self.project = nn.Sequential(nn.Linear(feature_dim * (num_frames + 1), feature_dim), nn.ReLU())
        self.heads = nn.ModuleDict({name: nn.Linear(feature_dim, n) for name, n in heads.items()})

    @property
    def is_video(self) -> bool:
        """Whether the classifier takes videos (N, F, C, R, R)."""
        return self.num_frames is not None

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ValueError unless `x` has the layout, channels, frames and resolution this net was trained on."""
        if self.is_video:
            expected = (self.num_frames, self.in_channels, self.resolution, self.resolution)
            layout = "videos (N, F, C, R, R)"
        else:
            expected = (self.in_channels, self.resolution, self.resolution)
            layout = "images (N, C, R, R)"
        if x.dim() != len(expected) + 1 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"this classifier takes {layout} with (F, C, R, R)/(C, R, R) = {expected}, "
                             f"got shape {tuple(x.shape)}; get an extractor trained for these samples")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features (N, feature_dim) of images or videos in [-1, 1]."""
        self.check_input(x)
        if not self.is_video:
            return self.project(self.trunk(x))  # (N, d)
        n, f = x.shape[:2]
        frames = self.frame_features(x).reshape(n, f, -1)  # (N, F, d)
        appearance = frames.mean(dim=1)  # (N, d)
        motion = self.temporal(frames.transpose(1, 2)).flatten(1)  # (N, d*F)
        return self.project(torch.cat([appearance, motion], dim=1))  # (N, d)

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame features (N*F, feature_dim) of videos (N, F, C, R, R): what a frame FID-style distance uses."""
        if not self.is_video:
            raise ValueError("frame_features needs a video classifier; image classifiers have `features`")
        self.check_input(x)
        return self.frame_project(self.trunk(x.flatten(0, 1)))  # (N*F, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as `features`: the module torchmetrics calls."""
        return self.features(x)  # (N, d)

    def all_logits(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits of every head, name -> (N, num_classes)."""
        h = self.features(x)  # (N, d)
        return {name: head(h) for name, head in self.heads.items()}  # name -> (N, K)

    def logits(self, x: torch.Tensor, head: Optional[str] = None) -> torch.Tensor:
        """Logits (N, K) of `head` (default: the first head, the digit)."""
        name = self.head_names[0] if head is None else head
        if name not in self.heads:
            raise ValueError(f"unknown head {name!r}; this classifier has {self.head_names}")
        return self.heads[name](self.features(x))  # (N, K)
