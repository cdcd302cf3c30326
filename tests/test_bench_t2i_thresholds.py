"""The threshold probe behind notebook 05's PEER_THRESHOLDS: full-step shares per method and threshold."""
from __future__ import annotations

import json

import torch
from benchmark_scripts import load_benchmark
from caching_fixtures import randomize

from skipdit_lib.datasets import load_captioned_digits
from skipdit_lib.models import create_model

torch.set_num_threads(1)


def test_shares_fall_as_the_threshold_rises_and_the_chosen_one_is_marked(tmp_path, monkeypatch):
    bench = load_benchmark("bench_t2i_thresholds")
    torch.manual_seed(0)
    model = randomize(create_model("TextDiT-S/4-digits", depth=4, hidden_size=32, num_heads=2, input_size=8)).eval()
    captions = load_captioned_digits("image", 6, 8, split="test", root=tmp_path / "data")
    monkeypatch.setattr(bench, "get_model", lambda name, profile: model)
    monkeypatch.setattr(bench, "load_captioned_digits", lambda *a, **k: captions)
    chosen = bench.t2i.PEER_THRESHOLDS["First-Block-Cache"]
    out = tmp_path / "rows.json"
    assert bench.main(["--profile", "smoke", "--teacache", "0,1e9", "--fbc", f"0,{chosen},1e9", "--adaptive", "1e9",
                       "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    shares = {(r["method"], r["threshold"]): r["full_step_fraction"] for r in payload["rows"]}
    # threshold 0: every step runs in full; a huge one: only the steps each method must run (the first, and the
    # adaptive Skip-Cache's warm-up window) do
    assert shares[("TeaCache", 0.0)] == shares[("First-Block-Cache", 0.0)] == 1.0
    assert shares[("TeaCache", 1e9)] < 1.0 and shares[("First-Block-Cache", 1e9)] < 1.0
    assert shares[("First-Block-Cache", 0.0)] >= shares[("First-Block-Cache", chosen)] >= \
        shares[("First-Block-Cache", 1e9)]
    assert 0 < shares[("Adaptive Skip-Cache", 1e9)] < 1.0
    assert [r["chosen"] for r in payload["rows"] if r["method"] == "First-Block-Cache"] == [False, True, False]
    assert payload["command"].startswith("python benchmarks/bench_t2i_thresholds.py --profile smoke")
