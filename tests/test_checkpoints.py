"""Checkpoints: every released format loads strictly, mismatches are listed, pickled code is refused."""
import argparse
import os

import pytest
import torch

from skipdit_lib.models import create_model, load_checkpoint, load_model, save_checkpoint
from skipdit_lib.models.checkpoints import UnsafeCheckpointError

TINY = {"depth": 4, "hidden_size": 32, "num_heads": 4}


def _tiny(seed, name="DiT-S/4-digits-skip", **kw):
    torch.manual_seed(seed)
    return create_model(name, **{**TINY, **kw})


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_train_py_format_loads_the_ema(tmp_path):
    model, ema = _tiny(0), _tiny(1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    args = argparse.Namespace(model="DiT-S/4-digits-skip", global_batch_size=256)
    path = tmp_path / "0000100.pt"
    save_checkpoint(path, model, ema=ema, opt=opt, args=args)
    raw = torch.load(path, map_location="cpu", weights_only=False)
    assert set(raw) == {"model", "ema", "opt", "args", "config"}
    assert raw["args"] == args
    loaded = load_checkpoint(_tiny(2), path)
    assert _same_weights(loaded, ema)  # the authors' find_model prefers "ema"
    assert _same_weights(load_checkpoint(_tiny(2), path, key="model"), model)
    assert [p.name for p in tmp_path.iterdir()] == ["0000100.pt"]  # atomic: no temp file left


@pytest.mark.parametrize("wrap", [lambda sd: sd, lambda sd: {"ema": sd}, lambda sd: {"model": sd, "opt": {}},
                                  lambda sd: {"module." + k: v for k, v in sd.items()},
                                  lambda sd: {"ema": {"module." + k: v for k, v in sd.items()}}])
def test_released_formats_load(tmp_path, wrap):
    source = _tiny(0, "Latte-S/4-digits-skip")
    torch.save(wrap(source.state_dict()), tmp_path / "ckpt.pt")
    assert _same_weights(load_checkpoint(_tiny(5, "Latte-S/4-digits-skip"), tmp_path / "ckpt.pt"), source)


def test_mismatched_checkpoint_lists_the_differences(tmp_path):
    save_checkpoint(tmp_path / "skip.pt", _tiny(0, hidden_size=32))
    target = _tiny(0, "DiT-S/4-digits", hidden_size=64)  # no skips, other width
    with pytest.raises(ValueError) as err:
        load_checkpoint(target, tmp_path / "skip.pt")
    text = str(err.value)
    assert "missing (0)" in text
    assert "unexpected (8)" in text and "skip_linears.1.linear.weight" in text
    assert "x_embedder.proj.weight: file (32, 1, 4, 4) vs model (64, 1, 4, 4)" in text


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_pickle_that_runs_code_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": _tiny(0).state_dict(), "args": _RunsCode(marker)}, path)
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpointError, match="not a plain checkpoint.*NOT executed"):
        load_checkpoint(_tiny(0), path)
    with pytest.raises(ValueError):
        load_model(path)
    assert not marker.exists()


def test_load_model_rebuilds_from_the_stored_config(tmp_path):
    model = _tiny(3, "TextDiT-S/4-digits", text_len=8)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05)
    save_checkpoint(tmp_path / "t2i.pt", model, extra={"step": 7})
    rebuilt = load_model(tmp_path / "t2i.pt").eval()
    assert type(rebuilt).__name__ == "TextDiT" and rebuilt.config == model.config
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([1, 999])
    y = (torch.randn(2, 5, 384), torch.ones(2, 5, dtype=torch.bool))
    with torch.no_grad():
        assert torch.equal(rebuilt(x, t, y), model.eval()(x, t, y))


def test_load_model_needs_a_config(tmp_path):
    torch.save(_tiny(0).state_dict(), tmp_path / "bare.pt")
    with pytest.raises(ValueError, match="no model config"):
        load_model(tmp_path / "bare.pt")
