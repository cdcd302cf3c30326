"""The paper's tables as data: tidy CSV files under data/paper/, one row per method/setting.

Only numbers quoted in the project's PAPER.md summary (section 5 and 6); a cell the summary does
not give is blank (NaN). Every row has a `source` column naming its table; `note` explains the
rows where the summary leaves something open.
"""
from __future__ import annotations

from pathlib import Path

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


def load_paper_table(name: str) -> "pandas.DataFrame":  # noqa: F821
    """The paper's table `name` as a DataFrame (blank cells are NaN)."""
    import pandas as pd

    return pd.read_csv(paper_table_path(name))
