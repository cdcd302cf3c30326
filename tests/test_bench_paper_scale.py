"""The paper-scale speed benchmark in its tiny mode (every table's rows, their paper speedups, the JSON it writes, its
time budget) and the GPU-session script that drives it, run on the CPU at toy sizes."""
from __future__ import annotations

import json

import pytest
import torch
from benchmark_scripts import load_benchmark

from skipdit_lib.precision import get_precision, set_precision

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def bench():
    yield load_benchmark("bench_paper_scale")
    set_precision("fp32")


@pytest.fixture(scope="module")
def session(bench):
    yield load_benchmark("gpu_session")
    set_precision("fp32")


def test_every_table_runs_tiny_and_writes_its_rows(bench, tmp_path):
    out = tmp_path / "paper_scale.json"
    result = bench.main(["--scale", "tiny", "--tables", "dit,latte,t2v", "--steps", "4", "--batch", "1",
                         "--repeats", "1", "--warmup", "0", "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert result["precision"] == "fp32" == get_precision()
    assert result["scale"] == "tiny"
    for key, table in result["tables"].items():
        rows = {r["method"]: r for r in table["rows"]}
        assert list(rows) == list(bench.TABLES[key].methods(4, 1)), key
        for name, row in rows.items():
            assert row["sampler"].endswith("-4") and row["paper_steps"] in (50, 250)
            assert row["latency_s"] > 0 and row["tflops_per_run"] > 0
            if row["paper_speedup"] == 1.0:  # the uncached rows are their own reference
                assert row["flops_speedup"] == 1.0 and row["wallclock_speedup"] == 1.0
            else:
                assert row["flops_speedup"] > 1.0, (key, name)  # every method saves FLOPs
    dit = {r["method"]: r for r in result["tables"]["dit"]["rows"]}
    assert dit["Skip-DiT"]["tflops_per_run"] > dit["DiT"]["tflops_per_run"]  # the skip linears cost a little


def test_paper_speedups_are_the_papers_and_bad_arguments_are_refused(bench, tmp_path):
    latte = bench.latte_methods(50)
    assert [latte[f"Skip-Cache N={n}"].paper_speedup for n in range(2, 7)] == [1.56, 1.91, 2.19, 2.30, 2.43]
    assert bench.dit_methods(250)["Delta-DiT"].config.boundary_step == 60
    assert bench.dit_methods(250)["Skip-Cache N=2"].config.branch_depth == 4  # the released class-to-image code
    dit = bench.TABLES["dit"]
    assert [bench.branch_depth(dit, bench.build(dit, "skip", scale, "cpu")) for scale in ("cpu", "tiny")] == [1, 1]
    assert bench.t2v_methods(50)["T-GATE"].config.gate_step == 20
    with pytest.raises(SystemExit):
        bench.main(["--scale", "tiny", "--tables", "audio", "--out", str(tmp_path / "x.json")])
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            bench.main(["--device", "cuda", "--out", str(tmp_path / "x.json")])


def test_compiled_rows_reuse_the_eager_flops_and_say_how_far_their_samples_are(bench, tmp_path):
    result = bench.main(["--scale", "tiny", "--tables", "dit", "--steps", "4", "--batch", "1", "--repeats", "1",
                         "--warmup", "0", "--compile", "--out", str(tmp_path / "c.json")])
    rows = {r["method"]: r for r in result["tables"]["dit"]["rows"]}
    compiled = [name for name in rows if name.endswith(bench.COMPILED)]
    assert compiled == ["DiT (compiled)", "Skip-DiT (compiled)"] + [f"Skip-Cache N={n} (compiled)" for n in (2, 3, 4)]
    for name in compiled:
        eager = rows[name.removesuffix(bench.COMPILED)]
        assert rows[name]["tflops_per_run"] == eager["tflops_per_run"]
        assert rows[name]["max_abs_diff_vs_eager"] < 1e-3  # fp32: the same samples up to kernel rounding


def test_a_budget_cuts_the_steps_to_what_fits_and_never_below_the_floor(bench):
    assert bench.affordable_steps(250, 0.5, 200.0) == 250  # 125 s projected: fits
    assert bench.affordable_steps(250, 1.0, 120.0) == 120
    assert bench.affordable_steps(250, 1.0, 3.0) == bench.MIN_BUDGET_STEPS  # the floor, even over budget
    assert bench.affordable_steps(4, 1.0, 0.5) == 4  # never more than asked
    rows = bench.dit_methods(250)  # 3 rows on the plain model, 4 on the skip one
    probes = {"plain": {"counted": 0.3, "timed": 0.1}, "skip": {"counted": 0.6, "timed": 0.2}}
    plan = bench.plan_steps(rows, probes, 250, repeats=2, warmup=1, seconds=100.0)
    per_step = 3 * (0.3 + 3 * 0.1) + 4 * (0.6 + 3 * 0.2)  # each row counted once and run warmup + repeats times
    assert plan["projected_s_per_step"] == pytest.approx(per_step)
    assert plan["steps"] == int(100.0 // per_step) and plan["fits"]
    assert bench.plan_steps(rows, probes, 250, repeats=2, warmup=1, seconds=1.0)["fits"] is False


def test_a_tight_budget_runs_the_table_at_the_floor_and_records_its_plan(bench, tmp_path):
    result = bench.main(["--scale", "tiny", "--tables", "dit", "--steps", "40", "--batch", "1", "--repeats", "1",
                         "--warmup", "0", "--budget-s", "0.01", "--out", str(tmp_path / "b.json")])
    table = result["tables"]["dit"]
    floor = bench.MIN_BUDGET_STEPS
    assert result["budget_s"] == 0.01
    assert table["budget"]["requested_steps"] == 40 and table["budget"]["steps"] == floor
    assert table["budget"]["fits"] is False  # 0.01 s cannot hold ten steps: the floor wins, and the plan says so
    assert {r["sampler"] for r in table["rows"]} == {f"DDPM-{floor}"}
    assert json.loads((tmp_path / "b.json").read_text())["tables"]["dit"]["budget"] == table["budget"]
    with pytest.raises(SystemExit):
        bench.main(["--scale", "tiny", "--budget-s", "0", "--out", str(tmp_path / "x.json")])


def test_the_session_runs_its_three_steps_and_writes_what_each_measured(session, tmp_path):
    result = session.main(["--device", "cpu", "--scale", "tiny", "--budget-s", "120", "--out-dir", str(tmp_path)])
    assert json.loads((tmp_path / "gpu_session.json").read_text()) == json.loads(json.dumps(result))
    assert [s["step"] for s in result["steps"]] == ["same samples on the CPU and the device", "paper-scale tables",
                                                   "compiled DiT table"]
    samples = json.loads((tmp_path / "device_samples.json").read_text())
    assert [r["sampler"] for r in samples["rows"]] == ["DDPM-50", "DDIM-50"]
    assert all(r["max_abs_diff"] == 0.0 for r in samples["rows"])  # one device here: bit for bit
    paper = json.loads((tmp_path / "paper_scale.json").read_text())
    assert set(paper["tables"]) == {"dit", "latte"} and paper["budget_s"] is not None
    assert all(t["budget"]["steps"] == 12 for t in paper["tables"].values())  # toy tables fit: steps as asked
    compiled = json.loads((tmp_path / "paper_scale_compiled.json").read_text())
    assert any(r["method"].endswith("(compiled)") for r in compiled["tables"]["dit"]["rows"])
    # each step's command reruns it: the benchmark's own arguments, with its out file
    assert f"--out {tmp_path / 'paper_scale.json'}" in result["steps"][1]["command"]


def test_bad_arguments_are_refused(session, tmp_path):
    with pytest.raises(SystemExit):
        session.main(["--device", "cpu", "--budget-s", "0", "--out-dir", str(tmp_path)])
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            session.main(["--device", "cuda", "--out-dir", str(tmp_path)])
