"""Run the notebooks in name order with papermill: `python -m skipdit_lib.run --profile cpu`.

Each `notebooks/NN_*.ipynb` is executed with the given profile and device and written to
`results/<notebook>/executed.ipynb`. A parameter that a notebook does not declare in its cell
tagged `parameters` is refused before anything runs (papermill itself only warns). A failing
notebook stops the batch with the notebook and the cell named, and a non-zero exit status.
`--profile gpu-trial` runs the gpu profile's path at the smoke profile's cost (profiles.py), into
results/trials/gpu-trial/: `python -m skipdit_lib.run --profile gpu-trial --device cpu` checks it here.
"""
from __future__ import annotations

import argparse
import ast
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import NOTEBOOKS_DIR, REPO_ROOT, RESULTS_DIR
from .precision import PRECISIONS
from .profiles import ALL_PROFILES, is_trial

log = logging.getLogger("skipdit_lib.run")


class NotebookFailed(RuntimeError):
    """A notebook raised: names the notebook, the cell and the error."""


@dataclass(frozen=True)
class NotebookResult:
    """One executed notebook and how long it took."""

    name: str
    output: Path
    seconds: float


def find_notebooks(notebooks_dir: Path = NOTEBOOKS_DIR, only: list[str] | None = None) -> list[Path]:
    """`NN_*.ipynb` in name order, restricted to the `only` prefixes (e.g. ["00", "03"])."""
    found = sorted(p for p in Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return found
    chosen = [p for p in found if any(p.name.startswith(f"{prefix}_") or p.stem == prefix for prefix in only)]
    missing = [prefix for prefix in only if not any(p.name.startswith(f"{prefix}_") or p.stem == prefix for p in found)]
    if missing:
        raise ValueError(f"--only {','.join(missing)} matches no notebook; "
                         f"available: {', '.join(p.stem for p in found)}")
    return chosen


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """The names and defaults of the notebook's cell tagged `parameters`."""
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    if not declared:
        raise ValueError(f"{notebook.name} has no cell tagged 'parameters'; add one so the runner can set its profile")
    return declared


def check_parameters(notebook: Path, parameters: dict[str, Any]) -> None:
    """Refuse any parameter the notebook does not declare, naming it."""
    declared = declared_parameters(notebook)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ValueError(f"{notebook.name} does not declare parameter(s) {', '.join(unknown)}; "
                         f"it declares: {', '.join(sorted(declared))}")


def run_notebook(notebook: Path, parameters: dict[str, Any], results_dir: Path,
                 progress: bool = False) -> NotebookResult:
    """Execute one notebook into `results_dir/<stem>/executed.ipynb`; raise NotebookFailed on error."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    check_parameters(notebook, parameters)
    folder = results_dir / notebook.stem
    folder.mkdir(parents=True, exist_ok=True)
    partial, final = folder / "executed.partial.ipynb", folder / "executed.ipynb"
    start = time.time()
    try:
        papermill.execute_notebook(str(notebook), str(partial), parameters=parameters, kernel_name="python3",
                                   cwd=str(notebook.parent), progress_bar=progress, log_output=False)
    except PapermillExecutionError as err:
        failed = folder / "executed.failed.ipynb"
        os.replace(partial, failed)
        raise NotebookFailed(f"{notebook.name} failed in cell {err.cell_index} (execution count {err.exec_count}): "
                             f"{err.ename}: {err.evalue}\n  the executed notebook is in {failed}") from None
    os.replace(partial, final)
    return NotebookResult(notebook.stem, final, time.time() - start)


def parse_param(text: str) -> tuple[str, Any]:
    """`key=value` with value read as a Python literal when it is one, else as a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.isidentifier():
        raise ValueError(f"--param expects key=value, got {text!r}")
    try:
        return key, ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return key, raw


def default_precision(device: str) -> str:
    """bf16 on a GPU (the authors' sampling scripts), fp32 on a CPU (bf16 matmuls are far slower there)."""
    return "bf16" if device == "cuda" else "fp32"


def default_results_dir(profile: str) -> Path:
    """results/, or results/trials/<profile>/ for a trial, whose numbers must not replace the committed ones."""
    return RESULTS_DIR / "trials" / profile if is_trial(profile) else RESULTS_DIR


def run_all(profile: str, only: list[str] | None, device: str, results_dir: Path, extra: dict[str, Any],
            notebooks_dir: Path = NOTEBOOKS_DIR, progress: bool = False,
            precision: str | None = None) -> list[NotebookResult]:
    """Run the chosen notebooks in order, then regenerate SUMMARY.md (and the README's results block
    when the results are the repository's own). `precision` defaults to `default_precision(device)`."""
    from .summary import write_summary

    notebooks = find_notebooks(notebooks_dir, only)
    parameters = {"profile": profile, "device": device, "precision": precision or default_precision(device),
                  "results_dir": str(results_dir), **extra}
    for nb in notebooks:  # refuse bad parameters before spending time on any notebook
        check_parameters(nb, parameters)
    done = []
    for i, nb in enumerate(notebooks, 1):
        log.info("[%d/%d] %s (profile %s, device %s) ...", i, len(notebooks), nb.stem, profile, device)
        result = run_notebook(nb, parameters, results_dir, progress)
        log.info("[%d/%d] %s done in %.1f s -> %s", i, len(notebooks), nb.stem, result.seconds, result.output)
        done.append(result)
    own = Path(results_dir).resolve() == RESULTS_DIR.resolve()
    write_summary(results_dir, REPO_ROOT / "README.md" if own else None)
    return done


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m skipdit_lib.run", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=ALL_PROFILES, default="cpu",
                        help="sizes to run at (default: cpu); a trial runs a profile's path at smoke cost")
    parser.add_argument("--only", default="", help="comma-separated notebook prefixes, e.g. 00,03")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="torch device for the notebooks")
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help="the models' sampling precision (default: bf16 with --device cuda, else fp32)")
    parser.add_argument("--results-dir", default=None,
                        help="where <notebook>/ folders go (default: results/, a trial's results/trials/<profile>/)")
    parser.add_argument("--notebooks-dir", default=str(NOTEBOOKS_DIR), help="folder of NN_*.ipynb notebooks")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="extra notebook parameter (must be declared by every notebook run)")
    parser.add_argument("--progress", action="store_true", help="show papermill's per-cell progress bar")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        extra = dict(parse_param(p) for p in args.param)
        only = [s.strip() for s in args.only.split(",") if s.strip()]
        results_dir = Path(args.results_dir or default_results_dir(args.profile)).resolve()
        results = run_all(args.profile, only, args.device, results_dir, extra,
                          notebooks_dir=Path(args.notebooks_dir), progress=args.progress, precision=args.precision)
    except (ValueError, NotebookFailed) as err:
        log.error("%s", err)
        return 1
    total = sum(r.seconds for r in results)
    log.info("ran %d notebook(s) in %.1f s", len(results), total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
