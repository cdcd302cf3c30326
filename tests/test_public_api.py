"""Every subpackage's public names are importable from skipdit_lib itself."""
from __future__ import annotations

import importlib

import pytest

import skipdit_lib

SUBPACKAGES = ["models", "diffusion", "training", "datasets", "caching", "evaluation", "analysis"]


@pytest.mark.parametrize("sub", SUBPACKAGES)
def test_subpackage_names_importable_from_top_level(sub):
    module = importlib.import_module(f"skipdit_lib.{sub}")
    for name in module.__all__:
        assert getattr(skipdit_lib, name) is getattr(module, name), name


def test_issue_names_are_public():
    for name in ["DiT", "Latte", "TextDiT", "create_model", "load_checkpoint", "load_model", "create_diffusion",
                 "sample_ddpm", "sample_ddim", "TrainConfig", "train", "apply_cache", "remove_cache", "SkipCacheConfig",
                 "AdaptiveSkipCacheConfig", "compare_methods", "get_model", "load_digits", "frechet_distance",
                 "SamplerSettings", "run_sampler", "start_noise", "Claim", "judge", "show", "start_run"]:
        assert callable(getattr(skipdit_lib, name)), name


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'not_a_thing'"):
        _ = skipdit_lib.not_a_thing
