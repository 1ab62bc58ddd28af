import keras
import numpy as np
import pytest

from latentlab.batching import batch_slices, map_batches, predict, predictor
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
