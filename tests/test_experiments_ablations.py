"""Notebook 07's Tables 5-6 module: the windows, the baselines on both models, the paper tables and the claims."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from test_experiments_text_to_video import tiny_latte, tiny_prompts

from skipdit_lib.evaluation import DataReference
from skipdit_lib.evaluation.classifiers import DigitClassifier
from skipdit_lib.experiments import ablations as ab
from skipdit_lib.experiments.claims import Verdict

torch.set_num_threads(1)
WINDOWS = [ab.window_name(a, b) for a, b in ab.PAPER_WINDOWS + ab.OUR_WINDOWS]


def test_windows_are_table_5s_and_ours():
    methods = ab.window_methods(ab.sizes("cpu"))
    assert list(methods) == ["Skip-Cache 700->50 N=2", "Skip-Cache 950->300 N=2", "Skip-Cache 800->50 N=2",
                             "Skip-Cache 900->50 N=2", "Skip-Cache 1000->50 N=2", "Skip-Cache 600->50 N=2"]
    late = methods["Skip-Cache 950->300 N=2"]
    assert (late.interval, late.branch_depth, late.warmup_t, late.stop_t, late.stop_inclusive) == (2, 1, 950, 300, True)
    assert list(ab.baseline_methods("Latte", 50)) == [f"{m} on Latte" for m in ab.BASELINES]


@pytest.fixture(scope="module")
def ablation_run():
    torch.manual_seed(0)
    classifier = DigitClassifier(3, 8, {"digit": 10, "colour": 6, "motion": 5}, num_frames=4, width=4,
                                 feature_dim=4).eval()
    prompts = tiny_prompts(12)
    s = ab.Sizes(10, 6, 3.0, 12, 2, 0, 1, 1)
    latte = tiny_latte(False)
    bench = ab.make_bench(latte, DataReference(classifier, prompts.videos), prompts, s, seed=2, device="cpu")
    return ab.evaluate(bench, latte, tiny_latte(True), s)


def test_every_window_on_the_skip_model_and_every_baseline_on_both(ablation_run):
    table = ablation_run
    expected = (["Latte"] + [f"{m} on Latte" for m in ab.BASELINES] + ["Skip-Latte"] + WINDOWS
                + [f"{m} on Skip-Latte" for m in ab.BASELINES])
    assert list(table["method"]) == expected
    assert table.loc[table["method"].isin(WINDOWS), "model"].eq("Skip-Latte").all()
    assert table["vbench_like"].notna().all() and table["psnr_db"].iloc[1:].notna().sum() == len(table) - 2
    six = ab.table6(table)
    assert list(six["method"]) == list(ab.BASELINES)
    assert (six["gain_db"] == six["psnr_on_skip"] - six["psnr_on_latte"]).all()
    assert six.set_index("method").loc["FORA", "paper_psnr_on_skip"] == 23.26
    five = ab.table5(table).set_index("method")
    assert five.loc["Skip-Cache 700->50 N=2", "paper_psnr"] == 29.52
    assert math.isnan(five.loc["Skip-Cache 600->50 N=2", "paper_psnr"])


def synthetic(windows: dict[str, float], latte: dict[str, float], skip: dict[str, float]) -> pd.DataFrame:
    rows = [{"method": m, "psnr_db": v, "wallclock_speedup": 1.5} for m, v in windows.items()]
    rows += [{"method": f"{m} on Latte", "psnr_db": v, "wallclock_speedup": 1.2} for m, v in latte.items()]
    rows += [{"method": f"{m} on Skip-Latte", "psnr_db": v, "wallclock_speedup": 1.2} for m, v in skip.items()]
    return pd.DataFrame(rows).assign(sampler="DDIM-50", cfg_scale=7.5, num_samples=100)


GOOD_WINDOWS = dict(zip(WINDOWS, [30.0, 20.0, 26.0, 22.0, 21.0, 31.0]))
LATTE = dict(zip(ab.BASELINES, [22.0, 24.0, 23.0, 19.0, 18.0, 17.0]))


def test_claims_where_they_hold():
    found = ab.claims(synthetic(GOOD_WINDOWS, LATTE, {m: v + 1.0 for m, v in LATTE.items()}), "cpu")
    assert [c.verdict for c in found] == [Verdict.HELD, Verdict.HELD]
    assert found[0].paper.startswith("PSNR (dB) at N=2: 700->50 29.5, 950->300 20.6")
    assert "ours beyond the paper: 1000->50 21.0, 600->50 31.0" in found[0].ours  # 600 -> 50 is outside the claim
    assert found[1].ours.startswith("T-GATE 22.0 -> 23.0 dB")


def test_claims_where_they_fail():
    windows = {**GOOD_WINDOWS, "Skip-Cache 800->50 N=2": 30.5}
    skip = {**{m: v + 1.0 for m, v in LATTE.items()}, "FORA": 26.0}  # FORA gains 3 dB (limit 1.5)
    found = ab.claims(synthetic(windows, LATTE, skip), "cpu")
    assert found[0].verdict is Verdict.PARTLY  # 800 -> 50 beats 700 -> 50; 950 -> 300 still the worst
    assert found[1].verdict is Verdict.PARTLY
