"""Moving-digit videos: one MNIST digit bouncing around a black canvas, class-conditional or not.

Our stand-in for the paper's class-to-video datasets (UCF101, FFS, Sky, Taichi). Videos use
Latte's layout, frames before channels: (N, F, C, H, W).
"""
from __future__ import annotations

import os
from typing import Any

import torch
from torch.utils.data import Dataset

from .digits import NUM_CLASSES, check_common, check_int, load_or_build, mnist_split, resize_digits, to_signed

DIRECTIONS = ("up", "up-right", "right", "down-right", "down", "down-left", "left", "up-left")
_DIRECTION_STEPS = torch.tensor([[-1, 0], [-1, 1], [0, 1], [1, 1], [1, 0], [1, -1], [0, -1], [-1, -1]])  # (dy, dx)
DIGIT_FRACTION = 0.6  # digit side as a fraction of the canvas side (10 px on a 16 px canvas)
PIXELS_PER_FRAME_AT_16 = 1  # speed along each moving axis; scales with the resolution


class DigitVideos(Dataset):
    """Videos (N, F, 1, R, R) in [-1, 1]; items are (video, label), or (video, 0) when unconditional.

    `.labels` always holds the digit class (for evaluation), `.conditional` says whether items carry
    it; a trainer should pass `y=None` to an unconditional model. `.attributes` maps "digit" and
    "direction" (initial direction, index into `.vocabularies["direction"]`) to (N,) long tensors;
    `.positions` (N, F, 2) long is the digit's top-left corner (row, column) in every frame.
    """

    num_classes = NUM_CLASSES

    def __init__(self, payload: dict[str, Any], conditional: bool):
        self.videos = payload["videos"]
        self.labels = payload["labels"]
        self.positions = payload["positions"]
        self.attributes = {"digit": self.labels, "direction": payload["directions"]}
        self.vocabularies = {"digit": [str(c) for c in range(NUM_CLASSES)], "direction": list(DIRECTIONS)}
        self.conditional = conditional

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor | int]:
        return self.videos[index], (self.labels[index] if self.conditional else 0)


def digit_side(resolution: int) -> int:
    """Side in pixels of the moving digit on a `resolution` canvas."""
    return max(4, round(resolution * DIGIT_FRACTION))


def balanced_choice(labels: torch.Tensor, count: int, gen: torch.Generator) -> torch.Tensor:
    """`count` indices into `labels`: classes as balanced as possible, shuffled, instances at random."""
    classes = torch.arange(count) % NUM_CLASSES
    classes = classes[torch.randperm(count, generator=gen)]  # (count,)
    index = torch.empty(count, dtype=torch.long)
    for c in range(NUM_CLASSES):
        slots = torch.nonzero(classes == c).flatten()
        members = torch.nonzero(labels == c).flatten()
        index[slots] = members[torch.randint(len(members), (len(slots),), generator=gen)]
    return index


def bouncing_paths(start: torch.Tensor, velocity: torch.Tensor, num_frames: int, limit: int) -> torch.Tensor:
    """Positions (N, F, 2) moving at `velocity` from `start`, reflected at 0 and `limit`."""
    pos, vel, frames = start.clone(), velocity.clone(), []
    for _ in range(num_frames):
        frames.append(pos.clone())
        pos = pos + vel  # (N, 2)
        low, high = pos < 0, pos > limit
        pos = torch.where(low, -pos, torch.where(high, 2 * limit - pos, pos))  # bounce off the borders
        vel = torch.where(low | high, -vel, vel)
    return torch.stack(frames, dim=1)  # (N, F, 2)


def paste_digits(digits: torch.Tensor, positions: torch.Tensor, resolution: int) -> torch.Tensor:
    """Videos (N, F, C, R, R) in [0, 1]: digit i (C, s, s) placed at positions[i, f] on a black canvas."""
    n, f = positions.shape[:2]
    side = digits.shape[-1]
    videos = torch.zeros(n, f, digits.shape[1], resolution, resolution)
    for i in range(n):
        for frame, (y, x) in enumerate(positions[i].tolist()):
            videos[i, frame, :, y:y + side, x:x + side] = digits[i]
    return videos


def _build_moving_digits(num_videos: int, num_frames: int, resolution: int, split: str, seed: int) -> dict[str, Any]:
    """Pick balanced digits of the split, draw a start and a direction each, render the videos."""
    gen = torch.Generator().manual_seed(seed)
    images, labels = mnist_split(split, seed)
    index = balanced_choice(labels, num_videos, gen)
    side = digit_side(resolution)
    limit = resolution - side
    speed = max(1, round(PIXELS_PER_FRAME_AT_16 * resolution / 16))
    start = torch.randint(limit + 1, (num_videos, 2), generator=gen)  # (N, 2) top-left corner
    directions = torch.randint(len(DIRECTIONS), (num_videos,), generator=gen)  # (N,)
    positions = bouncing_paths(start, _DIRECTION_STEPS[directions] * speed, num_frames, limit)
    digits = resize_digits(images[index], side)  # (N, 1, s, s)
    videos = to_signed(paste_digits(digits, positions, resolution))  # (N, F, 1, R, R)
    return {"videos": videos, "labels": labels[index], "directions": directions, "positions": positions}


def load_moving_digits(num_videos: int = 2000, num_frames: int = 8, resolution: int = 16, split: str = "train",
                       conditional: bool = True, root: str | os.PathLike | None = None,
                       seed: int = 0) -> DigitVideos:
    """Moving-digit videos (N, F, 1, R, R) in [-1, 1], labels = digit class, built from the split's digits.

    Each video takes one digit of `split` (classes balanced), shrinks it to ~0.6 R and moves it
    with a constant velocity in one of 8 directions, bouncing at the borders; everything follows
    from `seed`. `conditional=False` yields (video, 0) items (labels kept in `.labels`). Cached
    under `root` (default `data/`).
    """
    check_int("num_videos", num_videos, 1)
    check_int("num_frames", num_frames, 1)
    check_common(resolution, split, seed)
    if not isinstance(conditional, bool):
        raise TypeError(f"conditional must be True or False, got {conditional!r}")
    # `conditional` only changes what items yield, not the videos, so it is not part of the key.
    params = {"num_videos": num_videos, "num_frames": num_frames, "resolution": resolution, "split": split,
              "seed": seed, "digit_fraction": DIGIT_FRACTION, "speed_at_16": PIXELS_PER_FRAME_AT_16}
    payload = load_or_build("moving_digits", params,
                            lambda: _build_moving_digits(num_videos, num_frames, resolution, split, seed), root)
    return DigitVideos(payload, conditional)
