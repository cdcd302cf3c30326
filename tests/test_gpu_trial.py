"""The gpu profile's path end to end on the CPU (slow, `make test-slow`): every notebook at `gpu-trial`, the gpu
profile's data shapes, training settings, weights and checks at the smoke profile's width and counts (profiles.py).

Each notebook runs through the runner as a user would (`python -m skipdit_lib.run --profile gpu-trial --device
cpu`), with its results and checkpoints in temporary folders shared by the notebooks of one session (notebook 03
reuses the models 00-02 trained). Measured here (2 cores, nothing else running): see the README's "gpu path"."""
from __future__ import annotations

import json

import pytest

from skipdit_lib import run, zoo
from skipdit_lib.models import load_model
from skipdit_lib.paths import NOTEBOOKS_DIR

NOTEBOOKS = [p.stem for p in run.find_notebooks(NOTEBOOKS_DIR)]


@pytest.fixture(scope="module")
def trial_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpu_trial")
    return root / "results", root / "checkpoints"


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_notebook_runs_the_gpu_path_at_smoke_cost(notebook, trial_dirs):
    results, checkpoints = trial_dirs
    done = run.run_all("gpu-trial", [notebook[:2]], "cpu", results, {"checkpoints_dir": str(checkpoints)})
    assert [r.name for r in done] == [notebook]
    metrics = json.loads((results / notebook / "metrics.json").read_text())
    assert metrics["profile"] == "gpu-trial" and metrics["claims"]
    trained = sorted(checkpoints.glob("*-gpu-trial-*/" + zoo.FINAL_NAME))
    assert trained, "a trial trains its zoo models into <name>-gpu-trial-<key>/"
    for path in trained:  # at the gpu profile's data shape, not smoke's
        name = path.parent.name.split("-gpu-trial-")[0]
        side = load_model(path).x_embedder.input_size
        assert side == zoo.input_size(name, "gpu") != zoo.input_size(name, "smoke")
