"""A trained plain DiT or Latte turned into its Skip-DiT twin: strict copy, the two skip inits."""
from __future__ import annotations

import pytest
import torch
from caching_fixtures import randomize

from skipdit_lib.models import create_model
from skipdit_lib.models.conversion import (
    copy_shared_weights,
    fit_pass_through,
    is_skip_key,
    skip_twin,
    streams_at_fusions,
    to_skip_model,
)

TINY = dict(hidden_size=32, num_heads=2, input_size=8)


def plain(name: str = "DiT-S/4-digits", **sizes) -> torch.nn.Module:
    torch.manual_seed(0)
    return randomize(create_model(name, **{**TINY, **sizes})).eval()


def batch(model, n: int = 64, frames: int = 0):
    gen = torch.Generator().manual_seed(1)
    shape = (n, frames, 1, 8, 8) if frames else (n, 1, 8, 8)
    return torch.randn(shape, generator=gen), torch.randint(0, 1000, (n,), generator=gen), torch.arange(n) % 10


@pytest.mark.parametrize("name, sizes, frames", [("DiT-S/4-digits", {"depth": 4}, 0),
                                                 ("Latte-S/4-digits", {"depth": 8, "num_frames": 2}, 2)])
def test_every_shared_weight_is_copied_and_only_skip_modules_are_new(name, sizes, frames):
    parent = plain(name, **sizes)
    twin = to_skip_model(parent)
    assert twin.skip and not parent.skip and twin.config["kwargs"] == {**parent.config["kwargs"], "skip": True}
    new = sorted(set(twin.state_dict()) - set(parent.state_dict()))
    assert new and all(is_skip_key(k) for k in new)
    assert all(torch.equal(v, twin.state_dict()[k]) for k, v in parent.state_dict().items())
    # The authors' init: PyTorch defaults (LayerNorm 1/0, Linear uniform within 1/sqrt(fan_in)), so the fusion
    # breaks the stream: the converted model's output moves far from its parent's.
    assert torch.equal(twin.skip_norms[0].weight, torch.ones_like(twin.skip_norms[0].weight))
    w = twin.skip_linears[0].linear.weight
    assert w.abs().max() <= 1 / w.shape[1] ** 0.5 and w.std() > 0
    x, t, y = batch(parent, 4, frames)
    with torch.no_grad():
        gap = (twin.eval()(x, t, y) - parent(x, t, y)).norm() / parent(x, t, y).norm()
    assert gap > 0.1


def test_lstsq_init_starts_the_twin_closer_to_its_parent():
    # The fusion normalises concat([deep, skip]) per token, so it cannot pass the deep stream's scale through
    # exactly: the least-squares fit is the best linear map, not an identity (each residual ~0.4 here).
    parent = plain(depth=4)
    x, t, y = batch(parent, 256)
    default, fitted = to_skip_model(parent), to_skip_model(parent, "lstsq", calibration=(x, t, y))
    twin = skip_twin(parent)
    copy_shared_weights(parent, twin)
    residuals = fit_pass_through(twin, streams_at_fusions(parent, twin.skip_map, x, t, y))
    assert set(residuals) == set(twin.skip_map) and all(0 < r < 0.5 for r in residuals.values())
    with torch.no_grad():
        reference = parent(x, t, y)
        gaps = [float((m.eval()(x, t, y) - reference).norm() / reference.norm()) for m in (default, fitted)]
    assert gaps[1] < gaps[0] / 2, gaps
    assert all(torch.equal(v, fitted.state_dict()[k]) for k, v in parent.state_dict().items())


def test_conversion_names_what_does_not_fit():
    with pytest.raises(ValueError, match="already has skip branches"):
        to_skip_model(plain("DiT-S/4-digits-skip", depth=4))
    with pytest.raises(ValueError, match="init must be one of"):
        to_skip_model(plain(depth=4), "zeros")
    with pytest.raises(ValueError, match="calibration"):
        to_skip_model(plain(depth=4), "lstsq")
    with pytest.raises(TypeError, match="no `skip` switch"):
        to_skip_model(torch.nn.Linear(2, 2))
    parent = plain(depth=4)
    parent.register_buffer("stray", torch.zeros(1))
    with pytest.raises(KeyError, match="stray"):
        copy_shared_weights(parent, skip_twin(plain(depth=4)))
    other = plain(depth=4, hidden_size=16)
    with pytest.raises(ValueError, match="shapes differ"):
        copy_shared_weights(other, skip_twin(plain(depth=4)))
