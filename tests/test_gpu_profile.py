"""The gpu profile, checked without a GPU: every notebook's gpu sizes resolve, every zoo model's gpu recipe builds
at its paper-like size on the meta device (no memory, no time) and maps a batch of its data's shape to an output of
the same frames and pixels; the gpu-trial profile (the gpu path at smoke cost) is what the zoo and the runner say it
is. The trial itself runs every notebook in tests/test_gpu_trial.py (slow)."""
from __future__ import annotations

import dataclasses
import importlib

import pytest
import torch

from skipdit_lib import profiles, run, zoo
from skipdit_lib.models import create_model
from skipdit_lib.paths import RESULTS_DIR

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


def test_a_trial_is_a_profile_with_its_base_path_and_smoke_counts():
    assert profiles.check_profile("gpu-trial") == "gpu-trial" and profiles.is_trial("gpu-trial")
    assert (profiles.base_profile("gpu-trial"), profiles.counts_profile("gpu-trial")) == ("gpu", "smoke")
    assert (profiles.base_profile("gpu"), profiles.counts_profile("gpu"), profiles.is_trial("cpu")) == \
        ("gpu", "gpu", False)
    table = profiles.per_profile("small", "medium", "large")
    assert (profiles.pick(table, "gpu-trial"), profiles.pick(table, "cpu-trial"), profiles.pick(table, "gpu")) == \
        ("small", "small", "large")
    for bad in ("smoke-trial", "gpu-tiral", "trial"):
        with pytest.raises(ValueError, match="unknown profile"):
            profiles.check_profile(bad)


@pytest.mark.parametrize("base", ["gpu", "cpu"])
@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_a_trial_recipe_keeps_its_profiles_path_and_takes_the_smoke_counts(name, base):
    trial_name = f"{base}-trial"
    trial, full, smoke = (zoo.get_recipe(name, p) for p in (trial_name, base, "smoke"))
    for key in ("depth", "hidden_size", "num_heads"):
        assert trial.overrides[key] == smoke.overrides[key]
    rest = {k: v for k, v in trial.overrides.items() if k not in zoo.TRIAL_FIELDS["overrides"]}
    assert rest == {k: v for k, v in full.overrides.items() if k not in zoo.TRIAL_FIELDS["overrides"]}
    assert (trial.base, trial.weights, trial.parent, trial.convert, trial.init) == \
        (full.base, full.weights, full.parent, full.convert, full.init)
    assert trial.data == {**full.data, **{k: smoke.data[k] for k in ("num_samples", "num_videos") if k in full.data}}
    for ours, theirs, small in zip(trial.train_configs(), full.train_configs(), smoke.train_configs()):
        assert (ours.steps, ours.batch_size) == (small.steps, small.batch_size)
        assert (ours.lr, ours.ema_decay, ours.lr_schedule) == (theirs.lr, theirs.ema_decay, theirs.lr_schedule)
    keys = {zoo.recipe_key(r, p) for r, p in ((trial, trial_name), (full, base), (smoke, "smoke"))}
    assert len(keys) == 3  # its own checkpoints, never the profile's model
    assert zoo.model_folder(name, trial_name, "ckpt").name.startswith(f"{name}-{trial_name}-")
    assert zoo.input_size(name, trial_name) == zoo.input_size(name, base) == full.overrides["input_size"]


def test_a_trial_recipe_needs_matching_stages():
    staged, plain = zoo.get_recipe("skipdit-c2i-cpt", "gpu"), zoo.get_recipe("dit-c2i", "smoke")
    with pytest.raises(ValueError, match="as many stages"):
        zoo.trial_recipe(staged, plain)


def test_the_runner_writes_a_trial_beside_not_over_the_committed_results():
    assert run.default_results_dir("gpu") == RESULTS_DIR
    assert run.default_results_dir("gpu-trial") == RESULTS_DIR / "trials" / "gpu-trial"


def test_claim_settings_name_the_shape_the_profile_draws():
    assert zoo.data_shape("dit-c2i", "cpu") == "16x16" and zoo.data_shape("dit-c2i", "gpu-trial") == "28x28"
    assert zoo.data_shape("latte-c2v", "cpu") == "8 frames at 16x16"
    assert zoo.data_shape("latte-t2v", "gpu", joiner="of") == "16 frames of 32x32"
