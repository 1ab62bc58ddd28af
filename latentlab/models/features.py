"""Feature networks for perceptual losses (Surfing the manifold, 4.2): features of an image, compared by MSE.

ImageNet VGG16 up to ``block2_conv2`` (Johnson et al.'s relu2_2), only from weights already in the Keras cache
(nothing is downloaded), or a small CNN that recognises a scene's factors (:func:`build_factor_cnn`; trained
on MPI3D images or renders by :mod:`latentlab.experiments.perceptual`). :func:`unit_rms` scales any of them to unit
root-mean-square on reference images, so loss weights (lambda_re, lambda_pe) mean the same for every network.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from latentlab.batching import map_batches, predict
from latentlab.errors import DataFormatError, ParameterError

VGG_WEIGHTS = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG_LAYER = "block2_conv2"
_VGG_MEAN_BGR = (103.939, 116.779, 123.68)


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models`` or ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def cached_vgg16_weights() -> Path | None:
    """The cached ImageNet VGG16 (no top) weights file, or None when it was never downloaded."""
    path = keras_cache_dir() / VGG_WEIGHTS
    return path if path.is_file() else None


def _image_shape(image_shape: tuple[int, ...]) -> tuple[int, int, int]:
    shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else ()
    if len(shape) != 3 or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in shape):
        raise ParameterError(f"image_shape={image_shape!r}: give (height, width, channels), e.g. (64, 64, 3).")
    return tuple(int(d) for d in shape)


def vgg16_features(weights: Path, image_shape: tuple[int, int, int]) -> keras.Model:
    """VGG16 up to ``block2_conv2`` from a weights file, on images in [0, 1] (it converts them to VGG's BGR input)."""
    image_shape = _image_shape(image_shape)
    if image_shape[2] != 3 or min(image_shape[:2]) < 32:
        raise ParameterError(f"image_shape={image_shape}: VGG16 takes RGB images of at least 32x32 pixels.")
    if not Path(weights).is_file():
        raise DataFormatError(
            f"VGG16 weights {weights} do not exist; run keras.applications.VGG16(include_top=False, "
            "weights='imagenet') once on a machine with network, or use the factor CNN."
        )
    try:
        vgg = keras.applications.VGG16(include_top=False, weights=str(weights), input_shape=image_shape)
    except (OSError, ValueError, KeyError) as err:  # h5py raises OSError on truncation, Keras ValueError on layout
        raise DataFormatError(
            f"{weights} is not a readable VGG16 (no top) weights file ({type(err).__name__}: {err}); delete it and "
            "let Keras download it again, or use kind='factor_cnn'."
        ) from err
    x = keras.Input(image_shape)
    bgr = ops.flip(x * 255.0, axis=-1) - ops.convert_to_tensor(_VGG_MEAN_BGR, dtype=x.dtype)
    trunk = keras.Model(vgg.input, vgg.get_layer(VGG_LAYER).output)
    return keras.Model(x, trunk(bgr), name="vgg16_features")


def build_factor_cnn(image_shape: tuple[int, int, int], groups: tuple[int, ...]) -> tuple[keras.Model, keras.Model]:
    """A small CNN that recognises a scene's factors: one logit group per discrete factor (sizes ``groups``)
    and two regression outputs (the arm's axes). Returns the network and the feature extractor of its
    second conv block (what the perceptual loss compares)."""
    image_shape = _image_shape(image_shape)
    groups = _groups(groups)
    x = keras.Input(image_shape)
    h = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    feats = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="features")(h)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(feats)
    h = layers.Concatenate()([layers.GlobalMaxPooling2D()(h), layers.Flatten()(h)])  # what, and where
    h = layers.Dense(128, activation="relu")(h)
    out = layers.Dense(sum(groups) + 2, name="factors")(h)
    return keras.Model(x, out, name="factor_cnn"), keras.Model(x, feats, name="factor_cnn_features")


@keras.saving.register_keras_serializable(package="latentlab")
class FactorLoss(keras.losses.Loss):
    """Cross-entropy of each discrete factor (logit groups of sizes ``groups``) plus the squared error of the
    two axes (scaled to [0, 1]), per sample."""

    def __init__(self, groups: tuple[int, ...] = (6, 6, 2, 3, 3), name: str = "factor_loss", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.groups = _groups(groups)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        total, at = 0.0, 0
        for size in self.groups:
            total = total + ops.categorical_crossentropy(
                y_true[:, at : at + size], y_pred[:, at : at + size], from_logits=True
            )
            at += size
        return total + ops.sum(ops.square(y_true[:, at:] - y_pred[:, at:]), axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "groups": self.groups}


def _groups(groups: tuple[int, ...]) -> tuple[int, ...]:
    try:
        out = tuple(groups)
    except TypeError:
        out = ()
    if not out or any(isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g < 1 for g in out):
        raise ParameterError(f"groups={groups!r}: give the sizes of the discrete factors, whole numbers >= 1.")
    return tuple(int(g) for g in out)


def unit_rms(model: keras.Model, reference: np.ndarray, name: str) -> keras.Model:
    """``model``'s outputs divided by their root-mean-square on ``reference`` images, as a frozen
    model named ``name``: feature distances then mean the same whatever network gives them. The features are
    reduced batch by batch (128 images), so memory holds one batch of them, not those of every reference image
    (notebook 05's 20,000 digits in `full`: 3 GB as float64)."""
    reference = np.asarray(reference, np.float32)
    if reference.ndim < 2 or len(reference) == 0 or not np.isfinite(reference).all():
        raise ParameterError(
            f"reference images have shape {reference.shape}; give a non-empty batch of finite images in [0, 1]."
        )

    def mean_square(batch: np.ndarray) -> np.ndarray:  # per image (each has as many features)
        f = np.asarray(predict(model, batch, batch_size=len(batch)), np.float64).reshape(len(batch), -1)
        return np.einsum("ij,ij->i", f, f) / f.shape[1]

    rms = float(np.sqrt(map_batches(mean_square, reference, batch_size=128).mean()))
    if not np.isfinite(rms):
        raise ParameterError(f"{model.name} gives NaN or infinite features on the reference images; check its weights.")
    rms = rms or 1.0
    x = keras.Input(model.input_shape[1:])
    scaled = keras.Model(x, layers.Rescaling(1.0 / rms)(model(x)), name=name)
    scaled.trainable = False
    return scaled
