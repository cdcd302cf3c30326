"""The papermill batch runner: order, undeclared parameters, failures named by notebook and cell."""
from __future__ import annotations

import json

import pytest

from skipdit_lib import run


def test_notebooks_run_in_name_order_and_write_executed_copies(make_notebook, tmp_path):
    log = tmp_path / "order.txt"
    for name in ("01_b", "00_a", "10_c"):
        make_notebook(name, [f"open({str(log)!r}, 'a').write('{name} ' + profile + '\\n')"])
    results = tmp_path / "results"
    done = run.run_all("smoke", None, "cpu", results, {}, notebooks_dir=tmp_path / "notebooks")
    assert [r.name for r in done] == ["00_a", "01_b", "10_c"]
    assert log.read_text().split("\n")[:3] == ["00_a smoke", "01_b smoke", "10_c smoke"]
    executed = json.loads((results / "00_a" / "executed.ipynb").read_text())
    assert any('profile = "smoke"' in "".join(c["source"]) for c in executed["cells"])
    assert (results / "SUMMARY.md").exists()


def test_only_selects_by_prefix_and_rejects_unknown(make_notebook, tmp_path):
    for name in ("00_a", "01_b", "03_c"):
        make_notebook(name, ["x = 1"])
    chosen = run.find_notebooks(tmp_path / "notebooks", ["00", "03"])
    assert [p.stem for p in chosen] == ["00_a", "03_c"]
    with pytest.raises(ValueError, match="--only 07 matches no notebook"):
        run.find_notebooks(tmp_path / "notebooks", ["07"])


def test_undeclared_parameter_is_refused_by_name(make_notebook, tmp_path):
    make_notebook("00_a", ["x = 1"])
    with pytest.raises(ValueError, match="does not declare parameter\\(s\\) learning_rate"):
        run.run_all("smoke", None, "cpu", tmp_path / "results", {"learning_rate": 0.1},
                    notebooks_dir=tmp_path / "notebooks")
    assert not (tmp_path / "results" / "00_a" / "executed.ipynb").exists()


def test_failing_notebook_names_notebook_and_cell_and_stops(make_notebook, tmp_path):
    make_notebook("00_bad", ["x = 1", "raise RuntimeError('boom here')"])
    make_notebook("01_after", ["open('ran.txt', 'w').write('yes')"])
    with pytest.raises(run.NotebookFailed) as err:
        run.run_all("smoke", None, "cpu", tmp_path / "results", {}, notebooks_dir=tmp_path / "notebooks")
    message = str(err.value)
    assert "00_bad.ipynb failed in cell 4" in message and "RuntimeError: boom here" in message
    assert not (tmp_path / "notebooks" / "ran.txt").exists()
    assert (tmp_path / "results" / "00_bad" / "executed.failed.ipynb").exists()


def test_main_exits_nonzero_with_message(make_notebook, tmp_path, caplog):
    make_notebook("00_a", ["x = 1"])
    common = ["--profile", "smoke", "--results-dir", str(tmp_path / "r"), "--notebooks-dir",
              str(tmp_path / "notebooks")]
    assert run.main(common + ["--param", "nope=3"]) == 1
    assert "does not declare parameter(s) nope" in caplog.text
    assert run.main(common + ["--param", "seed=4"]) == 0


def test_notebook_without_parameters_cell_is_refused(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    path = tmp_path / "00_x.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        run.check_parameters(path, {"profile": "smoke"})


@pytest.mark.parametrize("text, expected", [("seed=3", ("seed", 3)), ("name=abc", ("name", "abc")), ("x=[1, 2]",
                                                                                                     ("x", [1, 2]))])
def test_parse_param(text, expected):
    assert run.parse_param(text) == expected
    with pytest.raises(ValueError, match="key=value"):
        run.parse_param("novalue")


def test_precision_reaches_every_notebook_bf16_by_default_on_cuda(make_notebook, tmp_path):
    make_notebook("00_a", ["open('precision.txt', 'w').write(precision)"])
    folder = tmp_path / "notebooks"
    run.run_all("smoke", None, "cpu", tmp_path / "results", {}, notebooks_dir=folder)
    assert (folder / "precision.txt").read_text() == "fp32"
    run.run_all("smoke", None, "cpu", tmp_path / "results", {}, notebooks_dir=folder, precision="tf32")
    assert (folder / "precision.txt").read_text() == "tf32"
    assert run.default_precision("cuda") == "bf16" and run.default_precision("cpu") == "fp32"
    with pytest.raises(SystemExit):  # argparse refuses a precision it does not know
        run.main(["--precision", "fp8", "--notebooks-dir", str(folder)])
