"""Our VBench-like score: each dimension on videos built to have (or lack) the property it measures."""
from __future__ import annotations

import pytest
import torch

from skipdit_lib.evaluation import video_scores as vs
from skipdit_lib.evaluation.classifiers import DigitClassifier

torch.set_num_threads(1)
MOTIONS = ["still", "up", "down", "left", "right"]


def square_videos(count: int = 4, moving: bool = True, frames: int = 6) -> torch.Tensor:
    """A 4x4 white square on black (N, F, 3, 12, 12), moving right one pixel a frame or still."""
    videos = -torch.ones(count, frames, 3, 12, 12)
    for f in range(frames):
        left = 2 + (f if moving else 0)
        videos[:, f, :, 4:8, left:left + 4] = 1.0
    return videos


def test_temporal_flickering_is_one_for_still_videos_and_lower_for_flicker():
    still = square_videos(moving=False)
    assert vs.temporal_flickering(still) == 1.0
    flicker = still.clone()
    flicker[:, 1::2] = -1  # every other frame black
    assert vs.temporal_flickering(flicker) < 0.95


def test_motion_smoothness_rewards_constant_speed():
    assert vs.motion_smoothness(square_videos()) == pytest.approx(1.0)
    jerky = square_videos()
    jerky[:, 2] = torch.roll(jerky[:, 2], shifts=4, dims=-1)  # one frame jumps ahead
    assert vs.motion_smoothness(jerky) < 0.95


def test_dynamic_degree_counts_moving_videos():
    mixed = torch.cat([square_videos(3), square_videos(1, moving=False)])
    assert vs.dynamic_degree(mixed) == pytest.approx(0.75)


def test_imaging_quality_falls_with_background_noise():
    clean = square_videos()
    assert vs.imaging_quality(clean) == 1.0
    hazy = clean.clone()
    hazy[hazy < 0] = -0.8  # background at brightness 0.1
    assert vs.imaging_quality(hazy) == pytest.approx(1 - 0.1 / vs.INK, abs=1e-5)
    noise = torch.rand(4, 6, 3, 12, 12, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert vs.imaging_quality(noise) < 0.35


def classifier() -> DigitClassifier:
    torch.manual_seed(0)
    return DigitClassifier(3, 12, {"digit": 10, "colour": 6, "motion": 5}, num_frames=6, width=4,
                           feature_dim=8).eval()


def test_subject_consistency_is_one_for_a_frozen_video_and_lower_when_frames_change():
    net = classifier()
    frozen = square_videos(moving=False)
    assert vs.subject_consistency(frozen, net) == pytest.approx(1.0, abs=1e-5)
    changing = frozen.clone()
    changing[:, 3:] = torch.rand_like(changing[:, 3:]) * 2 - 1
    assert vs.subject_consistency(changing, net) < 0.999


def test_scores_follow_vbench_weights():
    net = classifier()
    videos = torch.cat([square_videos(2), square_videos(2, moving=False)])
    asked = {"digit": torch.tensor([1, 2, 3, 4]), "colour": torch.zeros(4, dtype=torch.long),
             "motion": torch.tensor([4, 4, 0, 0])}
    scores = vs.vbench_like(videos, asked, MOTIONS, net)
    dims = {k: scores[k] for k in vs.QUALITY_WEIGHTS}
    assert dims["dynamic_degree"] == 1.0 and dims["temporal_flickering"] == 1.0  # each on its own group
    quality = (sum(dims.values()) - 0.5 * dims["dynamic_degree"]) / 4.5
    semantic = (scores["digit_accuracy"] + scores["colour_accuracy"] + scores["motion_accuracy"]) / 3
    assert scores["quality_score"] == pytest.approx(100 * quality)
    assert scores["vbench_like"] == pytest.approx(100 * (4 * quality + semantic) / 5)
    with pytest.raises(ValueError, match="still digit and captions that ask for motion"):
        vs.vbench_like(videos, {**asked, "motion": torch.zeros(4, dtype=torch.long)}, MOTIONS, net)
    with pytest.raises(ValueError, match=r"missing \['colour'\]"):
        vs.vbench_like(videos, {"digit": asked["digit"], "motion": asked["motion"]}, MOTIONS, net)
