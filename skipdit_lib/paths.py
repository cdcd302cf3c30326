"""Where the repository's folders are, wherever the code is run from."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
RESULTS_DIR = REPO_ROOT / "results"
DATA_DIR = REPO_ROOT / "data"
CHECKPOINTS_DIR = RESULTS_DIR / "checkpoints"
PAPER_TABLES_DIR = DATA_DIR / "paper"
