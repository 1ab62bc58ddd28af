"""The perceptual-loss network (Surfing the manifold, 4.2): features of an image, compared by MSE.

The paper used ImageNet VGG16. Here VGG16 (up to ``block2_conv2``, Johnson et al.'s relu2_2) is used
only when its weights file is already in the Keras cache; nothing is downloaded. Otherwise a small CNN
is trained in-project to recognise the synthetic MPI3D scene's factors (colour, shape, size, camera,
background: classes; the two axes: regression), and its second conv block gives the features. Either
way the features are scaled to unit root-mean-square on reference images, so loss weights
(lambda_re, lambda_pe) mean the same for both networks.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from latentlab.data import mpi3d_synthetic
from latentlab.errors import ParameterError
from latentlab.models.denoising import conv_compile_options
from latentlab.models.training import fit

VGG_WEIGHTS = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG_LAYER = "block2_conv2"
_GROUPS = mpi3d_synthetic.FACTOR_SIZES[:5]
_VGG_MEAN_BGR = (103.939, 116.779, 123.68)


@dataclasses.dataclass
class FeatureNetwork:
    """A frozen feature extractor ``model`` ((n, 64, 64, 3) in [0, 1] -> (n, h, w, c), unit RMS on the
    reference images) and a sentence saying which network it is."""

    model: keras.Model
    description: str
    kind: str


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models`` or ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def cached_vgg16_weights() -> Path | None:
    """The cached ImageNet VGG16 (no top) weights file, or None when it was never downloaded."""
    path = keras_cache_dir() / VGG_WEIGHTS
    return path if path.is_file() else None


def _vgg16(weights: Path, image_shape) -> keras.Model:
    vgg = keras.applications.VGG16(include_top=False, weights=str(weights), input_shape=image_shape)
    x = keras.Input(image_shape)
    bgr = ops.flip(x * 255.0, axis=-1) - ops.convert_to_tensor(_VGG_MEAN_BGR, dtype=x.dtype)
    trunk = keras.Model(vgg.input, vgg.get_layer(VGG_LAYER).output)
    return keras.Model(x, trunk(bgr), name="vgg16_features")


def _factor_cnn(image_shape) -> tuple[keras.Model, keras.Model]:
    x = keras.Input(image_shape)
    h = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    feats = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="features")(h)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(feats)
    h = layers.Concatenate()([layers.GlobalMaxPooling2D()(h), layers.Flatten()(h)])  # what, and where
    h = layers.Dense(128, activation="relu")(h)
    out = layers.Dense(sum(_GROUPS) + 2, name="factors")(h)
    return keras.Model(x, out, name="factor_cnn"), keras.Model(x, feats, name="factor_cnn_features")


@keras.saving.register_keras_serializable(package="latentlab")
def factor_loss(y_true, y_pred):
    """Cross-entropy of each discrete factor (logit groups of sizes 6, 6, 2, 3, 3) plus the squared
    error of the two axes (scaled to [0, 1]), per sample."""
    total, at = 0.0, 0
    for size in _GROUPS:
        total = total + ops.categorical_crossentropy(y_true[:, at:at + size], y_pred[:, at:at + size], from_logits=True)
        at += size
    return total + ops.sum(ops.square(y_true[:, at:] - y_pred[:, at:]), axis=-1)


def factor_targets(factors: np.ndarray) -> np.ndarray:
    """(n, 7) factor values -> (n, 22) float targets: one-hot discrete factors, then the axes / 39."""
    f = np.asarray(factors, np.float64)
    parts = [np.eye(size, dtype=np.float32)[f[:, i].astype(int)] for i, size in enumerate(_GROUPS)]
    return np.concatenate(parts + [(f[:, 5:] / 39.0).astype(np.float32)], 1)


def random_factors(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` factor settings (n, 7): discrete factors uniform over their values, axes uniform floats."""
    discrete = np.stack([rng.integers(0, s, n) for s in _GROUPS], 1)
    return np.concatenate([discrete, rng.uniform(0, 39, (n, 2))], 1)


def train_factor_cnn(n_images: int, epochs: int, seed: int, checkpoint_dir=None, batch_size: int = 32,
                     verbose=0) -> tuple[keras.Model, dict[str, float]]:
    """Train the small CNN on ``n_images`` renders of random factors; return its feature extractor
    (before scaling) and held-out scores: per-factor accuracy and the axes' RMSE in grid steps."""
    if n_images < 10 or epochs < 1:
        raise ParameterError(f"n_images={n_images}, epochs={epochs}: give at least 10 images and 1 epoch.")
    rng = np.random.default_rng(seed)
    f_train, f_test = random_factors(n_images, rng), random_factors(max(200, n_images // 10), rng)
    x_train = mpi3d_synthetic.render(f_train).astype(np.float32) / 255.0
    x_test = mpi3d_synthetic.render(f_test).astype(np.float32) / 255.0
    net, features = _factor_cnn(x_train.shape[1:])
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss=factor_loss, **conv_compile_options())
    fit(net, x_train, factor_targets(f_train), epochs=epochs, batch_size=batch_size,
        checkpoint_dir=checkpoint_dir, verbose=verbose)
    pred = net.predict(x_test, batch_size=256, verbose=0)
    scores, at = {}, 0
    for i, (name, size) in enumerate(zip(mpi3d_synthetic.FACTORS, _GROUPS)):
        scores[f"{name} accuracy"] = float((pred[:, at:at + size].argmax(1) == f_test[:, i]).mean())
        at += size
    scores["axes RMSE (grid steps)"] = float(np.sqrt(np.mean(np.square(pred[:, at:] * 39 - f_test[:, 5:]))))
    return features, scores


def unit_rms(model: keras.Model, reference: np.ndarray, name: str) -> keras.Model:
    """``model``'s outputs divided by their root-mean-square on ``reference`` images, as a frozen
    model named ``name``: feature distances then mean the same whatever network gives them."""
    ref = model.predict(np.asarray(reference, np.float32), batch_size=128, verbose=0)
    rms = float(np.sqrt(np.mean(np.square(ref)))) or 1.0
    x = keras.Input(model.input_shape[1:])
    scaled = keras.Model(x, layers.Rescaling(1.0 / rms)(model(x)), name=name)
    scaled.trainable = False
    return scaled


def perceptual_features(reference_images, *, kind: str = "auto", n_images: int = 2000, epochs: int = 5,
                        seed: int = 0, checkpoint_dir=None, verbose=0) -> FeatureNetwork:
    """The feature network of the perceptual loss. ``kind``: ``"vgg16"`` (needs the cached ImageNet
    weights, see :func:`cached_vgg16_weights`), ``"factor_cnn"`` (trained here on ``n_images`` renders
    for ``epochs``), or ``"auto"``: VGG16 when cached, else the factor CNN. ``reference_images``
    (n, 64, 64, 3) in [0, 1] set the feature scale."""
    if kind not in ("auto", "vgg16", "factor_cnn"):
        raise ParameterError(f"kind={kind!r}: choose 'auto', 'vgg16' or 'factor_cnn'.")
    weights = cached_vgg16_weights()
    if kind == "vgg16" and weights is None:
        raise ParameterError(f"VGG16 weights are not in the Keras cache ({keras_cache_dir() / VGG_WEIGHTS}); "
                             "latentlab never downloads them. Run keras.applications.VGG16(include_top=False, "
                             "weights='imagenet') once on a machine with network, or use kind='factor_cnn'.")
    reference = np.asarray(reference_images, np.float32)
    if kind != "factor_cnn" and weights is not None:
        model = unit_rms(_vgg16(weights, reference.shape[1:]), reference, "perceptual_features")
        return FeatureNetwork(model, f"ImageNet VGG16 up to {VGG_LAYER} (cached weights {weights})", "vgg16")
    net, scores = train_factor_cnn(n_images, epochs, seed, checkpoint_dir, verbose=verbose)
    model = unit_rms(net, reference, "perceptual_features")
    held_out = ", ".join(f"{k} {v:.2f}" for k, v in scores.items())
    why = "VGG16 weights not cached; " if kind == "auto" else ""
    return FeatureNetwork(model, f"{why}small CNN trained here on {n_images} synthetic renders for {epochs} "
                          f"epochs to recognise the scene factors (held out: {held_out}); features of its "
                          "second conv block", "factor_cnn")
