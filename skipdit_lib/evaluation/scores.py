"""Scores beside the Frechet distance: IS-style score, precision/recall, class accuracy, prompt adherence.

Paper: Tables 7-8 report FID, sFID and IS (ADM evaluator); the ADM evaluator also gives
precision and recall on k-NN manifolds (Kynkaanniemi et al. 2019, k = 3). Table 4 reports CLIP
score; our stand-in is `prompt_adherence`, how often an attribute classifier reads back the
attributes the caption asked for.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch
import torch.nn as nn


@torch.no_grad()
def batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """`fn` applied to `x` in batches along the first dimension, without gradients, concatenated."""
    if len(x) == 0:
        raise ValueError("no samples given")
    return torch.cat([fn(x[start:start + batch_size]) for start in range(0, len(x), batch_size)])


def extract_features(extractor: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Penultimate features (N, d) of samples `x` from an extractor with a `.features` method."""
    return batched(extractor.features, x, batch_size).float()


def inception_score(logits: torch.Tensor, splits: int = 1) -> float:
    """exp(E_x KL(p(y|x) || p(y))) from classifier logits (N, K), averaged over `splits` chunks."""
    if logits.dim() != 2:
        raise ValueError(f"logits must be (N, num_classes), got shape {tuple(logits.shape)}")
    if len(logits) < 2 * splits:
        raise ValueError(f"an inception score over {splits} split(s) needs at least {2 * splits} samples, "
                         f"got {len(logits)}")
    log_p = torch.log_softmax(logits.double(), dim=1)  # (N, K)
    scores = []
    for chunk in log_p.chunk(splits):
        log_marginal = torch.logsumexp(chunk, dim=0) - math.log(len(chunk))  # (K,) log p(y)
        kl = (chunk.exp() * (chunk - log_marginal)).sum(dim=1)  # (n,)
        scores.append(float(kl.mean().exp()))
    return sum(scores) / len(scores)


def knn_radii(features: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """Distance (N,) from each point to its k-th nearest neighbour in the same set (itself excluded)."""
    return torch.cat([torch.cdist(features[s:s + chunk], features).kthvalue(k + 1, dim=1).values
                      for s in range(0, len(features), chunk)])


def manifold_coverage(points: torch.Tensor, manifold: torch.Tensor, radii: torch.Tensor, chunk: int = 1024) -> float:
    """Fraction of `points` inside at least one ball (manifold[i], radii[i])."""
    inside = [(torch.cdist(points[s:s + chunk], manifold) <= radii[None, :]).any(dim=1)
              for s in range(0, len(points), chunk)]
    return float(torch.cat(inside).double().mean())


def precision_recall(real_features: torch.Tensor, fake_features: torch.Tensor, k: int = 3) -> dict[str, float]:
    """Improved precision (fake inside the real manifold) and recall (real inside the fake manifold).

    Paper: ADM evaluator / Kynkaanniemi et al. (2019): each manifold is the union of balls
    reaching every sample's k-th nearest neighbour, k = 3. Each set needs more than k samples.
    """
    real, fake = real_features.double().flatten(1), fake_features.double().flatten(1)
    for name, feats in (("real", real), ("fake", fake)):
        if len(feats) <= k:
            raise ValueError(f"precision/recall with k={k} needs at least {k + 1} {name} samples, got {len(feats)}")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sizes differ: real {real.shape[1]}, fake {fake.shape[1]}")
    precision = manifold_coverage(fake, real, knn_radii(real, k))
    recall = manifold_coverage(real, fake, knn_radii(fake, k))
    return {"precision": precision, "recall": recall}


def class_accuracy(samples: torch.Tensor, labels: torch.Tensor, classifier: nn.Module, head: Optional[str] = None,
                   batch_size: int = 256) -> float:
    """Fraction of samples the classifier's `head` (default: digit) assigns to the class they were drawn for."""
    if len(samples) != len(labels):
        raise ValueError(f"{len(samples)} samples but {len(labels)} labels")
    predicted = batched(lambda x: classifier.logits(x, head).argmax(dim=1), samples, batch_size)  # (N,)
    return float((predicted == labels.to(predicted.device)).double().mean())


def prompt_adherence(samples: torch.Tensor, attributes: dict[str, torch.Tensor], classifier: nn.Module,
                     batch_size: int = 256) -> dict[str, float]:
    """Per attribute, how often the attribute classifier agrees with the caption; "mean" averages them.

    Differs from the paper: CLIP score (Table 4) needs CLIP; our captions are built from attributes
    (digit, colour, place / motion), so agreement with those attributes is the adherence measure.
    """
    unknown = [name for name in attributes if name not in classifier.heads]
    if unknown or not attributes:
        raise ValueError(f"attributes {unknown or '(none)'} have no head; the classifier reads {classifier.head_names}")
    scores = {name: class_accuracy(samples, target, classifier, name, batch_size) for name,
              target in attributes.items()}
    scores["mean"] = sum(scores.values()) / len(attributes)
    return scores
