"""Notebook 06's module: its methods, the bench on a tiny text-to-video Latte pair, the paper table, claims,
and the released-model check on a tiny file in the authors' names."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from caching_fixtures import TINY, randomize

from skipdit_lib.caching import SkipCacheConfig, TGATEConfig
from skipdit_lib.datasets.captioned_digits import CaptionedDigits
from skipdit_lib.diffusion import SamplerSettings
from skipdit_lib.evaluation import DataReference
from skipdit_lib.evaluation.classifiers import DigitClassifier
from skipdit_lib.experiments import text_to_video as t2v
from skipdit_lib.experiments.claims import Verdict
from skipdit_lib.models import create_model
from skipdit_lib.models.latte_t2v_names import export_latte_t2v

torch.set_num_threads(1)
FRAMES = 4


def test_sizes_and_sampler_follow_the_paper():
    s = t2v.sizes("cpu")
    assert s.intervals == (2, 3, 4) and s.branch_depth == 1
    assert t2v.sampler_settings(s) == SamplerSettings("ddim", 50, 7.5)  # Paper: DDIM-50, guidance 7.5


def test_methods_are_table_3s():
    skip = t2v.skip_methods(t2v.sizes("cpu"))
    assert list(skip) == [f"Skip-Cache {a}->50 N={n}" for a in (800, 700) for n in (2, 3, 4)]
    assert skip["Skip-Cache 700->50 N=3"] == SkipCacheConfig(interval=3, branch_depth=1, warmup_t=700, stop_t=50,
                                                             stop_inclusive=True)
    assert skip["Skip-Cache 800->50 N=2"].warmup_t == 800
    latte = t2v.latte_methods(50)
    assert list(latte) == ["T-GATE", "Delta-DiT", "FORA", "PAB235", "PAB347", "PAB469"]
    assert latte["T-GATE"] == TGATEConfig(gate_step=20, self_attn_interval=2)
    assert latte["Delta-DiT"].boundary_step == 12 and latte["Delta-DiT"].cached_units(14) == 10
    assert latte["PAB469"].cross_range == 9


def tiny_latte(skip: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    name = "Latte-S/4-digits-t2v" + ("-skip" if skip else "")
    return randomize(create_model(name, depth=8, caption_dim=8, text_len=4, num_frames=FRAMES, **TINY),
                     seed=1 + skip).eval()


def tiny_prompts(count: int) -> CaptionedDigits:
    gen = torch.Generator().manual_seed(2)
    attributes = {"digit": torch.arange(count) % 10, "colour": torch.arange(count) % 6,
                  "motion": torch.arange(count) % 5, "template": torch.zeros(count, dtype=torch.long)}
    payload = {"data": torch.rand(count, FRAMES, 3, 8, 8, generator=gen) * 2 - 1,
               "captions": [f"c{i}" for i in range(count)], "attributes": attributes,
               "vocabularies": {"digit": list("0123456789"), "motion": ["still", "up", "down", "left", "right"]},
               "tokens": torch.randn(count, 4, 8, generator=gen), "mask": torch.ones(count, 4, dtype=torch.bool)}
    return CaptionedDigits(payload, "video")


@pytest.fixture(scope="module")
def bench_run():
    torch.manual_seed(0)
    classifier = DigitClassifier(3, 8, {"digit": 10, "colour": 6, "motion": 5}, num_frames=FRAMES, width=4,
                                 feature_dim=4).eval()
    prompts = tiny_prompts(12)
    s = t2v.Sizes(10, 6, 3.0, 12, 2, 0, 1, (2, 3), 1)
    latte = tiny_latte(False)
    bench = t2v.make_bench(latte, DataReference(classifier, prompts.videos), prompts, s, seed=2, device="cpu")
    return bench, t2v.evaluate(bench, latte, tiny_latte(True), s), s


def test_evaluate_runs_every_row_of_table_3_from_the_same_captions(bench_run):
    bench, table, s = bench_run
    assert list(table["method"]) == ["Latte", "T-GATE", "Delta-DiT", "FORA", "PAB235", "PAB347", "PAB469",
                                     "Skip-Latte"] + [f"Skip-Cache {a}->50 N={n}" for a in (800, 700) for n in (2, 3)]
    assert list(table["model"]) == ["Latte"] * 7 + ["Skip-Latte"] * 5
    row = table.set_index("method").loc["Skip-Cache 700->50 N=2"]
    semantic = (row["digit_accuracy"] + row["colour_accuracy"] + row["motion_accuracy"]) / 3
    assert row["semantic_score"] == pytest.approx(100 * semantic)
    assert 0 <= row["vbench_like"] <= 100 and row["psnr_db"] > 0 and math.isnan(table["psnr_db"].iloc[0])
    assert table[["vbench_like", "fvd", "wallclock_speedup"]].notna().all().all()
    videos = bench.samples[t2v.sampler_settings(s)]["Skip-Latte"]
    assert videos.shape == (10, FRAMES, 3, 8, 8)


def test_paper_table_uses_our_names():
    paper = t2v.paper_table().set_index("method")
    assert paper.loc["Latte", "vbench"] == 76.14 and paper.loc["Skip-Latte", "vbench"] == 75.60
    assert paper.loc["Skip-Cache 700->50 N=2", "psnr"] == 29.52
    assert paper.loc["Skip-Cache 800->50 N=4", "speedup"] == 2.20 and paper.loc["PAB469", "psnr"] == 17.40


METHODS = ["Latte", *t2v.PAPER_BASELINES, "Skip-Latte"] + [f"Skip-Cache {a}->50 N={n}" for a in (800, 700)
                                                           for n in (2, 3, 4)]


def synthetic(psnr: dict[str, float], speed: dict[str, float], skip_vbench: float = 80.0,
              accuracy: float = 0.9) -> pd.DataFrame:
    rows = [{"sampler": "DDIM-50", "cfg_scale": 7.5, "num_samples": 200, "model": "x", "method": m,
             "psnr_db": psnr.get(m, math.nan), "wallclock_speedup": speed.get(m, 1.0),
             "vbench_like": skip_vbench if m == "Skip-Latte" else 80.5, "digit_accuracy": accuracy,
             "colour_accuracy": 0.95, "motion_accuracy": 0.9} for m in METHODS]
    return pd.DataFrame(rows)


PSNR = {"T-GATE": 20.0, "Delta-DiT": 21.0, "FORA": 22.0, "PAB235": 19.0, "PAB347": 18.0, "PAB469": 17.0,
        **{f"Skip-Cache 700->50 N={n}": 30.0 - n for n in (2, 3, 4)},
        **{f"Skip-Cache 800->50 N={n}": 26.0 - n for n in (2, 3, 4)}}
SPEED = {"T-GATE": 1.1, "Delta-DiT": 1.3, "FORA": 1.2, "PAB235": 1.2, "PAB347": 1.3, "PAB469": 1.35,
         "Skip-Cache 700->50 N=2": 1.5}


def test_claims_where_they_hold():
    found = t2v.claims(synthetic(PSNR, SPEED), t2v.sizes("cpu"), "cpu")
    assert [c.verdict for c in found] == [Verdict.HELD] * 4
    assert found[0].paper == "Skip-DiT 75.6 vs Latte 76.1 VBench"
    assert found[1].paper.startswith("Skip-Cache 700->50 N=2 PSNR 29.5 at 1.49x; baselines at most 24.0 dB")
    assert found[2].ours == "N=2: 28.000 vs 24.000 dB; N=3: 27.000 vs 23.000 dB; N=4: 26.000 vs 22.000 dB"
    assert found[2].paper == "N=2: 29.52 vs 26.02 dB; N=3: 27.46 vs 22.85 dB; N=4: 25.97 vs 22.08 dB"


def test_claims_where_they_fail():
    psnr = {**PSNR, "FORA": 29.0, "Skip-Cache 800->50 N=3": 27.5}
    found = t2v.claims(synthetic(psnr, {**SPEED, "PAB469": 1.6}, skip_vbench=78.0, accuracy=0.5),
                       t2v.sizes("cpu"), "cpu")
    assert found[0].verdict is Verdict.PARTLY  # 2.5 points below, within 3
    assert found[1].verdict is Verdict.NOT_HELD  # FORA has the better PSNR and PAB469 is faster
    assert found[2].verdict is Verdict.PARTLY  # 800 -> 50 wins at N=3
    assert found[3].verdict is Verdict.PARTLY and "digit 50.0%" in found[3].ours


def test_released_check_on_a_tiny_file_in_the_authors_names(tmp_path):
    s = t2v.Sizes(2, 4, 3.0, 2, 1, 0, 1, (2,), 1, released_videos=1)
    assert t2v.released_check(tmp_path, s, "cpu") is None
    assert "missing" in t2v.released_note(tmp_path) and "GuanjieChen/Skip-DiT" in t2v.released_note(tmp_path)
    weights, prompts = t2v.released_paths(tmp_path)
    weights.parent.mkdir()
    sizes = dict(depth=8, caption_dim=8, text_len=4, num_frames=FRAMES, **TINY)
    export_latte_t2v(tiny_latte(True), weights)
    torch.save({"tokens": torch.randn(3, 4, 8), "mask": torch.ones(3, 4, dtype=torch.bool),
                "negative": torch.randn(4, 8), "negative_mask": torch.ones(4, dtype=torch.bool)}, prompts)
    assert "released model:" in t2v.released_note(tmp_path)
    table = t2v.released_check(tmp_path, s, "cpu", model_name="Latte-S/4-digits-t2v-skip", **sizes)
    assert list(table["method"]) == ["uncached", "Skip-Cache 700->50 N=2"]
    assert table.set_index("method").loc["Skip-Cache 700->50 N=2", "flops_speedup"] > 1
    assert table["latent_psnr_db"].iloc[1] > 0
