"""The gpu profile, checked without a GPU: every notebook's gpu sizes resolve, every zoo model's gpu recipe builds
at its paper-like size on the meta device (no memory, no time) and maps a batch of its data's shape to an output of
the same frames and pixels. A shape check, not a run: running the gpu profile end to end is issue 16, item 5."""
from __future__ import annotations

import dataclasses
import importlib

import pytest
import torch

from skipdit_lib import zoo
from skipdit_lib.models import create_model

EXPERIMENTS = ("quickstart", "feature_smoothness", "pretraining", "class_to_image", "class_to_video",
               "text_to_image", "text_to_video", "ablations", "cache_grid")


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_notebooks_gpu_sizes_resolve_and_are_at_least_the_cpu_ones(name):
    module = importlib.import_module(f"skipdit_lib.experiments.{name}")
    gpu, cpu = module.sizes("gpu"), module.sizes("cpu")
    assert type(gpu) is type(cpu)
    counts = [f.name for f in dataclasses.fields(gpu) if f.name.endswith(("samples", "images", "videos"))]
    for field in counts:  # sample counts grow (or stay) on the GPU; a smaller one would be a typo
        assert getattr(gpu, field) >= getattr(cpu, field), field


def meta_inputs(model: torch.nn.Module, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor, object]:
    """Start noise, timesteps and condition of `model`'s data shape on the meta device (text: tokens, no mask)."""
    size = model.x_embedder.input_size
    shape = (model.num_frames, model.in_channels, size, size) if hasattr(model, "num_frames") else \
        (model.in_channels, size, size)
    x = torch.empty(batch, *shape, device="meta")
    t = torch.zeros(batch, dtype=torch.long, device="meta")
    kwargs = model.config["kwargs"]
    if kwargs.get("caption_dim"):
        return x, t, (torch.empty(batch, kwargs["text_len"], kwargs["caption_dim"], device="meta"), None)
    return x, t, (torch.zeros(batch, dtype=torch.long, device="meta") if model.num_classes else None)


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_every_gpu_recipe_builds_at_its_size_and_maps_its_data_shape(name):
    recipe = zoo.get_recipe(name, "gpu")
    cpu = zoo.get_recipe(name, "cpu")
    assert recipe.base == cpu.base and recipe.data.get("kind") == cpu.data.get("kind")  # sizes change, not code
    with torch.device("meta"):
        model = create_model(recipe.base, **recipe.overrides)
    x, t, y = meta_inputs(model)
    out = model(x, t, y)
    channels = model.in_channels * (2 if recipe.overrides.get("learn_sigma", True) else 1)
    assert out.shape == (*x.shape[:-3], channels, *x.shape[-2:])
    assert recipe.overrides["depth"] >= cpu.overrides["depth"] and recipe.overrides["hidden_size"] > \
        cpu.overrides["hidden_size"]  # paper-like sizes: wider, at least as deep
    steps = [sum(c.steps for c in r.train_configs()) for r in (recipe, cpu)]
    assert steps[0] > steps[1]
