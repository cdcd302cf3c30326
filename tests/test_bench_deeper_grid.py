"""The deeper-model try past 3x (issue 15): the recipe it trains and the record it writes, on the smoke profile."""
from __future__ import annotations

import json

import torch
from benchmark_scripts import load_benchmark

from skipdit_lib import zoo
from skipdit_lib.evaluation import DataReference
from skipdit_lib.evaluation.classifiers import DigitClassifier
from skipdit_lib.experiments import cache_grid as grid

torch.set_num_threads(1)



def test_the_deep_recipe_is_the_skip_dit_recipe_with_twice_the_blocks():
    for profile in ("smoke", "cpu", "gpu"):
        deep, base = zoo.get_recipe("skipdit-c2i-deep", profile), zoo.get_recipe("skipdit-c2i", profile)
        assert deep.overrides["depth"] == 2 * base.overrides["depth"]
        assert {**deep.overrides, "depth": base.overrides["depth"]} == dict(base.overrides)
        assert (deep.base, deep.train, deep.data) == (base.base, base.train, base.data)
        assert zoo.recipe_key(deep) != zoo.recipe_key(base)


def test_the_search_on_the_deeper_model_writes_its_record(tmp_path, monkeypatch):
    bench = load_benchmark("bench_deeper_grid")

    def tiny_reference(pair, model, profile, s, root=None, device="cpu"):  # no digit classifier to train here
        torch.manual_seed(0)
        classifier = DigitClassifier(1, 16, {"digit": 10}, width=4, feature_dim=4).eval()
        real = torch.rand(s.real_samples, 1, 16, 16, generator=torch.Generator().manual_seed(3)) * 2 - 1
        return DataReference(classifier, real)

    monkeypatch.setattr(grid, "reference", tiny_reference)
    out = tmp_path / "deeper.json"
    assert bench.main(["--profile", "smoke", "--out", str(out), "--root", str(tmp_path / "ckpt"),
                       "--samples", "12"]) == 0
    record = json.loads(out.read_text())
    deep = zoo.get_recipe("skipdit-c2i-deep", "smoke").overrides["depth"]
    assert record["num_units"] == deep and record["samples_per_point"] == 12 and record["train_seconds"] > 0
    assert record["command"].startswith("python benchmarks/bench_deeper_grid.py --profile smoke")
    rows = record["table"]
    plain = [r for r in rows if r["variant"] == "Skip-Cache"]
    assert {r["b"] for r in plain} == {1} and {r["n"] for r in plain} == set(grid.sizes("smoke").intervals)
    assert {r["variant"] for r in rows} == {"uncached", "Skip-Cache", "step skip", "adaptive N"}
    assert record["verdict"] in ("held", "partly", "not held") and record["ours"]
    assert sum(record["pareto_front_by_family"].values()) >= 1
