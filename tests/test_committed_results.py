"""The results tier: what is committed under results/ follows the schema, and a cheap cpu slice reruns to it.

- Every `results/<notebook>/metrics.json` is a cpu-profile record whose claims pass the claim schema
  (text `ours`, one of the three verdicts, a setting, the paper's number where the paper has one).
- `results/SUMMARY.md` and the README's results block are exactly what `python -m skipdit_lib.summary`
  writes from those files: no number in them is copied by hand.
- Slow (`make test-slow`): a cheap slice of the cpu profile is measured again and compared with the
  committed numbers within the tolerances stated below (trains the cpu models first when they are missing).
"""
from __future__ import annotations

import pytest

from skipdit_lib import summary, zoo
from skipdit_lib.experiments.claims import claim_problems
from skipdit_lib.paths import REPO_ROOT, RESULTS_DIR
from skipdit_lib.results import load_metrics

COMMITTED = load_metrics(RESULTS_DIR)
NOTEBOOKS = sorted(p.stem for p in (REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# Tolerances of the slow rerun. FLOPs are counted, not timed: they must agree to rounding. PSNR, FID-style
# and accuracy come from the same seeds and weights, so they differ only by float summation order (threads,
# CPU model). Wall-clock speedups move with the machine's load: 15% either way.
EXACT = 1e-6
SAME_SEEDS = 0.02
WALL_CLOCK = 0.15


def test_every_notebook_has_committed_cpu_results():
    assert sorted(COMMITTED) == NOTEBOOKS, "run `make reproduce` and commit results/ for every notebook"


@pytest.mark.parametrize("notebook", sorted(COMMITTED))
def test_committed_metrics_follow_the_schema(notebook: str):
    payload = COMMITTED[notebook]
    assert payload["profile"] == "cpu", f"{notebook}: committed results must be the cpu profile"
    assert {"values", "claims", "parameters", "wall_time_s", "git_commit", "torch"} <= set(payload)
    assert payload["wall_time_s"] > 0 and payload["claims"], notebook
    for claim in payload["claims"]:
        assert claim_problems(claim) == [], (notebook, claim.get("name"), claim_problems(claim))
        assert claim["setting"]["profile"] == "cpu", (notebook, claim["name"])


@pytest.mark.parametrize("notebook", sorted(COMMITTED))
def test_committed_results_come_from_the_current_recipes(notebook: str):
    # A recipe change gives its model a new key; results recorded with the old checkpoint are stale until rerun.
    # (metrics.json names its models since the "models" field exists; older records are not checked.)
    for used, folder in COMMITTED[notebook].get("models", {}).items():
        name, profile = used.split("@")
        assert folder == zoo.model_folder(name, profile).name, (
            f"{notebook} used {folder}, but the recipe of {name} at {profile} is now "
            f"{zoo.model_folder(name, profile).name}: rerun `python -m skipdit_lib.run --profile cpu --only "
            f"{notebook[:2]}` and commit results/")


def test_summary_and_readme_are_generated_from_the_metrics():
    assert (RESULTS_DIR / "SUMMARY.md").read_text() == summary.summary_markdown(COMMITTED), \
        "results/SUMMARY.md differs from the metrics: run `python -m skipdit_lib.summary`"
    readme = (REPO_ROOT / "README.md").read_text()
    assert summary.readme_block(COMMITTED) in readme, \
        "README.md's results block differs from the metrics: run `python -m skipdit_lib.summary`"


def rerun_on_bench(model, bench, settings, config, num_samples: int):
    """A notebook's quality batch uncached and with `config` (same noise), and the FLOPs speedup on its cost batch."""
    from skipdit_lib.diffusion import run_sampler
    from skipdit_lib.evaluation.cost import count_flops
    from skipdit_lib.evaluation.methods import run_method

    noise, y = bench.inputs(num_samples, bench.seed)
    uncached, cached = run_sampler(model, settings, noise, y), run_method(model, config, settings, noise, y)
    cost_noise, cost_y = bench.cost_inputs()
    speedup = (count_flops(lambda: run_sampler(model, settings, cost_noise, cost_y))
               / count_flops(lambda: run_method(model, config, settings, cost_noise, cost_y)))
    return uncached, cached, speedup


def committed_row(notebook: str, key: str, **where) -> dict:
    """The single row of a committed table (`values[key]`, a list of records) matching `where`."""
    rows = [r for r in COMMITTED[notebook]["values"][key] if all(r.get(k) == v for k, v in where.items())]
    assert len(rows) == 1, (notebook, key, where, len(rows))
    return rows[0]


@pytest.mark.slow
def test_quickstart_reruns_to_its_committed_numbers():
    from skipdit_lib.experiments import quickstart as qs
    from skipdit_lib.zoo import get_model

    sizes = qs.sizes("cpu")
    model = get_model("skipdit-c2i", "cpu", progress=False)
    table = qs.evaluate(qs.make_bench(model, sizes, seed=0, device="cpu"), model, sizes)
    name = qs.method(sizes)[0]
    ours, committed = table[table["method"] == name].iloc[0], committed_row("00_quickstart", "table", method=name)
    assert ours["flops_speedup"] == pytest.approx(committed["flops_speedup"], rel=EXACT)
    assert ours["psnr_db"] == pytest.approx(committed["psnr_db"], rel=SAME_SEEDS)
    assert ours["wallclock_speedup"] == pytest.approx(committed["wallclock_speedup"], rel=WALL_CLOCK)


@pytest.mark.slow
def test_uncached_class_to_image_quality_reruns_to_its_committed_numbers():
    from skipdit_lib.datasets import load_digits
    from skipdit_lib.diffusion import SamplerSettings, run_sampler
    from skipdit_lib.evaluation import DataReference, get_feature_extractor
    from skipdit_lib.experiments import class_to_image as c2i
    from skipdit_lib.zoo import get_model

    sizes = c2i.sizes("cpu")
    data = DataReference(get_feature_extractor("digits", 16), load_digits(16, "test").images)
    bench = c2i.make_bench(get_model("dit-c2i", "cpu", progress=False), data, sizes, seed=0, device="cpu")
    settings = SamplerSettings("ddim", sizes.ddim_steps, sizes.cfg_scales[0])
    noise, labels = bench.inputs(sizes.ddim_samples, bench.seed)  # the notebook's quality batch
    for name in ("dit-c2i", "skipdit-c2i"):
        method = {"dit-c2i": "DiT", "skipdit-c2i": "Skip-DiT"}[name]
        samples = run_sampler(get_model(name, "cpu", progress=False), settings, noise, labels)
        ours = data.metrics(samples, labels)
        committed = committed_row("03_class_to_image", "table", sampler=settings.label, cfg_scale=settings.cfg_scale,
                                  method=method)
        assert ours["fid"] == pytest.approx(committed["fid"], rel=SAME_SEEDS), method
        assert ours["class_accuracy"] == pytest.approx(committed["class_accuracy"], abs=SAME_SEEDS), method


@pytest.mark.slow
def test_uncached_class_to_video_quality_reruns_to_its_committed_numbers():
    from skipdit_lib.datasets import load_moving_digits
    from skipdit_lib.diffusion import run_sampler
    from skipdit_lib.evaluation import DataReference, get_feature_extractor
    from skipdit_lib.experiments import class_to_video as c2v
    from skipdit_lib.zoo import get_model

    sizes, data = c2v.sizes("cpu"), c2v.DATASETS["bounce"]
    plain = get_model(data.plain, "cpu", progress=False)
    size, frames = plain.x_embedder.input_size, plain.num_frames
    extractor = get_feature_extractor("moving_digits", size, motion=data.motion, num_frames=frames,
                                      **sizes.classifier_settings())
    reference = DataReference(extractor, load_moving_digits(sizes.real_videos, frames, size, "test",
                                                            motion=data.motion).videos)
    bench = c2v.make_bench(plain, reference, data.conditional, sizes, seed=0, device="cpu")
    settings = c2v.sampler_settings("bounce", sizes)
    noise, labels = bench.inputs(sizes.bounce_samples, bench.seed)  # the notebook's quality batch
    for name, method in ((data.plain, c2v.PLAIN), (data.skip, c2v.SKIP)):
        samples = run_sampler(get_model(name, "cpu", progress=False), settings, noise, labels)
        ours = reference.metrics(samples, labels)
        committed = committed_row("04_class_to_video", "table", dataset="bounce", method=method)
        assert ours["fvd"] == pytest.approx(committed["fvd"], rel=SAME_SEEDS), method
        assert ours["frame_fid"] == pytest.approx(committed["frame_fid"], rel=SAME_SEEDS), method
        assert ours["class_accuracy"] == pytest.approx(committed["class_accuracy"], abs=SAME_SEEDS), method


@pytest.mark.slow
def test_text_to_image_skip_cache_reruns_to_its_committed_numbers():
    from skipdit_lib.datasets import load_captioned_digits
    from skipdit_lib.evaluation import DataReference, get_feature_extractor
    from skipdit_lib.evaluation.reference_quality import psnr
    from skipdit_lib.experiments import text_to_image as t2i
    from skipdit_lib.zoo import get_model

    sizes, name = t2i.sizes("cpu"), "Skip-Cache N=2"
    model = get_model("textdit-t2i", "cpu", progress=False)
    test = load_captioned_digits("image", max(sizes.real_images, sizes.num_samples), 16, split="test")
    data = DataReference(get_feature_extractor("captioned_images", 16), test.images[: sizes.real_images])
    bench = t2i.make_bench(model, data, test, sizes, seed=0, device="cpu")
    settings, config = t2i.sampler_settings(sizes), t2i.skip_cache_methods(sizes)[name]
    uncached, cached, speedup = rerun_on_bench(model, bench, settings, config, sizes.num_samples)
    adherence = t2i.adherence_scores(uncached, test, data.extractor)["prompt_adherence"]
    committed = committed_row("05_text_to_image", "table", method=t2i.MODEL)
    assert adherence == pytest.approx(committed["prompt_adherence"], abs=SAME_SEEDS)
    assert psnr(uncached, cached) == pytest.approx(committed_row("05_text_to_image", "table", method=name)["psnr_db"],
                                                   rel=SAME_SEEDS)
    assert speedup == pytest.approx(committed_row("05_text_to_image", "table", method=name)["flops_speedup"],
                                    rel=EXACT)


@pytest.mark.slow
def test_text_to_video_skip_cache_reruns_to_its_committed_numbers():
    from skipdit_lib.datasets import load_captioned_digits
    from skipdit_lib.evaluation import DataReference, get_feature_extractor
    from skipdit_lib.evaluation.reference_quality import psnr
    from skipdit_lib.experiments import text_to_video as t2v
    from skipdit_lib.zoo import get_model

    sizes, name = t2v.sizes("cpu"), t2v.skip_cache_name(700, 2)
    model = get_model("skiplatte-t2v", "cpu", progress=False)
    test = load_captioned_digits("video", max(sizes.real_videos, sizes.num_samples), 16, 8, split="test")
    extractor = get_feature_extractor("captioned_videos", 16, num_frames=8, train_samples=sizes.classifier_videos)
    bench = t2v.make_bench(model, DataReference(extractor, test.videos[: sizes.real_videos]), test, sizes, 0, "cpu")
    settings, config = t2v.sampler_settings(sizes), t2v.skip_methods(sizes)[name]
    uncached, cached, speedup = rerun_on_bench(model, bench, settings, config, sizes.num_samples)
    committed = committed_row("06_text_to_video", "table", method=t2v.SKIP)
    assert t2v.vbench_scores(uncached, test, extractor)["vbench_like"] == pytest.approx(committed["vbench_like"],
                                                                                       abs=100 * SAME_SEEDS)
    assert psnr(uncached, cached) == pytest.approx(committed_row("06_text_to_video", "table", method=name)["psnr_db"],
                                                   rel=SAME_SEEDS)
    assert speedup == pytest.approx(committed_row("06_text_to_video", "table", method=name)["flops_speedup"],
                                    rel=EXACT)
