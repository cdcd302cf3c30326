"""Notebook 02: training efficiency (section 5's curve) and continued pre-training (a DiT becomes a Skip-DiT).

(a) FID-style distance at guidance 1.0 of the zoo's DiT and Skip-DiT at their kept checkpoints, and
the step at which Skip-DiT reaches DiT's final quality. (b) The trained DiT converted to Skip-DiT and
trained in two stages (zoo `skipdit-c2i-cpt`, and `-lstsq` with our skip init) beside the same DiT
trained on for as many steps (`dit-c2i-continued`): loss curves, quality, and Skip-Cache on the
converted model against FORA and Delta-DiT on the control.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn

from .. import zoo
from ..caching import FORAConfig
from ..diffusion.gaussian_diffusion import diffusion_for
from ..diffusion.sampling import SamplerSettings, run_sampler
from ..evaluation.sample_quality import DataReference
from ..profiles import per_profile, pick
from ..training import learning_rate
from . import class_to_image as c2i
from .bench import MethodBench
from .claims import Claim, Setting, combine, judge, num, pct, times
from .paper import paper_rows, paper_value

TABLE = "training_efficiency"
CURVE_MODELS = {"DiT": "dit-c2i", "Skip-DiT": "skipdit-c2i"}
CONTINUED = {"Skip-DiT (CPT, authors' init)": "skipdit-c2i-cpt", "Skip-DiT (CPT, lstsq init)": "skipdit-c2i-cpt-lstsq",
             "DiT (continued)": "dit-c2i-continued"}
CPT, CPT_LSTSQ, CONTROL = "Skip-DiT (CPT, authors' init)", "Skip-DiT (CPT, lstsq init)", "DiT (continued)"
INIT_NAMES = {CPT: "authors' init", CPT_LSTSQ: "lstsq init"}
MATCH = 0.05      # ours: the converted model "recovers" = FID-style at most 5% above its parent
FASTER = 2.0      # the bar: Skip-DiT reaches DiT's final quality in at most half of DiT's steps


@dataclass(frozen=True)
class Sizes:
    """What a profile sets for notebook 02."""

    curve_samples: int        # FID-style samples per checkpoint (a); guidance 1.0, as the paper's curve
    sampler_steps: int        # DDIM steps everywhere
    quality_samples: int      # samples per model and method in (b)
    cfg_scale: float          # guidance of (b) (Table 7's)
    intervals: tuple[int, ...]  # Skip-Cache N on the converted model
    branch_depth: int
    latency_batch: int
    latency_repeats: int


SIZES = per_profile(smoke=Sizes(70, 6, 70, 1.5, (2, 3), 1, 2, 1),
                    cpu=Sizes(300, 50, 200, 1.5, (2, 3, 4), 1, 8, 3),
                    gpu=Sizes(5000, 50, 5000, 1.5, (2, 3, 4), 1, 64, 5))


def sizes(profile: str) -> Sizes:
    """The sizes of notebook 02 at `profile`."""
    return pick(SIZES, profile)


# ----------------------------------------------------------------------------- (a) training efficiency

def constant_lr_until(name: str, profile: str) -> int:
    """The last step before the recipe's learning rate starts to decay (all steps for a constant schedule)."""
    config = zoo.get_recipe(name, profile).train_configs()[0]
    return config.steps - config.decay_steps if config.lr_schedule == "cosine" else config.steps


def curve(data: DataReference, profile: str, s: Sizes, seed: int, root: Any = None) -> pd.DataFrame:
    """FID-style and accuracy of both models at every kept checkpoint, from the same noise and labels."""
    settings = SamplerSettings("ddim", s.sampler_steps, 1.0)
    noise, labels = MethodBench(data.real.shape[1:], 10, data, seed=seed).inputs(s.curve_samples, seed)
    rows = []
    for label, name in CURVE_MODELS.items():
        recipe = zoo.get_recipe(name, profile)
        config = recipe.train_configs()[0]
        zoo.get_model(name, profile, root, progress=False)  # trains it (keeping its checkpoints) when missing
        for step, path in zoo.checkpoints(name, profile, root).items():
            model = zoo.checkpoint_model(path, recipe.weights)
            rows.append({"model": label, "step": step, "lr": learning_rate(step - 1, config),
                         "constant_lr": step <= constant_lr_until(name, profile),
                         "lr_decay_from": constant_lr_until(name, profile),
                         **data.metrics(run_sampler(model, settings, noise, labels), labels)})
    return pd.DataFrame(rows)


def steps_to_reach(table: pd.DataFrame, base: str, fast: str, step: str, fid: str) -> dict[str, float]:
    """`base`'s final FID, the first step at which `fast` is at or below it, and the ratio of steps."""
    final = table[table["model"] == base].sort_values(step).iloc[-1]
    reached = table[(table["model"] == fast) & (table[fid] <= final[fid])].sort_values(step)
    at = float(reached[step].iloc[0]) if len(reached) else float("nan")
    return {"base_final_step": float(final[step]), "base_final_fid": float(final[fid]), "reached_at": at,
            "ratio": float(final[step]) / at if len(reached) else 0.0}


def ours_reach(table: pd.DataFrame) -> dict[str, float]:
    """`steps_to_reach` on the constant-lr checkpoints (the decay at the end of the run would shape the curve)."""
    return steps_to_reach(table[table["constant_lr"]], "DiT", "Skip-DiT", "step", "fid")


def paper_reach() -> dict[str, float]:
    """The same numbers from the paper's curve (section 5)."""
    return steps_to_reach(paper_rows(TABLE).rename(columns={"train_steps": "step"}), "DiT-XL/2", "Skip-DiT",
                          "step", "fid")


def curve_figure(table: pd.DataFrame) -> Any:
    """Ours and the paper's curves over training steps normalised by DiT's final step, one panel each."""
    import matplotlib.pyplot as plt

    paper = paper_rows(TABLE).rename(columns={"train_steps": "step", "model": "model"})
    paper["model"] = paper["model"].replace({"DiT-XL/2": "DiT"})
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, (title, part, final) in zip(axes, (
            ("Paper: ImageNet 256, FID-50K", paper, paper["step"].max()),
            ("Ours: digits, FID-style (digit features)", table, ours_reach(table)["base_final_step"]))):
        for model, colour in (("DiT", "tab:blue"), ("Skip-DiT", "tab:red")):
            rows = part[part["model"] == model].sort_values("step")
            ax.plot(rows["step"] / final, rows["fid"], "o-", color=colour, label=model)
        if "lr_decay_from" in part and (~part["constant_lr"]).any():
            ax.axvspan(part["lr_decay_from"].min() / final, part["step"].max() / final, color="0.9",
                       label="lr decays (not judged)")
        ax.set(xlabel="training steps / DiT's final (judged) step", ylabel="FID (lower is better)", title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- (b) continued pre-training

def starting_losses(profile: str, x0: torch.Tensor, y: torch.Tensor, seed: int, root: Any = None) -> dict[str, float]:
    """Diffusion loss on a fixed batch of the parent DiT and of each conversion before any training: the shock."""
    parent = zoo.get_model("dit-c2i", profile, root, progress=False)
    models = {"DiT (parent)": parent}
    for label in (CPT, "Skip-DiT (CPT, lstsq init)"):
        recipe = zoo.get_recipe(CONTINUED[label], profile)
        models[label] = zoo.child_initial_model(recipe, profile, root, zoo.build_dataset(recipe.data))
    return {label: batch_loss(model, x0, y, seed) for label, model in models.items()}


@torch.no_grad()
def batch_loss(model: nn.Module, x0: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """The training loss of `model` on `x0` at seeded timesteps and noise (label dropout off)."""
    diffusion = diffusion_for(model)
    gen = torch.Generator().manual_seed(seed)
    t = torch.randint(diffusion.num_timesteps, (len(x0),), generator=gen)
    model.eval()
    return float(diffusion.training_losses(model, x0, t, y, torch.randn(x0.shape, generator=gen))["loss"].mean())


def grad_norm_probe(profile: str, root: Any = None) -> pd.DataFrame:
    """Per continued run: the probe's grad norms at its start and the update-skip threshold set from them."""
    rows = []
    for label, name in CONTINUED.items():
        recipe = zoo.get_recipe(name, profile)
        dataset = zoo.build_dataset(recipe.data)
        threshold, norms = zoo.grad_skip_threshold(recipe, zoo.child_initial_model(recipe, profile, root, dataset),
                                                   dataset)
        rows.append({"model": label, "median_grad_norm": statistics.median(norms), "max_grad_norm": max(norms),
                     "threshold": threshold})
    return pd.DataFrame(rows).set_index("model")


def loss_curves(profile: str, root: Any = None) -> pd.DataFrame:
    """The training logs of the three continued runs (step counted from the start of continued training)."""
    return pd.DataFrame([{"model": label, **row} for label, name in CONTINUED.items()
                         for row in zoo.training_log(name, profile, root)])


def loss_figure(curves: pd.DataFrame, start: dict[str, float]) -> Any:
    """Loss against continued-training steps, the starting losses as points at step 0."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, colour in zip(CONTINUED, ("tab:red", "tab:orange", "tab:blue")):
        rows = curves[curves["model"] == label]
        ax.plot(rows["step"], rows["loss"], color=colour, label=label)
        if label in start:
            ax.scatter([0], [start[label]], color=colour, marker="x", s=60)
    ax.axhline(start["DiT (parent)"], color="k", ls=":", lw=1, label="parent DiT before continuing")
    ax.set(xlabel="continued-training step (stage 1: skip modules only, then all)", ylabel="training loss",
           yscale="log", title="The conversion shock and its recovery (x: loss before the first update)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def make_bench(data: DataReference, s: Sizes, seed: int, device: str) -> MethodBench:
    """The bench of (b): class-conditional digits, the cost batch of `s`."""
    return MethodBench(data.real.shape[1:], 10, data, s.latency_batch, s.latency_repeats, 0, seed, device)


def continued_models(profile: str, root: Any = None, device: str = "cpu") -> dict[str, nn.Module]:
    """The parent and the three continued models (each trained when missing)."""
    models = {"DiT (parent)": zoo.get_model("dit-c2i", profile, root, device=device, progress=False)}
    return {**models, **{label: zoo.get_model(name, profile, root, device=device, progress=False)
                         for label, name in CONTINUED.items()}}


def quality(bench: MethodBench, models: dict[str, nn.Module], s: Sizes) -> pd.DataFrame:
    """FID-style and accuracy of every model uncached, same noise and labels."""
    settings = SamplerSettings("ddim", s.sampler_steps, s.cfg_scale)
    noise, labels = bench.inputs(s.quality_samples, bench.seed)
    return pd.DataFrame([{"model": label, **bench.data.metrics(run_sampler(m, settings, noise, labels), labels)}
                         for label, m in models.items()])


def caching(bench: MethodBench, models: dict[str, nn.Module], s: Sizes) -> pd.DataFrame:
    """Skip-Cache on both converted models beside FORA and Delta-DiT on the control, one table
    (the lstsq model's Skip-Cache rows are suffixed " (lstsq init)")."""
    settings = SamplerSettings("ddim", s.sampler_steps, s.cfg_scale)
    skip_cache = c2i.skipdit_methods(s.intervals, s.branch_depth, ())
    families = {CONTROL: (models[CONTROL], {"FORA": FORAConfig(), "Delta-DiT": c2i.delta_dit_config(s.sampler_steps)}),
                CPT: (models[CPT], skip_cache),
                CPT_LSTSQ: (models[CPT_LSTSQ], {f"{name} (lstsq init)": c for name, c in skip_cache.items()})}
    return bench.evaluate(families, settings, s.quality_samples)


# ----------------------------------------------------------------------------- claims

def continued_steps(profile: str) -> str:
    """"900 continued steps after the parent's 2,400" from the recipes."""
    child = sum(c.steps for c in zoo.get_recipe(CONTINUED[CPT], profile).train_configs())
    parent = zoo.get_recipe("dit-c2i", profile).train_configs()[0].steps
    return f"{child:,} continued steps after the parent's {parent:,}"


def paper_cpt() -> str:
    """Table 3's continued pre-training: the Skip-DiT's VBench beside its Latte parent's."""
    skip, latte = (paper_value("table3", "vbench", method=m) for m in ("Skip-DiT", "Latte"))
    return f"VBench {num(skip, 4)} vs {num(latte, 4)} for its Latte parent (text-to-video)"


def paper_cpt_caching() -> str:
    """Table 3: Skip-Cache 700 -> 50 N=2 on the converted model against the best baseline on Latte."""
    sc = paper_rows("table3", method="Skip-Cache", t_start=700, n=2).iloc[0]
    best = paper_rows("table3").query("method in ['T-GATE', 'Delta-DiT', 'FORA']")["psnr"].max()
    return f"PSNR {num(sc['psnr'])} at {times(sc['speedup'])} vs at most {num(best)} for T-GATE, Delta-DiT, FORA"


def claims(curve_table: pd.DataFrame, quality_table: pd.DataFrame, caching_table: pd.DataFrame, s: Sizes,
           profile: str) -> list[Claim]:
    """(a) the training-efficiency ratio, (b) recovery of each conversion and Skip-Cache against the baselines."""
    ours, paper = ours_reach(curve_table), paper_reach()
    curve_setting = Setting(profile, "ddim", s.sampler_steps, 1.0, f"{s.curve_samples} samples per checkpoint; "
                            "checkpoints before the lr decay only")
    reached = (f"Skip-DiT reaches DiT's FID-style {num(ours['base_final_fid'])} (step {ours['base_final_step']:,.0f}) "
               f"at step {ours['reached_at']:,.0f}: {times(ours['ratio'])} fewer steps"
               if ours["ratio"] else f"Skip-DiT never reaches DiT's FID-style {num(ours['base_final_fid'])}")
    found = [Claim("Skip-DiT reaches DiT's final quality in far fewer steps",
                   f"FID {num(paper['base_final_fid'])} at {paper['base_final_step'] / 1e6:g}M steps reached at "
                   f"{paper['reached_at'] / 1e6:g}M: {times(paper['ratio'])} fewer", reached,
                   combine([ours["ratio"] >= FASTER, ours["ratio"] > 1.0]),
                   f"held when the ratio of steps is at least {FASTER:g}, partly when above 1", curve_setting,
                   "Section 5")]
    setting = Setting(profile, "ddim", s.sampler_steps, s.cfg_scale, f"{s.quality_samples} samples per model")
    parent = quality_table.set_index("model").loc["DiT (parent)"]
    for label, init in INIT_NAMES.items():
        row = quality_table.set_index("model").loc[label]
        found.append(Claim(f"Continued pre-training recovers the parent's quality ({init})",
                           paper_cpt(),
                           f"FID-style {num(row['fid'])} vs {num(parent['fid'])}, "
                           f"accuracy {pct(row['class_accuracy'])} vs {pct(parent['class_accuracy'])}",
                           judge(row["fid"], parent["fid"], higher_is_better=False, held_within=MATCH,
                                 partly_within=3 * MATCH),
                           f"held when FID-style is at most {MATCH:.0%} above the parent's, partly at most "
                           f"{3 * MATCH:.0%}; {continued_steps(profile)}", setting, "Table 3"))
    rule = f"per baseline, the best Skip-Cache N with at least {c2i.SIMILAR_SPEED:.0%} of its wall-clock speedup"
    for label, init in INIT_NAMES.items():
        part = caching_table[caching_table["model"].isin([CONTROL, label])]
        for column, higher, what in (("psnr_db", True, "PSNR against uncached, Table 3's metric"),
                                     ("fid", False, "FID-style distance to the data")):
            checks = [c2i.beats_baseline(part, b, column, higher) for b in c2i.BASELINES]
            found.append(Claim(f"Skip-Cache on the converted model ({init}) beats FORA and Delta-DiT on the control, "
                               f"by {what}", paper_cpt_caching(), "; ".join(text for _, text in checks),
                               combine([won for won, _ in checks]),
                               f"{rule} must have a {'higher PSNR' if higher else 'lower FID-style distance'}",
                               setting, "Table 3"))
    return found
