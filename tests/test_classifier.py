"""The digit classifier and its perceptual features, trained briefly on real MNIST."""

import keras
import numpy as np
import pytest

from latentlab.errors import ParameterError
from latentlab.models.classifier import build_digit_classifier, digit_features


@pytest.fixture(scope="module")
def trained(mnist):
    (x, y), (xt, yt) = mnist
    keras.utils.set_random_seed(0)
    clf = build_digit_classifier()
    clf.fit((x[:3000, ..., None] / 255.0).astype("float32"), y[:3000], epochs=2, batch_size=64, verbose=0)
    return clf, (xt[:500, ..., None] / 255.0).astype("float32"), yt[:500]


def test_classifier_learns_real_digits(trained):
    clf, xt, yt = trained
    accuracy = (clf.predict(xt, verbose=0).argmax(1) == yt).mean()
    assert accuracy > 0.85, accuracy


def test_digit_features_are_frozen_unit_rms_and_forgive_small_shifts(trained):
    clf, xt, yt = trained
    feats = digit_features(clf, xt)
    assert feats.trainable_weights == [] and feats.non_trainable_weights
    f = np.asarray(feats(xt))
    assert f.ndim == 4 and np.isclose(np.sqrt(np.mean(f**2)), 1.0, rtol=1e-3)
    # a 1-pixel shift of a digit against another digit of a different class: relative to that other
    # digit, the shifted copy is closer in feature space than in pixel space
    other = np.array([np.flatnonzero(yt != yt[i])[0] for i in range(100)])
    shifted = np.roll(xt[:100], 1, axis=2)

    def ratio(a, b, c):
        return ((a - b) ** 2).reshape(100, -1).mean(1) / ((a - c) ** 2).reshape(100, -1).mean(1)

    pixel = ratio(xt[:100], shifted, xt[other])
    feature = ratio(f[:100], np.asarray(feats(shifted)), f[other])
    assert np.median(feature) < 0.8 * np.median(pixel), (np.median(feature), np.median(pixel))
    before = [w.copy() for w in clf.get_weights()]
    feats(xt[:8])
    assert all(np.array_equal(a, b) for a, b in zip(before, clf.get_weights()))


def test_digit_features_need_a_conv_layer():
    dense = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(ParameterError, match="Conv2D"):
        digit_features(dense, np.zeros((2, 28, 28, 1), "float32"))


def test_digit_features_take_one_tensor_without_a_warning():
    """A notebook calls the features on one tensor; a model built on the list of inputs warned in red."""
    import warnings

    x = np.random.default_rng(0).random((8, 28, 28, 1)).astype("float32")
    features = digit_features(build_digit_classifier(), x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert features(keras.ops.convert_to_tensor(x)).shape[0] == 8


def test_digit_features_scale_from_batches_holding_one_batch_of_features(trained, mnist):
    """The unit-RMS scale is reduced batch by batch: the same scale as from all features at once, without
    holding them (notebook 05's `full` held 20,000 digits' features as float64, 3 GB)."""
    import tracemalloc

    from latentlab.batching import predict

    clf, _, _ = trained
    reference = (mnist[0][0][:4000, ..., None] / 255.0).astype("float32")
    tracemalloc.start()
    feats = digit_features(clf, reference)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    every = np.asarray(predict(feats.layers[1], reference), np.float64)  # the trunk's features of all of them
    assert np.isclose(feats.layers[-1].scale, 1.0 / np.sqrt(np.mean(every**2)), rtol=1e-12)
    assert peak < every.nbytes / 8, (peak, every.nbytes)
