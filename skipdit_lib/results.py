"""Results conventions: atomic writes, `metrics.json` with provenance, and figures.

Every notebook writes `results/<notebook>/metrics.json` (values, parameters, claims, git commit,
versions, device, wall time) and `results/<notebook>/figures/*.png`. Every write goes to a
temporary file in the same folder first and is then renamed, so an interrupted run never leaves
half a file.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import platform
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .paths import REPO_ROOT, RESULTS_DIR

log = logging.getLogger(__name__)

VERDICTS = ("held", "partly", "not held")
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give results the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_text(text: str, path: str | os.PathLike) -> Path:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_json(obj: Any, path: str | os.PathLike) -> Path:
    """Write `obj` as indented, standard JSON to `path` atomically (NaN and infinities become null)."""
    plain = json.loads(json.dumps(obj, default=_to_jsonable))  # numpy/torch values -> plain Python
    text = json.dumps(_finite_or_none(plain), indent=2, allow_nan=False)
    return atomic_write_text(text + "\n", path)


def _finite_or_none(value: Any) -> Any:
    """Replace NaN and infinite floats (not valid JSON) with None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def atomic_save_torch(obj: Any, path: str | os.PathLike) -> Path:
    """`torch.save` `obj` to `path` atomically."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def _to_jsonable(value: Any) -> Any:
    """Turn numpy/torch scalars and arrays, paths and dataclasses into plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "__dataclass_fields__"):
        return {k: getattr(value, k) for k in value.__dataclass_fields__}
    raise TypeError(f"cannot write {type(value).__name__} to metrics.json; convert it to a number, string or list")


def provenance(device: str | None = None) -> dict[str, Any]:
    """Git commit, Python/torch versions, host and device of this run."""
    import torch

    return {
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "device": device or ("cuda" if torch.cuda.is_available() else "cpu"),
        "cpu_threads": torch.get_num_threads(),
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _git_commit() -> str:
    """The commit of the working tree, with '+dirty' when it has uncommitted changes."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def claim(name: str, paper: Any, ours: Any, verdict: str, note: str = "") -> dict[str, Any]:
    """One paper claim beside our measurement, for results/SUMMARY.md."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    return {"claim": name, "paper": paper, "ours": ours, "verdict": verdict, "note": note}


@dataclass
class ExperimentRun:
    """The results folder of one notebook run: figures and metrics.json, written atomically."""

    notebook: str
    profile: str
    parameters: dict[str, Any]
    results_dir: Path = RESULTS_DIR
    started: float = field(default_factory=time.time)

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

    def record(self, values: dict[str, Any], claims: list[dict[str, Any]] = (), device: str | None = None) -> Path:
        """Write `metrics.json`: values, claims, parameters, provenance and wall time."""
        payload = {
            "notebook": self.notebook,
            "profile": self.profile,
            "values": values,
            "claims": list(claims),
            "parameters": self.parameters,
            "wall_time_s": round(time.time() - self.started, 1),
            **provenance(device),
        }
        return atomic_write_json(payload, self.folder / "metrics.json")


def start_run(notebook: str, profile: str, parameters: dict[str, Any], results_dir: str | os.PathLike | None = None) -> ExperimentRun:
    """Begin recording a notebook run into `results_dir/<notebook>/` (default: the repo's results/)."""
    from .profiles import PROFILES

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    folder = Path(results_dir) if results_dir else RESULTS_DIR
    if not folder.is_absolute():
        folder = (Path.cwd() / folder).resolve()
    return ExperimentRun(notebook=notebook, profile=profile, parameters=dict(parameters), results_dir=folder)


def load_metrics(results_dir: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """Every `<notebook>/metrics.json` under `results_dir`, keyed by notebook name."""
    folder = Path(results_dir) if results_dir else RESULTS_DIR
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(folder.glob("*/metrics.json"))}


def judge(ours: float, paper: float, higher_is_better: bool = True, held_within: float = 0.1,
          partly_within: float = 0.3) -> str:
    """Verdict for one number against the paper's: held within `held_within` relative shortfall,
    partly within `partly_within`, else not held. Doing better than the paper counts as held."""
    if paper == 0:
        raise ValueError("judge needs a non-zero paper value to measure a relative shortfall against")
    shortfall = (paper - ours) / abs(paper) if higher_is_better else (ours - paper) / abs(paper)
    if shortfall <= held_within:
        return "held"
    return "partly" if shortfall <= partly_within else "not held"
