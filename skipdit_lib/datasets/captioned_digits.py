"""Captioned coloured digits (images or videos) with cached sentence-encoder token embeddings.

Our stand-in for the paper's text-to-image (COCO, Hunyuan-DiT) and text-to-video (Latte) data:
a coloured MNIST digit on a black canvas, described by a caption built from its attributes
(digit, colour, and place for images or motion for videos), e.g. "a red seven in the top left
corner" or "a blue digit 3 moving right".
"""
from __future__ import annotations

import os
from typing import Any

import torch
from torch.utils.data import Dataset

from .digits import check_common, check_int, load_or_build, mnist_split, resize_digits, to_signed
from .moving_digits import balanced_choice, paste_digits
from .text_encoder import ENCODER_NAME, encode_texts

KINDS = ("image", "video")
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COLOURS = {  # name -> RGB in [0, 1] at full ink
    "red": (1.0, 0.15, 0.15), "green": (0.15, 0.9, 0.15), "blue": (0.2, 0.35, 1.0),
    "yellow": (1.0, 0.9, 0.1), "magenta": (1.0, 0.2, 1.0), "cyan": (0.1, 0.9, 1.0),
}
PLACES = ("top left", "top right", "bottom left", "bottom right", "centre")
MOTIONS = ("still", "up", "down", "left", "right")
TEMPLATES = ("a {colour} {word} {detail}", "a {colour} digit {number} {detail}",
             "the number {word} in {colour}, {detail}")
# Digit side as a fraction of the canvas side, per kind (the default of `digit_fraction`). Images: 12 px on a 16 px
# canvas, the four corners 4 px apart; at 8 px (0.5) our classifier read only 84% of real test digits and the
# text-to-image model drew them as 2x2-patch blobs. Videos: 8 px, so a moving digit crosses 8 px in 8 frames.
DIGIT_FRACTIONS = {"image": 0.75, "video": 0.5}


def place_phrase(place: str) -> str:
    """'in the top left corner' for a corner, 'in the centre' for the centre."""
    return "in the centre" if place == "centre" else f"in the {place} corner"


def motion_phrase(motion: str) -> str:
    """'standing still' or 'moving <direction>'."""
    return "standing still" if motion == "still" else f"moving {motion}"


def make_caption(template: int, digit: int, colour: str, detail: str) -> str:
    """Fill template `template` with the digit (as a word or a numeral), the colour and the detail phrase."""
    return TEMPLATES[template].format(colour=colour, word=DIGIT_WORDS[digit], number=digit, detail=detail)


class CaptionedDigits(Dataset):
    """Coloured digits with captions; items are (image or video, (tokens (S, 384), mask (S,))).

    `.images` (N, 3, R, R) or `.videos` (N, F, 3, R, R) in [-1, 1] (also as `.data`), `.captions`,
    `.attributes` (name -> (N,) long: digit, colour, place or motion, template), `.vocabularies`
    (name -> list of the words the indices refer to), `.tokens` (N, S, 384) float32, `.mask` (N, S) bool.
    """

    def __init__(self, payload: dict[str, Any], kind: str):
        self.kind = kind
        self.data = payload["data"]
        setattr(self, "images" if kind == "image" else "videos", self.data)
        self.captions: list[str] = list(payload["captions"])
        self.attributes: dict[str, torch.Tensor] = dict(payload["attributes"])
        self.vocabularies: dict[str, list[str]] = {k: list(v) for k, v in payload["vocabularies"].items()}
        self.labels = self.attributes["digit"]
        self.tokens, self.mask = payload["tokens"], payload["mask"]

    def __len__(self) -> int:
        return len(self.captions)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        return self.data[index], (self.tokens[index], self.mask[index])


def place_positions(places: torch.Tensor, limit: int) -> torch.Tensor:
    """Top-left corners (N, 1, 2) (row, column) of the digits for each place index."""
    corners = torch.tensor([[0, 0], [0, limit], [limit, 0], [limit, limit], [limit // 2, limit // 2]])
    return corners[places].unsqueeze(1)  # (N, 1, 2)


def motion_positions(motions: torch.Tensor, num_frames: int, limit: int, gen: torch.Generator) -> torch.Tensor:
    """Positions (N, F, 2): a random start; moving digits cross the whole canvas along their axis."""
    n = len(motions)
    positions = torch.randint(limit + 1, (n, 1, 2), generator=gen).repeat(1, num_frames, 1)  # (N, F, 2)
    ramp = (torch.arange(num_frames) * limit / max(num_frames - 1, 1)).round().long()  # (F,) 0 .. limit
    for name, axis, path in (("up", 0, limit - ramp), ("down", 0, ramp), ("left", 1, limit - ramp), ("right", 1, ramp)):
        rows = motions == MOTIONS.index(name)
        positions[rows, :, axis] = path
    return positions


def _sample_attributes(kind: str, count: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Independent uniform colour, place-or-motion and template indices (N,) long."""
    detail = "place" if kind == "image" else "motion"
    size = len(PLACES) if kind == "image" else len(MOTIONS)
    return {"colour": torch.randint(len(COLOURS), (count,), generator=gen),
            detail: torch.randint(size, (count,), generator=gen),
            "template": torch.randint(len(TEMPLATES), (count,), generator=gen)}


def _captions(kind: str, attributes: dict[str, torch.Tensor]) -> list[str]:
    """One caption per sample from its attribute indices."""
    colours = list(COLOURS)
    if kind == "image":
        details = [place_phrase(PLACES[p]) for p in attributes["place"].tolist()]
    else:
        details = [motion_phrase(MOTIONS[m]) for m in attributes["motion"].tolist()]
    return [make_caption(t, d, colours[c], detail) for t, d, c, detail in
            zip(attributes["template"].tolist(), attributes["digit"].tolist(), attributes["colour"].tolist(), details)]


def _encode_unique(captions: list[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`encode_texts` on the distinct captions only, gathered back to (N, S, 384) and (N, S)."""
    unique = sorted(set(captions))
    tokens, mask = encode_texts(unique, max_tokens)
    position = {c: i for i, c in enumerate(unique)}
    where = torch.tensor([position[c] for c in captions], dtype=torch.long)  # (N,)
    return tokens[where], mask[where]


def _vocabularies(kind: str) -> dict[str, list[str]]:
    """The words each attribute index refers to."""
    detail = {"place": list(PLACES)} if kind == "image" else {"motion": list(MOTIONS)}
    return {"digit": list(DIGIT_WORDS), "colour": list(COLOURS), **detail, "template": list(TEMPLATES)}


def digit_side(resolution: int, digit_fraction: float) -> int:
    """Side in pixels of the digit on a `resolution` canvas (at least 4)."""
    return max(4, round(resolution * digit_fraction))


def _build_captioned(kind: str, num_samples: int, resolution: int, num_frames: int, split: str, seed: int,
                     max_tokens: int, side: int) -> dict[str, Any]:
    """Draw attributes from the seed, render the coloured digits (`side` px), caption and encode them."""
    gen = torch.Generator().manual_seed(seed)
    images, labels = mnist_split(split, seed)
    index = balanced_choice(labels, num_samples, gen)
    attributes = {"digit": labels[index], **_sample_attributes(kind, num_samples, gen)}
    rgb = torch.tensor(list(COLOURS.values()))[attributes["colour"]]  # (N, 3)
    digits = resize_digits(images[index], side) * rgb[:, :, None, None]  # (N, 3, s, s)
    if kind == "image":
        corners = place_positions(attributes["place"], resolution - side)  # (N, 1, 2)
        data = paste_digits(digits, corners, resolution)[:, 0]  # (N, 3, R, R)
    else:
        data = paste_digits(digits, motion_positions(attributes["motion"], num_frames, resolution - side, gen),
                            resolution)  # (N, F, 3, R, R)
    captions = _captions(kind, attributes)
    tokens, mask = _encode_unique(captions, max_tokens)
    return {"data": to_signed(data), "captions": captions, "attributes": attributes,
            "vocabularies": _vocabularies(kind), "tokens": tokens, "mask": mask}


def load_captioned_digits(kind: str = "image", num_samples: int = 2000, resolution: int = 16, num_frames: int = 8,
                          split: str = "train", root: str | os.PathLike | None = None, seed: int = 0,
                          max_tokens: int = 16, digit_fraction: float | None = None) -> CaptionedDigits:
    """Coloured captioned digits: images (N, 3, R, R) or videos (N, F, 3, R, R) in [-1, 1], with tokens.

    Attributes (digit, colour, place for images / motion for videos, caption template) are drawn
    uniformly from `seed` (digits class-balanced, instances from `split`); the caption token
    embeddings of the MiniLM encoder are computed once and cached with the data under `root`.
    `num_frames` is ignored for images. `digit_fraction` is the digit's side over the canvas side
    (default DIGIT_FRACTIONS[kind]); it must leave the digit at least 2 px to move or be placed.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    check_int("num_samples", num_samples, 1)
    check_int("num_frames", num_frames, 1)
    check_int("max_tokens", max_tokens, 2)
    check_common(resolution, split, seed)
    fraction = DIGIT_FRACTIONS[kind] if digit_fraction is None else digit_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ValueError(f"digit_fraction must be a number in (0, 1) (the digit's side over the canvas side), "
                         f"got {digit_fraction!r}")
    side = digit_side(resolution, fraction)
    if resolution - side < 2:
        raise ValueError(f"digit_fraction={fraction} leaves a {side} px digit {resolution - side} px to move on a "
                         f"{resolution} px canvas; use a smaller fraction (places and motions need at least 2 px)")
    params = {"kind": kind, "num_samples": num_samples, "resolution": resolution, "split": split, "seed": seed,
              "num_frames": num_frames if kind == "video" else None, "max_tokens": max_tokens,
              "encoder": ENCODER_NAME, "colours": {k: list(v) for k, v in COLOURS.items()},
              "templates": list(TEMPLATES), "digit_side": side}
    build = lambda: _build_captioned(kind, num_samples, resolution, num_frames, split, seed, max_tokens,  # noqa: E731
                                     side)
    return CaptionedDigits(load_or_build("captioned_digits", params, build, root), kind)
