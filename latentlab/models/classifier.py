"""A small CNN digit classifier: the judge that scores generated digits (notebook 01)."""

from __future__ import annotations

import keras
from keras import layers


def build_digit_classifier(input_shape=(28, 28, 1), n_classes: int = 10) -> keras.Model:
    """Compiled CNN (2 conv + pool + dense) on images in [0, 1]; ~99% MNIST test accuracy after
    3 epochs on the full training set. Takes (n, 28, 28, 1) float32, returns class probabilities."""
    model = keras.Sequential(
        [
            keras.Input(input_shape),
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
