"""Benchmark: does the caption carry each attribute? A linear probe on the pooled MiniLM caption embedding.

    python benchmarks/bench_caption_probe.py [--out FILE.json]

Every caption notebook 05 can ask for (3 templates x 10 digits x 6 colours x 5 places = 900) is embedded as
the text-to-image model sees it (MiniLM token states, masked mean = TextDiT's pooled caption); a logistic
regression trained on two templates reads the digit, the colour and the place of the third. High accuracy
means the text side carries the attribute, so a model that does not draw it is limited on the image side.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path
from typing import Optional

import torch
from sklearn.linear_model import LogisticRegression

from skipdit_lib.datasets.captioned_digits import COLOURS, PLACES, TEMPLATES, make_caption, place_phrase
from skipdit_lib.datasets.text_encoder import encode_texts
from skipdit_lib.io import atomic_write_json


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    combos = list(itertools.product(range(len(TEMPLATES)), range(10), range(len(COLOURS)), range(len(PLACES))))
    colours = list(COLOURS)
    captions = [make_caption(t, d, colours[c], place_phrase(PLACES[p])) for t, d, c, p in combos]
    tokens, mask = encode_texts(captions, 16)  # (900, 16, 384), (900, 16)
    pooled = (tokens * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)  # (900, 384)
    labels = torch.tensor(combos)  # (900, 4): template, digit, colour, place
    rows = []
    for held in range(len(TEMPLATES)):
        train, test = labels[:, 0] != held, labels[:, 0] == held
        for column, name in ((1, "digit"), (2, "colour"), (3, "place")):
            probe = LogisticRegression(max_iter=2000, C=10).fit(pooled[train], labels[train, column])
            rows.append({"held_out_template": held, "attribute": name,
                         "accuracy": float(probe.score(pooled[test], labels[test, column]))})
            print(f"template {held} held out: {name} {rows[-1]['accuracy']:.1%}", flush=True)
    if args.out:
        command = " ".join(["python benchmarks/bench_caption_probe.py", *(sys.argv[1:] if argv is None else argv)])
        atomic_write_json({"command": command, "rows": rows}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
