"""The paper's numbers, read from data/paper/*.csv through one function: nowhere else.

One tidy CSV per table, one row per method and setting (PAPER.md sections 5 and 6). A cell the
summary does not give is blank (NaN). Every row has a `source` column naming its table; `note`
explains the rows where PAPER.md leaves something open (for example which N a Skip-Cache row is).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from ..paths import PAPER_TABLES_DIR

PAPER_TABLES = {
    "table1": "table1_class_to_video.csv",  # class-to-video: FVD/FID on 4 datasets, TFLOPs, latency, speedup
    "table2": "table2_matched_throughput.csv",  # Skip-Cache vs fewer sampler steps at matched throughput
    "table3": "table3_text_to_video.csv",  # text-to-video: VBench, PSNR/LPIPS/SSIM vs uncached, speedup
    "table4": "table4_text_to_image.csv",  # text-to-image (Hunyuan-DiT): FID, CLIP, PSNR/LPIPS/SSIM, speedup
    "table5": "table5_caching_window.csv",  # ablation: caching window, text-to-video, N=2
    "table6": "table6_caching_on_skipdit.csv",  # other caching methods applied to Skip-DiT
    "table7_8": "table7_8_class_to_image.csv",  # class-to-image DiT-XL/2: FID/sFID/IS at cfg 1.5 and 1.0
    "training_efficiency": "training_efficiency.csv",  # section 5: FID-50K vs training steps
}


def paper_table_path(name: str) -> Path:
    """Path of the CSV of table `name` (a key of PAPER_TABLES)."""
    if name not in PAPER_TABLES:
        raise ValueError(f"unknown paper table {name!r}; choose one of {list(PAPER_TABLES)}")
    return PAPER_TABLES_DIR / PAPER_TABLES[name]


def paper_table(name: str) -> pd.DataFrame:
    """The paper's table `name` as a DataFrame (blank cells are NaN)."""
    return pd.read_csv(paper_table_path(name))


def paper_rows(name: str, **where: Any) -> pd.DataFrame:
    """The rows of table `name` whose columns equal `where` (a None matches a blank cell)."""
    table = paper_table(name)
    keep = pd.Series(True, index=table.index)
    for column, wanted in where.items():
        if column not in table.columns:
            raise ValueError(f"paper table {name!r} has no column {column!r}; it has {list(table.columns)}")
        keep &= table[column].isna() if wanted is None else table[column] == wanted
    return table[keep]


def paper_value(name: str, column: str, **where: Any) -> float:
    """One number of the paper: `column` of the single row of table `name` matching `where`.

    Example: `paper_value("table7_8", "fid", cfg_scale=1.5, method="Skip-Cache", n=2)` is 2.31."""
    rows = paper_rows(name, **where)
    if len(rows) != 1:
        raise ValueError(f"paper table {name!r} has {len(rows)} rows where {where}, expected exactly one")
    if column not in rows.columns:
        raise ValueError(f"paper table {name!r} has no column {column!r}; it has {list(rows.columns)}")
    value = float(rows[column].iloc[0])
    if math.isnan(value):
        raise ValueError(f"the paper gives no {column!r} for {where} in {name!r} (blank cell)")
    return value
