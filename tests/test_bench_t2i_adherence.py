"""The text-to-image adherence probe behind the zoo recipe's notes: it reads a saved TextDiT and scores its samples."""
from __future__ import annotations

import json

import pytest
import torch
from benchmark_scripts import load_benchmark
from caching_fixtures import randomize

from skipdit_lib.datasets import load_captioned_digits
from skipdit_lib.evaluation.classifiers import DigitClassifier
from skipdit_lib.models import create_model, save_checkpoint

torch.set_num_threads(1)



def test_a_saved_text_model_is_sampled_and_read_back(tmp_path, monkeypatch):
    bench = load_benchmark("bench_t2i_adherence")
    torch.manual_seed(0)
    model = randomize(create_model("TextDiT-S/4-digits", depth=2, hidden_size=32, num_heads=2, input_size=8))
    save_checkpoint(tmp_path / "model.pt", model)
    prompts = load_captioned_digits("image", 6, 8, split="test", root=tmp_path / "data")
    heads = {"digit": 10, "colour": len(prompts.vocabularies["colour"]), "place": len(prompts.vocabularies["place"])}
    classifier = DigitClassifier(3, 8, heads, width=4, feature_dim=4).eval()
    monkeypatch.setattr(bench, "get_feature_extractor", lambda kind, size, root=None: classifier)
    monkeypatch.setattr(bench, "load_captioned_digits", lambda *a, **k: prompts)
    out = tmp_path / "rows.json"
    assert bench.main([str(tmp_path / "model.pt"), "--samples", "6", "--sampler", "ddim,3,2",
                       "--sampler", "ddpm,3,1", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["sampler"], r["cfg_scale"]) for r in rows] == [("DDIM-3", 2.0), ("DDPM-3", 1.0)]
    for row in rows:
        assert set(row) >= {"digit", "colour", "place", "mean"} and 0 <= row["mean"] <= 1
        assert row["mean"] == pytest.approx((row["digit"] + row["colour"] + row["place"]) / 3)
    with pytest.raises(SystemExit, match="sampler,steps,guidance"):
        bench.parse_sampler("ddpm-50")
