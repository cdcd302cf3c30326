"""The logic behind the experiment notebooks that goes beyond the shared library (one file per notebook)."""
from .class_to_image import (PEER_THRESHOLDS, C2IBench, accuracy_claim, beats_baselines_claim, cfg1_claim,
                             delta_dit_config, dit_methods, near_lossless_claim, paper_beside_ours,
                             skipdit_matches_dit_claim, skipdit_methods, speed_quality_figure, verdict_sentence)

__all__ = [
    "PEER_THRESHOLDS", "C2IBench", "accuracy_claim", "beats_baselines_claim", "cfg1_claim", "delta_dit_config",
    "dit_methods", "near_lossless_claim", "paper_beside_ours", "skipdit_matches_dit_claim", "skipdit_methods",
    "speed_quality_figure", "verdict_sentence",
]
