"""Notebook 05's module: its methods, the caption-conditioned bench on a tiny TextDiT, the paper table, claims."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from caching_fixtures import TINY, randomize

from skipdit_lib.caching import AdaptiveSkipCacheConfig, SkipCacheConfig, TGATEConfig, get_cache
from skipdit_lib.datasets.captioned_digits import CaptionedDigits
from skipdit_lib.diffusion import SamplerSettings
from skipdit_lib.evaluation import DataReference
from skipdit_lib.evaluation.classifiers import DigitClassifier
from skipdit_lib.experiments import text_to_image as t2i
from skipdit_lib.experiments.bench import MethodBench
from skipdit_lib.experiments.claims import Verdict
from skipdit_lib.models import create_model

torch.set_num_threads(1)


def test_sizes_and_sampler_follow_the_paper():
    s = t2i.sizes("cpu")
    assert s.intervals == (2, 3, 4, 5, 6) and s.branch_depth == 1
    assert t2i.sampler_settings(s) == SamplerSettings("ddpm", 50, 6.0)  # Hunyuan-DiT: 50 steps, guidance 6
    with pytest.raises(ValueError, match="unknown profile"):
        t2i.sizes("laptop")


def test_skip_cache_methods_use_the_text_to_image_window():
    methods = t2i.skip_cache_methods(t2i.sizes("cpu"))
    assert list(methods) == [f"Skip-Cache N={n}" for n in (2, 3, 4, 5, 6)] + ["Adaptive Skip-Cache"]
    assert methods["Skip-Cache N=3"] == SkipCacheConfig(interval=3, branch_depth=1, warmup_t=700, stop_t=50,
                                                        stop_inclusive=True)
    assert methods["Adaptive Skip-Cache"] == AdaptiveSkipCacheConfig(t2i.PEER_THRESHOLDS["Adaptive Skip-Cache"], 1,
                                                                     700, 50)


def test_tgate_keeps_the_papers_gate_share():
    assert t2i.tgate_config(50) == TGATEConfig(gate_step=20, self_attn_interval=2)  # Paper sec 7: m=20, k=2
    assert t2i.tgate_config(10).gate_step == 4 and t2i.tgate_config(1).gate_step == 1


def tiny_text_dit() -> torch.nn.Module:
    torch.manual_seed(0)
    return randomize(create_model("TextDiT-S/4-digits", depth=6, caption_dim=8, text_len=4, prediction="v",
                                  pooled_caption=True, **TINY), seed=1)


def tiny_prompts(count: int) -> CaptionedDigits:
    gen = torch.Generator().manual_seed(2)
    attributes = {"digit": torch.arange(count) % 10, "colour": torch.arange(count) % 6,
                  "place": torch.arange(count) % 5, "template": torch.zeros(count, dtype=torch.long)}
    payload = {"data": torch.rand(count, 3, 8, 8, generator=gen) * 2 - 1, "captions": [f"c{i}" for i in range(count)],
               "attributes": attributes, "vocabularies": {"digit": list("0123456789")},
               "tokens": torch.randn(count, 4, 8, generator=gen), "mask": torch.ones(count, 4, dtype=torch.bool)}
    return CaptionedDigits(payload, "image")


def test_baselines_are_the_papers_and_the_peers():
    model = tiny_text_dit()
    prompts = tiny_prompts(2)
    methods = t2i.baseline_methods(model, SamplerSettings("ddpm", 50, 6.0), torch.randn(2, 3, 8, 8),
                                   (prompts.tokens, prompts.mask))
    assert list(methods) == ["T-GATE", "Delta-DiT", "FORA", "TeaCache", "First-Block-Cache"]
    assert methods["Delta-DiT"].boundary_step == 12 and methods["Delta-DiT"].cached_units(28) == 21
    assert get_cache(model) is None


@pytest.fixture(scope="module")
def bench_run():
    torch.manual_seed(0)
    classifier = DigitClassifier(3, 8, {"digit": 10, "colour": 6, "place": 5}, width=4, feature_dim=4).eval()
    prompts = tiny_prompts(12)
    data = DataReference(classifier, prompts.images)
    s = t2i.Sizes(10, 6, 3.0, 12, 2, 0, 1, (2, 3), 1)
    model = tiny_text_dit()
    bench = t2i.make_bench(model, data, prompts, s, seed=2, device="cpu")
    return bench, t2i.evaluate(bench, model, s), s, prompts


def test_evaluate_runs_every_method_on_one_model_from_the_same_captions(bench_run):
    bench, table, s, prompts = bench_run
    assert list(table["method"]) == ["TextDiT", "T-GATE", "Delta-DiT", "FORA", "TeaCache", "First-Block-Cache",
                                     "Skip-Cache N=2", "Skip-Cache N=3", "Adaptive Skip-Cache"]
    assert set(table["model"]) == {"TextDiT"} and set(table["num_samples"]) == {10}
    noise, y = bench.inputs(10, bench.seed)
    assert torch.equal(y[0], prompts.tokens[:10]) and torch.equal(bench.labels(10), prompts.attributes["digit"][:10])
    assert table[["fid", "prompt_adherence", "class_accuracy", "colour_accuracy", "place_accuracy"]].notna().all().all()
    row = table.set_index("method").loc["Skip-Cache N=2"]
    assert row["prompt_adherence"] == pytest.approx((row["class_accuracy"] + row["colour_accuracy"]
                                                     + row["place_accuracy"]) / 3)
    assert math.isnan(table.set_index("method").loc["TextDiT", "psnr_db"]) and row["psnr_db"] > 0
    assert table["wallclock_speedup"].gt(0).all()


def test_a_bench_takes_labels_or_captions_and_enough_of_them(bench_run):
    bench = bench_run[0]
    with pytest.raises(ValueError, match="prompt set holds 12"):
        bench.condition(13)
    with pytest.raises(ValueError, match="not both"):
        MethodBench((3, 8, 8), 10, prompts=tiny_prompts(2))


def test_lpips_column_is_nan_with_a_reason_when_its_weights_are_missing(bench_run, monkeypatch, tmp_path):
    weights_here = t2i.lpips_backbone_file().exists()  # what the bench run saw
    monkeypatch.setattr(t2i, "lpips_backbone_file", lambda net="alex": tmp_path / "missing.pth")
    assert "needs torchvision's ImageNet AlexNet weights" in t2i.lpips_note()
    table = bench_run[1]
    if not weights_here:
        assert table["lpips"].isna().all()


def test_paper_table_uses_our_names():
    paper = t2i.paper_table().set_index("method")
    assert paper.loc["TextDiT", "fid"] == 32.64 and paper.loc["TextDiT", "speedup"] == 1.0
    assert paper.loc["Skip-Cache N=2", "psnr"] == 22.09 and paper.loc["Skip-Cache N=6", "speedup"] == 2.09
    assert paper.loc["FORA", "psnr"] == 19.58


METHODS = ["TextDiT", "T-GATE", "Delta-DiT", "FORA", "TeaCache", "First-Block-Cache"] + \
    [f"Skip-Cache N={n}" for n in (2, 3, 4, 5, 6)]


def synthetic(psnr: dict[str, float], speed: dict[str, float], fid: float = 30.0, adherence: float = 0.9
              ) -> pd.DataFrame:
    rows = [{"sampler": "DDPM-50", "cfg_scale": 6.0, "num_samples": 300, "model": "TextDiT", "method": m,
             "psnr_db": psnr.get(m, math.nan), "wallclock_speedup": speed[m], "fid": 30.0 if m == "TextDiT" else fid,
             "prompt_adherence": 0.9 if m == "TextDiT" else adherence, "class_accuracy": 0.9,
             "colour_accuracy": 0.95, "place_accuracy": 0.85} for m in METHODS]
    return pd.DataFrame(rows)


PSNR = {"T-GATE": 20.0, "Delta-DiT": 21.0, "FORA": 22.0, "TeaCache": 23.0, "First-Block-Cache": 24.0,
        "Skip-Cache N=2": 30.0, "Skip-Cache N=3": 28.0, "Skip-Cache N=4": 27.0, "Skip-Cache N=5": 26.0,
        "Skip-Cache N=6": 25.0}
SPEED = {"TextDiT": 1.0, "T-GATE": 1.4, "Delta-DiT": 1.3, "FORA": 1.5, "TeaCache": 1.5, "First-Block-Cache": 1.6,
         "Skip-Cache N=2": 1.5, "Skip-Cache N=3": 1.7, "Skip-Cache N=4": 1.9, "Skip-Cache N=5": 2.0,
         "Skip-Cache N=6": 2.1}



def test_claims_where_they_hold():
    found = t2i.claims(synthetic(PSNR, SPEED), t2i.sizes("cpu"), "cpu")
    assert len(found) == 5 and all(c.verdict is Verdict.HELD for c in found), [c.verdict for c in found]
    baselines = found[0]
    assert baselines.paper.startswith("Skip-Cache N=2 PSNR 22.1 at 1.46x; T-GATE PSNR 16.8 at 1.41x")
    assert "Delta-DiT 21.0 dB at 1.30x" in baselines.ours
    assert found[3].ours.startswith("N=2..6: PSNR 30.0, 28.0, 27.0, 26.0, 25.0 dB")
    assert found[4].ours == "digit 90.0%, colour 95.0%, place 85.0%"


def test_claims_where_they_fail():
    psnr = {**PSNR, "FORA": 31.0, "TeaCache": 35.0, "First-Block-Cache": 36.0, "Skip-Cache N=4": 29.0}
    speed = {**SPEED, "Skip-Cache N=5": 1.8}
    found = t2i.claims(synthetic(psnr, speed, fid=40.0, adherence=0.85), t2i.sizes("cpu"), "cpu")
    assert found[0].verdict is Verdict.PARTLY  # beats T-GATE and Delta-DiT, not the as-fast FORA
    assert found[1].verdict is Verdict.NOT_HELD
    assert found[2].verdict is Verdict.NOT_HELD  # FID-style 33% above and adherence 5 points below
    assert found[3].verdict is Verdict.NOT_HELD  # N=4 above N=3 and N=5 slower than N=4
    slow = {**SPEED, "FORA": 1.0, "T-GATE": 1.0, "Delta-DiT": 1.0}
    vacuous = t2i.claims(synthetic(PSNR, slow), t2i.sizes("cpu"), "cpu")[0]
    assert vacuous.verdict is Verdict.PARTLY and "none within 90% of its speed" in vacuous.ours


def test_image_grid_panels_take_the_first_images():
    images = torch.randn(20, 3, 8, 8)
    panels = t2i.image_grid_panels({"a": images, "b": images}, ["b"], count=4)
    assert list(panels) == ["b"] and torch.equal(panels["b"], images[:4])
