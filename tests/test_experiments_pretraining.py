"""Notebook 02's module: the steps-to-reach rule, the paper's ratio from the CSV, and the claims."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from skipdit_lib.experiments import pretraining as pt
from skipdit_lib.experiments.claims import Verdict


def curve(dit: list[float], skip: list[float], steps=(400, 800, 1200, 1600, 2000), constant_until=1600):
    rows = [{"model": m, "step": s, "fid": f, "constant_lr": s <= constant_until, "class_accuracy": 0.5}
            for m, fids in (("DiT", dit), ("Skip-DiT", skip)) for s, f in zip(steps, fids)]
    return pd.DataFrame(rows)


def test_steps_to_reach_judges_the_constant_lr_checkpoints_only():
    table = curve([100, 80, 60, 50, 10], [70, 49, 45, 40, 9])
    reach = pt.ours_reach(table)  # DiT's judged final: 50 at step 1,600; Skip-DiT is at or below it at 800
    assert reach == {"base_final_step": 1600.0, "base_final_fid": 50.0, "reached_at": 800.0, "ratio": 2.0}
    never = pt.ours_reach(curve([100, 80, 60, 50, 10], [90, 85, 70, 55, 5]))
    assert never["ratio"] == 0.0 and math.isnan(never["reached_at"])


def test_the_paper_ratio_comes_from_the_csv():
    assert pt.paper_reach() == {"base_final_step": 7e6, "base_final_fid": 9.49, "reached_at": 1.6e6,
                                "ratio": pytest.approx(4.375)}


def tables(cpt_fid: float, psnr: float, sc_fid: tuple[float, float] = (36.0, 39.0)):
    quality = pd.DataFrame([{"model": "DiT (parent)", "fid": 30.0, "class_accuracy": 0.9},
                            {"model": pt.CPT, "fid": cpt_fid, "class_accuracy": 0.88},
                            {"model": "Skip-DiT (CPT, lstsq init)", "fid": 40.0, "class_accuracy": 0.85},
                            {"model": pt.CONTROL, "fid": 31.0, "class_accuracy": 0.9}])
    caching = pd.DataFrame([
        {"model": pt.CONTROL, "method": "FORA", "fid": 40.0, "psnr_db": 30.0, "wallclock_speedup": 1.8},
        {"model": pt.CONTROL, "method": "Delta-DiT", "fid": 35.0, "psnr_db": 35.0, "wallclock_speedup": 1.5},
        {"model": pt.CPT, "method": "Skip-Cache N=2", "fid": sc_fid[0], "psnr_db": psnr, "wallclock_speedup": 1.5},
        {"model": pt.CPT, "method": "Skip-Cache N=3", "fid": sc_fid[1], "psnr_db": psnr - 5, "wallclock_speedup": 1.8},
        {"model": pt.CPT_LSTSQ, "method": "Skip-Cache N=2 (lstsq init)", "fid": 20.0, "psnr_db": 10.0,
         "wallclock_speedup": 1.5},
        {"model": pt.CPT_LSTSQ, "method": "Skip-Cache N=3 (lstsq init)", "fid": 21.0, "psnr_db": 9.0,
         "wallclock_speedup": 1.8}])
    return quality, caching


def test_claims_per_init_and_per_metric():
    quality, caching = tables(cpt_fid=31.0, psnr=45.0)
    found = {c.name: c for c in pt.claims(curve([100, 80, 60, 50, 10], [70, 49, 45, 40, 9]), quality, caching,
                                          pt.sizes("cpu"), "cpu")}
    assert len(found) == 7
    assert found["Skip-DiT reaches DiT's final quality in far fewer steps"].verdict is Verdict.HELD  # 2x
    recover = found["Continued pre-training recovers the parent's quality (authors' init)"]
    assert recover.verdict is Verdict.HELD
    assert recover.paper == "VBench 75.60 vs 76.14 for its Latte parent (text-to-video)"
    assert found["Continued pre-training recovers the parent's quality (lstsq init)"].verdict is Verdict.NOT_HELD
    psnr = found["Skip-Cache on the converted model (authors' init) beats FORA and Delta-DiT on the control, "
                 "by PSNR against uncached, Table 3's metric"]
    assert psnr.verdict is Verdict.HELD and psnr.paper.startswith("PSNR 29.5 at 1.49x vs at most 24.0")
    fid = found["Skip-Cache on the converted model (authors' init) beats FORA and Delta-DiT on the control, "
                "by FID-style distance to the data"]
    assert fid.verdict is Verdict.PARTLY  # N=3 39 beats FORA's 40; N=2 36 does not beat Delta-DiT's 35
    lstsq = "Skip-Cache on the converted model (lstsq init) beats FORA and Delta-DiT on the control, by "
    assert found[lstsq + "FID-style distance to the data"].verdict is Verdict.HELD  # its own rows only
    assert found[lstsq + "PSNR against uncached, Table 3's metric"].verdict is Verdict.NOT_HELD


def test_a_slower_curve_and_a_broken_conversion_do_not_hold():
    quality, caching = tables(cpt_fid=80.0, psnr=20.0, sc_fid=(90.0, 95.0))
    found = pt.claims(curve([100, 80, 60, 50, 10], [120, 90, 70, 60, 9]), quality, caching, pt.sizes("cpu"), "cpu")
    assert [c.verdict for c in found[:5]] == [Verdict.NOT_HELD] * 5
    assert found[0].ours.startswith("Skip-DiT never reaches DiT's FID-style 50.0")
