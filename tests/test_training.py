"""Tests of skipdit_lib.training: logs, checkpoints, exact resume, torchrun DDP, freezing, EMA."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from interruption import FailingDataset
from torch.utils.data import TensorDataset

from skipdit_lib import models  # noqa: E402
from skipdit_lib.diffusion import create_diffusion
from skipdit_lib.training import (
    TrainConfig,
    ema_decay_at,
    latest_checkpoint,
    learning_rate,
    list_checkpoints,
    load_train_checkpoint,
    train,
    train_in_stages,
    update_ema,
)
from skipdit_lib.training.data_order import StepBatchSampler
from skipdit_lib.training.trainer import weighted_loss

REPO = Path(__file__).resolve().parents[1]
TINY = dict(depth=4, hidden_size=32, num_heads=2)


def tiny_dit(seed: int = 0, name: str = "DiT-S/4-digits", **overrides) -> nn.Module:
    torch.manual_seed(seed)
    return models.create_model(name, **TINY, **overrides)


def digits_like(n: int = 24, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.rand(n, 1, 16, 16, generator=g) * 2 - 1, torch.randint(0, 10, (n,), generator=g))


def run_in_own_session(command: list[str], env: dict, timeout: float) -> tuple[int, str]:
    """Run a command in its own process group; on timeout kill that whole group (torchrun workers too)."""
    proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        pytest.fail(f"torchrun timed out after {timeout} s: {stderr[-2000:]}")
    return proc.returncode, stderr


def states_equal(a: dict, b: dict) -> bool:
    """Recursive torch.equal over (nested) state dicts."""
    if torch.is_tensor(a):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(states_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(states_equal(u, v) for u, v in zip(a, b))
    return a == b


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="trainable"):
        TrainConfig(trainable="deep_only")
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)


def test_min_snr_settings_are_checked():
    with pytest.raises(ValueError, match="loss_weighting must be one of"):
        TrainConfig(loss_weighting="p2")
    with pytest.raises(ValueError, match="min_snr_gamma"):
        TrainConfig(loss_weighting="min_snr", min_snr_gamma=0.0)


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_min_snr_weights_are_the_x0_loss_capped_at_gamma(prediction):
    diffusion = create_diffusion(None, prediction=prediction)
    t = torch.arange(0, 1000, 37)
    abar = diffusion.alphas_cumprod[t]
    snr = abar / (1 - abar)
    weights = diffusion.min_snr_weights(t, 5.0).double()
    # weight x the target's MSE = min(SNR, 5) x the x_0 MSE: eps error = sqrt(SNR) x_0 error; v error = x_0 error
    # / sqrt(1 - abar)
    x0_per_target = 1 / snr if prediction == "eps" else 1 - abar
    assert torch.allclose(weights, torch.minimum(snr, torch.tensor(5.0)) * x0_per_target, rtol=1e-6)
    if prediction == "eps":  # uniform where the SNR is below gamma (high noise), below 1 where it is above
        assert torch.all(weights[snr <= 5] == 1) and torch.all(weights[snr > 5] < 1)
    assert weights[0] < 1e-3  # the nearly clean step hardly counts


def test_weighted_loss_scales_only_the_prediction_term():
    diffusion = create_diffusion(None)
    t = torch.tensor([0, 500, 999])
    terms = {"mse": torch.tensor([1.0, 2.0, 3.0]), "vb": torch.tensor([0.5, 0.5, 0.5])}
    terms["loss"] = terms["mse"] + terms["vb"]
    assert torch.equal(weighted_loss(terms, diffusion, t, TrainConfig()), terms["loss"])
    weighted = weighted_loss(terms, diffusion, t, TrainConfig(loss_weighting="min_snr"))
    assert weighted[0] == pytest.approx(0.5, abs=1e-3)  # t = 0: SNR ~ 1e4, the MSE weighs ~5e-4
    assert weighted[1:].tolist() == pytest.approx([2.5, 3.5])  # SNR below 5: weight 1


def test_min_snr_training_runs_and_differs(tmp_path):
    config = TrainConfig(steps=2, batch_size=24, log_every=1)  # 48 timesteps: some with an SNR above 5
    uniform = train(tiny_dit(), digits_like(), config, tmp_path / "uniform", progress=False)
    snr = train(tiny_dit(), digits_like(), TrainConfig(steps=2, batch_size=24, log_every=1, loss_weighting="min_snr"),
                tmp_path / "snr", progress=False)
    assert not states_equal(uniform.state_dict(), snr.state_dict())
    logs = [[json.loads(line) for line in (tmp_path / run / "train_log.jsonl").read_text().splitlines()]
            for run in ("uniform", "snr")]
    assert logs[0][0]["mse"] == pytest.approx(logs[1][0]["mse"])  # same batch, timesteps and noise at step 1
    assert all(b["loss"] < a["loss"] for a, b in zip(*logs))  # weights are at most 1, below 1 at low noise


def test_data_order_is_deterministic_and_sharded():
    one = StepBatchSampler(10, 4, seed=3, stop_step=5)
    assert list(one) == list(StepBatchSampler(10, 4, seed=3, stop_step=5))
    assert len(set(sum(list(one)[:2], []))) == 8  # an epoch never repeats a sample
    ranks = [StepBatchSampler(10, 4, seed=3, rank=r, world_size=2, stop_step=5) for r in range(2)]
    assert [a + b for a, b in zip(*ranks)] == list(one)  # the ranks' slices make up the global batch
    assert list(StepBatchSampler(10, 4, seed=3, start_step=3, stop_step=5)) == list(one)[3:]
    with pytest.raises(ValueError, match="divisible"):
        StepBatchSampler(10, 3, seed=0, world_size=2)


def test_update_ema_formula_and_frozen_copy():
    model, ema = nn.Linear(2, 1), nn.Linear(2, 1)
    model.bias.requires_grad_(False)
    expected = 0.9 * ema.weight.detach() + 0.1 * model.weight.detach()
    update_ema(ema, model, 0.9)
    assert torch.allclose(ema.weight, expected) and torch.equal(ema.bias, model.bias)


def test_cosine_schedule_warms_up_then_falls_to_min_lr():
    config = TrainConfig(steps=11, lr=1e-3, warmup_steps=2, lr_schedule="cosine", min_lr=1e-5)
    lrs = [learning_rate(step, config) for step in range(config.steps)]
    assert lrs[0] == pytest.approx(5e-4) and lrs[1] == pytest.approx(1e-3)  # warm-up (step+1)/2
    assert lrs[2] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1e-5)  # full lr after warm-up, min_lr last
    assert lrs[6] == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + math.cos(math.pi * 4 / 8)))
    assert all(a > b for a, b in zip(lrs[2:], lrs[3:]))  # strictly falling after warm-up
    late = TrainConfig(steps=11, lr=1e-3, warmup_steps=2, lr_schedule="cosine",
                       decay_steps=3)  # cosine over steps 8..10
    assert [learning_rate(step, late) for step in range(2, 9)] == [1e-3] * 7
    assert learning_rate(9, late) == pytest.approx(5e-4) and learning_rate(10, late) == 0.0
    constant = TrainConfig(steps=11, lr=1e-3)
    assert {learning_rate(step, constant) for step in range(11)} == {1e-3}


def test_schedule_settings_are_checked():
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        TrainConfig(lr_schedule="linear")
    with pytest.raises(ValueError, match="min_lr must be in"):
        TrainConfig(lr=1e-4, min_lr=1e-3)


def test_ema_warmup_forgets_the_initial_weights():
    warm, plain = TrainConfig(ema_decay=0.999, ema_warmup=True), TrainConfig(ema_decay=0.999)
    assert ema_decay_at(0, warm) == pytest.approx(0.1) and ema_decay_at(90, warm) == pytest.approx(0.91)
    assert ema_decay_at(10**6, warm) == 0.999 and ema_decay_at(0, plain) == 0.999
    kept = {name: math.prod(ema_decay_at(k, cfg) for k in range(2400)) for name, cfg in (("warm", warm), ("plain",
                                                                                                          plain))}
    assert kept["plain"] > 0.09 and kept["warm"] < 1e-3  # share of the random init left after 2,400 updates


def test_train_writes_log_and_checkpoints(tmp_path):
    config = TrainConfig(steps=4, batch_size=8, log_every=2, checkpoint_every=2, warmup_steps=4)
    ema = train(tiny_dit(), digits_like(), config, tmp_path, progress=False)
    lines = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [2, 4]
    assert {"step", "loss", "grad_norm", "lr", "seconds", "mse", "vb"} <= set(lines[0])
    assert lines[0]["lr"] == pytest.approx(5e-5) and lines[1]["lr"] == pytest.approx(1e-4)  # warm-up (step+1)/4
    assert all(line["vb"] > 0 and line["loss"] > line["mse"] for line in lines)
    assert list(list_checkpoints(tmp_path)) == [2, 4]
    state = load_train_checkpoint(latest_checkpoint(tmp_path))  # weights_only load works
    assert {"model", "ema", "opt", "args", "config", "step", "rng", "data"} <= set(state)
    assert state["step"] == 4 and state["data"]["step"] == 4 and state["args"]["family"] == "DiT"
    assert states_equal(state["ema"], ema.state_dict()) and not ema.training


def test_resume_after_interruption_is_bit_exact(tmp_path):
    config = TrainConfig(steps=6, batch_size=8, log_every=1, checkpoint_every=3, ema_decay=0.9, warmup_steps=2,
                         lr_schedule="cosine", ema_warmup=True)  # step-dependent lr and decay must resume too
    straight_model = tiny_dit()
    straight_ema = train(straight_model, digits_like(), config, tmp_path / "straight", progress=False)
    straight = load_train_checkpoint(latest_checkpoint(tmp_path / "straight"))

    interrupted = tiny_dit()
    with pytest.raises(KeyboardInterrupt):  # dies while reading the batch of step 5 (after 4 * 8 items)
        train(interrupted, FailingDataset(digits_like(), limit=4 * 8 + 3), config, tmp_path / "resumed", progress=False)
    assert list(list_checkpoints(tmp_path / "resumed")) == [3]
    resumed_model = tiny_dit(seed=123)  # different init: everything must come from the checkpoint
    resumed_ema = train(resumed_model, digits_like(), config, tmp_path / "resumed", progress=False)
    resumed = load_train_checkpoint(latest_checkpoint(tmp_path / "resumed"))

    for key, value in straight_model.state_dict().items():
        assert torch.equal(value, resumed_model.state_dict()[key]), key
    for key, value in straight_ema.state_dict().items():
        assert torch.equal(value, resumed_ema.state_dict()[key]), key
    assert states_equal(straight["opt"], resumed["opt"])
    log = lambda run: [{k: v for k, v in json.loads(line).items() if k != "seconds"}  # noqa: E731
                       for line in (tmp_path / run / "train_log.jsonl").read_text().splitlines()]
    assert log("straight") == log("resumed") and len(log("resumed")) == 6


def test_skip_only_then_all_in_stages(tmp_path):
    model = tiny_dit(name="DiT-S/4-digits-skip")
    with torch.no_grad():  # stand in for a pretrained model: DiT's zero-init final layer would block every gradient
        for name, p in model.named_parameters():
            if name != "pos_embed":
                p.add_(0.02 * torch.randn_like(p))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    stage1 = TrainConfig(steps=2, batch_size=4, trainable="skip_only", log_every=1)
    stage2 = TrainConfig(steps=1, batch_size=4, trainable="all", seed=1, log_every=1)
    train_in_stages(model, digits_like(8), [stage1], tmp_path)
    after1 = {k: v.clone() for k, v in model.state_dict().items()}
    skip_keys = [k for k in before if k.startswith(("skip_norms", "skip_linears"))]
    assert skip_keys and all(not torch.equal(before[k], after1[k]) for k in skip_keys if k.endswith("weight"))
    assert all(torch.equal(before[k], after1[k]) for k in before if k not in skip_keys)
    assert model.blocks[0].attn.qkv.weight.requires_grad and not model.pos_embed.requires_grad  # flags restored

    train_in_stages(model, digits_like(8), [stage1, stage2], tmp_path)  # stage 1 is already done: resumes
    assert (tmp_path / "stage2" / "checkpoints").is_dir()
    assert not torch.equal(after1["blocks.0.mlp.fc1.weight"], model.state_dict()["blocks.0.mlp.fc1.weight"])
    assert torch.equal(after1["pos_embed"], model.state_dict()["pos_embed"])
    with pytest.raises(ValueError, match="skip branches"):
        train(tiny_dit(), digits_like(8), stage1, tmp_path / "noskip", progress=False)


def test_grad_norm_threshold_and_nan_steps_are_skipped(tmp_path):
    model = tiny_dit()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    config = TrainConfig(steps=2, batch_size=4, max_grad_norm_skip=1e-9, log_every=1)
    train(model, digits_like(8), config, tmp_path / "threshold", progress=False)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    last = json.loads((tmp_path / "threshold" / "train_log.jsonl").read_text().splitlines()[-1])
    assert last["skipped_steps"] == 2
    nan_data = TensorDataset(torch.full((8, 1, 16, 16), float("nan")), torch.zeros(8, dtype=torch.long))
    train(model, nan_data, TrainConfig(steps=1, batch_size=4), tmp_path / "nan", progress=False)
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    with pytest.raises(FloatingPointError):
        train(model, nan_data, TrainConfig(steps=1, batch_size=4, skip_nonfinite=False), tmp_path / "nan2",
              progress=False)


def test_resume_refuses_changed_batch_size(tmp_path):
    train(tiny_dit(), digits_like(8), TrainConfig(steps=1, batch_size=4), tmp_path, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        train(tiny_dit(), digits_like(8), TrainConfig(steps=2, batch_size=8), tmp_path, progress=False)



@pytest.mark.parametrize("schedule, warns", [("constant", False), ("cosine", True)])
def test_extending_a_run_warns_only_when_the_lr_curve_changes(tmp_path, caplog, schedule, warns):
    train(tiny_dit(), digits_like(8), TrainConfig(steps=1, batch_size=4, lr_schedule=schedule), tmp_path,
          progress=False)
    with caplog.at_level("WARNING", logger="skipdit_lib.training.trainer"):
        train(tiny_dit(), digits_like(8), TrainConfig(steps=2, batch_size=4, lr_schedule=schedule), tmp_path,
              progress=False)
    assert ("changed settings ['steps']" in caplog.text) == warns

@pytest.mark.distributed
def test_torchrun_two_processes_match_one_process(tmp_path):
    """2 gloo processes on CPU vs 1 process on the same global batches, timesteps and noise.

    class_dropout_prob=0: label dropout draws per-sample random numbers inside each process, so
    which labels drop would differ between 1 and 2 processes; everything else is shared.
    """
    from skipdit_lib.training import cli

    argv = ["--model", "DiT-S/4-digits", "--depth", "4", "--hidden-size", "32", "--num-heads", "2",
            "--class-dropout-prob", "0", "--dataset", "synthetic", "--num-samples", "16", "--steps", "3",
            "--batch-size", "8", "--log-every", "1", "--ema-decay", "0.5"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    returncode, stderr = run_in_own_session(
        torchrun + ["-m", "skipdit_lib.training.cli", *argv, "--out-dir", str(tmp_path / "ddp")], env, timeout=180)
    assert returncode == 0, stderr[-3000:]
    args = cli.parse_args(argv + ["--out-dir", str(tmp_path / "single")])
    model = cli.build_model(args)
    ema = train(model, cli.build_dataset(args, model), cli.train_config(args), args.out_dir, progress=False)
    ddp = load_train_checkpoint(latest_checkpoint(tmp_path / "ddp"))
    assert ddp["step"] == 3 and ddp["data"]["batch_size"] == 8
    worst = max((ddp["model"][k] - v).abs().max().item() for k, v in model.state_dict().items())
    worst_ema = max((ddp["ema"][k] - v).abs().max().item() for k, v in ema.state_dict().items())
    print(f"max |ddp - single|: model {worst:.3g}, ema {worst_ema:.3g}")
    assert worst < 1e-6 and worst_ema < 1e-6, (worst, worst_ema)
    # The update changed the weights (so the comparison is not trivially of the initial weights).
    assert (ddp["model"]["blocks.0.attn.qkv.weight"] - cli.build_model(args).blocks[0].attn.qkv.weight).abs().max() > 0


def test_stages_can_start_from_the_previous_stages_ema(tmp_path):
    # Stage 2 at lr 0 cannot move the weights, so the model it returns is the one it started from.
    stage1 = TrainConfig(steps=3, batch_size=4, ema_decay=0.5, seed=1)
    frozen = TrainConfig(steps=1, batch_size=4, lr=0.0, ema_decay=0.5, seed=2)
    model = tiny_dit(name="DiT-S/4-digits-skip")
    ema1 = train(model, digits_like(8), stage1, tmp_path / "alone", progress=False)
    staged = tiny_dit(name="DiT-S/4-digits-skip")
    train_in_stages(staged, digits_like(8), [stage1, frozen], tmp_path / "staged", progress=False, stage_start="ema")
    assert all(torch.equal(v, staged.state_dict()[k]) for k, v in ema1.state_dict().items())
    with pytest.raises(ValueError, match="stage_start"):
        train_in_stages(staged, digits_like(8), [stage1], tmp_path / "x", progress=False, stage_start="best")


def test_gradient_norms_probe_without_updating():
    from skipdit_lib.training import gradient_norms

    model = tiny_dit(name="DiT-S/4-digits-skip")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    norms = gradient_norms(model, digits_like(8), TrainConfig(batch_size=4), batches=3)  # adaLN-zero: skip grads 0
    assert len(norms) == 3 and all(n > 0 for n in norms)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert all(p.grad is None for p in model.parameters())
    # the probe reads the loss the run will train on: min-SNR weights change the norms from the same batches
    weighted = gradient_norms(model, digits_like(8), TrainConfig(batch_size=4, loss_weighting="min_snr"), batches=3)
    assert len(weighted) == 3 and weighted != norms
