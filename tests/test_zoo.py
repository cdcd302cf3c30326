"""The model zoo: typed recipes, trains once, reloads by recipe key, returns the weights the recipe names."""
from __future__ import annotations

import pytest
import torch
from interruption import FailingDataset

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
    # notebook 04's models, as trained for its committed cpu results (bounce pair min-SNR since these keys)
    assert [zoo.model_folder(name, "cpu").name for name in ("latte-c2v", "skiplatte-c2v", "latte-orbit",
                                                            "skiplatte-orbit")] == [
        "latte-c2v-cpu-1f2547bbaa", "skiplatte-c2v-cpu-a4c124aca5", "latte-orbit-cpu-b9cefee8e0",
        "skiplatte-orbit-cpu-057f34f654"]
    # notebook 05's model, as trained for its committed cpu results (eps + min-SNR since this key; v: 628ae2a0d5)
    assert zoo.model_folder("textdit-t2i", "cpu").name == "textdit-t2i-cpu-42258ad6e0"
    # notebook 06's pair, as trained for its committed cpu results (min-SNR since these keys; uniform: 1697fe3c09,
    # 2d25cf1d7d)
    assert zoo.model_folder("latte-t2v", "cpu").name == "latte-t2v-cpu-574e4062ac"
    assert zoo.model_folder("skiplatte-t2v", "cpu").name == "skiplatte-t2v-cpu-7db591dd67"
    # the class-to-image continued runs keep their keys now that the parent is a parameter
    assert zoo.model_folder("skipdit-c2i-cpt", "smoke").name == "skipdit-c2i-cpt-smoke-89821c9336"


def test_the_text_to_video_twin_continues_the_latte_in_two_stages():
    plain, twin = zoo.get_recipe("latte-t2v", "cpu"), zoo.get_recipe("skiplatte-t2v", "cpu")
    assert plain.base == "Latte-S/4-digits-t2v" and plain.data["kind"] == "captioned_videos"
    assert twin.base == plain.base + "-skip" and twin.parent == "latte-t2v" and twin.convert == "skip"
    assert twin.init == "default" and twin.stage_start == "ema"  # Paper: PyTorch-default skips, stage 2 from EMA
    assert [s["trainable"] for s in twin.stages] == ["skip_only", "all"]
    assert (twin.overrides, twin.data) == (plain.overrides, plain.data)
    assert twin.train["loss_weighting"] == plain.train["loss_weighting"] == "min_snr"  # continues the parent's loss
    assert "loss_weighting" not in zoo.get_recipe("skiplatte-t2v", "gpu").train  # the paper's uniform weights


def test_the_text_to_image_recipe_is_hunyuan_like_and_loads_captioned_images(tmp_path):
    recipe = zoo.get_recipe("textdit-t2i", "cpu")
    assert recipe.base == "TextDiT-S/4-digits" and recipe.overrides["depth"] == 16
    assert recipe.overrides["pooled_caption"]  # as Hunyuan-DiT
    # the short run predicts eps with min-SNR weights; the gpu profile keeps Hunyuan-DiT's v and uniform weights
    assert (recipe.overrides["prediction"], recipe.train["loss_weighting"]) == ("eps", "min_snr")
    gpu = zoo.get_recipe("textdit-t2i", "gpu")
    assert gpu.overrides["prediction"] == "v" and "loss_weighting" not in gpu.train
    assert recipe.data["digit_fraction"] == 0.75  # named in the recipe, so a new rendering is a new model
    data = zoo.build_dataset({**recipe.data, "num_samples": 12}, tmp_path)
    image, (tokens, mask) = data[0]
    assert image.shape == (3, 16, 16) and tokens.shape[-1] == 384 and mask.dtype == torch.bool
    inked = (data.images > -1).any(1)  # (N, R, R)
    rows, cols = inked.any(2), inked.any(1)  # (N, R) which rows / columns hold ink
    extent = [int(r.nonzero().max() - r.nonzero().min() + 1) for r in list(rows) + list(cols)]
    assert max(extent) > 8 and max(extent) <= 12  # the 12 px digit of the recipe, not the 8 px of half the canvas
    with pytest.raises(ValueError, match="unknown dataset kind"):
        zoo.build_dataset({"kind": "captioned_digits"}, tmp_path)


def test_recipes_are_checked_when_built():
    with pytest.raises(TypeError):
        zoo.ZooRecipe(TINY.base, TINY.overrides, {**TINY.train, "stpes": 3}, TINY.data)
    with pytest.raises(ValueError, match="weights must be one of"):
        zoo.ZooRecipe(TINY.base, TINY.overrides, TINY.train, TINY.data, weights="best")
    with pytest.raises(ValueError, match="unknown zoo model"):
        zoo.get_recipe("nope", "cpu")
    with pytest.raises(ValueError, match="unknown profile"):
        zoo.get_recipe("dit-c2i", "tpu")


def test_class_to_video_recipes_pair_each_latte_with_its_skip_twin():
    for profile in PROFILES:
        pairs = (("latte-c2v", "skiplatte-c2v", True), ("latte-orbit", "skiplatte-orbit", False))
        for plain, skip, conditional in pairs:
            a, b = zoo.get_recipe(plain, profile), zoo.get_recipe(skip, profile)
            assert b.base == a.base + "-skip" and (a.overrides, a.train, a.data) == (b.overrides, b.train, b.data)
            assert a.data["conditional"] is conditional and (a.overrides["num_classes"] > 0) is conditional
            assert a.data["num_frames"] == a.overrides["num_frames"]
            assert a.data["resolution"] == a.overrides["input_size"]
    cpu = zoo.get_recipe("latte-c2v", "cpu")
    assert (cpu.overrides["depth"], cpu.overrides["hidden_size"], cpu.data["motion"]) == (16, 64, "bounce")
    assert zoo.get_recipe("latte-orbit", "cpu").data["motion"] == "orbit"


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
    noted = zoo.models_used()  # what metrics.json will name: trained or loaded alike
    assert noted["tiny-ema@smoke"] == zoo.model_folder("tiny-ema", "smoke", tmp_path / "ckpt").name
    assert noted["tiny-final@smoke"] == zoo.model_folder("tiny-final", "smoke", tmp_path / "ckpt").name


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


def cpt_recipe(init: str = "default", stage2_lr: float | None = None) -> zoo.ZooRecipe:
    stages = ({"steps": 2, "trainable": "skip_only", "seed": 1},
              {"steps": 3, "trainable": "all", "seed": 2, **({"lr": stage2_lr} if stage2_lr is not None else {})})
    train = {**TINY.train, "checkpoint_every": 1, "log_every": 1}
    return zoo.ZooRecipe(TINY.base + "-skip", TINY.overrides, train, TINY.data, weights="model", parent="tiny-ema",
                         convert="skip", init=init, stages=stages, stage_start="ema")


@pytest.fixture
def family_zoo(monkeypatch, tiny_zoo):
    monkeypatch.setitem(zoo.ZOO, "tiny-cpt", {"smoke": cpt_recipe()})
    monkeypatch.setitem(zoo.ZOO, "tiny-cpt-lstsq", {"smoke": cpt_recipe("lstsq")})


def test_a_childs_key_carries_its_parents(family_zoo, monkeypatch):
    before = zoo.model_folder("tiny-cpt", "smoke").name
    assert zoo.model_folder("tiny-cpt-lstsq", "smoke").name.split("-")[-1] != before.split("-")[-1]
    monkeypatch.setitem(zoo.ZOO, "tiny-ema", {"smoke": zoo.ZooRecipe(TINY.base, TINY.overrides,
                                                                     {**TINY.train, "steps": 4}, TINY.data)})
    assert zoo.model_folder("tiny-cpt", "smoke").name != before  # a retrained parent makes a new child
    with pytest.raises(ValueError, match="needs a parent"):
        zoo.ZooRecipe(TINY.base, TINY.overrides, TINY.train, TINY.data, convert="skip")
    with pytest.raises(ValueError, match="needs the profile"):
        zoo.recipe_key(cpt_recipe())


def test_staged_child_trains_from_its_converted_parent_and_logs_every_stage(family_zoo, tmp_path):
    kw = dict(root=tmp_path / "ckpt", data_root=tmp_path / "data", progress=False)
    child = zoo.get_model("tiny-cpt", "smoke", **kw)
    parent = zoo.get_model("tiny-ema", "smoke", **kw, train_if_missing=False)
    assert child.skip and not parent.skip
    log = zoo.training_log("tiny-cpt", "smoke", tmp_path / "ckpt")
    assert [(r["stage"], r["step"]) for r in log] == [(1, 1), (1, 2), (2, 3), (2, 4), (2, 5)]
    folder = zoo.model_folder("tiny-cpt", "smoke", tmp_path / "ckpt")
    assert sorted(p.name for p in folder.iterdir()) == ["model.pt", "stage1", "stage2"]
    with pytest.raises(ValueError, match="trains in stages"):
        zoo.checkpoints("tiny-cpt", "smoke", tmp_path / "ckpt")


def test_stage_two_starts_from_stage_ones_ema(monkeypatch, tiny_zoo, tmp_path):
    # With lr 0 in stage 2 the weights cannot move: the final model is exactly what stage 2 started from.
    monkeypatch.setitem(zoo.ZOO, "tiny-frozen2", {"smoke": cpt_recipe(stage2_lr=0.0)})
    final = zoo.get_model("tiny-frozen2", "smoke", root=tmp_path, data_root=tmp_path / "data", progress=False)
    from skipdit_lib.training import latest_checkpoint, load_train_checkpoint

    stage1 = load_train_checkpoint(latest_checkpoint(zoo.model_folder("tiny-frozen2", "smoke", tmp_path) / "stage1"))
    assert all(torch.equal(v, stage1["ema"][k]) for k, v in final.state_dict().items())
    assert any(not torch.equal(v, stage1["model"][k]) for k, v in final.state_dict().items())


@pytest.mark.parametrize("reads", [2 * 4 + 1, 3 * 4 + 2])  # dies in stage 1's last step, or in stage 2's second
def test_interrupted_staged_training_resumes_to_the_same_weights(family_zoo, tmp_path, monkeypatch, reads):
    kw = dict(data_root=tmp_path / "data", progress=False)
    straight = zoo.get_model("tiny-cpt-lstsq", "smoke", root=tmp_path / "straight", **kw)
    zoo.get_model("tiny-ema", "smoke", root=tmp_path / "resumed", **kw)  # the parent, trained beforehand
    build = zoo.build_dataset
    monkeypatch.setattr(zoo, "build_dataset", lambda data, root=None: FailingDataset(build(data, root), reads))
    with pytest.raises(KeyboardInterrupt):
        zoo.get_model("tiny-cpt-lstsq", "smoke", root=tmp_path / "resumed", **kw)
    monkeypatch.setattr(zoo, "build_dataset", build)
    torch.manual_seed(123)  # the caller's random state must not matter
    resumed = zoo.get_model("tiny-cpt-lstsq", "smoke", root=tmp_path / "resumed", **kw)
    assert all(torch.equal(v, resumed.state_dict()[k]) for k, v in straight.state_dict().items())


def test_kept_checkpoints_load_as_models(tiny_zoo, tmp_path, monkeypatch):
    kept_recipe = zoo.ZooRecipe(TINY.base, TINY.overrides, {**TINY.train, "checkpoint_every": 1}, TINY.data)
    monkeypatch.setitem(zoo.ZOO, "tiny-kept", {"smoke": kept_recipe})
    final = zoo.get_model("tiny-kept", "smoke", root=tmp_path, data_root=tmp_path / "data", progress=False)
    kept = zoo.checkpoints("tiny-kept", "smoke", tmp_path)
    assert list(kept) == [1, 2, 3]
    last = zoo.checkpoint_model(kept[3], "ema")
    assert all(torch.equal(v, last.state_dict()[k]) for k, v in final.state_dict().items())
    with pytest.raises(ValueError, match="weights must be one of"):
        zoo.checkpoint_model(kept[3], "best")
