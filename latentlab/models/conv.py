"""A standard (not variational) convolutional autoencoder for 64 x 64 RGB faces with a 256-d latent
space, as in the CelebA posts of the *latent space fragmentation* blog series.

The posts give the latent size (N = 256) and the kind of network, not every layer, so this is the
usual design: four stride-2 3x3 convolutions (32, 64, 128, 256 filters) with batch normalisation and
leaky ReLU down to 4 x 4 x 256, a linear dense layer to the 256-d code (no activation, so latent
components take either sign as in the blog), and the mirror image up to a sigmoid 64 x 64 x 3 image.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import keras
import numpy as np
from keras import layers

from latentlab.batching import LazyRows, is_uint8_images, predict
from latentlab.errors import ParameterError
from latentlab.models.losses import get_loss
from latentlab.models.training import compile_options, fit


class ImageSet(Protocol):
    """A streamed image set such as :class:`latentlab.data.celeba.CelebA` (models/ imports no dataset module)."""

    def __len__(self) -> int: ...

    def dataset(self, batch_size: int = ..., shuffle: bool = ..., seed: int = ..., pairs: bool = ...) -> Any: ...


def _block(h: Any, filters: int, name: str, transpose: bool = False) -> Any:
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    h = conv(filters, 3, strides=2, padding="same", use_bias=False, name=f"{name}_conv")(h)
    h = layers.BatchNormalization(name=f"{name}_bn")(h)
    return layers.LeakyReLU(0.2, name=f"{name}_act")(h)


def build_conv_autoencoder(
    latent_dim: int = 256,
    image_shape: tuple[int, int, int] = (64, 64, 3),
    filters: Sequence[int] = (32, 64, 128, 256),
    loss: str = "mse",
    learning_rate: float = 1e-3,
    name: str = "conv_ae",
) -> keras.Model:
    """A compiled conv autoencoder on images (n, h, w, c) in [0, 1]; ``h`` and ``w`` must be divisible
    by 2 ** len(filters). Returns the autoencoder with ``.encoder`` ((n, h, w, c) -> (n, latent_dim))
    and ``.decoder`` ((n, latent_dim) -> (n, h, w, c)) attached."""
    shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else ()
    filters = tuple(filters) if isinstance(filters, (tuple, list)) else ()
    whole = [*shape, *filters, latent_dim]
    if len(shape) != 3 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in whole):
        raise ParameterError(
            f"image_shape={image_shape!r}, filters={filters!r}, latent_dim={latent_dim!r}: give (height, width, "
            "channels), a non-empty list of filter counts and a latent size, all whole numbers >= 1."
        )
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or not learning_rate > 0:
        raise ParameterError(f"learning_rate={learning_rate!r}: give a number > 0, e.g. 1e-3.")
    h_in, w_in, channels = shape
    step = 2 ** len(filters)
    if latent_dim < 1 or not filters or h_in % step or w_in % step:
        raise ParameterError(
            f"image_shape={image_shape}, filters={tuple(filters)}, latent_dim={latent_dim}: "
            f"height and width must be divisible by 2**{len(filters)} = {step}, the latent "
            "size and the filter list must be non-empty."
        )
    bottom = (h_in // step, w_in // step, filters[-1])

    x_in = keras.Input(image_shape, name="image")
    h = x_in
    for i, f in enumerate(filters):
        h = _block(h, f, f"enc_{i}")
    code = layers.Dense(latent_dim, name="code")(layers.Flatten(name="flatten")(h))
    encoder = keras.Model(x_in, code, name="encoder")

    z_in = keras.Input((latent_dim,), name="z")
    h = layers.Dense(bottom[0] * bottom[1] * bottom[2], use_bias=False, name="dec_dense")(z_in)
    h = layers.LeakyReLU(0.2, name="dec_dense_act")(layers.BatchNormalization(name="dec_dense_bn")(h))
    h = layers.Reshape(bottom, name="unflatten")(h)
    for i, f in enumerate(reversed(filters[:-1])):
        h = _block(h, f, f"dec_{i}", transpose=True)
    out = layers.Conv2DTranspose(channels, 3, strides=2, padding="same", activation="sigmoid", name="reconstruction")(h)
    decoder = keras.Model(z_in, out, name="decoder")

    x = keras.Input(image_shape, name="input")
    autoencoder = keras.Model(x, decoder(encoder(x)), name=name)
    autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=get_loss(loss), **compile_options())
    autoencoder.encoder, autoencoder.decoder = encoder, decoder
    return autoencoder


@contextlib.contextmanager
def _streamed() -> Iterator[None]:
    """Silence Keras's notes on every tf.data input of unknown length (one that skips unreadable files)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*(ran out of data|`shuffle=True` was passed).*")
        yield


def _images(faces: ImageSet | np.ndarray | LazyRows, what: str) -> bool:
    """Whether ``faces`` are uint8 images (an array, or a cache file's rows) rather than a streamed image set;
    a :class:`ParameterError` for anything else, or for no images."""
    uint8 = is_uint8_images(faces) and faces.ndim == 4
    if not uint8 and (not callable(getattr(faces, "dataset", None)) or not hasattr(faces, "__len__")):
        raise ParameterError(
            f"{what} is a {type(faces).__name__} {getattr(faces, 'dtype', '')}; give uint8 images (n, h, w, c), such "
            "as celeba.cache_faces(...).rows(), or an image set with .dataset(batch_size), such as "
            "latentlab.data.celeba.load_celeba(...)."
        )
    if len(faces) == 0:
        raise ParameterError(f"{what} holds no images; select a non-empty split or slice.")
    return uint8


def encode_images(
    encoder: keras.Model, faces: ImageSet | np.ndarray | LazyRows, batch_size: int = 256, progress: str | None = None
) -> np.ndarray:
    """Latent vectors (n, d) float64 of uint8 images (n, h, w, c) (0-255: an array, or the rows of
    :func:`~latentlab.data.celeba.cache_faces`'s file, read and converted a batch at a time) or of a streamed image set
    (``faces.dataset``: decoded as it is encoded), encoded in batches; ``progress`` names a progress bar."""
    if _images(faces, "faces"):
        return np.asarray(predict(encoder, faces, batch_size, progress=progress, from_uint8=True), np.float64)
    with _streamed():
        return np.asarray(encoder.predict(faces.dataset(batch_size), verbose=0), np.float64)


def train_conv_autoencoder(
    autoencoder: keras.Model,
    faces: ImageSet | np.ndarray | LazyRows,
    held_out: ImageSet | np.ndarray | LazyRows,
    epochs: int,
    batch_size: int = 32,
    checkpoint_dir: str | Path | None = None,
    seed: int = 0,
    verbose: int | str = 2,
) -> dict[str, list[float]]:
    """Train on uint8 images (n, h, w, c) (an array, or the rows of :func:`~latentlab.data.celeba.cache_faces`'s file,
    read and fed a batch at a time as float32 in [0, 1]: ``fit(from_uint8=True)``) or on a streamed image set
    (``faces.dataset``, e.g. a :class:`~latentlab.data.celeba.CelebA`), reshuffled every epoch from ``seed``, with
    ``held_out`` (of the same kind) as validation data, through the resumable :func:`latentlab.models.fit`. Returns
    the loss history of all epochs."""
    arrays = _images(faces, "faces")
    if _images(held_out, "held_out") != arrays:
        raise ParameterError("give faces and held_out of the same kind: both uint8 image arrays, or both image sets.")
    if arrays:
        return fit(
            autoencoder,
            faces,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=(held_out, held_out),
            checkpoint_dir=checkpoint_dir,
            verbose=verbose,
            seed=seed,
            from_uint8=True,
        )
    with _streamed():
        return fit(
            autoencoder,
            faces.dataset(batch_size, shuffle=True, seed=seed, pairs=True),
            n_samples=len(faces),
            epochs=epochs,
            batch_size=batch_size,
            validation_data=held_out.dataset(batch_size, pairs=True),
            checkpoint_dir=checkpoint_dir,
            verbose=verbose,
        )
