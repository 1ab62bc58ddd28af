"""The perceptual-loss network of notebook 04 (Surfing the manifold, 4.2): ImageNet VGG16 when its weights are
already cached, otherwise the factor CNN of :mod:`latentlab.models.features` trained here to recognise the MPI3D
scene's factors (colour, shape, size, camera, background: classes; the two axes: regression), on a seeded random
subsample of the real MPI3D images when the file is there, else on renders of the synthetic scene. Either way
the features are scaled to unit root-mean-square on reference images."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
from numpy.typing import ArrayLike

from latentlab.batching import predict
from latentlab.data import mpi3d_synthetic
from latentlab.data.mpi3d import MPI3D
from latentlab.errors import DataFormatError, ParameterError
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


def factor_targets(factors: ArrayLike, factor_sizes: tuple[int, ...] = mpi3d_synthetic.FACTOR_SIZES) -> np.ndarray:
    """(n, 7) factor values -> (n, sum(factor_sizes[:5]) + 2) float32 targets: one-hot discrete factors, then
    the axes scaled to [0, 1] (divided by size - 1; (n, 22), axes / 39 for the synthetic sizes)."""
    f = mpi3d_synthetic.check_factors(factors, factor_sizes)
    parts = [np.eye(size, dtype=np.float32)[f[:, i].astype(int)] for i, size in enumerate(factor_sizes[:5])]
    return np.concatenate(parts + [(f[:, 5:] / _axis_scale(factor_sizes)).astype(np.float32)], 1)


def _axis_scale(factor_sizes: tuple[int, ...]) -> np.ndarray:
    """(2,) float32: the largest value of each axis (size - 1, at least 1)."""
    return np.maximum(np.asarray(factor_sizes[5:], np.float32) - 1, 1)


def random_factors(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` factor settings (n, 7): discrete factors uniform over their values, axes uniform floats."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError(f"n={n!r}: give a whole number >= 1.")
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(f"rng={rng!r}: pass a numpy Generator, np.random.default_rng(seed).")
    discrete = np.stack([rng.integers(0, s, n) for s in GROUPS], 1)
    return np.concatenate([discrete, rng.uniform(0, 39, (n, 2))], 1)


def _check_data(data: MPI3D | None) -> MPI3D | None:
    """``data`` when it is the real MPI3D file, None for no data or the synthetic stand-in."""
    if data is None:
        return None
    if not isinstance(data, MPI3D):
        raise ParameterError(
            f"data={type(data).__name__}: pass the MPI3D of latentlab.data.mpi3d.load_mpi3d(), or None for renders."
        )
    if data.synthetic:
        return None
    sizes = tuple(data.factor_sizes)
    if len(sizes) != len(mpi3d_synthetic.FACTORS) or int(np.prod(sizes)) != len(data.images):
        raise DataFormatError(
            f"{data.source}: {len(data.images):,} images but factor sizes {sizes}; load the file with "
            "mpi3d.load_mpi3d(path, factor_sizes=...) so that they match."
        )
    return data


def real_factor_split(data: MPI3D, n_images: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices into the real MPI3D images for the factor CNN: ``n_images`` to train on and
    ``min(max(200, n_images // 10), N - n_images)`` held out, a seeded random subsample of all N images
    (no index twice), each sorted for reading the memory map in order. Returns (n_train,), (n_test,) int."""
    if isinstance(n_images, bool) or not isinstance(n_images, (int, np.integer)) or n_images < 1:
        raise ParameterError(f"n_images={n_images!r}: give a whole number >= 1.")
    total = len(data.images)
    n_test = _n_held_out(total, n_images)
    if n_test < 1:
        raise ParameterError(
            f"n_images={n_images:,}: {data.source.location} holds {total:,} MPI3D images and at least one must be "
            f"held out to score the factor CNN; give n_images <= {total - 1:,}."
        )
    picks = np.random.default_rng(seed).choice(total, int(n_images) + n_test, replace=False)
    return np.sort(picks[:n_images]), np.sort(picks[n_images:])


def _n_held_out(total: int, n_images: int) -> int:
    return int(min(max(200, n_images // 10), total - n_images))


def _real_images(data: MPI3D, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 64, 64, 3) uint8 read from the memory map at sorted ``indices``, and their factors (n, 7) int."""
    return np.asarray(data.images[indices]), np.stack(np.unravel_index(indices, data.factor_sizes), 1)


def on_uint8(net: keras.Model) -> keras.Model:
    """``net`` (images in [0, 1]) behind a uint8 input that is scaled to x / 255 in the graph: the same outputs up to
    float32 rounding (a compiled graph may divide as a multiplication by 1/255) for a quarter of the memory, so a
    training set of images stays uint8 (20,000 MPI3D images: 246 MB, where float32 copies held 983 MB each, one in
    numpy and one in ``tf.data``). Shares ``net``'s weights."""
    x = keras.Input(net.input_shape[1:], dtype="uint8")
    return keras.Model(x, net(keras.ops.cast(x, "float32") / 255.0), name=f"{net.name}_uint8")


def train_factor_cnn(
    n_images: int,
    epochs: int,
    seed: int,
    checkpoint_dir: str | Path | None = None,
    batch_size: int = 32,
    verbose: int | str = "auto",
    data: MPI3D | None = None,
) -> tuple[keras.Model, dict[str, float]]:
    """Train the factor CNN on ``n_images`` images and return its feature extractor (before scaling) and
    held-out scores: per-factor accuracy and the axes' RMSE in grid steps. With the real MPI3D ``data``
    (:func:`~latentlab.data.mpi3d.load_mpi3d`), the images are a seeded random subsample of the file
    (:func:`real_factor_split`) labelled by their factors (the file's factor sizes set the targets); with
    ``data`` None or synthetic, renders of random factors."""
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in (n_images, epochs)) or (
        n_images < 10 or epochs < 1
    ):
        raise ParameterError(f"n_images={n_images!r}, epochs={epochs!r}: give at least 10 images and 1 epoch.")
    real = _check_data(data)
    if real is None:
        sizes = mpi3d_synthetic.FACTOR_SIZES
        rng = np.random.default_rng(seed)
        f_train, f_test = random_factors(n_images, rng), random_factors(max(200, n_images // 10), rng)
        x_train, x_test = mpi3d_synthetic.render(f_train), mpi3d_synthetic.render(f_test)
    else:
        sizes = tuple(real.factor_sizes)
        train, test = real_factor_split(real, int(n_images), seed)
        (x_train, f_train), (x_test, f_test) = _real_images(real, train), _real_images(real, test)
    groups = tuple(sizes[:5])
    net, features = build_factor_cnn(x_train.shape[1:], groups)
    net = on_uint8(net)  # the images stay uint8 in memory
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss=FactorLoss(groups), **conv_compile_options())
    fit(
        net,
        x_train,
        factor_targets(f_train, sizes),
        epochs=epochs,
        batch_size=batch_size,
        checkpoint_dir=checkpoint_dir,
        verbose=verbose,
    )
    pred = predict(net, x_test)
    scores, at = {}, 0
    for i, (name, size) in enumerate(zip(mpi3d_synthetic.FACTORS, groups)):
        scores[f"{name} accuracy"] = float((pred[:, at : at + size].argmax(1) == f_test[:, i]).mean())
        at += size
    axes = pred[:, at:] * _axis_scale(sizes) - f_test[:, 5:]
    scores["axes RMSE (grid steps)"] = float(np.sqrt(np.mean(np.square(axes))))
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
    data: MPI3D | None = None,
) -> FeatureNetwork:
    """The feature network of the perceptual loss. ``kind``: ``"vgg16"`` (needs the cached ImageNet
    weights, see :func:`cached_vgg16_weights`), ``"factor_cnn"`` (trained here for ``epochs`` on ``n_images``
    real MPI3D images when ``data`` is the real file, else on renders: :func:`train_factor_cnn`), or
    ``"auto"``: VGG16 when cached, else the factor CNN. ``reference_images`` (n, 64, 64, 3) in [0, 1] set
    the feature scale. ``description`` says which network, and which images the factor CNN learnt from."""
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
    real = _check_data(data)
    if kind != "factor_cnn" and weights is not None:
        model = unit_rms(vgg16_features(weights, reference.shape[1:]), reference, "perceptual_features")
        return FeatureNetwork(model, f"ImageNet VGG16 up to {VGG_LAYER} (cached weights {weights})", "vgg16")
    net, scores = train_factor_cnn(n_images, epochs, seed, checkpoint_dir, verbose=verbose, data=real)
    model = unit_rms(net, reference, "perceptual_features")
    held_out = ", ".join(f"{k} {v:.2f}" for k, v in scores.items())
    why = "VGG16 weights not cached; " if kind == "auto" else ""
    if real is None:
        trained_on, scored_on = f"{n_images} synthetic renders", "held out"
    else:
        n_test = _n_held_out(len(real.images), n_images)
        trained_on = f"{n_images:,} real MPI3D images (a random subsample of {len(real.images):,})"
        scored_on = f"held out on {n_test:,} other real images"
    return FeatureNetwork(
        model,
        f"{why}small CNN trained here on {trained_on} for {epochs} "
        f"epochs to recognise the scene factors ({scored_on}: {held_out}); features of its "
        "second conv block",
        "factor_cnn",
    )
