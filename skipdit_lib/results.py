"""Experiment records: `results/<notebook>/metrics.json` with provenance, and its figures.

Every notebook writes `results/<notebook>/metrics.json` (values, parameters, claims, git commit,
versions, device, wall time) and `results/<notebook>/figures/*.png`, atomically (`io.py`), so an
interrupted run never leaves half a file. Claims are `experiments.claims.Claim` records.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .experiments.claims import Claim
from .io import atomic_path, atomic_write_json
from .paths import REPO_ROOT, RESULTS_DIR
from .precision import get_precision, set_precision
from .profiles import check_profile
from .zoo import models_noted, models_used

log = logging.getLogger(__name__)

def provenance(device: str | None = None) -> dict[str, Any]:
    """Git commit, Python/torch versions, host and device of this run."""
    import torch

    return {
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "device": device or ("cuda" if torch.cuda.is_available() else "cpu"),
        "cpu_threads": torch.get_num_threads(),
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def git_commit(root: str | os.PathLike = REPO_ROOT) -> str:
    """The commit of the working tree, '+dirty' when its code (anything outside results/) has uncommitted changes."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        # results/ and README.md are left out: a run rewrites its own committed figures before it records the commit,
        # and the runner rewrites the README's results block after each notebook (so the next would read dirty).
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results",
                                ":(exclude)README.md"], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


@dataclass
class ExperimentRun:
    """The results folder of one notebook run: figures and metrics.json, written atomically."""

    notebook: str
    profile: str
    parameters: dict[str, Any]
    results_dir: Path = RESULTS_DIR
    started: float = field(default_factory=time.time)
    first_model: int = field(default_factory=models_noted)  # zoo models loaded before the run: not its own

    @property
    def folder(self) -> Path:
        """`results/<notebook>/`."""
        return Path(self.results_dir) / self.notebook

    def figure_path(self, name: str) -> Path:
        """Where figure `name` (without extension) is saved."""
        return self.folder / "figures" / f"{name}.png"

    def save_figure(self, fig: Any, name: str, dpi: int = 150) -> Path:
        """Save a matplotlib figure as `figures/<name>.png` atomically."""
        path = self.figure_path(name)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
        log.info("saved %s", path)
        return path

    def record(self, values: dict[str, Any], claims: Sequence[Claim] = (), device: str | None = None) -> Path:
        """Write `metrics.json`: values, claims, parameters, the zoo models used (`models`: "name@profile" ->
        checkpoint folder), provenance and wall time."""
        wrong = [type(c).__name__ for c in claims if not isinstance(c, Claim)]
        if wrong:
            raise TypeError(f"record takes experiments.claims.Claim records, got {wrong}")
        payload = {
            "notebook": self.notebook,
            "profile": self.profile,
            "values": values,
            "claims": [c.to_dict() for c in claims],
            "parameters": self.parameters,
            "wall_time_s": round(time.time() - self.started, 1),
            "models": models_used(self.first_model),  # so a result can be checked against the current recipe keys
            "precision": get_precision(),
            **provenance(device),
        }
        return atomic_write_json(payload, self.folder / "metrics.json")


def start_run(notebook: str, profile: str, parameters: dict[str, Any],
              results_dir: str | os.PathLike | None = None) -> ExperimentRun:
    """Begin recording a notebook run into `results_dir/<notebook>/` (default: the repo's results/).

    A "precision" parameter (fp32, tf32, bf16) becomes the process's sampling precision
    (`skipdit_lib.precision`); metrics.json records the precision the run ended at either way."""
    check_profile(profile)
    if "precision" in parameters:
        set_precision(parameters["precision"])
    folder = Path(results_dir) if results_dir else RESULTS_DIR
    if not folder.is_absolute():
        folder = (Path.cwd() / folder).resolve()
    return ExperimentRun(notebook=notebook, profile=profile, parameters=dict(parameters), results_dir=folder)


def load_metrics(results_dir: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """Every `<notebook>/metrics.json` under `results_dir`, keyed by notebook name."""
    folder = Path(results_dir) if results_dir else RESULTS_DIR
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(folder.glob("*/metrics.json"))}
