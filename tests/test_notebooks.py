"""Every notebook: committed without outputs, a paper-naming first cell, a parameters cell of
flat literals, and a full run at the smoke profile that records metrics with verdicts."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest

from skipdit_lib import run
from skipdit_lib.experiments.claims import VERDICTS, claim_problems
from skipdit_lib.paths import NOTEBOOKS_DIR

NOTEBOOKS = run.find_notebooks(NOTEBOOKS_DIR)
REQUIRED_PARAMETERS = {"profile", "seed", "device", "results_dir"}
ids = [p.stem for p in NOTEBOOKS]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no NN_*.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_committed_without_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; run `make strip-notebooks`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_first_cell_names_what_it_reproduces(path: Path):
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "markdown"
    assert any(word in first.source for word in ("Figure", "Table",
                                                 "Paper")), f"{path.name}: first cell must name the figure/table"


ENV_DEFAULTS = {"profile": "SKIPDIT_PROFILE", "results_dir": "SKIPDIT_RESULTS_DIR"}


def env_default(value: ast.expr) -> tuple[str, object] | None:
    """(variable, default) of `os.environ.get("VAR", literal)`, else None."""
    if (isinstance(value, ast.Call) and ast.unparse(value.func) == "os.environ.get" and len(value.args) == 2
            and not value.keywords):
        return ast.literal_eval(value.args[0]), ast.literal_eval(value.args[1])
    return None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_parameters_cell_is_flat_literals(path: Path):
    """Literals only, except that profile and results_dir default from an environment variable (nbval)."""
    cells = [c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: exactly one cell must be tagged 'parameters'"
    tree = ast.parse(cells[0].source)
    names = set()
    for stmt in tree.body:
        assert isinstance(stmt, ast.Assign) and len(stmt.targets) == 1, f"{path.name}: only `name = literal` lines"
        name = stmt.targets[0].id
        if name in ENV_DEFAULTS:
            assert env_default(stmt.value) is not None and env_default(stmt.value)[0] == ENV_DEFAULTS[name], \
                f"{path.name}: {name} = os.environ.get({ENV_DEFAULTS[name]!r}, default)"
        else:
            ast.literal_eval(stmt.value)  # raises when something is computed
        names.add(name)
    assert REQUIRED_PARAMETERS <= names, f"{path.name} lacks parameters {REQUIRED_PARAMETERS - names}"
    assert env_default(tree.body[0].value)[1] == "cpu", f"{path.name}: the default profile is cpu"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_runs_at_smoke_profile_and_records_metrics(path: Path, tmp_path: Path):
    results_dir = tmp_path / "results"
    run.run_notebook(path, {"profile": "smoke", "device": "cpu", "results_dir": str(results_dir)}, results_dir)
    metrics = json.loads((results_dir / path.stem / "metrics.json").read_text())
    assert metrics["profile"] == "smoke" and metrics["values"]
    assert metrics["claims"], f"{path.name} records no paper claim"
    assert all(c["verdict"] in VERDICTS and not claim_problems(c) for c in metrics["claims"])
    assert all(c["setting"]["profile"] == "smoke" for c in metrics["claims"])
    assert list((results_dir / path.stem / "figures").glob("*.png")), f"{path.name} saved no figure"
