"""The claims vocabulary: verdict rules, number formatting, the claim record and its schema."""
from __future__ import annotations

import json

import pytest

from skipdit_lib.experiments.claims import (
    Claim,
    Setting,
    Verdict,
    claim_problems,
    claims_markdown,
    combine,
    db,
    judge,
    num,
    pct,
    show,
    times,
)

SETTING = Setting("cpu", "ddpm", 250, 1.5, "100 samples")


def a_claim(**changes) -> Claim:
    fields = {"name": "Skip-Cache N=2 is near-lossless", "paper": "FID 2.31 vs 2.29 at 1.46x",
              "ours": "FID-style 16.7 vs 16.3 at 1.50x", "verdict": "held", "rule": "within 5%", "setting": SETTING,
              "source": "Table 7"}
    return Claim(**{**fields, **changes})


@pytest.mark.parametrize("ours, paper, higher, expected", [
    (1.5, 1.46, True, Verdict.HELD), (1.35, 1.46, True, Verdict.HELD), (1.2, 1.46, True, Verdict.PARTLY),
    (0.9, 1.46, True, Verdict.NOT_HELD), (2.2, 2.31, False, Verdict.HELD), (2.9, 2.31, False, Verdict.PARTLY),
    (4.0, 2.31, False, Verdict.NOT_HELD),
])
def test_judge_verdicts(ours, paper, higher, expected):
    assert judge(ours, paper, higher_is_better=higher) is expected


def test_judge_refuses_a_zero_reference_and_inverted_tolerances():
    with pytest.raises(ValueError, match="non-zero"):
        judge(1.0, 0.0)
    with pytest.raises(ValueError, match="partly_within"):
        judge(1.0, 1.0, held_within=0.2, partly_within=0.1)


def test_combine_all_some_none():
    assert combine([True, Verdict.HELD]) is Verdict.HELD
    assert combine([True, False]) is Verdict.PARTLY and combine([Verdict.PARTLY]) is Verdict.PARTLY
    assert combine([False, "not held"]) is Verdict.NOT_HELD
    with pytest.raises(ValueError, match="at least one"):
        combine([])


@pytest.mark.parametrize("value, text", [(43.74, "43.7"), (1.4812, "1.48"), (2.0, "2.00"), (0.012345, "0.0123"),
                                         (100.0, "100"), (1025.3, "1,025"), (float("nan"), "n/a"), (3.6e-06,
                                                                                                    "3.60e-06")])
def test_numbers_read_at_three_significant_digits(value, text):
    assert num(value) == text


def test_units_are_named():
    assert times(1.5) == "1.50x" and db(43.74) == "43.7 dB" and db(float("inf")) == "identical"
    assert pct(0.9604) == "96.0%"


def test_a_claim_takes_text_only_and_a_known_verdict():
    with pytest.raises(TypeError, match="ours must be non-empty text"):
        a_claim(ours={"DiT": 1.0})
    with pytest.raises(TypeError, match="paper"):
        a_claim(paper=2.31)
    with pytest.raises(ValueError, match="verdict must be one of"):
        a_claim(verdict="maybe")
    with pytest.raises(TypeError, match="Setting"):
        a_claim(setting={"profile": "cpu"})
    assert a_claim(verdict="partly").verdict is Verdict.PARTLY


def test_record_round_trips_through_json_and_follows_the_schema():
    record = json.loads(json.dumps(a_claim().to_dict()))
    assert record["verdict"] == "held" and record["setting"]["guidance"] == 1.5
    assert claim_problems(record) == [] and Claim.from_dict(record) == a_claim()


@pytest.mark.parametrize("change, problem", [
    ({"ours": {"DiT": 1.0}}, "ours must be non-empty text"), ({"verdict": "maybe"}, "is not one of"),
    ({"setting": {"profile": "cpu"}}, "setting must have the keys"), ({"paper": "a figure"}, "must quote the paper"),
    ({"extra": 1}, "keys"),
])
def test_schema_names_what_is_wrong(change, problem):
    record = {**a_claim().to_dict(), **change}
    assert any(problem in p for p in claim_problems(record)), claim_problems(record)
    with pytest.raises(ValueError, match="not a claim record"):
        Claim.from_dict(record)


def test_sentences_say_the_verdict_the_numbers_the_setting_and_the_rule(capsys):
    sentence = a_claim(verdict="not held").sentence()
    assert sentence == ("Skip-Cache N=2 is near-lossless: did not hold here. Paper: FID 2.31 vs 2.29 at 1.46x. "
                        "Ours: FID-style 16.7 vs 16.3 at 1.50x (DDPM-250, guidance 1.5, cpu profile; 100 samples). "
                        "Rule: within 5%.")
    assert claims_markdown([a_claim()]).startswith("- **held**: Skip-Cache N=2")
    show([a_claim()])  # outside a notebook it prints
    assert "held here" in capsys.readouterr().out


def test_setting_text_leaves_out_what_is_not_set():
    assert Setting("smoke").text() == "smoke profile"
    assert Setting("cpu", "ddim", 50).text() == "DDIM-50, cpu profile"
    assert Setting("cpu", guidance=1.0).text() == "guidance 1.0, cpu profile"
    assert Setting("cpu", guidance=1.25).text() == "guidance 1.25, cpu profile"
