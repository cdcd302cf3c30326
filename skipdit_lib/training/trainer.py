"""Training: `TrainConfig` and `train(...)` with AdamW, EMA, clipping, a loss log, atomic
checkpoints, an exact resume, torchrun data parallelism and stage-wise freezing.

Determinism: everything random in step k is seeded from (seed, k) alone: the data order
(`data_order.py`), the diffusion timesteps and noise of the whole global batch (each process
takes its slice), and the global torch RNG for randomness inside the model (label dropout).
So an interrupted run resumed from a checkpoint reproduces the uninterrupted run bit for bit,
and W processes see exactly the batches, timesteps and noise one process would.
"""
from __future__ import annotations

import json
import logging
import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from skipdit_lib.diffusion.gaussian_diffusion import GaussianDiffusion, diffusion_for
from skipdit_lib.io import atomic_write_text

from .checkpointing import latest_checkpoint, load_train_checkpoint, rng_state, save_train_checkpoint, set_rng_state
from .data_order import StepBatchSampler, step_seed
from .distributed import DistContext, all_reduce_mean, barrier, setup_distributed, wrap_data_parallel
from .ema import create_ema, update_ema

log = logging.getLogger(__name__)

TRAINABLE = ("all", "skip_only")
LR_SCHEDULES = ("constant", "cosine")
LOSS_WEIGHTINGS = ("uniform", "min_snr")
SKIP_PARAMETER_MARKERS = ("skip_norm", "skip_linear")  # official freeze rule: names containing these
LOG_NAME = "train_log.jsonl"
# Config fields that change which samples, timesteps or parameters a step uses: a resume must keep them.
_RESUME_FIXED = ("batch_size", "seed", "trainable")


@dataclass
class TrainConfig:
    """Settings of one training run (flat, one comment each)."""

    steps: int = 1000                         # optimizer steps (global batches) in total, resumed runs included
    batch_size: int = 32                      # global batch size, split evenly over torchrun processes
    lr: float = 1e-4                          # Paper: DiT recipe, AdamW at a constant 1e-4
    weight_decay: float = 0.0                 # Paper: DiT recipe, no weight decay
    ema_decay: float = 0.9999                 # Paper: DiT recipe 0.9999 (text-to-video: 0.99985)
    grad_clip: float | None = None            # clip the global grad norm to this (None: no clipping, as DiT)
    warmup_steps: int = 0                     # linear lr warm-up steps (Paper, text-to-video: 100)
    lr_schedule: str = "constant"             # after warm-up: "constant" (Paper: DiT) or "cosine" decay to min_lr
    min_lr: float = 0.0                       # the lr the cosine schedule ends at, on the last step
    decay_steps: int = 0                      # cosine: decay over the last K steps only (0: all after warm-up)
    ema_warmup: bool = False                  # decay min(ema_decay, (1+k)/(10+k)) at update k (short runs)
    max_grad_norm_skip: float | None = None   # skip the update when grad norm > this (Paper, text-to-video: 0.02)
    skip_nonfinite: bool = True               # skip the update on a NaN/inf grad norm (False: raise)
    checkpoint_every: int = 0                 # write a checkpoint every K steps (0: only at the end)
    keep_checkpoints: bool = True             # keep every checkpoint (training curves) or only the latest
    log_every: int = 10                       # one train_log.jsonl line every K steps (and at the end)
    seed: int = 0                             # seeds data order, timesteps, noise and label dropout
    num_workers: int = 0                      # DataLoader worker processes
    trainable: str = "all"                    # "all", or "skip_only": only skip_norms / skip_linears train
    loss_weighting: str = "uniform"           # the prediction MSE per timestep: "uniform" (Paper: DiT) or "min_snr"
    min_snr_gamma: float = 5.0                # min_snr: the SNR cap gamma (Hang et al. 2023 use 5)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "log_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "decay_steps", "checkpoint_every", "num_workers"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"TrainConfig.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.ema_decay <= 1.0:
            raise ValueError(f"TrainConfig.ema_decay must be in [0, 1], got {self.ema_decay}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"TrainConfig.lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not 0.0 <= self.min_lr <= self.lr:
            raise ValueError(f"TrainConfig.min_lr must be in [0, lr={self.lr}], got {self.min_lr}")
        if self.trainable not in TRAINABLE:
            raise ValueError(f"TrainConfig.trainable must be one of {TRAINABLE}, got {self.trainable!r}")
        if self.loss_weighting not in LOSS_WEIGHTINGS:
            raise ValueError(f"TrainConfig.loss_weighting must be one of {LOSS_WEIGHTINGS}, "
                             f"got {self.loss_weighting!r}")
        if not self.min_snr_gamma > 0:
            raise ValueError(f"TrainConfig.min_snr_gamma must be > 0, got {self.min_snr_gamma}")


def is_skip_parameter(name: str) -> bool:
    """True for the parameters of the long skip branches (`skip_norms.*`, `skip_linears.*`)."""
    return any(marker in name for marker in SKIP_PARAMETER_MARKERS)


@contextmanager
def trainable_parameters(model: nn.Module, trainable: str) -> Iterator[list[nn.Parameter]]:
    """Yield the parameters that train; "skip_only" freezes all others until the block ends.

    Paper (text-to-video continued pre-training): stage 1 trains only the skip modules, stage 2
    everything. Parameters the model itself keeps frozen (the fixed pos_embed) stay frozen.
    """
    saved = {name: p.requires_grad for name, p in model.named_parameters()}
    if trainable == "skip_only":
        if not any(is_skip_parameter(name) for name in saved):
            raise ValueError("trainable='skip_only' needs a model with skip branches (create it with skip=True)")
        for name, p in model.named_parameters():
            p.requires_grad_(saved[name] and is_skip_parameter(name))
    try:
        yield [p for p in model.parameters() if p.requires_grad]
    finally:
        for name, p in model.named_parameters():
            p.requires_grad_(saved[name])


def learning_rate(step: int, config: TrainConfig) -> float:
    """The lr of 0-based step `step`: linear warm-up to `config.lr`, then constant or cosine.

    The cosine schedule falls from `lr` to `min_lr` on the last step (`steps - 1`), starting right
    after warm-up, or `decay_steps` before the end when that is set (constant until then); a
    resumed run follows the same curve because it depends on `step` alone.
    """
    if config.warmup_steps and step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.lr_schedule == "constant":
        return config.lr
    start = max(config.warmup_steps, config.steps - config.decay_steps) if config.decay_steps else config.warmup_steps
    progress = min(max(step - start, 0) / max(config.steps - 1 - start, 1), 1.0)
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1.0 + math.cos(math.pi * progress))


def ema_decay_at(step: int, config: TrainConfig) -> float:
    """The EMA decay of the update after 0-based step `step` (constant, or warmed up).

    With warm-up the average starts short and lengthens, min(decay, (1+k)/(10+k)): a constant
    0.999 over a 2,400-step run would keep 0.999**2400 = 9% of the random initial weights.
    """
    if not config.ema_warmup:
        return config.ema_decay
    return min(config.ema_decay, (1.0 + step) / (10.0 + step))


def split_batch(batch: Any) -> tuple[torch.Tensor, Any]:
    """(x, y) from a collated batch: a tensor (unconditional) or an (x, y) pair."""
    if torch.is_tensor(batch):
        return batch, None
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    raise TypeError("the dataset must yield a tensor x or a pair (x, y); wrap it or pass condition_fn")


def to_device(obj: Any, device: torch.device) -> Any:
    """Move tensors, and tensors inside tuples/lists/dicts, to `device`."""
    if torch.is_tensor(obj):
        return obj.to(device)
    if isinstance(obj, dict):
        return {key: to_device(value, device) for key, value in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(to_device(value, device) for value in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_device(value, device) for value in obj)
    return obj


@dataclass
class _Run:
    """Everything one training run works with."""

    model: nn.Module
    net: nn.Module          # the model, or DistributedDataParallel around it
    ema: nn.Module
    opt: torch.optim.Optimizer
    params: list[nn.Parameter]
    diffusion: GaussianDiffusion
    config: TrainConfig
    ctx: DistContext
    condition_fn: Callable[[Any], Any] | None


def _step_noise(run: _Run, x: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Timesteps and noise of this process's slice of the global batch of `step`."""
    generator = torch.Generator().manual_seed(step_seed(run.config.seed, step, 0))
    total, local = run.config.batch_size, x.shape[0]
    t = torch.randint(0, run.diffusion.num_timesteps, (total,), generator=generator)  # (B,)
    noise = torch.randn((total, *x.shape[1:]), generator=generator, dtype=x.dtype)  # (B, C, ...)
    part = slice(run.ctx.rank * local, (run.ctx.rank + 1) * local)
    return t[part].to(x.device), noise[part].to(x.device)


def _should_skip(grad_norm: float, step: int, config: TrainConfig) -> bool:
    """Whether to drop this update (T2V recipe: NaN or grad norm above a threshold)."""
    if not math.isfinite(grad_norm):
        if not config.skip_nonfinite:
            raise FloatingPointError(f"non-finite gradient norm at step {step}; "
                                     "set skip_nonfinite=True to skip such steps")
        return True
    return config.max_grad_norm_skip is not None and grad_norm > config.max_grad_norm_skip


def _apply_update(run: _Run, grad_norm: torch.Tensor, step: int) -> None:
    """Clip (optionally), take the AdamW step and update the EMA."""
    if run.config.grad_clip is not None:
        torch.nn.utils.clip_grads_with_norm_(run.params, run.config.grad_clip, grad_norm)
    run.opt.step()
    update_ema(run.ema, run.model, ema_decay_at(step, run.config))


def weighted_loss(terms: dict[str, torch.Tensor], diffusion: GaussianDiffusion, t: torch.Tensor,
                  config: TrainConfig) -> torch.Tensor:
    """Per-sample training loss (N,): the diffusion's "loss", or with "min_snr" weighting the prediction MSE
    times its min-SNR weight plus the variance term unchanged."""
    if config.loss_weighting == "uniform":
        return terms["loss"]
    weights = diffusion.min_snr_weights(t, config.min_snr_gamma).to(terms["mse"])  # (N,)
    return weights * terms["mse"] + terms.get("vb", torch.zeros_like(terms["mse"]))


def _train_step(run: _Run, batch: Any, step: int) -> dict[str, float]:
    """One optimizer step on this process's part of global batch `step`; returns its metrics."""
    x, y = split_batch(batch)
    y = run.condition_fn(y) if run.condition_fn is not None else y
    x, y = x.to(run.ctx.device), to_device(y, run.ctx.device)
    t, noise = _step_noise(run, x, step)
    torch.manual_seed(step_seed(run.config.seed, step, 1, run.ctx.rank))  # randomness inside the model
    lr = learning_rate(step, run.config)
    for group in run.opt.param_groups:
        group["lr"] = lr
    terms = run.diffusion.training_losses(run.net, x, t, y, noise)
    loss = weighted_loss(terms, run.diffusion, t, run.config).mean()
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.get_total_norm([p.grad for p in run.params if p.grad is not None])
    skipped = _should_skip(float(grad_norm), step, run.config)
    if skipped:
        run.opt.zero_grad(set_to_none=True)
    else:
        _apply_update(run, grad_norm, step)
    vb = terms["vb"].mean().item() if "vb" in terms else 0.0
    return {"loss": loss.item(), "mse": terms["mse"].mean().item(), "vb": vb,
            "grad_norm": float(grad_norm), "lr": lr, "skipped": float(skipped)}


class LossLog:
    """train_log.jsonl: one JSON line per logged step, rewritten atomically; rank 0 only."""

    def __init__(self, path: Path, resume_step: int, enabled: bool) -> None:
        self.path, self.enabled = path, enabled
        lines = path.read_text().splitlines() if enabled and path.exists() else []
        # Lines written after the checkpoint we resume from belong to the lost part of the run.
        self.lines = [line for line in lines if line.strip() and json.loads(line)["step"] <= resume_step]
        if enabled and len(self.lines) != len(lines):
            self._write()

    def append(self, record: dict[str, Any]) -> None:
        """Add one record and rewrite the file."""
        if self.enabled:
            self.lines.append(json.dumps(record))
            self._write()

    def _write(self) -> None:
        atomic_write_text("".join(line + "\n" for line in self.lines), self.path)


class _Window:
    """Metrics summed since the last log line."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start a new window."""
        self.sums = {"loss": 0.0, "mse": 0.0, "vb": 0.0}
        self.count = 0

    def add(self, metrics: dict[str, float]) -> None:
        for key in self.sums:
            self.sums[key] += metrics[key]
        self.count += 1

    def record(self, step: int, metrics: dict[str, float], seconds: float, skipped: int,
               ctx: DistContext) -> dict[str, Any]:
        """The log line of `step` (losses averaged over the window and the processes)."""
        means = all_reduce_mean([value / self.count for value in self.sums.values()], ctx)
        self.reset()
        record = {"step": step, **dict(zip(("loss", "mse", "vb"), means))}
        return {**record, "grad_norm": metrics["grad_norm"], "lr": metrics["lr"],
                "seconds": round(seconds, 3), "skipped_steps": skipped}


def _checkpoint_state(run: _Run, step: int, sampler: StepBatchSampler, seconds: float,
                      skipped: int) -> dict[str, Any]:
    """The checkpoint dict after `step` steps (official keys plus what an exact resume needs)."""
    return {
        "model": run.model.state_dict(), "ema": run.ema.state_dict(), "opt": run.opt.state_dict(),
        "args": getattr(run.model, "config", {"class": type(run.model).__name__}),
        # "config" is the model's config, as in save_checkpoint, so load_model reads training checkpoints.
        "config": getattr(run.model, "config", None), "train_config": asdict(run.config),
        "step": step, "data": sampler.state(step),
        # Per-step seeding makes the resume independent of these; they are kept for completeness.
        "rng": rng_state(), "elapsed_seconds": seconds, "skipped_steps": skipped,
        "diffusion": {"num_timesteps": run.diffusion.num_timesteps, "learn_sigma": run.diffusion.learn_sigma},
    }


def _check_resumable(state: dict[str, Any], config: TrainConfig, dataset_size: int, path: Path) -> None:
    """Refuse to resume with settings that would change the data order or the trained parameters."""
    saved = state.get("train_config") or state["config"]  # older checkpoints kept the TrainConfig under "config"
    changed = [name for name in _RESUME_FIXED if saved.get(name) != getattr(config, name)]
    if state["data"]["dataset_size"] != dataset_size:
        changed.append(f"dataset size ({state['data']['dataset_size']} -> {dataset_size})")
    if changed:
        raise ValueError(f"cannot resume from {path}: {', '.join(changed)} changed; "
                         "use the same settings or a new out_dir")
    harmless = {"checkpoint_every", "log_every", "num_workers", "keep_checkpoints"}
    if config.lr_schedule == "constant":
        harmless.add("steps")  # extending a constant-lr run is the same run; a cosine curve would change
    others = [f.name for f in fields(config) if f.name not in harmless
              and saved.get(f.name, f.default) != getattr(config, f.name)]  # fields new since the save: default
    if others:
        log.warning("resuming from %s with changed settings %s: the run will differ from an uninterrupted one",
                    path, others)


def _resume(run: _Run, out_dir: Path, dataset_size: int) -> tuple[int, float, int]:
    """Load the latest checkpoint of out_dir if any: (step, elapsed seconds, skipped steps)."""
    path = latest_checkpoint(out_dir)
    if path is None:
        return 0, 0.0, 0
    state = load_train_checkpoint(path)
    _check_resumable(state, run.config, dataset_size, path)
    run.model.load_state_dict(state["model"])
    run.ema.load_state_dict(state["ema"])
    run.opt.load_state_dict(state["opt"])
    set_rng_state(state["rng"])
    log.info("resumed from %s at step %d", path, state["step"])
    return state["step"], state["elapsed_seconds"], state["skipped_steps"]


def _save(run: _Run, out_dir: Path, step: int, sampler: StepBatchSampler, seconds: float, skipped: int) -> None:
    """Rank 0 writes the checkpoint of `step`; every process waits for it."""
    if run.ctx.is_main:
        state = _checkpoint_state(run, step, sampler, seconds, skipped)
        save_train_checkpoint(state, out_dir, keep_previous=run.config.keep_checkpoints)
    barrier(run.ctx)


def _make_loader(dataset: Dataset, sampler: StepBatchSampler, config: TrainConfig, rank: int) -> DataLoader:
    """A DataLoader that yields this process's batches in the deterministic order."""
    generator = torch.Generator().manual_seed(step_seed(config.seed, sampler.start_step, 2, rank))
    return DataLoader(dataset, batch_sampler=sampler, num_workers=config.num_workers, generator=generator)


def _progress(steps: range, enabled: bool) -> Any:
    """tqdm over `steps` when enabled."""
    if not enabled:
        return steps
    from tqdm.auto import tqdm

    return tqdm(steps, desc="training", initial=steps.start, total=steps.stop)


def _loop(run: _Run, dataset: Dataset, out_dir: Path, start: int, seconds0: float, skipped: int,
          progress: bool) -> None:
    """Train from step `start` to `config.steps`, logging and checkpointing on the way."""
    config, ctx = run.config, run.ctx
    sampler = StepBatchSampler(len(dataset), config.batch_size, config.seed, ctx.rank, ctx.world_size,
                               start, config.steps)
    loss_log, window, t0 = LossLog(out_dir / LOG_NAME, start, ctx.is_main), _Window(), time.time()
    steps = _progress(range(start, config.steps), progress and ctx.is_main)
    for step, batch in zip(steps, _make_loader(dataset, sampler, config, ctx.rank)):
        metrics = _train_step(run, batch, step)
        window.add(metrics)
        skipped += int(metrics["skipped"])
        done, seconds = step + 1, seconds0 + time.time() - t0
        if done % config.log_every == 0 or done == config.steps:
            loss_log.append(window.record(done, metrics, seconds, skipped, ctx))
        if (config.checkpoint_every and done % config.checkpoint_every == 0) or done == config.steps:
            _save(run, out_dir, done, sampler, seconds, skipped)


def train(model: nn.Module, dataset: Dataset, config: TrainConfig, out_dir: str | Path,
          diffusion: GaussianDiffusion | None = None, condition_fn: Callable[[Any], Any] | None = None,
          progress: bool = True, ema: nn.Module | None = None) -> nn.Module:
    """Train `model` in place (resuming from out_dir's latest checkpoint) and return its EMA.

    `dataset` yields x or (x, y); `condition_fn(y)` maps a collated CPU batch of y to the model's
    condition (e.g. caption ids to embeddings). Under torchrun each process trains on its slice
    of every global batch (DistributedDataParallel); only rank 0 writes. `ema` continues an
    existing average (stage 2 of `train_in_stages`); by default a copy of the model starts it.
    Writes out_dir/train_log.jsonl and out_dir/checkpoints/<step>.pt.
    """
    ctx, out_dir = setup_distributed(), Path(out_dir)
    diffusion = diffusion or diffusion_for(model)
    model.to(ctx.device).train()
    ema = (ema if ema is not None else create_ema(model)).to(ctx.device).eval()
    rng_devices = [ctx.device] if ctx.device.type == "cuda" else []
    with trainable_parameters(model, config.trainable) as params, torch.random.fork_rng(devices=rng_devices):
        opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        run = _Run(model, model, ema, opt, params, diffusion, config, ctx, condition_fn)
        start, seconds, skipped = _resume(run, out_dir, len(dataset))
        run.net = wrap_data_parallel(model, ctx)
        _loop(run, dataset, out_dir, start, seconds, skipped, progress)
    model.eval()  # as upstream: the trained model leaves training with label dropout off
    return ema


STAGE_STARTS = ("model", "ema")


def train_in_stages(model: nn.Module, dataset: Dataset, stages: Sequence[TrainConfig], out_dir: str | Path,
                    diffusion: GaussianDiffusion | None = None, condition_fn: Callable[[Any], Any] | None = None,
                    progress: bool = True, stage_start: str = "model") -> nn.Module:
    """Run the stages one after the other in out_dir/stage1, stage2, ...; returns the final EMA.

    Paper (text-to-video continued pre-training): stage 1 `trainable="skip_only"`, stage 2
    `trainable="all"`. Each later stage starts from the previous stage's final weights
    (`stage_start="model"`) or from its EMA (`"ema"`, as the authors' stage 2 loads the stage-1 file's
    "ema" entry), and continues its EMA. Each stage resumes by itself, so an interrupted run picks up
    where it stopped. Give each stage its own seed so their noise draws differ.
    """
    if not stages:
        raise ValueError("pass at least one TrainConfig")
    if stage_start not in STAGE_STARTS:
        raise ValueError(f"stage_start must be one of {STAGE_STARTS}, got {stage_start!r}")
    ema = None
    for k, config in enumerate(stages, start=1):
        if ema is not None and stage_start == "ema":
            model.load_state_dict(ema.state_dict())  # a resumed stage overwrites this from its checkpoint
        log.info("stage %d: trainable=%s, %d steps", k, config.trainable, config.steps)
        ema = train(model, dataset, config, Path(out_dir) / f"stage{k}", diffusion, condition_fn, progress, ema)
    return ema


def gradient_norms(model: nn.Module, dataset: Dataset, config: TrainConfig, batches: int,
                   diffusion: GaussianDiffusion | None = None) -> list[float]:
    """Global gradient norms of the parameters `config.trainable` names on `batches` batches, no update made.

    For calibrating `max_grad_norm_skip`: the authors' 0.02 suits DiT-XL/2's norms, not a small model's."""
    diffusion = diffusion or diffusion_for(model)
    gen = torch.Generator().manual_seed(config.seed)
    norms = []
    with trainable_parameters(model, config.trainable) as params, torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model.train()
        for _ in range(batches):
            index = torch.randint(len(dataset), (config.batch_size,), generator=gen).tolist()
            x, y = split_batch(torch.utils.data.default_collate([dataset[i] for i in index]))
            t = torch.randint(diffusion.num_timesteps, (len(x),), generator=gen)
            model.zero_grad(set_to_none=True)
            terms = diffusion.training_losses(model, x, t, y, torch.randn(x.shape, generator=gen))
            weighted_loss(terms, diffusion, t, config).mean().backward()  # the loss the run will train on
            norms.append(float(torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])))
        model.zero_grad(set_to_none=True)
    model.eval()
    return norms
