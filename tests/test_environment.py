"""requirements.txt and environment.yml carry the same pins; the Makefile and CI use them."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _requirements(path: Path) -> set[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {line for line in lines if line}


def _conda_pip_section(path: Path) -> set[str]:
    text = path.read_text()
    section = text.split("- pip:", 1)[1]
    return {m.group(1).strip() for m in re.finditer(r"^\s+-\s+(\S+)\s*$", section, re.M)}


def test_environment_yml_pip_section_matches_requirements():
    pins, conda = _requirements(ROOT / "requirements.txt"), _conda_pip_section(ROOT / "environment.yml")
    assert pins == conda, (f"only in requirements.txt: {sorted(pins - conda)}; "
                           f"only in environment.yml: {sorted(conda - pins)}")


def test_every_requirement_is_pinned_exactly():
    for req in _requirements(ROOT / "requirements.txt") | _requirements(ROOT / "requirements-nodeps.txt"):
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][0-9A-Za-z.+\-]*", req), f"{req} is not pinned with =="


def test_torch_pins_are_the_ones_this_machine_serves():
    pins = _requirements(ROOT / "requirements.txt")
    assert {"torch==2.14.1", "torchvision==0.29.1"} <= pins


def test_ci_calls_the_readme_test_command():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make reproduce" in readme
    assert re.search(r"^make test$", ci, re.M)
