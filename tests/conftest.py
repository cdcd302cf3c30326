"""Shared pytest fixtures: a tiny notebook factory for runner tests."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest


@pytest.fixture
def make_notebook(tmp_path: Path):
    """Write `NN_name.ipynb` with a parameters cell and the given code cells into tmp_path/notebooks."""
    folder = tmp_path / "notebooks"
    folder.mkdir(exist_ok=True)

    def _make(name: str, body: list[str],
              parameters: str = ('profile = "cpu"\ndevice = "cpu"\nprecision = "fp32"\nresults_dir = "../results"\n'
                                'seed = 0')) -> Path:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        params = nbformat.v4.new_code_cell(parameters)
        params.metadata["tags"] = ["parameters"]
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}"), params] + [nbformat.v4.new_code_cell(c) for c in body]
        path = folder / f"{name}.ipynb"
        nbformat.write(nb, path)
        return path

    return _make
