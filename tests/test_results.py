"""Atomic writes, metrics.json provenance, the SUMMARY.md table, the README block and the profiles."""
from __future__ import annotations

import json
from dataclasses import FrozenInstanceError

import pytest

from skipdit_lib import io, results, summary
from skipdit_lib.experiments import quickstart
from skipdit_lib.experiments.claims import Claim, Setting
from skipdit_lib.profiles import as_parameters, per_profile, pick


def a_claim(name: str, verdict: str = "held", profile: str = "cpu") -> Claim:
    return Claim(name, "FID 2.31 vs 2.29", "FID-style 3.00 vs 2.90", verdict, "within 5%",
                 Setting(profile, "ddpm", 250, 1.5), "Table 7")


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path):
    target = tmp_path / "metrics.json"
    io.atomic_write_json({"a": 1}, target)
    with pytest.raises(KeyboardInterrupt):
        with io.atomic_path(target) as tmp:
            tmp.write_text('{"a": 2, "half')
            raise KeyboardInterrupt
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_record_writes_values_claims_parameters_and_provenance(tmp_path):
    run = results.start_run("03_demo", "smoke", {"seed": 0}, results_dir=tmp_path)
    c = a_claim("Skip-Cache n=2 is near lossless", profile="smoke")
    payload = json.loads(run.record({"fid": 3.0}, [c], device="cpu").read_text())
    assert payload["values"] == {"fid": 3.0} and payload["claims"] == [c.to_dict()]
    assert payload["profile"] == "smoke" and payload["parameters"] == {"seed": 0}
    assert {"git_commit", "python", "torch", "device", "wall_time_s"} <= set(payload)


def test_record_names_the_zoo_models_used_since_the_run_started(tmp_path, monkeypatch):
    from skipdit_lib import zoo

    monkeypatch.setattr(zoo, "_MODELS_USED", [("dit-c2i", "cpu", "dit-c2i-cpu-old")])  # before the run: not its own
    run = results.start_run("03_demo", "smoke", {}, results_dir=tmp_path)
    zoo._MODELS_USED.append(("skipdit-c2i", "smoke", "skipdit-c2i-smoke-aaa"))  # as get_model notes a load
    zoo._MODELS_USED.append(("skipdit-c2i", "smoke", "skipdit-c2i-smoke-bbb"))  # loaded again: the last one counts
    payload = json.loads(run.record({}, [a_claim("x", profile="smoke")]).read_text())
    assert payload["models"] == {"skipdit-c2i@smoke": "skipdit-c2i-smoke-bbb"}


def test_record_refuses_claims_that_are_not_claim_records(tmp_path):
    run = results.start_run("03_demo", "smoke", {}, results_dir=tmp_path)
    with pytest.raises(TypeError, match="Claim records"):
        run.record({}, [{"claim": "x", "verdict": "held"}])


def test_start_run_rejects_unknown_profile(tmp_path):
    with pytest.raises(ValueError, match="unknown profile 'laptop'"):
        results.start_run("00_x", "laptop", {}, results_dir=tmp_path)


def test_summary_has_one_row_per_claim_with_setting_verdict_and_rule(tmp_path):
    for nb, verdict in (("01_a", "held"), ("03_b", "not held")):
        results.start_run(nb, "cpu", {}, results_dir=tmp_path).record({}, [a_claim(f"claim of {nb}", verdict)])
    text = summary.write_summary(tmp_path).read_text()
    assert "| claim of 01_a (Table 7) | FID 2.31 vs 2.29 | FID-style 3.00 vs 2.90 | DDPM-250, guidance 1.5, cpu " \
           "profile | held | within 5% |" in text
    assert "| claim of 03_b (Table 7) |" in text and "| not held | within 5% |" in text
    assert "## 03_b (cpu profile)" in text


def test_summary_writes_the_readme_block_between_its_markers(tmp_path):
    results.start_run("00_a", "cpu", {}, results_dir=tmp_path).record({}, [a_claim("claim of 00_a")])
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{summary.RESULTS_START}\nold numbers\n{summary.RESULTS_END}\n\nMore.\n")
    summary.write_summary(tmp_path, readme)
    text = readme.read_text()
    assert "old numbers" not in text and text.startswith("# Title") and text.endswith("More.\n")
    assert "| 00_a | claim of 00_a (Table 7) | FID 2.31 vs 2.29 | FID-style 3.00 vs 2.90 |" in text
    readme.write_text("# no markers\n")
    with pytest.raises(ValueError, match="results markers"):
        summary.write_summary(tmp_path, readme)


def test_profiles_are_typed_read_only_and_validated():
    sizes = quickstart.sizes("smoke")
    with pytest.raises(FrozenInstanceError):
        sizes.num_samples = 10**6
    with pytest.raises(ValueError, match="unknown profile 'tpu'"):
        quickstart.sizes("tpu")
    table = per_profile(1, 2, 3)
    assert pick(table, "cpu") == 2
    with pytest.raises(TypeError):
        table["cpu"] = 5
    assert as_parameters(sizes)["num_samples"] == sizes.num_samples
    with pytest.raises(TypeError, match="sizes dataclass"):
        as_parameters({"num_samples": 1})


def test_metrics_json_is_standard_json(tmp_path):
    import numpy as np

    path = io.atomic_write_json({"fid": float("nan"), "x": [np.float32(1.5), float("inf")], "n": np.int64(3)},
                                tmp_path / "m.json")
    assert json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}")) == \
        {"fid": None, "x": [1.5, None], "n": 3}


def test_atomic_files_get_ordinary_permissions(tmp_path):
    path = io.atomic_write_text("x", tmp_path / "a.txt")
    assert path.stat().st_mode & 0o644 == 0o644


def test_the_recorded_commit_is_dirty_only_for_code_changes(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "results").mkdir()
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "metrics.json").write_text("{}\n")
    (tmp_path / "README.md").write_text("results block\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    clean = results.git_commit(tmp_path)
    assert len(clean) == 40
    (tmp_path / "results" / "metrics.json").write_text('{"a": 1}\n')  # what a run does to its own results
    (tmp_path / "README.md").write_text("results block, rewritten by the runner\n")
    assert results.git_commit(tmp_path) == clean
    (tmp_path / "code.py").write_text("x = 2\n")
    assert results.git_commit(tmp_path) == clean + "+dirty"
