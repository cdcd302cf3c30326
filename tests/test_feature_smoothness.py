"""Feature smoothness analysis (Fig. 2 surfaces, Fig. 4 change maps) on tiny DiTs with exact checks."""
import pytest
import torch
from torch import nn

from skipdit_lib.analysis import feature_smoothness as fs
from skipdit_lib.experiments import feature_smoothness as smooth
from skipdit_lib.experiments.claims import Verdict
from skipdit_lib.models import create_model

TINY = {"depth": 4, "hidden_size": 32, "num_heads": 2}


def _tiny(skip: bool = False, seed: int = 0) -> nn.Module:
    """A tiny digit DiT with every parameter randomised (no zero-initialised layers), in eval mode."""
    torch.manual_seed(seed)
    model = create_model("DiT-S/4-digits-skip" if skip else "DiT-S/4-digits", **TINY)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.copy_(torch.randn_like(p) * 0.2)
    return model.eval()


def _inputs(n: int = 3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(n, 1, 16, 16, generator=gen)  # (N, 1, 16, 16)
    return x, torch.full((n,), 500, dtype=torch.long), torch.arange(n) % 10


# ----------------------------------------------------------------------------- directions

@pytest.mark.parametrize("skip", [False, True])
def test_filter_normalisation_gives_each_filter_the_model_filter_norm(skip):
    model = _tiny(skip)
    direction = fs.filter_normalized_direction(model, seed=3)
    params = dict(model.named_parameters())
    expected = {n for n, p in params.items() if p.ndim >= 2 and p.requires_grad}
    assert set(direction) == expected  # biases, LayerNorm parameters and the frozen pos_embed are left out
    assert "pos_embed" not in direction and "blocks.0.attn.qkv.bias" not in direction
    for name, d in direction.items():
        assert d.shape == params[name].shape
        torch.testing.assert_close(fs.filter_norms(d), fs.filter_norms(params[name]), rtol=1e-6, atol=0)


def test_directions_are_seeded_and_independent():
    model = _tiny()
    d1, d2 = fs.random_directions(model, seed=0)
    again = fs.random_directions(model, seed=0)[0]
    name = "blocks.0.mlp.fc1.weight"
    assert torch.equal(d1[name], again[name])
    assert not torch.equal(d1[name], d2[name])
    assert not torch.equal(d1[name], fs.random_directions(model, seed=1)[0][name])


def test_shared_parameters_get_the_same_draws_in_dit_and_skipdit():
    dit, skipdit = _tiny(False, seed=0), _tiny(True, seed=0)
    skipdit.load_state_dict(dit.state_dict(), strict=False)  # same weights for the shared names
    a, b = fs.filter_normalized_direction(dit, 5), fs.filter_normalized_direction(skipdit, 5)
    assert torch.equal(a["blocks.1.attn.qkv.weight"], b["blocks.1.attn.qkv.weight"])
    assert "skip_linears.0.linear.weight" in b and "skip_linears.0.linear.weight" not in a


# ----------------------------------------------------------------------------- perturbation and surfaces

def test_perturbation_restores_the_original_weights():
    model = _tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    directions = fs.random_directions(model, seed=0)
    with fs.perturbed(model, directions, (0.3, -0.7)):
        changed = model.state_dict()["blocks.0.mlp.fc1.weight"]
        assert not torch.equal(changed, before["blocks.0.mlp.fc1.weight"])
        expected = before["blocks.0.mlp.fc1.weight"] + (0.3 * directions[0]["blocks.0.mlp.fc1.weight"]
                                                       + -0.7 * directions[1]["blocks.0.mlp.fc1.weight"])
        torch.testing.assert_close(changed, expected)
        assert torch.equal(model.state_dict()["blocks.0.mlp.fc1.bias"], before["blocks.0.mlp.fc1.bias"])
    after = model.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_perturbation_restores_weights_when_the_block_raises():
    model = _tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError):
        with fs.perturbed(model, fs.random_directions(model, 0), (1.0, 1.0)):
            raise RuntimeError("boom")
    assert all(torch.equal(model.state_dict()[k], before[k]) for k in before)


def test_zero_radius_gives_similarity_exactly_one():
    model = _tiny()
    x, t, y = _inputs()
    directions = fs.random_directions(model, seed=0)
    surface = fs.similarity_surface(model, x, t, y, directions, fs.grid_coordinates(0.0, 3))
    assert surface.shape == (3, 3) and torch.equal(surface, torch.ones(3, 3, dtype=torch.float64))
    assert fs.similarity_drop(surface) == 0.0


def test_nonzero_radius_lowers_similarity_away_from_the_centre_only():
    model = _tiny()
    x, t, y = _inputs()
    surface = fs.similarity_surface(model, x, t, y, fs.random_directions(model, 0), fs.grid_coordinates(0.5, 3))
    assert surface[1, 1] == 1.0  # the centre is the unperturbed model
    assert (surface[0] < 1).all() and (surface[2] < 1).all() and fs.similarity_drop(surface) > 0


def test_cosine_and_relative_change_exact_values():
    a = torch.tensor([[1.0, 0.0], [3.0, 4.0]])
    b = torch.tensor([[0.0, 2.0], [-3.0, -4.0]])
    assert torch.equal(fs.cosine_per_sample(a, b), torch.tensor([0.0, -1.0], dtype=torch.float64))
    assert torch.equal(fs.cosine_per_sample(a, a), torch.ones(2, dtype=torch.float64))
    assert torch.equal(fs.relative_change(a, b), torch.tensor([5 ** 0.5, 2.0], dtype=torch.float64))


def test_predicted_noise_keeps_the_eps_channels_only():
    model = _tiny()
    x, t, y = _inputs()
    eps = fs.predicted_noise(model, x, t, y)
    assert eps.shape == x.shape and torch.equal(eps, model(x, t, y)[:, :1])


def test_step_timestep_maps_denoising_steps_to_original_timesteps():
    assert fs.step_timestep(250, 1) == 999 and fs.step_timestep(250, 250) == 0
    assert fs.step_timestep(250, 10) == 963
    with pytest.raises(ValueError, match="1..250"):
        fs.step_timestep(250, 0)


def test_noisy_inputs_are_seeded_and_follow_q_sample():
    from skipdit_lib.diffusion import create_diffusion

    images = torch.rand(2, 1, 16, 16)
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(4))
    expected = create_diffusion().q_sample(images, torch.full((2,), 963), noise)
    assert torch.equal(fs.noisy_inputs(images, 963, seed=4), expected)
    assert not torch.equal(fs.noisy_inputs(images, 963, seed=5), expected)


# ----------------------------------------------------------------------------- recorder and change maps

def test_recorder_restores_the_model_and_sees_every_unit():
    model = _tiny(skip=True)
    x, t, y = _inputs()
    attributes = set(vars(model))
    expected = model(x, t, y)
    seen = []
    with fs.record_unit_outputs(model, lambda i, h: seen.append((i, h.shape))):
        recorded = model(x, t, y)
    assert set(vars(model)) == attributes and "run_unit" not in vars(model)
    assert torch.equal(recorded, expected) and torch.equal(model(x, t, y), expected)
    assert [i for i, _ in seen] == list(range(model.num_units)) and seen[0][1] == (3, 16, 32)


def test_recorder_restores_an_instance_level_run_unit():
    model = _tiny()
    own = model.run_unit  # a bound method set on the instance, as a cache hook would
    model.run_unit = own
    with fs.record_unit_outputs(model, lambda i, h: None):
        assert model.run_unit is not own
    assert vars(model)["run_unit"] is own


def test_meter_exact_values_over_hand_fed_steps():
    meter = fs.FeatureChangeMeter(num_units=1)
    for step, h in enumerate([torch.ones(2, 3, 4), 2 * torch.ones(2, 3, 4), -2 * torch.ones(2, 3, 4)]):
        meter.add(0, h)
        meter.end_step(step, 900 - step)
    assert torch.equal(meter.relative_map(), torch.tensor([[1.0, 2.0]], dtype=torch.float64))
    assert torch.equal(meter.cosine_map(), torch.tensor([[1.0, -1.0]], dtype=torch.float64))
    assert meter.timesteps == [899, 898] and fs.deep_feature_similarity(meter, 0) == 0.0


def test_meter_refuses_a_step_with_missing_units():
    meter = fs.FeatureChangeMeter(num_units=2)
    meter.add(0, torch.ones(1, 2))
    with pytest.raises(ValueError, match="expected 2"):
        meter.end_step()


class _IdentityBlock(nn.Module):
    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return h


def test_heatmap_of_identity_blocks_is_zero():
    model = _tiny(skip=False)
    model.blocks = nn.ModuleList(_IdentityBlock() for _ in range(4))
    with torch.no_grad():  # tokens = pos_embed whatever x_t is, so no unit output can change
        model.x_embedder.proj.weight.zero_()
        model.x_embedder.proj.bias.zero_()
    meter = fs.trajectory_feature_changes(model, num_steps=5, labels=torch.arange(2), seed=0)
    assert meter.relative_map().shape == (4, 4)
    assert torch.equal(meter.relative_map(), torch.zeros(4, 4, dtype=torch.float64))
    assert torch.equal(meter.cosine_map(), torch.ones(4, 4, dtype=torch.float64))
    assert "run_unit" not in vars(model)


def test_heatmap_of_a_real_model_changes_and_has_one_column_per_step_pair():
    meter = fs.trajectory_feature_changes(_tiny(skip=True), num_steps=4, labels=torch.arange(2), seed=0)
    assert meter.relative_map().shape == (4, 3) and (meter.relative_map() > 0).all()
    assert len(meter.timesteps) == 3 and meter.timesteps[-1] == 0


def test_middle_unit():
    assert fs.middle_unit(8) == 3 and fs.middle_unit(4) == 1


def test_comparison_rows_decide_the_claims():
    drops = {"DiT": {"early": 2e-5, "late": 1e-4}, "Skip-DiT": {"early": 1e-5, "late": 3e-4}}
    deep = {"DiT": {"last": 0.9, "middle": 0.8}, "Skip-DiT": {"last": 0.95, "middle": 0.8}}
    rows = smooth.comparison(drops, deep)
    assert [r[smooth.SMOOTHER] for r in rows] == [True, False, True, False]  # a tie is not smoother
    assert rows[0]["DiT"] == 2e-5 and rows[2]["Skip-DiT"] == 0.95
    assert [r["figure"] for r in rows] == ["Fig. 2", "Fig. 2", "Fig. 4", "Fig. 4"]
    fig2, fig4, overall = smooth.claims(rows, smooth.sizes("cpu"), "cpu")
    assert fig2.verdict is fig4.verdict is overall.verdict is Verdict.PARTLY
    assert fig2.ours == ("similarity drop, early step: Skip-DiT 1.000e-05 vs DiT 2.000e-05; "
                         "similarity drop, late step: Skip-DiT 0.0003000 vs DiT 0.0001000")
    assert overall.ours == "2 of 4 numbers favour Skip-DiT" and fig2.source == "Fig. 2"
    all_smoother = smooth.comparison(drops, {"DiT": deep["DiT"], "Skip-DiT": {"last": 0.99, "middle": 0.99}})
    assert smooth.claims(all_smoother, smooth.sizes("cpu"), "cpu")[1].verdict is Verdict.HELD


def test_probes_share_the_noised_digits_of_both_steps():
    images = torch.rand(3, 1, 8, 8) * 2 - 1
    probes = smooth.probes(smooth.sizes("smoke"), images, seed=0)
    assert list(probes) == ["early", "late"] and probes["late"].timestep == 0
    assert probes["early"].x.shape == images.shape and len(probes["early"].coordinates) == 3
    assert torch.equal(probes["early"].t, torch.full((3,), probes["early"].timestep))


def test_surface_refuses_a_model_in_training_mode():
    model = _tiny().train()
    x, t, y = _inputs()
    with pytest.raises(ValueError, match="eval"):
        fs.similarity_surface(model, x, t, y, fs.random_directions(model, 0), fs.grid_coordinates(0.1, 3))


def test_the_same_measures_run_on_a_latte_pair_under_its_own_names():
    from caching_fixtures import tiny_latte

    model = tiny_latte()
    x, t = torch.randn(2, 2, 1, 8, 8), torch.full((2,), 500)
    eps = fs.predicted_noise(model, x, t, torch.tensor([1, 2]))
    assert eps.shape == (2, 2, 1, 8, 8)  # the variance channels dropped on the channel axis, not the frames
    meter = fs.trajectory_feature_changes(model, 4, torch.tensor([1, 2]), seed=0)
    assert meter.relative_map().shape == (model.num_units, 3)
    drops = {"Latte": {"early": 2e-5}, "Skip-Latte": {"early": 1e-5}}
    deep = {"Latte": {"last": 0.9}, "Skip-Latte": {"last": 0.95}}
    rows = smooth.comparison(drops, deep, base="Latte", skip="Skip-Latte")
    fig2, fig4, overall = smooth.claims(rows, smooth.sizes("smoke"), "smoke", base="Latte", skip="Skip-Latte",
                                        detail="orbit videos")
    assert fig2.name.startswith("Skip-Latte's") and overall.ours == "2 of 2 numbers favour Skip-Latte"
    assert fig2.verdict is Verdict.HELD and fig2.setting.detail.endswith("orbit videos")
