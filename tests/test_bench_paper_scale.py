"""The paper-scale speed benchmark in its tiny mode: every table's rows, their paper speedups, the JSON it writes."""
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
