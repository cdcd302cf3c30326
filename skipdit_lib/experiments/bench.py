"""`MethodBench`: the caching methods of one experiment measured on its models, images or videos alike.

A bench holds what every setting of an experiment shares (the real data in an extractor's
features, one sample's shape, the class count, the seeds, the size of the cost batch).
`evaluate(families, settings, num_samples)` returns one row per model and method in the column
vocabulary of `evaluation.methods.COLUMNS`:
- cost (FLOPs, latency, both speedups and their ratio) from `compare_methods` on a small separate
  batch of `latency_batch` samples, so that timing repeats stay cheap on a CPU;
- quality on `num_samples` samples per method, every method from the same start noise (and, for
  DDPM, the same per-step noise): against the same model uncached and against the data.
Speedups are against the same model uncached, as in the paper's tables. The samples are kept in
`bench.samples[settings][method]`, keyed by the frozen `SamplerSettings`.
Conditions: class labels 0..K-1 repeating (`num_classes`), the first N captions of a test set
(`prompts`, text-conditional models), or none. Seeds: quality noise `seed`, cost noise `seed + 1`,
uncached-accuracy noise `seed + 2`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pandas as pd
import torch
from torch import nn

from ..datasets.captioned_digits import CaptionedDigits
from ..diffusion.sampling import SamplerSettings, balanced_labels, run_sampler, start_noise
from ..evaluation.methods import COST_COLUMNS, compare_methods, quality, sample_methods
from ..evaluation.sample_quality import DataReference
from ..evaluation.scores import class_accuracy

log = logging.getLogger(__name__)

Family = tuple[nn.Module, Mapping[str, Any]]  # (model, {method name: cache config})


@dataclass
class MethodBench:
    """What every setting of an experiment shares; `evaluate` returns table rows and keeps the samples."""

    sample_shape: Sequence[int]           # one sample: (C, H, W) or (F, C, H, W)
    num_classes: Optional[int]            # class-conditional models: labels 0..K-1 repeating; None: unconditional
    data: Optional[DataReference] = None  # real data in our features (None: quality against uncached only)
    latency_batch: int = 8                # samples in the cost batch (FLOPs and latency)
    latency_repeats: int = 1              # timed runs per method (median)
    latency_warmup: int = 0               # untimed runs per method before timing
    seed: int = 0                         # see the module docstring
    device: str = "cpu"
    prompts: Optional[CaptionedDigits] = None  # text-conditional models: sample i follows caption i of this set
    samples: dict[SamplerSettings, dict[str, torch.Tensor]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.prompts is not None and self.num_classes:
            raise ValueError("a bench conditions on class labels (num_classes) or on captions (prompts), not both")

    def condition(self, num: int) -> Any:
        """The condition of `num` samples: balanced labels, the first `num` captions' (tokens, mask), or None."""
        if self.prompts is None:
            return self.labels(num)  # class-conditional: the condition is the labels themselves
        if num > len(self.prompts):
            raise ValueError(f"{num} samples need as many captions but the prompt set holds {len(self.prompts)}; "
                             "load more test captions or ask for fewer samples")
        return self.prompts.tokens[:num].to(self.device), self.prompts.mask[:num].to(self.device)

    def labels(self, num: int) -> Optional[torch.Tensor]:
        """The digit each of `num` samples should show (what `data` checks accuracy against), or None."""
        if self.prompts is None:
            return balanced_labels(num, self.num_classes, self.device) if self.num_classes else None
        return self.prompts.attributes["digit"][:num].to(self.device)

    def inputs(self, num: int, seed: int) -> tuple[torch.Tensor, Any]:
        """Seeded start noise (num, *sample_shape) and the condition (labels, captions or None)."""
        return start_noise(num, self.sample_shape, seed, self.device), self.condition(num)

    def cost_inputs(self) -> tuple[torch.Tensor, Any]:
        """The cost batch (also what TeaCache-like methods calibrate on)."""
        return self.inputs(self.latency_batch, self.seed + 1)

    def evaluate(self, families: Mapping[str, Family], settings: SamplerSettings, num_samples: int) -> pd.DataFrame:
        """One row per model and method at `settings`: cost on the cost batch, quality on `num_samples`."""
        tables = [self.evaluate_model(name, model, methods, settings, num_samples)
                  for name, (model, methods) in families.items()]
        table = pd.concat(tables, ignore_index=True)
        table.insert(0, "cfg_scale", settings.cfg_scale)
        table.insert(0, "sampler", settings.label)
        return table

    def evaluate_model(self, name: str, model: nn.Module, methods: Mapping[str, Any], settings: SamplerSettings,
                       num_samples: int) -> pd.DataFrame:
        """Rows of one model: its uncached row (named `name`) and one per method.

        When `name` was already sampled at `settings` (a second call for the same model, e.g. methods
        that need the first call's speedups), its uncached samples are reused and only the new
        methods get rows; the cost run still times the uncached model beside them."""
        kept = self.samples.setdefault(settings, {})
        again = name in kept
        clash = [m for m in methods if m in kept]
        if clash:
            raise ValueError(f"methods {clash} were already measured at {settings.label}; give each a unique name")
        log.info("%s %s guidance %g: cost of %d methods on %d samples", name, settings.label, settings.cfg_scale,
                 len(methods) + 1, self.latency_batch)
        noise, y = self.cost_inputs()
        costs = compare_methods(model, dict(methods), noise=noise, y=y, sampler=settings,
                                repeats=self.latency_repeats, warmup=self.latency_warmup)
        costs = costs.rename(index={"uncached": name})
        noise, y = self.inputs(num_samples, self.seed)
        if again and len(kept[name]) != num_samples:
            raise ValueError(f"{name} was sampled with {len(kept[name])} samples at {settings.label}, "
                             f"not {num_samples}: new methods must use the same noise")
        samples = sample_methods(model, dict(methods) if again else {name: None, **methods}, settings, noise, y)
        kept.update(samples)
        labels = self.labels(num_samples)
        rows = [{"model": name, "method": method, **costs.loc[method, COST_COLUMNS].to_dict(),
                 "gflops_per_sample": costs.loc[method, "gflops"] / self.latency_batch,
                 **quality(out, kept[name], self.data, labels)} for method, out in samples.items()]
        return pd.DataFrame(rows)

    def uncached_accuracy(self, model: nn.Module, settings: SamplerSettings, num_samples: int) -> float:
        """Share of `num_samples` uncached samples that our classifier reads as the requested class."""
        if self.data is None or not self.num_classes:
            raise ValueError("uncached_accuracy needs a class-conditional bench with a DataReference")
        noise, labels = self.inputs(num_samples, self.seed + 2)
        return class_accuracy(run_sampler(model, settings, noise, labels), labels, self.data.extractor)
