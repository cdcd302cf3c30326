"""What the `smoke`, `cpu` and `gpu` profiles mean for every experiment: sizes, never code paths.

A notebook asks `get_profile(experiment, profile)` and gets a flat, read-only mapping of sizes
(model, training steps, sample counts, sampler steps). The same code runs at every profile:
`smoke` proves the path in seconds (CI), `cpu` is the whole paper in miniature on a 2-core
machine (the default, and the committed results), `gpu` is larger models and sample counts and
the authors' released checkpoints where they exist.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

PROFILES = ("smoke", "cpu", "gpu")

# Models the zoo trains (skipdit_lib/zoo.py). `base` is a name in models/configs.py, `overrides`
# change its sizes, `train` holds the TrainConfig fields, `data` the dataset arguments.
# Differs from the paper (DiT recipe: constant lr 1e-4, EMA 0.9999, sample from the EMA): we train
# for minutes, not days, and what limits a 2,400-step run is how fast the model learns to use the
# class label. smoke and cpu train at lr 4e-3 (100-step warm-up, grad-norm clip 1.0), constant until
# a cosine decay to 0 over the last quarter, with an EMA whose decay warms up, min(0.999, (1+k)/(10+k)).
# Measured on the cpu DiT (guided accuracy of DDIM-50 samples, guidance 2, our digit classifier):
# constant 1e-3: 16% / 48% / 72% at steps 800 / 1,600 / 2,400; constant 2e-3: 62.5% at 1,600 and 85%
# at 2,400, 90% with a cosine decay over the last 400 steps; 4e-3: 69.5% at 1,600; a cosine decay over
# the whole run at 1e-3: 19.5% (the label is learned late, so an early decay stops it). This recipe:
# DiT 93.3% (final weights) / 92.3% (EMA), Skip-DiT 95.7% / 94.0% (300 samples each; trained in 738 s
# and 801 s on the quiet 2-core machine). A plain EMA 0.999 over 2,400 steps would keep
# 0.999**2400 = 9% of the random init (the 1e-3 DiT: EMA 24%, final weights 72%, 100 samples).
# `weights` picks which of the two weight sets model.pt returns (both are kept); the final weights
# measured slightly better, so smoke and cpu return them.
_DIGITS_DIT = {"patch_size": 4, "input_size": 16, "in_channels": 1, "num_classes": 10, "learn_sigma": True}
_SHORT_RUN = {"lr": 4e-3, "warmup_steps": 100, "grad_clip": 1.0, "lr_schedule": "cosine", "decay_steps": 600,
              "min_lr": 0.0, "ema_warmup": True}
ZOO: dict[str, dict[str, dict[str, Any]]] = {
    "dit-c2i": {
        "smoke": {"base": "DiT-S/4-digits", "overrides": {**_DIGITS_DIT, "depth": 4, "hidden_size": 32, "num_heads": 2},
                  "train": {**_SHORT_RUN, "steps": 30, "batch_size": 32, "warmup_steps": 3, "decay_steps": 8, "ema_decay": 0.9}, "data": {"kind": "digits", "resolution": 16}, "weights": "model"},
        "cpu": {"base": "DiT-S/4-digits", "overrides": {**_DIGITS_DIT, "depth": 8, "hidden_size": 128, "num_heads": 4},
                "train": {**_SHORT_RUN, "steps": 2400, "batch_size": 64, "ema_decay": 0.999, "checkpoint_every": 400}, "data": {"kind": "digits", "resolution": 16},
                "weights": "model"},
        "gpu": {"base": "DiT-S/4-digits", "overrides": {**_DIGITS_DIT, "input_size": 28, "patch_size": 2, "depth": 12,
                                                        "hidden_size": 384, "num_heads": 6},
                "train": {"steps": 50000, "batch_size": 256, "lr": 1e-4, "ema_decay": 0.9999}, "data": {"kind": "digits", "resolution": 28}},
    },
}
# Skip-DiT twins: identical sizes, skip branches on.
for _name in list(ZOO):
    ZOO[_name.replace("dit-", "skipdit-")] = {
        p: {**spec, "base": spec["base"] + "-skip"} for p, spec in ZOO[_name].items()
    }

# Experiments (one per notebook). Sizes only.
EXPERIMENTS: dict[str, dict[str, dict[str, Any]]] = {
    "quickstart": {
        "smoke": {"num_samples": 4, "sampler_steps": 10, "cfg_scale": 2.0, "interval": 2, "branch_depth": 1,
                  "latency_repeats": 1},
        "cpu": {"num_samples": 32, "sampler_steps": 50, "cfg_scale": 2.0, "interval": 2, "branch_depth": 1,
                "latency_repeats": 3},
        "gpu": {"num_samples": 64, "sampler_steps": 50, "cfg_scale": 2.0, "interval": 2, "branch_depth": 1,
                "latency_repeats": 5},
    },
    # Figure 2 (loss-landscape-style surfaces) and Figure 4 (block x timestep change heat map).
    # Paper (v1, Fig. 2): DDPM-250, steps 10 and 250, radii 0.002 and 0.005. `batch_size` test digits
    # per surface point, `grid_points` per axis; `heatmap_samples` trajectories for Fig. 4.
    "smoothness": {
        "smoke": {"grid_points": 3, "batch_size": 4, "ddpm_steps": 20, "early_step": 2, "late_step": 20,
                  "radius_early": 0.002, "radius_late": 0.005, "heatmap_samples": 4},
        "cpu": {"grid_points": 17, "batch_size": 32, "ddpm_steps": 250, "early_step": 10, "late_step": 250,
                "radius_early": 0.002, "radius_late": 0.005, "heatmap_samples": 32},
        "gpu": {"grid_points": 41, "batch_size": 64, "ddpm_steps": 250, "early_step": 10, "late_step": 250,
                "radius_early": 0.002, "radius_late": 0.005, "heatmap_samples": 256},
    },
    # Tables 7 and 8 (notebook 03): class-to-image at guidance 1.5 and 1.0, DDPM-250 and DDIM-50.
    # `num_samples` / `ddim_samples`: quality samples per method at DDPM / DDIM (FID-style needs > 64, the
    # feature size); `latency_batch`: samples of the separate batch FLOPs and latency are measured on, timed
    # `latency_repeats` times after `latency_warmup` untimed runs (compare_methods already runs every method
    # once, counting its FLOPs, before timing); `accuracy_samples` uncached DDIM samples per model at
    # `accuracy_cfg_scale` for the class-accuracy check. Paper: DDPM-250, 50K samples, N = 2..6.
    # Differs from the paper: branch depth 1 of 8 blocks (the released code runs 4 outer blocks of 28, so
    # 8/28 of the blocks on a cached step; at depth 8, B=1 runs 2/8, the nearest share).
    # cpu cost, measured: the 2 x 1,000-sample accuracy check took 330 s (~300 guided sample-steps/s);
    # with 100 DDPM-250 and 200 DDIM-50 quality samples per method the notebook takes most of an hour.
    "c2i": {
        "smoke": {"num_samples": 70, "ddim_samples": 70, "ddpm_steps": 8, "ddim_steps": 6, "latency_batch": 2,
                  "latency_warmup": 0, "latency_repeats": 1, "intervals": [2], "branch_depth": 1,
                  "cfg_scales": [1.5, 1.0], "accuracy_samples": 20, "accuracy_cfg_scale": 1.5},
        "cpu": {"num_samples": 100, "ddim_samples": 200, "ddpm_steps": 250, "ddim_steps": 50, "latency_batch": 8,
                "latency_warmup": 0, "latency_repeats": 2, "intervals": [2, 3, 4, 5, 6], "branch_depth": 1,
                "cfg_scales": [1.5, 1.0], "accuracy_samples": 1000, "accuracy_cfg_scale": 2.0},
        "gpu": {"num_samples": 5000, "ddim_samples": 10000, "ddpm_steps": 250, "ddim_steps": 50, "latency_batch": 64,
                "latency_warmup": 1, "latency_repeats": 5, "intervals": [2, 3, 4, 5, 6], "branch_depth": 1,
                "cfg_scales": [1.5, 1.0], "accuracy_samples": 5000, "accuracy_cfg_scale": 1.5},
    },
}


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")


def get_profile(experiment: str, profile: str) -> Mapping[str, Any]:
    """The read-only sizes of `experiment` at `profile`."""
    _check_profile(profile)
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; known: {', '.join(sorted(EXPERIMENTS))}")
    return MappingProxyType(EXPERIMENTS[experiment][profile])


def get_zoo_spec(name: str, profile: str) -> Mapping[str, Any]:
    """The read-only recipe (model, training, data) of zoo model `name` at `profile`."""
    _check_profile(profile)
    if name not in ZOO:
        raise ValueError(f"unknown zoo model {name!r}; known: {', '.join(sorted(ZOO))}")
    return MappingProxyType(ZOO[name][profile])
