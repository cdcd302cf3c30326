"""Offline, deterministic datasets: MNIST digits, moving-digit videos, captioned coloured digits."""
from .captioned_digits import CaptionedDigits, load_captioned_digits
from .digits import DigitImages, load_digits, load_sklearn_digits
from .moving_digits import DigitVideos, load_moving_digits
from .text_encoder import encode_sentences, encode_texts

__all__ = [
    "CaptionedDigits", "DigitImages", "DigitVideos", "encode_sentences", "encode_texts",
    "load_captioned_digits", "load_digits", "load_moving_digits", "load_sklearn_digits",
]
