"""Frames decoded once into a file and read back a batch at a time (latentlab.data.frame_cache), on the real
frames of the offline ATD-12K stand-in: the same pixels as reading them into memory, a cache that is trusted only
when it is complete and holds what was asked, and random training crops streamed from it."""

import json

import numpy as np
import pytest

from latentlab.batching import subsample
from latentlab.data import atd12k
from latentlab.data.frame_cache import CropBatches, FrameCache
from latentlab.errors import DataFormatError, ParameterError

SIZE = 48


@pytest.fixture(scope="module")
def chosen(atd12k_offline):
    return atd12k.select(atd12k_offline, {"train": 5, "test": 4})


@pytest.fixture(scope="module")
def built(chosen, tmp_path_factory):
    path = tmp_path_factory.mktemp("cache") / "frames.npy"
    return atd12k.cache_frames(chosen, path, SIZE, batch=2, verbose=False), atd12k.load_frames(chosen, SIZE)


def test_the_cache_holds_the_frames_read_into_memory(built):
    cache, frames = built
    assert cache.shape == frames.shape == (9, 3, SIZE, SIZE, 3)
    np.testing.assert_array_equal(cache.read(slice(None)), frames)
    np.testing.assert_array_equal(np.load(cache.path), frames)  # a plain .npy file
    rows = [7, 0, 1, 2, 5]  # out of order, with a consecutive run
    np.testing.assert_array_equal(cache.read(rows), frames[rows])
    got = list(cache.batches([1, 3, 4, 8], batch_size=3))
    assert [list(r) for r, _ in got] == [[1, 3, 4], [8]]
    np.testing.assert_array_equal(np.concatenate([b for _, b in got]), frames[[1, 3, 4, 8]])
    np.testing.assert_allclose(cache.mean([0, 2, 4], batch_size=2), frames[[0, 2, 4]].mean(0))
    with pytest.raises(ParameterError, match="holds 9 items"):
        cache.read([9])


def test_the_array_maps_the_file_read_only_and_notices_a_changed_file(built, tmp_path):
    cache, frames = built
    mapped = cache.array()
    assert isinstance(mapped, np.memmap) and not mapped.flags.writeable and mapped.shape == cache.shape
    np.testing.assert_array_equal(mapped[[8, 2]], frames[[8, 2]])
    path = tmp_path / "small.npy"
    small = FrameCache.build(path, (3, 2), iter([np.arange(6, dtype=np.uint8).reshape(3, 2)]), {"k": 1})
    np.save(path, np.zeros((2, 3), np.uint8))  # replaced after it was opened
    with pytest.raises(DataFormatError, match="changed since it was opened"):
        small.array()


def test_a_valid_cache_is_read_back_and_any_other_is_rebuilt(chosen, built, tmp_path, capsys):
    cache, frames = built
    again = atd12k.cache_frames(chosen, cache.path, SIZE)
    assert "from the cache" in capsys.readouterr().out and again.key == cache.key
    path = tmp_path / "frames.npy"
    first = atd12k.cache_frames(chosen[:3], path, SIZE, verbose=False)
    assert FrameCache.open(path, first.key) is not None
    assert FrameCache.open(path, {**first.key, "size": SIZE + 1}) is None, "another size is another cache"
    other = atd12k.cache_frames(chosen[:4], path, SIZE, verbose=False)
    assert len(other) == 4 and FrameCache.open(path, first.key) is None
    with open(path, "r+b") as f:  # a truncated file is not trusted
        f.truncate(path.stat().st_size - 1)
    assert FrameCache.open(path, other.key) is None
    rebuilt = atd12k.cache_frames(chosen[:4], path, SIZE, verbose=False)
    np.testing.assert_array_equal(rebuilt.read(slice(None)), frames[:4])
    meta = path.with_suffix(".json")
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "shape": [5, 3, SIZE, SIZE, 3]}))
    assert FrameCache.open(path, other.key) is None, "a header that disagrees with the JSON"


def test_a_failed_build_leaves_no_cache(tmp_path):
    path = tmp_path / "frames.npy"
    with pytest.raises(DataFormatError, match="held 1 items"):
        FrameCache.build(path, (2, 4), iter([np.zeros((1, 4), np.uint8)]), {"k": 1})
    with pytest.raises(DataFormatError, match="does not fit"):
        FrameCache.build(path, (2, 4), iter([np.zeros((2, 4), np.float32)]), {"k": 1})
    assert not path.exists() and not path.with_suffix(".json").exists()


def test_crops_stream_windows_of_the_cached_frames(built):
    cache, frames = built
    rows = [0, 2, 3]
    crops = CropBatches(cache, rows, 16, 18, 4, seed=0, transform=atd12k.to_model_range)
    assert crops.n_samples == 18 and len(crops) == 5
    assert np.bincount(crops.image).tolist() == [2] * 9, "every image of the 3 triplets equally often"
    batches = [crops[i] for i in range(len(crops))]
    x = np.concatenate([b[0] for b in batches])
    assert x.shape == (18, 16, 16, 3) and x.dtype == np.float32 and x.min() >= -1 and x.max() <= 1
    assert all(b[0] is b[1] for b in batches), "an autoencoder's target is its input"
    images = frames[rows].reshape(-1, SIZE, SIZE, 3)
    for c, crop in zip(crops.order, x):
        (top, left), image = crops.pos[c], images[crops.image[c]]
        np.testing.assert_allclose(crop, atd12k.to_model_range(image[top : top + 16, left : left + 16]))
    first = crops.order.copy()
    crops.on_epoch_end()
    assert sorted(crops.order) == sorted(first) and not np.array_equal(crops.order, first), "reshuffled each epoch"
    same = CropBatches(cache, rows, 16, 18, 4, seed=0, transform=atd12k.to_model_range)
    np.testing.assert_array_equal(same.order, first)
    np.testing.assert_array_equal(crops.restarted().order, first)
    np.testing.assert_array_equal(same.at_epoch(1).order, crops.order)  # a stream that starts at epoch 1
    with pytest.raises(ParameterError, match="epoch"):
        crops.at_epoch(-1)
    np.testing.assert_array_equal(same[0][0], batches[0][0])
    assert same.fingerprint == crops.fingerprint
    assert CropBatches(cache, rows, 16, 18, 4, seed=1, transform=atd12k.to_model_range).fingerprint != crops.fingerprint
    few = CropBatches(cache, rows, 16, 5, 4, seed=0, transform=atd12k.to_model_range)
    assert few.n_samples == 5 and len(set(few.image)) == 5, "fewer crops than images: each from another image"
    assert CropBatches(cache, rows, 16, None, 4, seed=0, transform=atd12k.to_model_range).image.tolist() == list(
        range(9)
    )
    with pytest.raises(ParameterError, match="larger than the images"):
        CropBatches(cache, rows, SIZE + 1, 1, 4, seed=0, transform=atd12k.to_model_range)
    with pytest.raises(ParameterError, match="at least one row"):
        CropBatches(cache, [], 16, 1, 4, seed=0, transform=atd12k.to_model_range)
    with pytest.raises(ParameterError, match="n_crops"):
        CropBatches(cache, rows, 16, 0, 4, seed=0, transform=atd12k.to_model_range)


def test_a_model_trains_on_the_streamed_crops(built, tmp_path):
    import keras

    from latentlab.models import fit

    cache, _ = built
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(3, 3, padding="same")])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", run_eagerly=True)
    crops = CropBatches(cache, range(len(cache)), 16, None, 9, seed=0, transform=atd12k.to_model_range)
    history = fit(
        model,
        crops.stream(),
        n_samples=crops.n_samples,
        fingerprint=crops.fingerprint,
        epochs=3,
        batch_size=9,
        checkpoint_dir=tmp_path / "ckpt",
        verbose=0,
    )
    assert len(history["loss"]) == 3 and history["loss"][-1] < history["loss"][0]


def test_the_stream_gives_the_same_batches_and_reshuffles_each_epoch(built):
    cache, _ = built
    make = lambda: CropBatches(cache, [0, 4], 16, 10, 4, seed=2, transform=atd12k.to_model_range)  # noqa: E731
    crops, reference = make(), make()
    stream = crops.stream()
    for _ in range(2):
        got = [x.numpy() for x, _y in stream]
        want = [reference[i][0] for i in range(len(reference))]
        assert len(got) == len(want) == 3
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
        reference.on_epoch_end()
    assert crops.epoch == 1 and not np.array_equal(crops.order, make().order)


def test_subsample_is_seeded_sorted_and_all_when_small():
    a = subsample(100, 10, seed=3)
    assert len(a) == 10 == len(set(a)) and np.all(np.diff(a) > 0) and np.array_equal(a, subsample(100, 10, seed=3))
    assert not np.array_equal(a, subsample(100, 10, seed=4))
    np.testing.assert_array_equal(subsample(5, None, 0), np.arange(5))
    np.testing.assert_array_equal(subsample(5, 9, 0), np.arange(5))
    with pytest.raises(ParameterError):
        subsample(5, 0, 0)


def test_cache_rows_read_the_items_asked_for_from_the_file(tmp_path):
    from latentlab.batching import unit_floats

    items = np.random.default_rng(0).integers(0, 256, (10, 4, 4, 3), dtype=np.uint8)
    cache = FrameCache.build(tmp_path / "c.npy", items.shape, [items[:6], items[6:]], {"what": "test"})
    rows = cache.rows(slice(2, 9))
    assert len(rows) == 7 and rows.shape == (7, 4, 4, 3) and rows.dtype == np.uint8 and rows.ndim == 4
    np.testing.assert_array_equal(rows[:], items[2:9])
    np.testing.assert_array_equal(rows[np.array([3, 0, 6])], items[[5, 2, 8]])
    np.testing.assert_array_equal(rows[1], items[3])
    np.testing.assert_array_equal(np.asarray(rows), items[2:9])
    np.testing.assert_allclose(rows.mean(batch_size=3), items[2:9].mean(0))
    np.testing.assert_array_equal(unit_floats(rows, np.array([6, 0])), unit_floats(items[2:9], np.array([6, 0])))
    np.testing.assert_array_equal(cache.rows([9, 0])[:], items[[9, 0]])
    with pytest.raises(ParameterError, match="holds 10 items"):
        cache.rows([10])
