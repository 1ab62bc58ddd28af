"""The denoising undercomplete autoencoder of *Surfing the manifold* (section 4): a conv encoder, two
dense layers down to a 2-d or 3-d code, and a mirrored decoder with fewer filters.

Training corrupts each input (gaussian noise N(0, p), or a ratio r of pixels set to 0) and scores the
reconstruction of the clean image with L = lambda_re * MSE + lambda_pe * MSE(features), the perceptual
term from a frozen feature network (:mod:`latentlab.models.features`). The corruption is a layer that
acts only in training (``keras.random``, like Keras's own noise layers), and the loss is a
``compute_loss`` override: both ``keras.ops`` only, so every backend trains it.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from latentlab.batching import map_batches, predict
from latentlab.errors import ParameterError
from latentlab.models.training import compile_options, fit

NOISE_TYPES = ("gaussian", "drop")
#: The paper's all_scores.csv names: 'normal' is the gaussian noise; we read 'white' as its other noise
#: type, pixels set to 0 (the paper's text names only these two).
PAPER_NOISE_NAMES = {"normal": "gaussian", "white": "drop"}


def corrupt(x, kind: str, level: float, seed=None):
    """Corrupted images: ``gaussian`` adds N(0, level) noise (level = standard deviation), ``drop`` sets
    a random fraction ``level`` of pixels (all channels) to 0. ``x`` (n, h, w, c); ``seed`` an int or a
    ``keras.random.SeedGenerator``."""
    kind = PAPER_NOISE_NAMES.get(kind, kind)
    if kind not in NOISE_TYPES:
        raise ParameterError(f"noise {kind!r}: choose one of {NOISE_TYPES} (the paper's 'normal' / 'white').")
    if not 0 <= level <= (1 if kind == "drop" else np.inf):
        raise ParameterError(f"noise level {level}: a standard deviation >= 0, or a drop ratio in [0, 1].")
    if level == 0:
        return x
    if kind == "gaussian":
        return x + keras.random.normal(ops.shape(x), stddev=level, dtype=x.dtype, seed=seed)
    shape = ops.shape(x)
    keep = keras.random.uniform((shape[0], shape[1], shape[2], 1), dtype=x.dtype, seed=seed) >= level
    return x * ops.cast(keep, x.dtype)


@keras.saving.register_keras_serializable(package="latentlab")
class Corruption(layers.Layer):
    """:func:`corrupt` during training, the identity otherwise."""

    def __init__(self, kind: str = "gaussian", level: float = 0.2, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        corrupt(np.zeros((1, 1, 1, 1), np.float32), kind, level)  # validates the arguments
        self.kind, self.level, self.seed = PAPER_NOISE_NAMES.get(kind, kind), float(level), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        return corrupt(x, self.kind, self.level, self.seed_generator) if training else x

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "level": self.level, "seed": self.seed}


class DenoisingAutoencoder(keras.Model):
    """``encoder`` ((n, 64, 64, 3) -> (n, d)) and ``decoder`` ((n, d) -> (n, 64, 64, 3) in [0, 1]) behind a
    :class:`Corruption`, trained with lambda_re * MSE + lambda_pe * perceptual MSE."""

    def __init__(self, encoder, decoder, corruption, features=None, lambda_re=1.0, lambda_pe=0.0, **kwargs):
        super().__init__(**kwargs)
        if lambda_pe > 0 and features is None:
            raise ParameterError(
                f"lambda_pe={lambda_pe} needs a feature network (latentlab.experiments.perceptual.perceptual_features)."
            )
        if lambda_re < 0 or lambda_pe < 0 or lambda_re + lambda_pe == 0:
            raise ParameterError(f"(lambda_re, lambda_pe) = ({lambda_re}, {lambda_pe}): both >= 0, not both 0.")
        self.encoder, self.decoder, self.corruption = encoder, decoder, corruption
        self.features = features if lambda_pe > 0 else None
        self.lambda_re, self.lambda_pe = float(lambda_re), float(lambda_pe)

    def call(self, x, training=False):
        return self.decoder(self.encoder(self.corruption(x, training=training), training=training), training=training)

    def loss_terms(self, y, y_pred):
        """(L_re, L_pe) of a batch: pixel MSE and feature MSE (0 without a feature network)."""
        re = ops.mean(ops.square(y - y_pred))
        if self.features is None:
            return re, ops.zeros_like(re)
        return re, ops.mean(ops.square(self.features(y, training=False) - self.features(y_pred, training=False)))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        re, pe = self.loss_terms(y, y_pred)
        loss = self.lambda_re * re + (self.lambda_pe * pe if self.features is not None else 0.0)
        return loss + sum(self.losses) if self.losses else loss


def build_denoising_autoencoder(
    latent_dim: int = 2,
    channels: int = 64,
    dense: int = 128,
    *,
    noise: str = "gaussian",
    noise_level: float = 0.2,
    lambda_re: float = 1.0,
    lambda_pe: float = 0.0,
    features=None,
    learning_rate: float = 1e-3,
    image_shape=(64, 64, 3),
    seed: int | None = None,
    name: str | None = None,
):
    """A compiled :class:`DenoisingAutoencoder`. Encoder: three stride-2 convs with ``channels // 4,
    channels // 2, channels`` filters (``channels`` is the paper's "largest Conv2d out channels"), flatten,
    Dense(``dense``), Dense(``latent_dim``). Decoder: Dense(``dense``), Dense, then three stride-2
    transposed convs with half the encoder's filters, and a sigmoid conv to the image. The hidden dense
    layers are leaky ReLUs: with plain ReLUs a perceptual-only model sometimes never left the
    "plain background" solution (all codes equal; seen in 1 of 2 seeds at 30 epochs). ``seed`` fixes
    the initial weights and the noise, whatever else ran before."""
    if latent_dim < 1 or channels < 8 or dense < 1:
        raise ParameterError(f"latent_dim={latent_dim}, channels={channels}, dense={dense}: need >= 1, >= 8, >= 1.")
    h_, w_, c_ = image_shape
    if h_ % 8 or w_ % 8:
        raise ParameterError(f"image_shape={image_shape}: height and width must be multiples of 8.")
    layer_seeds = iter(range(1000 * (seed or 0), 1000 * (seed or 0) + 100))

    def init():
        return keras.initializers.GlorotUniform(seed=None if seed is None else next(layer_seeds))

    x = keras.Input(image_shape)
    h = x
    for f in (channels // 4, channels // 2, channels):
        h = layers.Conv2D(f, 4, strides=2, padding="same", activation="relu", kernel_initializer=init())(h)
    h = layers.Dense(dense, activation="leaky_relu", kernel_initializer=init())(layers.Flatten()(h))
    encoder = keras.Model(x, layers.Dense(latent_dim, kernel_initializer=init(), name="code")(h), name="encoder")

    z = keras.Input((latent_dim,))
    dec = (channels // 2, channels // 4, channels // 8)
    h = layers.Dense(dense, activation="leaky_relu", kernel_initializer=init())(z)
    h = layers.Dense(h_ // 8 * w_ // 8 * dec[0], activation="leaky_relu", kernel_initializer=init())(h)
    h = layers.Reshape((h_ // 8, w_ // 8, dec[0]))(h)
    for f in dec:
        h = layers.Conv2DTranspose(
            max(f, 4), 4, strides=2, padding="same", activation="relu", kernel_initializer=init()
        )(h)
    out = layers.Conv2D(c_, 3, padding="same", activation="sigmoid", kernel_initializer=init())(h)
    decoder = keras.Model(z, out, name="decoder")

    noise = PAPER_NOISE_NAMES.get(noise, noise)
    name = name or f"dae_z{latent_dim}_c{channels}_{noise}{noise_level:g}_re{lambda_re:g}_pe{lambda_pe:g}"
    model = DenoisingAutoencoder(
        encoder, decoder, Corruption(noise, noise_level, seed), features, lambda_re, lambda_pe, name=name
    )
    model(np.zeros((1, *image_shape), np.float32))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), **conv_compile_options())
    return model


def conv_compile_options() -> dict:
    """``training.compile_options`` without XLA: XLA's CPU convolutions train this model ~10x slower
    than TensorFlow's oneDNN kernels (measured: 31 s vs 3 s an epoch on 2 cores)."""
    return {**compile_options(), "jit_compile": False}


def to_unit(images) -> np.ndarray:
    """(n, 64, 64, 3) uint8 -> float32 in [0, 1], the model's input."""
    return np.asarray(images, np.float32) / 255.0


def loss_parts(model: DenoisingAutoencoder, images, features=None, batch_size: int = 256) -> dict[str, float]:
    """Mean pixel MSE (``mse``) and feature MSE (``perceptual``) of the model's reconstructions of clean
    ``images`` in [0, 1]. The features are the model's own, or ``features`` (so that models trained
    without a perceptual term can be scored on it too); without either, only ``mse``."""
    features = model.features if features is None else features

    def per_image(xb):
        out = model(xb, training=False)
        parts = {"mse": ops.mean(ops.square(xb - out), axis=(1, 2, 3))}
        if features is not None:
            diff = ops.square(features(xb, training=False) - features(out, training=False))
            parts["perceptual"] = ops.mean(ops.reshape(diff, (ops.shape(xb)[0], -1)), axis=1)
        return parts

    return {
        k: float(v.mean())
        for k, v in map_batches(per_image, np.asarray(images, np.float32), batch_size=batch_size).items()
    }


def encode(model: DenoisingAutoencoder, images, batch_size: int = 256) -> np.ndarray:
    """Codes of clean images (n, 64, 64, 3) in [0, 1]: (n, d) float32."""
    return predict(model.encoder, np.asarray(images, np.float32), batch_size)


def decode(model: DenoisingAutoencoder, codes, batch_size: int = 256) -> np.ndarray:
    """Images (n, 64, 64, 3) in [0, 1] decoded from codes (n, d)."""
    return predict(model.decoder, np.asarray(codes, np.float32), batch_size)


def train_dae(images, *, epochs: int, batch_size: int = 16, checkpoint_dir=None, verbose=0, **build):
    """Build (``build``: arguments of :func:`build_denoising_autoencoder`) and train a denoising AE on
    clean ``images`` (n, 64, 64, 3) in [0, 1] with ``models.fit`` (resumable from ``checkpoint_dir``).
    Returns the model and its loss history."""
    model = build_denoising_autoencoder(**build)
    history = fit(
        model,
        np.asarray(images, np.float32),
        epochs=epochs,
        batch_size=batch_size,
        checkpoint_dir=checkpoint_dir,
        verbose=verbose,
    )
    return model, history
