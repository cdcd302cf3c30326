"""Feature extractors trained on our data, cached in `results/checkpoints/` keyed by their config.

`get_feature_extractor(kind, resolution)` returns a trained `DigitClassifier` in eval mode; it
trains one (deterministically from `seed`, a minute or less on a CPU) when no checkpoint with
exactly this config exists, and stores the held-out accuracy of every head with the weights.

Kinds (the data each is trained on):
- "digits": MNIST digits, head `digit`; `channels=3` trains on randomly coloured digits.
- "moving_digits": moving-digit videos, heads `digit` and `direction` (the motion).
- "captioned_images": coloured captioned digits, heads `digit`, `colour`, `place`.
- "captioned_videos": coloured captioned videos, heads `digit`, `colour`, `motion`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import torch
import torch.nn.functional as F

from ..io import atomic_save_torch
from ..paths import CHECKPOINTS_DIR
from .classifiers import DigitClassifier

log = logging.getLogger(__name__)

EXTRACTOR_KINDS = ("digits", "moving_digits", "captioned_images", "captioned_videos")
CHECKPOINT_FORMAT = 4  # bump when the network or the training changes, so old checkpoints are retrained
VIDEO_KINDS = ("moving_digits", "captioned_videos")
CAPTIONED_KINDS = {"captioned_images": "image", "captioned_videos": "video"}  # extractor kind -> captioned data kind


@dataclasses.dataclass(frozen=True)
class ExtractorConfig:
    """Everything that changes a trained extractor; its JSON digest names the checkpoint file."""

    kind: str
    resolution: int = 16  # image side the extractor accepts
    channels: int = 1  # "digits" only: 1 (grey) or 3 (randomly coloured digits)
    num_frames: Optional[int] = None  # video kinds only: frames per video
    motion: str = "bounce"  # "moving_digits" only: the motion of the videos ("bounce" or "orbit")
    train_samples: Optional[int] = None  # videos / captioned samples drawn for training (digits: all 4,500)
    test_samples: int = 500  # held-out samples the accuracy is measured on
    epochs: int = 8  # passes over the training set
    batch_size: int = 64  # training batch size
    lr: float = 2e-3  # AdamW learning rate, cosine-decayed to 0
    width: int = 32  # channels of the first conv stage (the second has twice as many)
    feature_dim: int = 64  # size of the penultimate layer = the feature dimension d
    seed: int = 0  # training seed (initialisation, batches, augmentation)
    data_seed: int = 0  # dataset seed (split, rendering)
    digit_fraction: Optional[float] = None  # captioned kinds only: digit side / canvas side (make_config fills it in)


# Video nets: a narrower trunk with smaller batches (more steps for the same compute) measured best:
# moving digits, held-out digit accuracy 0.84 (width 16, batch 32) vs 0.77 (width 32) vs 0.51 (batch 64, 6 epochs).
# Moving digits since their first step never bounces: 0.78 digit (2,000 videos, 8 epochs), 0.93 with 4,000 videos and
# 10 epochs (52 s on one thread); direction 0.996-0.998 either way; orbit videos (2,000, 8 epochs) 0.89 digit, 1.0 turn.
# 32 features instead of 64 (so that the FVD-style covariance of 64-100 videos has full rank): bounce 0.916 digit /
# 0.992 direction, orbit 0.938 / 1.0 (4,000 videos, 10 epochs, 44-47 s).
# Captioned videos (digit, colour, motion), held-out accuracy on 500 videos: 4,000 videos, 8 epochs, 64 features read
# the digit of real test videos in 59% (of 300); 32 features, 16 epochs 0.79; 24 epochs 0.86; 8,000 videos and 16
# epochs 0.87 (colour and motion 0.996-1.0 in every setting), the default (94 s on one thread beside another job).
_VIDEO_DEFAULTS = {"num_frames": 8, "train_samples": 2000, "epochs": 8, "batch_size": 32, "width": 16}


def make_config(kind: str, resolution: int = 16, **overrides: Any) -> ExtractorConfig:
    """The default config of `kind` at `resolution`, with `overrides` (unknown names are an error)."""
    if kind not in EXTRACTOR_KINDS:
        raise ValueError(f"unknown extractor kind {kind!r}; choose one of {EXTRACTOR_KINDS}")
    known = {f.name for f in dataclasses.fields(ExtractorConfig)} - {"kind", "resolution"}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown extractor settings {sorted(unknown)}; known: {sorted(known)}")
    defaults: dict[str, Any] = {"digits": {}, "captioned_images": {"channels": 3, "train_samples": 4000},
                                "moving_digits": {**_VIDEO_DEFAULTS, "train_samples": 4000, "epochs": 10,
                                                  "feature_dim": 32},
                                "captioned_videos": {**_VIDEO_DEFAULTS, "channels": 3, "train_samples": 8000,
                                                     "epochs": 16, "feature_dim": 32}}[kind]
    if kind in CAPTIONED_KINDS and overrides.get("digit_fraction") is None:
        from ..datasets.captioned_digits import DIGIT_FRACTIONS  # the data set's own default, named in the key

        defaults = {**defaults, "digit_fraction": DIGIT_FRACTIONS[CAPTIONED_KINDS[kind]]}
        overrides = {k: v for k, v in overrides.items() if k != "digit_fraction"}
    config = ExtractorConfig(kind=kind, resolution=resolution, **{**defaults, **overrides})
    check_config(config)
    return config


def check_config(config: ExtractorConfig) -> None:
    """Raise ValueError for settings the kind cannot use."""
    if config.kind == "digits" and config.channels not in (1, 3):
        raise ValueError(f"digits extractors take channels=1 or 3, got {config.channels}")
    if config.kind in CAPTIONED_KINDS and config.channels != 3:
        raise ValueError("captioned digits are RGB: use channels=3")
    if config.kind == "moving_digits" and config.channels != 1:
        raise ValueError("moving digits are grey: use channels=1")
    if config.motion != "bounce" and config.kind != "moving_digits":
        raise ValueError(f"motion is a setting of moving_digits extractors only, got it for {config.kind!r}")
    if (config.digit_fraction is not None) != (config.kind in CAPTIONED_KINDS):
        raise ValueError(f"digit_fraction is a setting of captioned kinds only (and they need one), got "
                         f"{config.digit_fraction!r} for {config.kind!r}")
    if (config.kind in VIDEO_KINDS) != (config.num_frames is not None):
        raise ValueError("num_frames must be set for video kinds and None for image kinds")


def checkpoint_path(config: ExtractorConfig, root: str | os.PathLike | None = None) -> Path:
    """`<root>/feature_extractor-<kind>-r<R>-<digest>.pt` (root defaults to results/checkpoints/)."""
    key = json.dumps({"format": CHECKPOINT_FORMAT, **dataclasses.asdict(config)}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    folder = Path(root) if root is not None else CHECKPOINTS_DIR
    return folder / f"feature_extractor-{config.kind}-r{config.resolution}-{digest}.pt"


# ----------------------------------------------------------------------------- data

def colourise(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Grey digits (N, 1, R, R) in [-1, 1] -> RGB digits (N, 3, R, R) with a random ink colour each."""
    colour = torch.rand(images.shape[0], 3, generator=gen) * 0.9 + 0.1  # (N, 3)
    colour = colour / colour.amax(dim=1, keepdim=True)  # (N, 3) brightest channel at full ink
    ink = (images + 1) / 2  # (N, 1, R, R) in [0, 1]
    return ink * colour[:, :, None, None] * 2 - 1  # (N, 3, R, R)


def load_split(config: ExtractorConfig, split: str, data_root: str | os.PathLike | None
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, int]]:
    """Inputs, targets (head -> (N,) long) and head sizes of `split` for `config.kind`."""
    from .. import datasets

    count = config.test_samples if split == "test" else config.train_samples
    if config.kind == "digits":
        data = datasets.load_digits(config.resolution, split, root=data_root, seed=config.data_seed)
        x = data.images
        if config.channels == 3:
            x = colourise(x, torch.Generator().manual_seed(config.data_seed + (split == "test")))
        return x, {"digit": data.labels}, {"digit": 10}
    if config.kind == "moving_digits":
        data = datasets.load_moving_digits(count, config.num_frames, config.resolution, split,
                                           root=data_root, seed=config.data_seed, motion=config.motion)
        x = data.videos
    else:
        data = datasets.load_captioned_digits(CAPTIONED_KINDS[config.kind], count, config.resolution,
                                              config.num_frames or 8, split, root=data_root, seed=config.data_seed,
                                              digit_fraction=config.digit_fraction)
        x = data.data
    names = [n for n in data.attributes if n != "template"]  # the template is not visible in the pixels
    return x, {n: data.attributes[n] for n in names}, {n: len(data.vocabularies[n]) for n in names}


# ----------------------------------------------------------------------------- training

def random_shift(x: torch.Tensor, gen: torch.Generator, pixels: int = 1) -> torch.Tensor:
    """Shift each image (N, C, R, R) by up to `pixels` in each direction, filling with background (-1)."""
    r = x.shape[-1]
    padded = F.pad(x, (pixels,) * 4, value=-1.0)  # (N, C, R+2p, R+2p)
    offsets = torch.randint(2 * pixels + 1, (x.shape[0], 2), generator=gen)  # (N, 2)
    return torch.stack([padded[i, :, dy:dy + r, dx:dx + r] for i, (dy, dx) in enumerate(offsets.tolist())])


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one CPU thread inside the block (restored after).

    For nets this small, thread synchronisation costs more than it saves: on our shared 2-core
    machine one thread trained about 4x faster in wall time and 6x cheaper in CPU time than two,
    and a fixed thread count keeps the training bit-reproducible.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train_classifier(model: DigitClassifier, x: torch.Tensor, targets: dict[str, torch.Tensor],
                     config: ExtractorConfig) -> None:
    """AdamW with cosine decay on the summed cross-entropy of all heads; deterministic from `config.seed`."""
    gen = torch.Generator().manual_seed(config.seed)
    steps_per_epoch = -(-len(x) // config.batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs * steps_per_epoch)
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), config.batch_size):
            idx = order[start:start + config.batch_size]
            xb = x[idx] if model.is_video else random_shift(x[idx], gen)
            logits = model.all_logits(xb)
            loss = sum(F.cross_entropy(logits[n], targets[n][idx]) for n in logits)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()


@torch.no_grad()
def held_out_accuracy(model: DigitClassifier, x: torch.Tensor, targets: dict[str, torch.Tensor],
                      batch_size: int = 256) -> dict[str, float]:
    """Fraction of held-out samples each head classifies correctly."""
    model.eval()
    correct = {n: 0 for n in targets}
    for start in range(0, len(x), batch_size):
        logits = model.all_logits(x[start:start + batch_size])
        for n in targets:
            correct[n] += int((logits[n].argmax(1) == targets[n][start:start + batch_size]).sum())
    return {n: correct[n] / len(x) for n in targets}


def build_model(config: ExtractorConfig, heads: dict[str, int]) -> DigitClassifier:
    """A fresh classifier for `config`, initialised from `config.seed`."""
    torch.manual_seed(config.seed)
    return DigitClassifier(config.channels, config.resolution, heads, config.num_frames,
                           width=config.width, feature_dim=config.feature_dim)


def train_extractor(config: ExtractorConfig, data_root: str | os.PathLike | None = None) -> dict[str, Any]:
    """Train the extractor of `config`; return the checkpoint payload (config, heads, weights, accuracy)."""
    started = time.time()
    x, targets, heads = load_split(config, "train", data_root)
    x_test, targets_test, _ = load_split(config, "test", data_root)
    with torch.random.fork_rng(), one_thread():  # leave the caller's global RNG untouched
        model = build_model(config, heads)
        train_classifier(model, x, targets, config)
        accuracy = held_out_accuracy(model, x_test, targets_test)
    seconds = round(time.time() - started, 1)
    log.info("trained %s extractor at %dx%d in %.1fs; held-out accuracy %s", config.kind, config.resolution,
             config.resolution, seconds, {n: round(a, 4) for n, a in accuracy.items()})
    return {"format": CHECKPOINT_FORMAT, "config": dataclasses.asdict(config), "heads": heads,
            "state_dict": model.state_dict(), "held_out_accuracy": accuracy,
            "held_out_samples": len(x_test), "train_seconds": seconds}


def model_from_payload(payload: dict[str, Any]) -> DigitClassifier:
    """Rebuild the classifier of a checkpoint payload, in eval mode without gradients."""
    config = ExtractorConfig(**payload["config"])
    model = DigitClassifier(config.channels, config.resolution, dict(payload["heads"]), config.num_frames,
                            width=config.width, feature_dim=config.feature_dim)
    model.load_state_dict(payload["state_dict"])
    model.config = config
    model.held_out_accuracy = dict(payload["held_out_accuracy"])
    return model.eval().requires_grad_(False)


def load_checkpoint(path: Path, config: ExtractorConfig) -> Optional[DigitClassifier]:
    """The extractor saved at `path` if it exists, loads, and was trained with exactly `config`; else None."""
    if not path.exists():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload.get("config") != dataclasses.asdict(config) or payload.get("format") != CHECKPOINT_FORMAT:
            log.warning("checkpoint %s holds another config; retraining", path)
            return None
        return model_from_payload(payload)
    except Exception as err:  # a damaged or stale file is retrained, never trusted
        log.warning("feature extractor checkpoint %s unusable (%s); retraining", path, err)
        return None


def get_feature_extractor(kind: str, resolution: int = 16, root: str | os.PathLike | None = None,
                          data_root: str | os.PathLike | None = None, retrain: bool = False,
                          **overrides: Any) -> DigitClassifier:
    """The trained extractor of `kind` at `resolution`: loaded from `root`, or trained and saved there.

    `root` is the checkpoint folder (default results/checkpoints/), `data_root` the dataset cache
    (default data/); `overrides` are ExtractorConfig fields (channels, num_frames, epochs, ...).
    The returned model has `.config` and `.held_out_accuracy` (head -> fraction correct).
    """
    config = make_config(kind, resolution, **overrides)
    path = checkpoint_path(config, root)
    model = None if retrain else load_checkpoint(path, config)
    if model is None:
        payload = train_extractor(config, data_root)
        atomic_save_torch(payload, path)
        model = model_from_payload(payload)
    log.info("%s extractor (%s): held-out accuracy %s", kind, path.name, model.held_out_accuracy)
    return model
