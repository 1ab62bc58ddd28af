"""A small CNN digit classifier: the judge that scores generated digits (notebook 01)."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from latentlab.errors import ParameterError
from latentlab.models.features import unit_rms


def build_digit_classifier(input_shape: tuple[int, int, int] = (28, 28, 1), n_classes: int = 10) -> keras.Model:
    """Compiled CNN (2 conv + pool + dense) on images in [0, 1]; ~99% MNIST test accuracy after
    3 epochs on the full training set. Takes (n, 28, 28, 1) float32, returns class probabilities."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ParameterError(f"n_classes={n_classes!r}: a classifier needs a whole number >= 2 of classes.")
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
    if (
        len(shape) != 3
        or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in shape)
        or min(shape[:2]) < 10
    ):
        raise ParameterError(
            f"input_shape={input_shape!r}: give (height, width, channels) with sides of at least 10 pixels "
            "(two 3x3 convolutions and two poolings), e.g. (28, 28, 1)."
        )
    model = keras.Sequential(
        [
            keras.Input(tuple(int(d) for d in shape)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(0.25),
            layers.Dense(128, activation="relu"),
            layers.Dense(n_classes, activation="softmax"),
        ],
        name="digit_classifier",
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def digit_features(classifier: keras.Model, reference: np.ndarray) -> keras.Model:
    """A frozen perceptual feature network for digits: the output of ``classifier``'s last conv layer
    (a trained :func:`build_digit_classifier`), scaled to unit RMS on ``reference`` digits (n, 28, 28, 1)
    in [0, 1]. Digits that differ by a small shift or stroke width are closer in it than in pixels."""
    if not isinstance(classifier, keras.Model):
        raise ParameterError(
            f"classifier is a {type(classifier).__name__}; give a Keras model (build_digit_classifier)."
        )
    conv = [layer for layer in classifier.layers if isinstance(layer, layers.Conv2D)]
    if not conv:
        raise ParameterError("digit_features needs a classifier with a Conv2D layer, e.g. build_digit_classifier().")
    # one input, not the list `inputs`: called with one tensor, a list-input model warns in red in the notebook
    trunk = keras.Model(classifier.inputs[0], conv[-1].output, name="digit_conv_features")
    return unit_rms(trunk, reference, "digit_features")
