"""The model zoo: trains once, reloads by recipe key, returns the weights the recipe names."""
from __future__ import annotations

import pytest
import torch

from skipdit_lib import profiles, zoo

TINY = {"base": "DiT-S/4-digits", "overrides": {"depth": 2, "hidden_size": 16, "num_heads": 2, "input_size": 8,
                                                "patch_size": 4, "in_channels": 1, "num_classes": 10},
        "train": {"steps": 3, "batch_size": 4, "lr": 1e-2, "ema_decay": 0.5}, "data": {"kind": "digits", "resolution": 8}}


@pytest.fixture
def tiny_zoo(monkeypatch):
    monkeypatch.setitem(profiles.ZOO, "tiny-ema", {"smoke": dict(TINY)})
    monkeypatch.setitem(profiles.ZOO, "tiny-final", {"smoke": {**TINY, "weights": "model"}})


def test_recipe_key_ignores_which_weights_are_returned():
    assert zoo.recipe_key(TINY) == zoo.recipe_key({**TINY, "weights": "model"})
    assert zoo.recipe_key(TINY) != zoo.recipe_key({**TINY, "train": {**TINY["train"], "steps": 4}})


def test_get_model_trains_once_and_returns_the_named_weights(tiny_zoo, tmp_path):
    ema = zoo.get_model("tiny-ema", "smoke", root=tmp_path / "ckpt", data_root=tmp_path / "data", progress=False)
    final = zoo.get_model("tiny-final", "smoke", root=tmp_path / "ckpt", data_root=tmp_path / "data", progress=False)
    def saved(name: str) -> dict:
        return torch.load(zoo.model_folder(name, "smoke", tmp_path / "ckpt") / zoo.FINAL_NAME, weights_only=True)

    assert all(torch.equal(v, saved("tiny-ema")["ema"][k]) for k, v in ema.state_dict().items())
    assert all(torch.equal(v, saved("tiny-final")["model"][k]) for k, v in final.state_dict().items())
    assert any(not torch.equal(v, saved("tiny-final")["ema"][k]) for k, v in final.state_dict().items())
    again = zoo.get_model("tiny-ema", "smoke", root=tmp_path / "ckpt", data_root=tmp_path / "data", train_if_missing=False)
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
