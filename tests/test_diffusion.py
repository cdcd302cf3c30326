"""Tests of skipdit_lib.diffusion: closed forms, respacing, samplers and classifier-free guidance."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from skipdit_lib.diffusion import (
    create_diffusion,
    guidance_condition,
    guided_output,
    linear_betas,
    sample_ddim,
    sample_ddpm,
    space_timesteps,
)
from skipdit_lib.diffusion.gaussian_diffusion import GaussianDiffusion, channel_dim

NULL = 10  # the dummy's null class


class RecordingModel(nn.Module):
    """Tiny model following the model(x, t, y) convention; records every call."""

    def __init__(self, learn_sigma: bool = True) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.3))
        self.learn_sigma = learn_sigma
        self.calls: list[dict] = []

    def forward(self, x: torch.Tensor, t: torch.Tensor, y=None) -> torch.Tensor:
        self.calls.append({"n": x.shape[0], "t": t.clone(), "y": None if y is None else y.clone()})
        shift = 0.0 if y is None else (y.float() / 10).view(-1, *([1] * (x.ndim - 1)))
        eps = self.scale * x + shift + t.float().view(-1, *([1] * (x.ndim - 1))) / 1000
        if not self.learn_sigma:
            return eps
        return torch.cat([eps, torch.tanh(x)], dim=channel_dim(x))

    def null_condition(self, y: torch.Tensor) -> torch.Tensor:
        return torch.full_like(y, NULL)


class FakeCache:
    """Stands in for a caching hook: counts resets."""

    def __init__(self) -> None:
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1


def _abar(t: int) -> float:
    """Cumulative alpha of the original schedule, from first principles."""
    return float(np.prod(1.0 - np.linspace(1e-4, 0.02, 1000)[: t + 1]))


def test_linear_betas_match_dit_schedule():
    betas = linear_betas(1000)
    assert betas.shape == (1000,) and betas.dtype == np.float64
    assert betas[0] == pytest.approx(1e-4) and betas[-1] == pytest.approx(0.02)
    assert linear_betas(500)[-1] == pytest.approx(0.04)  # rescaled for fewer steps, as upstream


def test_q_sample_matches_closed_form():
    d = create_diffusion(None)
    x0, noise = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
    t = torch.tensor([0, 417, 999])
    xt = d.q_sample(x0, t, noise)
    for i, ti in enumerate(t.tolist()):
        a = _abar(ti)
        expected = np.sqrt(a) * x0[i].double() + np.sqrt(1 - a) * noise[i].double()
        assert torch.allclose(xt[i].double(), expected, atol=1e-6)
    mean, var, log_var = d.q_mean_variance(x0, t)
    assert var[2].flatten()[0].item() == pytest.approx(1 - _abar(999), rel=1e-6)


def test_posterior_matches_gaussian_product():
    """q(x_{t-1}|x_t,x_0) from multiplying q(x_{t-1}|x_0) by q(x_t|x_{t-1}), derived independently."""
    d = create_diffusion(None)
    x0, xt = torch.randn(2, 1, 3, 3), torch.randn(2, 1, 3, 3)
    t = torch.tensor([5, 700])
    mean, var, log_var = d.q_posterior_mean_variance(x0, xt, t)
    betas = np.linspace(1e-4, 0.02, 1000)
    for i, ti in enumerate(t.tolist()):
        a_prev, beta = _abar(ti - 1), betas[ti]
        precision = 1 / (1 - a_prev) + (1 - beta) / beta
        post_var = 1 / precision
        post_mean = post_var * (np.sqrt(a_prev) * x0[i].double() / (1 - a_prev)
                                + np.sqrt(1 - beta) * xt[i].double() / beta)
        assert var[i].flatten()[0].item() == pytest.approx(post_var, rel=1e-6)
        assert log_var[i].flatten()[0].item() == pytest.approx(np.log(post_var), rel=1e-5)
        assert torch.allclose(mean[i].double(), post_mean, atol=1e-5)


def test_xstart_prediction_inverts_q_sample():
    d = create_diffusion(None)
    x0, eps, t = torch.randn(4, 1, 4, 4), torch.randn(4, 1, 4, 4), torch.tensor([0, 1, 500, 999])
    xt = d.q_sample(x0, t, eps)
    assert torch.allclose(d.predict_xstart_from_eps(xt, t, eps), x0, atol=1e-3)
    assert torch.allclose(d.predict_eps_from_xstart(xt, t, x0), eps, atol=1e-3)


def test_learned_range_interpolates_between_posterior_and_beta():
    d = create_diffusion(None)
    x, t = torch.zeros(2, 1, 2, 2), torch.tensor([10, 900])
    low = d.model_log_variance(-torch.ones_like(x), x, t)
    high = d.model_log_variance(torch.ones_like(x), x, t)
    mid = d.model_log_variance(torch.zeros_like(x), x, t)
    betas = np.linspace(1e-4, 0.02, 1000)
    assert high[1].flatten()[0].item() == pytest.approx(np.log(betas[900]), rel=1e-5)
    assert low[1].flatten()[0].item() == pytest.approx(np.log(betas[900] * (1 - _abar(899)) / (1 - _abar(900))),
                                                       rel=1e-5)
    assert torch.allclose(mid, (low + high) / 2)


def test_space_timesteps_like_upstream():
    # "5,10" over 100 steps: stride 12.25 in the first half (round(24.5) == 24, Python rounding).
    assert space_timesteps(1000, "ddim50") == list(range(0, 1000, 20))
    steps = space_timesteps(1000, "250")
    assert len(steps) == 250 and steps[0] == 0 and steps[-1] == 999 and steps[1] == 4
    assert space_timesteps(100, "5,10") == [0, 12, 24, 37, 49, 50, 55, 61, 66, 72, 77, 83, 88, 94, 99]
    with pytest.raises(ValueError, match="integer stride"):
        space_timesteps(1000, "ddim999")
    with pytest.raises(ValueError, match="timestep_respacing"):
        space_timesteps(1000, "fast")


def test_respaced_diffusion_keeps_cumulative_alphas():
    full, spaced = create_diffusion(None), create_diffusion("ddim50")
    kept = torch.tensor(space_timesteps(1000, "ddim50"))
    assert spaced.num_timesteps == 50
    assert torch.allclose(spaced.alphas_cumprod, full.alphas_cumprod[kept], rtol=1e-12)
    assert spaced.original_timesteps(torch.tensor([0, 1, 49])).tolist() == [0, 20, 980]


@pytest.mark.parametrize("respacing", ["10", "ddim5"])
def test_model_receives_original_timesteps(respacing):
    model, d = RecordingModel(), create_diffusion(respacing)
    sample_ddpm(model, d, (2, 1, 4, 4), generator=torch.Generator().manual_seed(0))
    seen = [c["t"] for c in model.calls]
    assert all(t.dtype == torch.long and t.shape == (2,) for t in seen)
    assert [int(t[0]) for t in seen] == space_timesteps(1000, respacing)[::-1]
    model.calls.clear()
    d.training_losses(model, torch.zeros(2, 1, 4, 4), torch.tensor([0, d.num_timesteps - 1]))
    assert model.calls[0]["t"].tolist() == [0, space_timesteps(1000, respacing)[-1]]


def test_ddim_eta0_is_deterministic_and_ddpm_reproducible():
    model, d = RecordingModel(), create_diffusion("ddim10")
    noise = torch.randn(2, 1, 4, 4)
    a = sample_ddim(model, d, (2, 1, 4, 4), noise=noise, generator=torch.Generator().manual_seed(1))
    b = sample_ddim(model, d, (2, 1, 4, 4), noise=noise, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)  # eta = 0 draws no noise after the start
    c = sample_ddim(model, d, (2, 1, 4, 4), noise=noise, eta=1.0, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(a, c)
    p1 = sample_ddpm(model, create_diffusion("10"), (2, 1, 4, 4), generator=torch.Generator().manual_seed(3))
    p2 = sample_ddpm(model, create_diffusion("10"), (2, 1, 4, 4), generator=torch.Generator().manual_seed(3))
    p3 = sample_ddpm(model, create_diffusion("10"), (2, 1, 4, 4), generator=torch.Generator().manual_seed(4))
    assert torch.equal(p1, p2) and not torch.equal(p1, p3)
    assert p1.abs().max() <= 1.0 and a.abs().max() <= 1.0


def test_cfg_runs_one_batched_forward_per_step():
    model, d = RecordingModel(), create_diffusion("ddim5")
    y = torch.tensor([3, 4, 5])
    sample_ddim(model, d, (3, 1, 4, 4), y=y, cfg_scale=4.0, generator=torch.Generator().manual_seed(0))
    assert len(model.calls) == 5 and all(c["n"] == 6 for c in model.calls)
    assert model.calls[0]["y"].tolist() == [3, 4, 5, NULL, NULL, NULL]
    model.calls.clear()
    sample_ddim(model, d, (3, 1, 4, 4), y=y, cfg_scale=1.0, generator=torch.Generator().manual_seed(0))
    assert len(model.calls) == 5 and all(c["n"] == 3 for c in model.calls)
    assert model.calls[0]["y"].tolist() == [3, 4, 5]


def test_sampling_run_makes_the_guided_condition_once():
    class CountingNull(RecordingModel):
        nulls = 0

        def null_condition(self, y):
            self.nulls += 1
            return super().null_condition(y)

    model, d = CountingNull(), create_diffusion("ddim5")
    sample_ddim(model, d, (2, 1, 4, 4), y=torch.tensor([1, 2]), cfg_scale=4.0,
                generator=torch.Generator().manual_seed(0))
    assert model.nulls == 1 and len(model.calls) == 5  # one null condition for five guided calls
    assert all(c["y"].tolist() == [1, 2, NULL, NULL] for c in model.calls)
    x, t, y = torch.randn(2, 2, 4, 4), torch.tensor([3, 3]), torch.tensor([1, 2])
    made = guidance_condition(model, y, 4.0)
    once = guided_output(model, d, x, t, y, 4.0, call_condition=made)
    assert torch.equal(once, guided_output(model, d, x, t, y, 4.0))
    assert guidance_condition(model, y, 1.0) is y


def test_cfg_formula_and_cfg_channels():
    model, d = RecordingModel(), create_diffusion(None)
    x, t, y = torch.randn(2, 2, 4, 4), torch.tensor([7, 7]), torch.tensor([2, 6])
    cond = model(x, t, y)
    uncond = model(x, t, torch.full_like(y, NULL))
    out = guided_output(model, d, x, t, y, cfg_scale=3.0)
    assert torch.allclose(out[:, :2], uncond[:, :2] + 3.0 * (cond[:, :2] - uncond[:, :2]))
    assert torch.equal(out[:, 2:], cond[:, 2:])  # variance channels from the conditional half
    partial = guided_output(model, d, x, t, y, cfg_scale=3.0, cfg_channels=1)
    assert torch.allclose(partial[:, :1], out[:, :1]) and torch.equal(partial[:, 1:], cond[:, 1:])
    with pytest.raises(ValueError, match="cfg_channels"):
        guided_output(model, d, x, t, y, cfg_scale=3.0, cfg_channels=3)
    with pytest.raises(ValueError, match="condition y"):
        guided_output(model, d, x, t, None, cfg_scale=3.0)


def test_hybrid_loss_has_vb_term_that_only_trains_the_variance():
    d = create_diffusion(None)
    out = nn.Parameter(torch.randn(4, 2, 4, 4) * 0.1)  # a "model" whose output is a free tensor
    x0 = torch.rand(4, 1, 4, 4) * 2 - 1
    terms = d.training_losses(lambda x, t, y: out, x0, torch.tensor([0, 3, 400, 999]))
    assert set(terms) == {"loss", "mse", "vb"}
    assert torch.isfinite(terms["loss"]).all() and (terms["vb"] > 0).all()
    assert torch.allclose(terms["loss"], terms["mse"] + terms["vb"])
    terms["vb"].sum().backward()
    assert out.grad[:, :1].abs().max() == 0  # the mean (eps) is detached inside the VLB
    assert out.grad[:, 1:].abs().max() > 0


def test_plain_mse_option():
    d = create_diffusion(None, learn_sigma=False)
    model = RecordingModel(learn_sigma=False)
    terms = d.training_losses(model, torch.zeros(2, 1, 4, 4), torch.tensor([1, 2]))
    assert set(terms) == {"loss", "mse"} and torch.equal(terms["loss"], terms["mse"])
    with pytest.raises(ValueError, match="learn_sigma"):
        create_diffusion(None).training_losses(model, torch.zeros(2, 1, 4, 4), torch.tensor([1, 2]))


def test_video_layout_splits_channels_on_dim_2():
    d = create_diffusion(None)

    def video_model(x, t, y):  # (N, F, 2C, H, W): zero eps, then variance values
        return torch.cat([torch.zeros_like(x), torch.ones_like(x)], dim=2)

    x0, noise = torch.zeros(2, 3, 1, 4, 4), torch.randn(2, 3, 1, 4, 4)
    terms = d.training_losses(video_model, x0, torch.tensor([5, 9]), noise=noise)
    assert torch.allclose(terms["mse"], (noise ** 2).mean(dim=(1, 2, 3, 4)))
    model = RecordingModel()
    sample = sample_ddim(model, create_diffusion("ddim5"), (2, 3, 1, 4, 4), y=torch.tensor([1, 2]), cfg_scale=2.0,
                         generator=torch.Generator().manual_seed(0))
    assert sample.shape == (2, 3, 1, 4, 4)


def test_callback_sees_every_step_and_every_run_begins_with_begin_sampling():
    model, d = RecordingModel(), create_diffusion("ddim5")
    model._skipdit_cache = FakeCache()
    model.begin_sampling = model._skipdit_cache.reset  # what an attached cache does; samplers know no cache
    seen = []
    noise = torch.randn(1, 1, 4, 4)
    sample_ddim(model, d, (1, 1, 4, 4), noise=noise, callback=lambda i, t, x, out: seen.append((i, t, x.clone(), out)))
    sample_ddpm(model, d, (1, 1, 4, 4), generator=torch.Generator().manual_seed(0))
    assert model._skipdit_cache.resets == 2
    assert [(i, t) for i, t, _, _ in seen] == [(0, 800), (1, 600), (2, 400), (3, 200), (4, 0)]
    assert torch.equal(seen[0][2], noise) and seen[0][3].shape == (1, 2, 4, 4)


def test_sampler_restores_training_mode():
    model = RecordingModel().train()
    sample_ddim(model, create_diffusion("ddim5"), (1, 1, 4, 4))
    assert model.training


def test_sampling_runs_without_autograd_and_hands_back_ordinary_tensors():
    from skipdit_lib import models
    torch.manual_seed(0)
    model = models.create_model("DiT-S/4-digits", depth=2, hidden_size=32, num_heads=2)
    modes = []
    out = sample_ddim(model, create_diffusion("ddim3"), (2, 1, 16, 16), y=torch.tensor([1, 2]), cfg_scale=2.0,
                      callback=lambda i, t, x, o: modes.append(torch.is_inference_mode_enabled()))
    assert modes == [True] * 3  # the loop runs under inference mode
    assert not out.is_inference() and not torch.is_inference_mode_enabled()
    out.add_(1.0)  # an inference tensor refuses in-place updates outside inference mode
    unclipped = sample_ddim(model, create_diffusion("ddim3"), (2, 1, 16, 16), y=torch.tensor([1, 2]),
                            clip_denoised=False)
    assert not unclipped.is_inference()
    # the model trains on right after sampling (nothing it keeps was made under inference mode)
    loss = create_diffusion(None).training_losses(model, out.clamp(-1, 1), torch.tensor([5, 500]),
                                                  torch.tensor([1, 2]))["loss"].mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_real_dit_samples_and_trains():
    from skipdit_lib import models
    torch.manual_seed(0)
    model = models.create_model("DiT-S/4-digits", depth=4, hidden_size=32, num_heads=2)
    d = create_diffusion(None)
    terms = d.training_losses(model, torch.rand(2, 1, 16, 16) * 2 - 1, torch.tensor([0, 999]), torch.tensor([1, 2]))
    assert torch.isfinite(terms["loss"]).all() and "vb" in terms
    kwargs = dict(y=torch.tensor([3, 7]), cfg_scale=4.0, noise=torch.randn(2, 1, 16, 16))
    a = sample_ddim(model, create_diffusion("ddim5"), (2, 1, 16, 16), **kwargs)
    b = sample_ddim(model, create_diffusion("ddim5"), (2, 1, 16, 16), **kwargs)
    assert torch.equal(a, b) and a.shape == (2, 1, 16, 16) and a.abs().max() <= 1.0


def test_bad_inputs_raise_helpful_errors():
    with pytest.raises(ValueError, match="at least 2 steps"):
        create_diffusion("1")
    with pytest.raises(ValueError, match="betas"):
        GaussianDiffusion(np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="noise has shape"):
        sample_ddpm(RecordingModel(), create_diffusion("ddim5"), (1, 1, 4, 4), noise=torch.zeros(2, 1, 4, 4))


def test_the_noise_stream_does_not_depend_on_the_device(monkeypatch):
    """Every draw of the samplers comes from a CPU stream and is then moved: same seed, same samples anywhere."""
    from skipdit_lib.diffusion import sampling

    drawn_on = []
    real_randn = torch.randn

    def spy(*args, **kwargs):
        drawn_on.append(torch.device(kwargs.get("device") or "cpu"))
        return real_randn(*args, **{**kwargs, "device": "cpu"})

    monkeypatch.setattr(sampling.torch, "randn", spy)
    meta = torch.device("meta")  # stands in for an accelerator: the values must not be drawn there
    for generator in (None, torch.Generator().manual_seed(0)):
        out = sampling._randn((2, 3), None, meta, generator)
        assert out.device == meta
    assert drawn_on == [torch.device("cpu")] * 2
    noise = torch.randn(1, 1, 4, 4)
    drawn_on.clear()
    sampling.run_sampler(RecordingModel(), sampling.SamplerSettings("ddpm", 3), noise, None)
    assert drawn_on and set(drawn_on) == {torch.device("cpu")}


# --- v-prediction (Hunyuan-DiT's parametrisation) -------------------------------------------------------------

class AsVPrediction(nn.Module):
    """Wraps an eps model: returns v = sqrt(abar) eps - sqrt(1 - abar) x0(eps), the same denoiser in v terms."""

    prediction = "v"

    def __init__(self, eps_model: nn.Module) -> None:
        super().__init__()
        self.inner, self.learn_sigma = eps_model, eps_model.learn_sigma
        self.diffusion = create_diffusion(None)  # the original 1000 steps: the model sees original timesteps

    def forward(self, x, t, y=None):
        out = self.inner(x, t, y)
        eps, rest = (out.chunk(2, dim=channel_dim(x)) if self.learn_sigma else (out, None))
        d = self.diffusion
        x0 = d.predict_xstart_from_eps(x, t, eps)
        v = d.extract(d.sqrt_alphas_cumprod, t, x) * eps - d.extract(d.sqrt_one_minus_alphas_cumprod, t, x) * x0
        return v if rest is None else torch.cat([v, rest], dim=channel_dim(x))

    def null_condition(self, y):
        return self.inner.null_condition(y)


def test_v_target_and_its_eps_invert_each_other():
    d = create_diffusion(None, prediction="v")
    gen = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(4, 2, 4, 4, generator=gen), torch.randn(4, 2, 4, 4, generator=gen)
    t = torch.tensor([0, 10, 500, 900])
    v = d.prediction_target(x0, t, eps)
    abar = d.alphas_cumprod[t].view(-1, 1, 1, 1).float()
    assert torch.allclose(v, abar.sqrt() * eps - (1 - abar).sqrt() * x0, atol=1e-6)
    assert torch.allclose(d.eps_from_prediction(d.q_sample(x0, t, eps), t, v), eps, atol=1e-5)
    eps_diffusion = create_diffusion(None)
    assert torch.equal(eps_diffusion.prediction_target(x0, t, eps), eps)  # eps models: the noise itself


@pytest.mark.parametrize("sampler, respacing", [(sample_ddpm, "10"), (sample_ddim, "ddim10")])
def test_a_v_model_samples_like_the_same_denoiser_in_eps(sampler, respacing):
    eps_model = RecordingModel()
    shape, y = (2, 2, 4, 4), torch.tensor([1, 3])
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    runs = []
    for model, prediction in ((eps_model, "eps"), (AsVPrediction(eps_model), "v")):
        d = create_diffusion(respacing, prediction=prediction)
        runs.append(sampler(model, d, shape, y=y, cfg_scale=2.0, noise=noise,
                            generator=torch.Generator().manual_seed(2)))
    assert torch.allclose(runs[0], runs[1], atol=1e-4)
    wrong = sampler(AsVPrediction(eps_model), create_diffusion(respacing), shape, y=y, cfg_scale=2.0, noise=noise,
                    generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(wrong, runs[0], atol=1e-2)  # read as eps, a v output gives other samples


def test_v_loss_is_the_mse_on_v():
    model = RecordingModel(learn_sigma=False)
    d = create_diffusion(None, learn_sigma=False, prediction="v")
    gen = torch.Generator().manual_seed(3)
    x0, noise = torch.randn(3, 2, 4, 4, generator=gen), torch.randn(3, 2, 4, 4, generator=gen)
    t = torch.tensor([5, 50, 800])
    with torch.no_grad():
        out = model(d.q_sample(x0, t, noise), t)
        loss = d.training_losses(model, x0, t, noise=noise)["mse"]
    assert torch.allclose(loss, ((d.prediction_target(x0, t, noise) - out) ** 2).mean(dim=(1, 2, 3)))
    with pytest.raises(ValueError, match="prediction must be one of"):
        create_diffusion(None, prediction="x0")


def test_run_sampler_and_training_read_the_models_prediction():
    from skipdit_lib.diffusion.gaussian_diffusion import diffusion_for
    from skipdit_lib.diffusion.sampling import SamplerSettings, run_sampler
    from skipdit_lib.models import create_model

    model = AsVPrediction(RecordingModel())
    noise, y = torch.randn(2, 2, 4, 4, generator=torch.Generator().manual_seed(4)), torch.tensor([2, 5])
    expected = sample_ddim(model, create_diffusion("ddim10", prediction="v"), (2, 2, 4, 4), y=y, cfg_scale=2.0,
                           noise=noise)
    assert torch.equal(run_sampler(model, SamplerSettings("ddim", 10, 2.0), noise, y), expected)
    assert diffusion_for(create_model("TextDiT-S/4-digits", depth=2, prediction="v")).prediction == "v"
    assert diffusion_for(create_model("DiT-S/4-digits", depth=2)).prediction == "eps"
    with pytest.raises(ValueError, match="prediction must be one of"):
        create_model("TextDiT-S/4-digits", depth=2, prediction="x0")


@pytest.mark.parametrize("prediction", ["eps", "v"])
@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_ddim_update_is_eq12_on_the_clipped_x0(prediction, eta):
    """The lean DDIM step equals Song et al.'s eq. 12 written out from `p_mean_variance`'s x_0 (clipped, eps
    re-derived from it, as upstream), bit for bit at eta = 0 and within rounding otherwise (noise from the same
    seed)."""
    from skipdit_lib.diffusion.sampling import ddim_update

    d = create_diffusion("ddim10", prediction=prediction, learn_sigma=True)
    gen = torch.Generator().manual_seed(0)
    x, output = torch.randn(3, 2, 4, 4, generator=gen), 3 * torch.randn(3, 4, 4, 4, generator=gen)
    for step in (9, 4, 0):
        t = torch.full((3,), step)
        x0 = d.p_mean_variance(output, x, t, clip_denoised=True)["pred_xstart"]
        assert x0.abs().max() <= 1
        eps = d.predict_eps_from_xstart(x, t, x0)
        abar, abar_prev = d.extract(d.alphas_cumprod, t, x), d.extract(d.alphas_cumprod_prev, t, x)
        sigma = eta * torch.sqrt((1 - abar_prev) / (1 - abar)) * torch.sqrt(1 - abar / abar_prev)
        expected = x0 * torch.sqrt(abar_prev) + torch.sqrt(1 - abar_prev - sigma ** 2) * eps
        if eta and step:
            expected = expected + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
        got = ddim_update(d, output, x, t, True, torch.Generator().manual_seed(5), eta)
        if eta == 0.0:
            assert torch.equal(got, expected)
        else:
            torch.testing.assert_close(got, expected)
