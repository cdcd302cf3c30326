"""The model zoo: typed recipes, trains once, reloads by recipe key, returns the weights the recipe names."""
from __future__ import annotations

import pytest
import torch

from skipdit_lib import zoo
from skipdit_lib.profiles import PROFILES

TINY = zoo.ZooRecipe("DiT-S/4-digits", {"depth": 2, "hidden_size": 16, "num_heads": 2, "input_size": 8,
                                        "patch_size": 4, "in_channels": 1, "num_classes": 10},
                     {"steps": 3, "batch_size": 4, "lr": 1e-2, "ema_decay": 0.5}, {"kind": "digits", "resolution": 8})


@pytest.fixture
def tiny_zoo(monkeypatch):
    monkeypatch.setitem(zoo.ZOO, "tiny-ema", {"smoke": TINY})
    monkeypatch.setitem(zoo.ZOO, "tiny-final", {"smoke": zoo.ZooRecipe(TINY.base, TINY.overrides, TINY.train,
                                                                       TINY.data, weights="model")})


def test_recipe_key_ignores_which_weights_are_returned():
    final = zoo.ZooRecipe(TINY.base, TINY.overrides, TINY.train, TINY.data, weights="model")
    longer = zoo.ZooRecipe(TINY.base, TINY.overrides, {**TINY.train, "steps": 4}, TINY.data)
    assert zoo.recipe_key(TINY) == zoo.recipe_key(final) != zoo.recipe_key(longer)


def test_recipe_keys_of_the_trained_cpu_models_are_stable():
    # Checkpoints are found by this key: a change would silently retrain every user's models.
    # These are the keys of the recipes as of commit 7e10ab6 (when they were dicts in profiles.py).
    assert zoo.model_folder("dit-c2i", "cpu").name == "dit-c2i-cpu-f375b593a8"
    assert zoo.model_folder("skipdit-c2i", "cpu").name == "skipdit-c2i-cpu-2001417353"


def test_recipes_are_checked_when_built():
    with pytest.raises(TypeError):
        zoo.ZooRecipe(TINY.base, TINY.overrides, {**TINY.train, "stpes": 3}, TINY.data)
    with pytest.raises(ValueError, match="weights must be one of"):
        zoo.ZooRecipe(TINY.base, TINY.overrides, TINY.train, TINY.data, weights="best")
    with pytest.raises(ValueError, match="unknown zoo model"):
        zoo.get_recipe("nope", "cpu")
    with pytest.raises(ValueError, match="unknown profile"):
        zoo.get_recipe("dit-c2i", "tpu")


def test_skipdit_twins_differ_from_dit_only_by_skip_branches():
    for profile in PROFILES:
        dit, skip = zoo.get_recipe("dit-c2i", profile), zoo.get_recipe("skipdit-c2i", profile)
        assert skip.base == dit.base + "-skip"
        assert (skip.overrides, skip.train, skip.data, skip.weights) == (dit.overrides, dit.train, dit.data,
                                                                         dit.weights)


def test_get_model_trains_once_and_returns_the_named_weights(tiny_zoo, tmp_path):
    ema = zoo.get_model("tiny-ema", "smoke", root=tmp_path / "ckpt", data_root=tmp_path / "data", progress=False)
    final = zoo.get_model("tiny-final", "smoke", root=tmp_path / "ckpt", data_root=tmp_path / "data", progress=False)

    def saved(name: str) -> dict:
        return torch.load(zoo.model_folder(name, "smoke", tmp_path / "ckpt") / zoo.FINAL_NAME, weights_only=True)

    assert all(torch.equal(v, saved("tiny-ema")["ema"][k]) for k, v in ema.state_dict().items())
    assert all(torch.equal(v, saved("tiny-final")["model"][k]) for k, v in final.state_dict().items())
    assert any(not torch.equal(v, saved("tiny-final")["ema"][k]) for k, v in final.state_dict().items())
    again = zoo.get_model("tiny-ema", "smoke", root=tmp_path / "ckpt", data_root=tmp_path / "data",
                          train_if_missing=False)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in ema.state_dict().items())


def test_missing_model_without_training_says_how_to_get_it(tiny_zoo, tmp_path):
    with pytest.raises(FileNotFoundError, match="call get_model\\('tiny-ema', 'smoke'\\) to train it"):
        zoo.get_model("tiny-ema", "smoke", root=tmp_path, train_if_missing=False)


def test_training_does_not_depend_on_the_callers_random_state(tiny_zoo, tmp_path):
    models = []
    for k, caller_seed in enumerate((1, 2)):
        torch.manual_seed(caller_seed)
        models.append(zoo.get_model("tiny-final", "smoke", root=tmp_path / f"ckpt{k}", data_root=tmp_path / "data",
                                    progress=False))
        after = torch.rand(1)
        torch.manual_seed(caller_seed)
        assert torch.equal(after, torch.rand(1))  # the caller's stream is left where it was
    assert all(torch.equal(v, models[1].state_dict()[k]) for k, v in models[0].state_dict().items())
