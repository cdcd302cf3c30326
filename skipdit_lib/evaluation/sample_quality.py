"""All distribution metrics of one sample set against real data in one call, for the notebooks."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from .frechet import frechet_distance
from .scores import batched, class_accuracy, extract_features, inception_score, precision_recall


def sample_metrics(real: torch.Tensor, fake: torch.Tensor, extractor: nn.Module,
                   fake_labels: Optional[torch.Tensor] = None, k: int = 3,
                   batch_size: int = 256) -> dict[str, float]:
    """Frechet distance, IS-style score, precision, recall and (with `fake_labels`) class accuracy.

    Paper: FID / IS / precision / recall as in the ADM evaluator (Tables 7-8), FVD for videos
    (Table 1); here all on the features and digit head of `extractor` (see feature_extractors.py).
    """
    metrics = {"frechet": frechet_distance(real, fake, extractor, batch_size)}
    metrics["inception_score"] = inception_score(batched(extractor.logits, fake, batch_size))
    metrics.update(precision_recall(extract_features(extractor, real, batch_size),
                                    extract_features(extractor, fake, batch_size), k=k))
    if fake_labels is not None:
        metrics["class_accuracy"] = class_accuracy(fake, fake_labels, extractor, batch_size=batch_size)
    return metrics
