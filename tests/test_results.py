"""Atomic writes, metrics.json provenance, the SUMMARY.md table and the profiles."""
from __future__ import annotations

import json

import pytest

from skipdit_lib import get_profile, get_zoo_spec, results, summary


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path):
    target = tmp_path / "metrics.json"
    results.atomic_write_json({"a": 1}, target)
    with pytest.raises(KeyboardInterrupt):
        with results.atomic_path(target) as tmp:
            tmp.write_text('{"a": 2, "half')
            raise KeyboardInterrupt
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_record_writes_values_claims_parameters_and_provenance(tmp_path):
    run = results.start_run("03_demo", "smoke", {"seed": 0}, results_dir=tmp_path)
    c = results.claim("Skip-Cache n=2 is near lossless", "FID 2.31 vs 2.29", "FID 3.0 vs 2.9", "held")
    path = run.record({"fid": 3.0}, [c], device="cpu")
    payload = json.loads(path.read_text())
    assert payload["values"] == {"fid": 3.0} and payload["claims"] == [c]
    assert payload["profile"] == "smoke" and payload["parameters"] == {"seed": 0}
    assert {"git_commit", "python", "torch", "device", "wall_time_s"} <= set(payload)


def test_claim_rejects_unknown_verdict():
    with pytest.raises(ValueError, match="verdict must be one of"):
        results.claim("x", 1, 2, "maybe")


def test_start_run_rejects_unknown_profile(tmp_path):
    with pytest.raises(ValueError, match="unknown profile 'laptop'"):
        results.start_run("00_x", "laptop", {}, results_dir=tmp_path)


def test_summary_lists_every_claim_with_profile_and_verdict(tmp_path):
    for nb, verdict in (("01_a", "held"), ("03_b", "not held")):
        run = results.start_run(nb, "cpu", {}, results_dir=tmp_path)
        run.record({}, [results.claim(f"claim of {nb}", 1.5, 2.25, verdict, note="a|b")])
    text = summary.write_summary(tmp_path).read_text()
    assert "| 01_a | claim of 01_a | 1.5 | 2.25 | cpu | held | a/b |" in text
    assert "| 03_b | claim of 03_b | 1.5 | 2.25 | cpu | not held | a/b |" in text


def test_profiles_are_read_only_and_validated():
    sizes = get_profile("quickstart", "smoke")
    with pytest.raises(TypeError):
        sizes["num_samples"] = 10**6
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("quickstart", "tpu")
    with pytest.raises(ValueError, match="unknown experiment"):
        get_profile("nope", "cpu")
    with pytest.raises(ValueError, match="unknown zoo model"):
        get_zoo_spec("nope", "cpu")


def test_skipdit_twins_differ_from_dit_only_by_skip_branches():
    for profile in ("smoke", "cpu", "gpu"):
        dit, skip = get_zoo_spec("dit-c2i", profile), get_zoo_spec("skipdit-c2i", profile)
        assert skip["base"] == dit["base"] + "-skip"
        assert skip["overrides"] == dit["overrides"] and skip["train"] == dit["train"]


@pytest.mark.parametrize("ours, paper, higher, expected", [
    (1.5, 1.46, True, "held"), (1.35, 1.46, True, "held"), (1.2, 1.46, True, "partly"), (0.9, 1.46, True, "not held"),
    (2.2, 2.31, False, "held"), (2.9, 2.31, False, "partly"), (4.0, 2.31, False, "not held"),
])
def test_judge_verdicts(ours, paper, higher, expected):
    assert results.judge(ours, paper, higher_is_better=higher) == expected


def test_metrics_json_is_standard_json(tmp_path):
    import numpy as np

    path = results.atomic_write_json({"fid": float("nan"), "x": [np.float32(1.5), float("inf")], "n": np.int64(3)},
                                     tmp_path / "m.json")
    assert json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}")) == \
        {"fid": None, "x": [1.5, None], "n": 3}


def test_atomic_files_get_ordinary_permissions(tmp_path):
    path = results.atomic_write_text("x", tmp_path / "a.txt")
    assert path.stat().st_mode & 0o644 == 0o644
