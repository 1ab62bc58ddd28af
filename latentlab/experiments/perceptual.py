"""The perceptual-loss network of notebook 04 (Surfing the manifold, 4.2): ImageNet VGG16 when its weights are
already cached, otherwise the factor CNN of :mod:`latentlab.models.features` trained here on renders of the
synthetic MPI3D scene (colour, shape, size, camera, background: classes; the two axes: regression). Either
way the features are scaled to unit root-mean-square on reference images."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
from numpy.typing import ArrayLike

from latentlab.batching import predict
from latentlab.data import mpi3d_synthetic
from latentlab.errors import ParameterError
from latentlab.models.denoising import conv_compile_options
from latentlab.models.features import (
    VGG_LAYER,
    VGG_WEIGHTS,
    FactorLoss,
    build_factor_cnn,
    cached_vgg16_weights,
    keras_cache_dir,
    unit_rms,
    vgg16_features,
)
from latentlab.models.training import fit

GROUPS = mpi3d_synthetic.FACTOR_SIZES[:5]


@dataclasses.dataclass
class FeatureNetwork:
    """A frozen feature extractor ``model`` ((n, 64, 64, 3) in [0, 1] -> (n, h, w, c), unit RMS on the
    reference images) and a sentence saying which network it is."""

    model: keras.Model
    description: str
    kind: str


def factor_targets(factors: np.ndarray) -> np.ndarray:
    """(n, 7) factor values -> (n, 22) float targets: one-hot discrete factors, then the axes / 39."""
    f = mpi3d_synthetic.check_factors(factors)
    parts = [np.eye(size, dtype=np.float32)[f[:, i].astype(int)] for i, size in enumerate(GROUPS)]
    return np.concatenate(parts + [(f[:, 5:] / 39.0).astype(np.float32)], 1)


def random_factors(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` factor settings (n, 7): discrete factors uniform over their values, axes uniform floats."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError(f"n={n!r}: give a whole number >= 1.")
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(f"rng={rng!r}: pass a numpy Generator, np.random.default_rng(seed).")
    discrete = np.stack([rng.integers(0, s, n) for s in GROUPS], 1)
    return np.concatenate([discrete, rng.uniform(0, 39, (n, 2))], 1)


def train_factor_cnn(
    n_images: int,
    epochs: int,
    seed: int,
    checkpoint_dir: str | Path | None = None,
    batch_size: int = 32,
    verbose: int | str = "auto",
) -> tuple[keras.Model, dict[str, float]]:
    """Train the factor CNN on ``n_images`` renders of random factors; return its feature extractor
    (before scaling) and held-out scores: per-factor accuracy and the axes' RMSE in grid steps."""
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in (n_images, epochs)) or (
        n_images < 10 or epochs < 1
    ):
        raise ParameterError(f"n_images={n_images!r}, epochs={epochs!r}: give at least 10 images and 1 epoch.")
    rng = np.random.default_rng(seed)
    f_train, f_test = random_factors(n_images, rng), random_factors(max(200, n_images // 10), rng)
    x_train = mpi3d_synthetic.render(f_train).astype(np.float32) / 255.0
    x_test = mpi3d_synthetic.render(f_test).astype(np.float32) / 255.0
    net, features = build_factor_cnn(x_train.shape[1:], GROUPS)
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss=FactorLoss(GROUPS), **conv_compile_options())
    fit(
        net,
        x_train,
        factor_targets(f_train),
        epochs=epochs,
        batch_size=batch_size,
        checkpoint_dir=checkpoint_dir,
        verbose=verbose,
    )
    pred = predict(net, x_test)
    scores, at = {}, 0
    for i, (name, size) in enumerate(zip(mpi3d_synthetic.FACTORS, GROUPS)):
        scores[f"{name} accuracy"] = float((pred[:, at : at + size].argmax(1) == f_test[:, i]).mean())
        at += size
    scores["axes RMSE (grid steps)"] = float(np.sqrt(np.mean(np.square(pred[:, at:] * 39 - f_test[:, 5:]))))
    return features, scores


def perceptual_features(
    reference_images: ArrayLike,
    *,
    kind: str = "auto",
    n_images: int = 2000,
    epochs: int = 5,
    seed: int = 0,
    checkpoint_dir: str | Path | None = None,
    verbose: int | str = "auto",
) -> FeatureNetwork:
    """The feature network of the perceptual loss. ``kind``: ``"vgg16"`` (needs the cached ImageNet
    weights, see :func:`cached_vgg16_weights`), ``"factor_cnn"`` (trained here on ``n_images`` renders
    for ``epochs``), or ``"auto"``: VGG16 when cached, else the factor CNN. ``reference_images``
    (n, 64, 64, 3) in [0, 1] set the feature scale."""
    if kind not in ("auto", "vgg16", "factor_cnn"):
        raise ParameterError(f"kind={kind!r}: choose 'auto', 'vgg16' or 'factor_cnn'.")
    weights = cached_vgg16_weights()
    if kind == "vgg16" and weights is None:
        raise ParameterError(
            f"VGG16 weights are not in the Keras cache ({keras_cache_dir() / VGG_WEIGHTS}); "
            "latentlab never downloads them. Run keras.applications.VGG16(include_top=False, "
            "weights='imagenet') once on a machine with network, or use kind='factor_cnn'."
        )
    reference = np.asarray(reference_images, np.float32)
    if reference.ndim != 4 or len(reference) == 0 or not np.isfinite(reference).all():
        raise ParameterError(
            f"reference_images have shape {reference.shape}; give a non-empty batch (n, 64, 64, 3) of finite images."
        )
    if reference.min() < 0 or reference.max() > 1:
        raise ParameterError(
            f"reference_images lie in [{reference.min():.4g}, {reference.max():.4g}], not [0, 1]: "
            "convert uint8 images with denoising.to_unit."
        )
    if kind != "factor_cnn" and weights is not None:
        model = unit_rms(vgg16_features(weights, reference.shape[1:]), reference, "perceptual_features")
        return FeatureNetwork(model, f"ImageNet VGG16 up to {VGG_LAYER} (cached weights {weights})", "vgg16")
    net, scores = train_factor_cnn(n_images, epochs, seed, checkpoint_dir, verbose=verbose)
    model = unit_rms(net, reference, "perceptual_features")
    held_out = ", ".join(f"{k} {v:.2f}" for k, v in scores.items())
    why = "VGG16 weights not cached; " if kind == "auto" else ""
    return FeatureNetwork(
        model,
        f"{why}small CNN trained here on {n_images} synthetic renders for {epochs} "
        f"epochs to recognise the scene factors (held out: {held_out}); features of its "
        "second conv block",
        "factor_cnn",
    )
