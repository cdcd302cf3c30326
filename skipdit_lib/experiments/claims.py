"""The claims vocabulary: one verdict type, one claim record, one voice for every notebook.

A `Claim` is one sentence of the paper checked here: the paper's numbers, ours (always short
readable text), the verdict, the rule that decided it and the `Setting` it was measured at.
Every notebook builds its claims through its experiment module, shows them with `show` and
records them with `ExperimentRun.record`; `results/SUMMARY.md` prints one row per claim.

Verdict rules in one place: `judge` (one number against a reference, with tolerances) and
`combine` (several checks into one verdict: all held -> held, none -> not held, else partly).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, Iterable, Mapping, Optional, Sequence


class Verdict(str, Enum):
    """Whether a claim of the paper held here."""

    HELD = "held"
    PARTLY = "partly"
    NOT_HELD = "not held"

    def __str__(self) -> str:
        return self.value


VERDICTS = tuple(v.value for v in Verdict)
_SENTENCE = {Verdict.HELD: "held here", Verdict.PARTLY: "held only in part here", Verdict.NOT_HELD: "did not hold here"}


# ----------------------------------------------------------------------------- numbers as text

def num(value: float, digits: int = 3) -> str:
    """`value` to `digits` significant digits ("43.7", "1.48", "0.0123"); thousands as "1,025"."""
    value = float(value)
    if not math.isfinite(value):
        return "n/a" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:#.{digits}g}".rstrip(".")


def times(value: float) -> str:
    """A speedup: "1.48x"."""
    return f"{num(value)}x"


def db(value: float) -> str:
    """A PSNR: "43.7 dB" ("identical" when infinite)."""
    return "identical" if value == math.inf else f"{num(value)} dB"


def pct(fraction: float) -> str:
    """A fraction as a percentage: 0.9604 -> "96.0%"."""
    return f"{num(100 * fraction)}%"


# ----------------------------------------------------------------------------- verdict rules

def judge(ours: float, reference: float, higher_is_better: bool = True, held_within: float = 0.1,
          partly_within: float = 0.3) -> Verdict:
    """`ours` against `reference`: held within `held_within` relative shortfall, partly within
    `partly_within`, else not held. Doing better than the reference counts as held."""
    if reference == 0:
        raise ValueError("judge needs a non-zero reference to measure a relative shortfall against")
    if partly_within < held_within:
        raise ValueError(f"partly_within ({partly_within}) must be at least held_within ({held_within})")
    shortfall = (reference - ours) / abs(reference) if higher_is_better else (ours - reference) / abs(reference)
    if shortfall <= held_within:
        return Verdict.HELD
    return Verdict.PARTLY if shortfall <= partly_within else Verdict.NOT_HELD


def combine(checks: Iterable[Verdict | bool]) -> Verdict:
    """Several checks into one verdict (True = held, False = not held): all held -> held,
    all not held -> not held, anything else -> partly."""
    verdicts = [(Verdict.HELD if c else Verdict.NOT_HELD) if isinstance(c, bool) else Verdict(c) for c in checks]
    if not verdicts:
        raise ValueError("combine needs at least one check")
    if all(v is Verdict.HELD for v in verdicts):
        return Verdict.HELD
    return Verdict.NOT_HELD if all(v is Verdict.NOT_HELD for v in verdicts) else Verdict.PARTLY


# ----------------------------------------------------------------------------- the record

@dataclass(frozen=True)
class Setting:
    """Where a claim was measured: profile, sampler and steps, guidance, and anything else worth naming."""

    profile: str                     # smoke, cpu or gpu
    sampler: Optional[str] = None    # "ddpm" or "ddim" (None: no sampling involved)
    steps: Optional[int] = None      # sampler steps
    guidance: Optional[float] = None  # classifier-free guidance scale (1.0 = off)
    detail: str = ""                 # e.g. "16x16 digits, 100 samples per method"

    def text(self) -> str:
        """"DDPM-250, guidance 1.5, cpu profile; 100 samples per method"."""
        parts = []
        if self.sampler:
            parts.append(f"{self.sampler.upper()}-{self.steps}" if self.steps else self.sampler.upper())
        if self.guidance is not None:
            parts.append(f"guidance {self.guidance:.1f}" if round(self.guidance, 1) == self.guidance
                         else f"guidance {self.guidance:g}")
        parts.append(f"{self.profile} profile")
        return ", ".join(parts) + (f"; {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class Claim:
    """One claim of the paper beside our measurement, with its verdict and how it was decided."""

    name: str           # the claim in a few words, with where the paper makes it ("(Table 7)")
    paper: str          # the paper's numbers as text, or what it shows when it gives none
    ours: str           # our numbers as short text (3-4 significant digits, units named)
    verdict: Verdict    # held / partly / not held
    rule: str           # what held means, so a reader can redo the call
    setting: Setting    # where it was measured
    source: str = ""    # the paper's table or figure ("Table 7", "Fig. 2"); "" for project checks

    def __post_init__(self) -> None:
        for name in ("name", "paper", "ours", "rule"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise TypeError(f"Claim.{name} must be non-empty text, got {getattr(self, name)!r}; "
                                "format numbers with claims.num / times / db / pct")
        try:
            object.__setattr__(self, "verdict", Verdict(self.verdict))
        except ValueError:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}") from None
        if not isinstance(self.setting, Setting):
            raise TypeError(f"Claim.setting must be a Setting, got {type(self.setting).__name__}")

    def sentence(self) -> str:
        """One plain sentence: the claim, whether it held, both numbers, the setting and the rule."""
        return (f"{self.name}: {_SENTENCE[self.verdict]}. Paper: {self.paper}. Ours: {self.ours} "
                f"({self.setting.text()}). Rule: {self.rule}.")

    def to_dict(self) -> dict[str, Any]:
        """The plain-JSON record written to metrics.json."""
        record = asdict(self)
        record["verdict"] = self.verdict.value
        return record

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> "Claim":
        """The claim of a metrics.json record (raises on a record that breaks the schema)."""
        problems = claim_problems(record)
        if problems:
            raise ValueError("not a claim record: " + "; ".join(problems))
        fields = dict(record)
        fields["setting"] = Setting(**fields["setting"])
        return cls(**fields)


SETTING_KEYS = {"profile", "sampler", "steps", "guidance", "detail"}
CLAIM_KEYS = {"name", "paper", "ours", "verdict", "rule", "setting", "source"}


def claim_problems(record: Mapping[str, Any]) -> list[str]:
    """What is wrong with a claim record of metrics.json (empty when it follows the schema)."""
    problems = []
    if set(record) != CLAIM_KEYS:
        return [f"keys {sorted(record)} differ from {sorted(CLAIM_KEYS)}"]
    for key in ("name", "paper", "ours", "rule"):
        if not isinstance(record[key], str) or not record[key].strip():
            problems.append(f"{key} must be non-empty text, got {record[key]!r}")
    if record["verdict"] not in VERDICTS:
        problems.append(f"verdict {record['verdict']!r} is not one of {VERDICTS}")
    setting = record["setting"]
    if not isinstance(setting, Mapping) or set(setting) != SETTING_KEYS or not setting.get("profile"):
        problems.append(f"setting must have the keys {sorted(SETTING_KEYS)} and a profile, got {setting!r}")
    if str(record["source"]).startswith("Table") and not any(ch.isdigit() for ch in str(record["paper"])):
        problems.append(f"a claim from {record['source']} must quote the paper's number, got {record['paper']!r}")
    return problems


# ----------------------------------------------------------------------------- showing claims

def claims_markdown(claims: Sequence[Claim]) -> str:
    """The claims as a Markdown list of sentences, verdict first."""
    return "\n".join(f"- **{c.verdict.value}**: {c.sentence()}" for c in claims)


def show(claims: Sequence[Claim]) -> None:
    """Display the claims in a notebook (as Markdown) or print them elsewhere."""
    text = claims_markdown(claims)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # plain Python without IPython
        print(text)
        return
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))
