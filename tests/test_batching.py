import keras
import numpy as np
import pytest

from latentlab.batching import (
    ImageRows,
    array_batches,
    array_sequence,
    batch_slices,
    map_batches,
    predict,
    predictor,
    shuffled_rows,
    unit_floats,
)
from latentlab.errors import ParameterError


def test_batches_cover_every_item_once_and_outputs_keep_their_structure():
    x, y = np.arange(10.0), np.arange(10.0) * 2
    seen = []

    def fn(a, b):
        seen.append(len(a))
        return {"sum": a + b, "pair": (a, b)}

    out = map_batches(fn, x, y, batch_size=4)
    assert seen == [4, 4, 2]
    np.testing.assert_array_equal(out["sum"], 3 * x)
    np.testing.assert_array_equal(out["pair"][1], y)
    assert [s.start for s in batch_slices(10, 4)] == [0, 4, 8]


def test_outputs_are_written_batch_by_batch_not_collected_and_concatenated():
    import tracemalloc

    x = np.arange(4000, dtype=np.float32)

    def wide(a):  # (batch, 1000) float32: the result is 16 MB, one batch's output 1 MB
        return {"rows": np.repeat(a[:, None], 1000, axis=1), "ids": (a.astype(np.int64),)}

    tracemalloc.start()
    out = map_batches(wide, x, batch_size=256)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out["rows"].shape == (4000, 1000) and out["rows"].dtype == np.float32
    np.testing.assert_array_equal(out["rows"][:, 7], x)
    np.testing.assert_array_equal(out["ids"][0], np.arange(4000))
    result = out["rows"].nbytes + out["ids"][0].nbytes
    assert peak < 1.25 * result, f"{peak / 2**20:.1f} MB traced for a {result / 2**20:.1f} MB result"
    with pytest.raises(ParameterError, match="one row per item"):
        map_batches(lambda a: a.sum(keepdims=True), x, batch_size=256)


def test_a_pass_of_several_batches_returns_the_heaps_free_memory(monkeypatch):
    from latentlab import batching

    trims = []
    monkeypatch.setattr(batching, "give_back", lambda: trims.append(1) or True)
    x = np.arange(10, dtype=np.float32)
    map_batches(lambda a: a * 2, x, batch_size=4)
    assert trims == [1], "one trim after the pass of three batches"
    map_batches(lambda a: a * 2, x, batch_size=10)
    assert trims == [1], "none after a single batch (a slider's decode: no cost added)"


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_batch_size_must_be_a_positive_whole_number(size):
    with pytest.raises(ParameterError, match="batch_size"):
        map_batches(lambda a: a, np.zeros(3), batch_size=size)


def test_unequal_or_empty_arrays_are_refused():
    with pytest.raises(ParameterError, match="different lengths"):
        map_batches(lambda a, b: a, np.zeros(3), np.zeros(4))
    with pytest.raises(ParameterError, match="empty"):
        map_batches(lambda a: a, np.zeros(0))


def test_predict_matches_the_model_and_reshapes_images_for_a_dense_encoder(mnist):
    (x, _), _ = mnist
    images = (x[:70] / 255.0).astype(np.float32)  # (70, 28, 28)
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((784,)), keras.layers.Dense(8)])
    codes = predict(encoder, images, batch_size=32)
    np.testing.assert_allclose(codes, np.asarray(encoder(images.reshape(70, 784))), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predictor(encoder, 16)(images), codes, rtol=1e-5, atol=1e-6)


def test_predict_from_uint8_feeds_each_batch_as_unit_floats_without_a_float_copy_of_them_all(mnist):
    import tracemalloc

    (x, _), _ = mnist
    images = x[:4000]  # uint8, 3.1 MB; as float32 12.5 MB
    seen = []

    def model(batch, training):
        seen.append((batch.dtype, len(batch)))
        return batch.reshape(len(batch), -1)[:, :3] * 2

    tracemalloc.start()
    codes = predict(model, images, batch_size=256, from_uint8=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(codes, unit_floats(images).reshape(4000, -1)[:, :3] * 2)
    assert {dtype for dtype, _ in seen} == {np.dtype(np.float32)} and max(n for _, n in seen) == 256
    assert peak < 0.25 * images.nbytes * 4, f"peak {peak / 1e6:.1f} MB: a float copy of every image was made"
    with pytest.raises(ParameterError, match="from_uint8=True.*float32"):
        predict(model, images.astype(np.float32), from_uint8=True)


def test_array_sequence_shuffles_by_seed_and_epoch_and_converts_uint8_per_batch():
    x = np.repeat(np.arange(10, dtype=np.uint8)[:, None], 3, axis=1)
    y = np.arange(10, dtype=np.float64) + 100
    stream = array_sequence(x, y, 4, seed=7, from_uint8=True)
    epochs = []
    for e in range(3):
        stream.set_epoch(e)
        batches = [stream[i] for i in range(len(stream))]
        assert [len(b[0]) for b in batches] == [4, 4, 2] and all(b[0].dtype == np.float32 for b in batches)
        assert all(np.array_equal(xb[:, 0] * 255 + 100, yb) for xb, yb in batches), "inputs and targets paired"
        epochs.append([round(float(v) * 255) for xb, _ in batches for v in xb[:, 0]])
    assert all(sorted(e) == list(range(10)) for e in epochs), "every item once per epoch"
    assert len({tuple(e) for e in epochs}) == 3, "a new order every epoch"
    again = array_sequence(x, y, 4, seed=7, epoch=2, from_uint8=True)
    assert [round(float(v) * 255) for i in range(3) for v in again[i][0][:, 0]] == epochs[2], "(seed, epoch)'s order"
    plain = array_sequence(x, x, 4)
    first, target = plain[0]
    assert first is target and first.dtype == np.uint8 and first[:, 0].tolist() == [0, 1, 2, 3], "in order, as is"
    with pytest.raises(IndexError):
        plain[3]
    with pytest.raises(ParameterError, match="same length"):
        array_sequence(x, y[:5], 4)


def _orders(dataset):
    return [np.asarray(xb)[:, 0].astype(int).tolist() for xb, _ in dataset]


def test_array_batches_reshuffle_every_epoch_by_seed_and_epoch_alone():
    import tensorflow as tf

    x = np.repeat(np.arange(10, dtype=np.float32)[:, None], 3, axis=1)
    epoch = tf.Variable(0, dtype=tf.int64)
    stream, epochs = array_batches(x, x, 4, seed=7, epoch=epoch), []
    for e in range(3):
        epoch.assign(e)
        batches = _orders(stream)
        assert [len(b) for b in batches] == [4, 4, 2]
        epochs.append(sum(batches, []))
    assert all(sorted(e) == list(range(10)) for e in epochs), "every item once per epoch"
    assert len({tuple(e) for e in epochs}) == 3, "a new order every epoch"
    assert sum(_orders(array_batches(x, x, 4, seed=7, epoch=2)), []) == epochs[2], "the order is (seed, epoch)'s"
    assert sum(_orders(array_batches(x, x, 4, seed=8, epoch=2)), []) != epochs[2]
    assert sum(_orders(array_batches(x, x, 4)), []) == list(range(10)), "without a seed: in order"


def test_array_batches_keep_several_inputs_and_targets_paired():
    a, b, y = np.arange(6.0), np.arange(6.0) * 10, np.arange(6) + 100
    for (xa, xb), yb in array_batches([a, b], y, 4, seed=0):
        assert np.array_equal(np.asarray(xb), np.asarray(xa) * 10) and np.array_equal(
            np.asarray(yb), np.asarray(xa) + 100
        )
    with pytest.raises(ParameterError, match="same length"):
        array_batches(a, y[:5], 4)


def test_array_batches_do_not_autotune():
    options = array_batches(np.zeros((4, 2)), np.zeros((4, 2)), 2).options()
    assert options.autotune.enabled is False


def test_pipelines_read_the_arrays_where_they_are_not_a_copy():
    """array_batches and shuffled_rows gather each batch from the numpy arrays themselves: a tensor copy of them
    cost twice their size (49,000 faces of 64 x 64: +1,150 MB); a change to the array after the pipeline is made
    shows in its batches only when no copy was made."""
    x = np.arange(12, dtype=np.uint8).reshape(6, 2)
    y = np.arange(6, dtype=np.float64)
    stream = array_batches(x, y, 4, from_uint8=True)
    rows = shuffled_rows([ImageRows(x, np.arange(6)), ImageRows(x, np.arange(6)[::-1])], 4)
    x[:] = 255
    y[:] = -1.0
    for xb, yb in stream:
        assert (
            xb.dtype == "float32" and np.all(xb.numpy() == 1.0) and yb.dtype == "float64" and np.all(yb.numpy() == -1)
        )
    for ((start, goal),) in rows:
        assert start.shape[1:] == (2,) and np.all(start.numpy() == 1.0) and np.all(goal.numpy() == 1.0)
    even = shuffled_rows([ImageRows(x, np.arange(4)), ImageRows(x, np.arange(4))], 2).element_spec
    assert even[0][0].shape == (2, 2), "a static batch size, as Keras gives the arrays (the train step is traced so)"


def test_unit_floats_gives_the_values_of_a_whole_conversion_for_the_rows_asked(mnist):
    (x, _), _ = mnist
    rows = np.random.default_rng(0).integers(len(x), size=2500)
    picked = unit_floats(x, rows, chunk=1000)  # three chunks
    np.testing.assert_array_equal(picked, (x / 255.0).astype(np.float32)[rows])
    assert picked.dtype == np.float32 and unit_floats(x[:10]).shape == (10, 28, 28)
    floats = np.random.default_rng(1).uniform(size=(5, 3)).astype(np.float64)
    np.testing.assert_array_equal(unit_floats(floats), floats.astype(np.float32))


def test_image_rows_read_as_the_float_array_they_stand_for(mnist):
    (x, _), _ = mnist
    index = np.random.default_rng(0).integers(len(x), size=300)
    rows, floats = ImageRows(x, index), (x / 255.0).astype(np.float32)[index]
    assert rows.shape == floats.shape and rows.dtype == np.float32 and len(rows) == 300
    np.testing.assert_array_equal(np.asarray(rows), floats)
    np.testing.assert_array_equal(rows[[5, 0, 5]], floats[[5, 0, 5]])
    np.testing.assert_array_equal(rows[10:20], floats[10:20])
    np.testing.assert_array_equal(rows[7], floats[7])
    import tracemalloc

    many = ImageRows(x, np.random.default_rng(1).integers(len(x), size=5000))  # 15.7 MB, five conversion chunks
    tracemalloc.start()
    asked = np.asarray(many, np.float32)  # the array made once (not made, then copied): it and one float64 chunk
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(asked, unit_floats(x, many.index))
    assert peak < 1.6 * asked.nbytes, f"{peak / asked.nbytes:.2f} x the array traced"
    np.testing.assert_array_equal(np.asarray(rows, np.float64), floats.astype(np.float64))
    for bad in ([len(x)], [-1], [0.5]):
        with pytest.raises(ParameterError, match="index"):
            ImageRows(x, np.array(bad))


def test_shuffled_rows_give_the_batches_keras_gives_the_float_arrays(mnist):
    """Same values, and each epoch's order a permutation: equality of whole training runs is tested in test_agent."""
    (x, _), _ = mnist
    rng = np.random.default_rng(1)
    first, second = rng.choice(len(x), size=100, replace=False), rng.integers(len(x), size=100)  # 100 distinct starts
    batches = list(shuffled_rows([ImageRows(x, first), ImageRows(x, second)], 32))
    assert [len(b[0][0]) for b in batches] == [32, 32, 32, 4]
    starts = np.concatenate([b[0][0].numpy() for b in batches])
    goals = np.concatenate([b[0][1].numpy() for b in batches])
    flat = unit_floats(x, first).reshape(100, -1)
    order = [int(np.flatnonzero((flat == s.ravel()).all(1))[0]) for s in starts]
    assert sorted(order) == list(range(100)), "every pair once"
    np.testing.assert_array_equal(goals, unit_floats(x, second[order]))
    assert order != sorted(order), "shuffled"
    with pytest.raises(ParameterError, match="equal length"):
        shuffled_rows([ImageRows(x, first), ImageRows(x, second[:50])], 32)
