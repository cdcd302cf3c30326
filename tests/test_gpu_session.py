"""The prepared GPU-session script on the CPU: the same three steps at toy sizes, each leaving its JSON."""
from __future__ import annotations

import json

import pytest
import torch
from benchmark_scripts import load_benchmark

from skipdit_lib.precision import set_precision

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def session():
    yield load_benchmark("gpu_session")
    set_precision("fp32")


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
