"""Moving-digit videos: one MNIST digit moving on a black canvas, class-conditional or not.

Our stand-in for the paper's class-to-video datasets (UCF101, FFS, Sky, Taichi), in two motions:
- "bounce": a straight line in one of 8 directions, reflected at the borders (UCF-like: the
  class-conditional set of notebook 04);
- "orbit": a circle around the canvas centre, clockwise or not, one turn per ORBIT_PERIOD frames
  (periodic motion in place, Taichi-like: the unconditional set).
Videos use Latte's layout, frames before channels: (N, F, C, H, W).
"""
from __future__ import annotations

import math
import os
from typing import Any

import torch
from torch.utils.data import Dataset

from .digits import NUM_CLASSES, check_common, check_int, load_or_build, mnist_split, resize_digits, to_signed

DIRECTIONS = ("up", "up-right", "right", "down-right", "down", "down-left", "left", "up-left")
_DIRECTION_STEPS = torch.tensor([[-1, 0], [-1, 1], [0, 1], [1, 1], [1, 0], [1, -1], [0, -1], [-1, -1]])  # (dy, dx)
ORBIT_DIRECTIONS = ("clockwise", "counter-clockwise")
MOTIONS = ("bounce", "orbit")
ORBIT_PERIOD = 8  # frames per turn of an orbit
DIGIT_FRACTION = 0.6  # digit side as a fraction of the canvas side (10 px on a 16 px canvas)
PIXELS_PER_FRAME_AT_16 = 1  # speed along each moving axis; scales with the resolution


class DigitVideos(Dataset):
    """Videos (N, F, 1, R, R) in [-1, 1]; items are (video, label), or (video, 0) when unconditional.

    `.labels` always holds the digit class (for evaluation), `.conditional` says whether items carry
    it; a trainer should pass `y=None` to an unconditional model. `.attributes` maps "digit" and
    "direction" (the direction of the first frame-to-frame step: one of 8 for "bounce", clockwise or
    not for "orbit"; an index into `.vocabularies["direction"]`) to (N,) long tensors; `.positions`
    (N, F, 2) long is the digit's top-left corner (row, column) in every frame; `.motion` the motion.
    """

    num_classes = NUM_CLASSES

    def __init__(self, payload: dict[str, Any], conditional: bool, motion: str = "bounce"):
        self.videos = payload["videos"]
        self.labels = payload["labels"]
        self.positions = payload["positions"]
        self.attributes = {"digit": self.labels, "direction": payload["directions"]}
        directions = DIRECTIONS if motion == "bounce" else ORBIT_DIRECTIONS
        self.vocabularies = {"digit": [str(c) for c in range(NUM_CLASSES)], "direction": list(directions)}
        self.conditional, self.motion = conditional, motion

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


def orbit_paths(phase: torch.Tensor, clockwise: torch.Tensor, num_frames: int, limit: int) -> torch.Tensor:
    """Positions (N, F, 2) on a circle of radius limit/2 around (limit/2, limit/2), starting at angle
    `phase` (N,) and turning by 2 pi / ORBIT_PERIOD per frame, clockwise on screen where `clockwise`."""
    sign = torch.where(clockwise, 1.0, -1.0)[:, None]  # (N, 1); rows grow downwards, so +angle is clockwise
    angle = phase[:, None] + sign * torch.arange(num_frames) * (2 * math.pi / ORBIT_PERIOD)  # (N, F)
    centre = radius = limit / 2
    rows, cols = centre + radius * torch.sin(angle), centre + radius * torch.cos(angle)
    return torch.stack([rows, cols], dim=-1).round().long().clamp(0, limit)  # (N, F, 2)


def bounce_starts(velocity: torch.Tensor, limit: int, gen: torch.Generator) -> torch.Tensor:
    """Top-left corners (N, 2) from which the first step at `velocity` stays inside 0..limit, so the
    first step's direction is the video's direction label."""
    low, high = (-velocity).clamp(min=0), limit - velocity.clamp(min=0)  # (N, 2) each
    return low + (torch.rand(velocity.shape, generator=gen) * (high - low + 1)).long().clamp(max=high - low)


def paste_digits(digits: torch.Tensor, positions: torch.Tensor, resolution: int) -> torch.Tensor:
    """Videos (N, F, C, R, R) in [0, 1]: digit i (C, s, s) placed at positions[i, f] on a black canvas."""
    n, f = positions.shape[:2]
    side = digits.shape[-1]
    videos = torch.zeros(n, f, digits.shape[1], resolution, resolution)
    for i in range(n):
        for frame, (y, x) in enumerate(positions[i].tolist()):
            videos[i, frame, :, y:y + side, x:x + side] = digits[i]
    return videos


def _build_moving_digits(num_videos: int, num_frames: int, resolution: int, split: str, seed: int,
                         motion: str = "bounce") -> dict[str, Any]:
    """Pick balanced digits of the split, draw a start and a direction each, render the videos."""
    gen = torch.Generator().manual_seed(seed)
    images, labels = mnist_split(split, seed)
    index = balanced_choice(labels, num_videos, gen)
    side = digit_side(resolution)
    limit = resolution - side
    if motion == "bounce":
        speed = max(1, round(PIXELS_PER_FRAME_AT_16 * resolution / 16))
        directions = torch.randint(len(DIRECTIONS), (num_videos,), generator=gen)  # (N,)
        velocity = _DIRECTION_STEPS[directions] * speed  # (N, 2)
        positions = bouncing_paths(bounce_starts(velocity, limit, gen), velocity, num_frames, limit)
    else:
        directions = torch.randint(len(ORBIT_DIRECTIONS), (num_videos,), generator=gen)  # (N,) 0 = clockwise
        phase = torch.rand(num_videos, generator=gen) * 2 * math.pi
        positions = orbit_paths(phase, directions == 0, num_frames, limit)
    digits = resize_digits(images[index], side)  # (N, 1, s, s)
    videos = to_signed(paste_digits(digits, positions, resolution))  # (N, F, 1, R, R)
    return {"videos": videos, "labels": labels[index], "directions": directions, "positions": positions}


def load_moving_digits(num_videos: int = 2000, num_frames: int = 8, resolution: int = 16, split: str = "train",
                       conditional: bool = True, root: str | os.PathLike | None = None,
                       seed: int = 0, motion: str = "bounce") -> DigitVideos:
    """Moving-digit videos (N, F, 1, R, R) in [-1, 1], labels = digit class, built from the split's digits.

    Each video takes one digit of `split` (classes balanced), shrinks it to ~0.6 R and moves it:
    `motion="bounce"` with a constant velocity in one of 8 directions, bouncing at the borders;
    `"orbit"` around the centre, clockwise or not. Everything follows from `seed`.
    `conditional=False` yields (video, 0) items (labels kept in `.labels`). Cached under `root`
    (default `data/`).
    """
    check_int("num_videos", num_videos, 1)
    check_int("num_frames", num_frames, 1)
    check_common(resolution, split, seed)
    if not isinstance(conditional, bool):
        raise TypeError(f"conditional must be True or False, got {conditional!r}")
    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {MOTIONS}, got {motion!r}")
    # `conditional` only changes what items yield, not the videos, so it is not part of the key.
    # Version 2: a bounce's first step never bounces, so its direction label is what the video shows.
    params = {"num_videos": num_videos, "num_frames": num_frames, "resolution": resolution, "split": split,
              "seed": seed, "digit_fraction": DIGIT_FRACTION, "motion": motion, "version": 2,
              **({"speed_at_16": PIXELS_PER_FRAME_AT_16} if motion == "bounce" else {"orbit_period": ORBIT_PERIOD})}
    payload = load_or_build("moving_digits", params,
                            lambda: _build_moving_digits(num_videos, num_frames, resolution, split, seed, motion), root)
    return DigitVideos(payload, conditional, motion)


def ink_centroids(videos: torch.Tensor) -> torch.Tensor:
    """The ink's centre of mass (row, column) in every frame, (N, F, 2) float, of videos (N, F, C, R, R) in [-1, 1]."""
    ink = ((videos.float() + 1) / 2).clamp(0, 1).sum(dim=2)  # (N, F, R, R)
    r = videos.shape[-1]
    grid = torch.arange(r, dtype=torch.float32)
    mass = ink.sum(dim=(-2, -1)).clamp_min(1e-6)  # (N, F)
    rows = (ink.sum(-1) * grid).sum(-1) / mass  # (N, F)
    cols = (ink.sum(-2) * grid).sum(-1) / mass  # (N, F)
    return torch.stack([rows, cols], dim=-1)  # (N, F, 2)


def measured_directions(videos: torch.Tensor, motion: str) -> torch.Tensor:
    """The direction each video shows, read from its pixels (N,) long (-1: no readable motion).

    "bounce": the sign of the ink centroid's first step on each axis (a move under half the
    data's speed counts as none), as an index into DIRECTIONS; "orbit": 0 (clockwise on screen)
    when the centroid turns clockwise around the canvas centre summed over all frames, else 1.
    The labels of our data equal these by construction; for generated videos they are the motion
    the video actually shows, against which the video classifier's reading is checked."""
    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {MOTIONS}, got {motion!r}")
    centre = ink_centroids(videos)  # (N, F, 2)
    if motion == "bounce":
        speed = max(1, round(PIXELS_PER_FRAME_AT_16 * videos.shape[-1] / 16))
        step = centre[:, 1] - centre[:, 0]  # (N, 2)
        sign = torch.where(step.abs() >= speed / 2, step.sign(), torch.zeros_like(step)).long()  # (N, 2)
        table = {tuple(v): i for i, v in enumerate(_DIRECTION_STEPS.tolist())}
        return torch.tensor([table.get(tuple(s), -1) for s in sign.tolist()], dtype=torch.long)
    offset = centre - (videos.shape[-1] - 1) / 2  # (N, F, 2) from the canvas centre
    # rows grow downwards: row' * col - ... > 0 means the angle atan2(row, col) grows, i.e. clockwise on screen
    turn = (offset[:, :-1, 1] * offset[:, 1:, 0] - offset[:, :-1, 0] * offset[:, 1:, 1]).sum(dim=1)  # (N,)
    return torch.where(turn > 0, 0, 1).long()
