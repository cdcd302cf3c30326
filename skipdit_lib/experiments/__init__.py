"""One module per paper experiment (its sizes, methods and claims), over a shared layer.

The shared layer: `claims.py` (verdicts, claim records, `show`), `paper.py` (the paper's numbers
from data/paper/*.csv), `bench.py` (methods measured on models, images or videos alike) and
`figures.py` (the speed-against-quality figure). Notebooks import an experiment module under a
short alias (`from skipdit_lib.experiments import class_to_image as c2i`).
"""
