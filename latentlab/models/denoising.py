"""The denoising undercomplete autoencoder of *Surfing the manifold* (section 4): a conv encoder, two
dense layers down to a 2-d or 3-d code, and a mirrored decoder with fewer filters.

Training corrupts each input (gaussian noise N(0, p), or a ratio r of pixels set to 0) and scores the
reconstruction of the clean image with L = lambda_re * MSE + lambda_pe * MSE(features), the perceptual
term from a frozen feature network (:mod:`latentlab.models.features`). The corruption is a layer that
acts only in training (``keras.random``, like Keras's own noise layers), and the loss is a
``compute_loss`` override: both ``keras.ops`` only, so every backend trains it.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from latentlab.batching import map_batches, predict
from latentlab.errors import ParameterError
from latentlab.models.training import build_optimizers, compile_options, fit

NOISE_TYPES = ("gaussian", "drop")
#: The paper's all_scores.csv names: 'normal' is the gaussian noise; we read 'white' as its other noise
#: type, pixels set to 0 (the paper's text names only these two).
PAPER_NOISE_NAMES = {"normal": "gaussian", "white": "drop"}


def corrupt(x: Any, kind: str, level: float, seed: int | keras.random.SeedGenerator | None = None) -> Any:
    """Corrupted images: ``gaussian`` adds N(0, level) noise (level = standard deviation), ``drop`` sets
    a random fraction ``level`` of pixels (all channels) to 0. ``x`` (n, h, w, c); ``seed`` an int or a
    ``keras.random.SeedGenerator``."""
    kind = check_noise(kind, level)
    return x if level == 0 else _noisy(x, kind, level, seed)


def check_noise(kind: str, level: float) -> str:
    """The noise's kind by its own name (``gaussian`` or ``drop``), or :class:`ParameterError` for a kind or
    level :func:`corrupt` does not take."""
    if not isinstance(kind, str) or PAPER_NOISE_NAMES.get(kind, kind) not in NOISE_TYPES:
        raise ParameterError(f"noise {kind!r}: choose one of {NOISE_TYPES} (the paper's 'normal' / 'white').")
    kind = PAPER_NOISE_NAMES.get(kind, kind)
    if isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating)):
        raise ParameterError(f"noise level {level!r}: a standard deviation >= 0, or a drop ratio in [0, 1].")
    if not 0 <= level <= (1 if kind == "drop" else np.inf) or not np.isfinite(level):
        raise ParameterError(f"noise level {level}: a standard deviation >= 0, or a drop ratio in [0, 1].")
    return kind


def _noisy(x: Any, kind: str, level: Any, seed: Any) -> Any:
    """:func:`corrupt` without its checks; ``level`` may be a variable (:class:`Corruption`'s)."""
    if kind == "gaussian":  # level * N(0, 1): Keras's stddev= takes no tensor on every backend (torch)
        return x + level * keras.random.normal(ops.shape(x), dtype=x.dtype, seed=seed)
    shape = ops.shape(x)
    keep = keras.random.uniform((shape[0], shape[1], shape[2], 1), dtype=x.dtype, seed=seed) >= level
    return x * ops.cast(keep, x.dtype)


def _check_lambdas(lambda_re: Any, lambda_pe: Any) -> None:
    for name, value in (("lambda_re", lambda_re), ("lambda_pe", lambda_pe)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ParameterError(f"{name}={value!r}: give a finite number >= 0.")
        if not np.isfinite(value):
            raise ParameterError(f"{name}={value}: give a finite number >= 0.")
    if lambda_re < 0 or lambda_pe < 0 or lambda_re + lambda_pe == 0:
        raise ParameterError(f"(lambda_re, lambda_pe) = ({lambda_re}, {lambda_pe}): both >= 0, not both 0.")


@keras.saving.register_keras_serializable(package="latentlab")
class Corruption(layers.Layer):
    """:func:`corrupt` during training, the identity otherwise. Its ``level`` is a (non-trainable) variable, so
    a model set to another level trains with it without tracing its training step again."""

    def __init__(self, kind: str = "gaussian", level: float = 0.2, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind, self.seed = check_noise(kind, level), seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        constant = keras.initializers.Constant(float(level))
        self._level = self.add_weight(shape=(), initializer=constant, trainable=False, name="level")

    @property
    def level(self) -> float:
        """The noise level: the standard deviation (``gaussian``) or the fraction of pixels set to 0 (``drop``)."""
        return float(ops.convert_to_numpy(self._level))

    @level.setter
    def level(self, value: float) -> None:
        check_noise(self.kind, value)
        self._level.assign(float(value))

    def call(self, x: Any, training: bool = False) -> Any:
        return _noisy(x, self.kind, self._level, self.seed_generator) if training else x

    def get_config(self) -> dict:
        return {**super().get_config(), "kind": self.kind, "level": self.level, "seed": self.seed}


class DenoisingAutoencoder(keras.Model):
    """``encoder`` ((n, 64, 64, 3) -> (n, d)) and ``decoder`` ((n, d) -> (n, 64, 64, 3) in [0, 1]) behind a
    :class:`Corruption`, trained with lambda_re * MSE + lambda_pe * perceptual MSE. The two weights are a
    (non-trainable) variable, like the corruption's level: setting ``lambda_re`` or ``lambda_pe`` changes the
    loss without tracing the training step again (:class:`ModelPool`). Whether there is a perceptual term at
    all is fixed when the model is made (``lambda_pe > 0``)."""

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        corruption: Corruption,
        features: keras.Model | None = None,
        lambda_re: float = 1.0,
        lambda_pe: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_lambdas(lambda_re, lambda_pe)
        if lambda_pe > 0 and features is None:
            raise ParameterError(
                f"lambda_pe={lambda_pe} needs a feature network (latentlab.experiments.perceptual.perceptual_features)."
            )
        self.encoder, self.decoder, self.corruption = encoder, decoder, corruption
        self.features = features if lambda_pe > 0 else None
        constant = keras.initializers.Constant([float(lambda_re), float(lambda_pe)])
        self._lambdas = self.add_weight(shape=(2,), initializer=constant, trainable=False, name="lambdas")

    @property
    def lambda_re(self) -> float:
        """The weight of the pixel MSE in the loss."""
        return float(ops.convert_to_numpy(self._lambdas)[0])

    @lambda_re.setter
    def lambda_re(self, value: float) -> None:
        self.set_loss_weights(value, self.lambda_pe)

    @property
    def lambda_pe(self) -> float:
        """The weight of the perceptual MSE in the loss (0 for a model made without a perceptual term)."""
        return float(ops.convert_to_numpy(self._lambdas)[1])

    @lambda_pe.setter
    def lambda_pe(self, value: float) -> None:
        self.set_loss_weights(self.lambda_re, value)

    def set_loss_weights(self, lambda_re: float, lambda_pe: float) -> None:
        """Set both loss weights at once (each alone is checked with the other's current value)."""
        _check_lambdas(lambda_re, lambda_pe)
        if (lambda_pe > 0) != (self.features is not None):
            raise ParameterError(
                f"lambda_pe={lambda_pe}: this model was made {'with' if self.features is not None else 'without'} a "
                "perceptual term, which lambda_pe cannot add or remove; build another model."
            )
        self._lambdas.assign([float(lambda_re), float(lambda_pe)])

    def call(self, x: Any, training: bool = False) -> Any:
        return self.decoder(self.encoder(self.corruption(x, training=training), training=training), training=training)

    def loss_terms(self, y: Any, y_pred: Any) -> tuple[Any, Any]:
        """(L_re, L_pe) of a batch: pixel MSE and feature MSE (0 without a feature network)."""
        re = ops.mean(ops.square(y - y_pred))
        if self.features is None:
            return re, ops.zeros_like(re)
        return re, ops.mean(ops.square(self.features(y, training=False) - self.features(y_pred, training=False)))

    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> Any:
        re, pe = self.loss_terms(y, y_pred)
        loss = self._lambdas[0] * re + (self._lambdas[1] * pe if self.features is not None else 0.0)
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
    features: keras.Model | None = None,
    learning_rate: float = 1e-3,
    image_shape: tuple[int, int, int] = (64, 64, 3),
    seed: int | None = None,
    name: str | None = None,
) -> DenoisingAutoencoder:
    """A compiled :class:`DenoisingAutoencoder`. Encoder: three stride-2 convs with ``channels // 4,
    channels // 2, channels`` filters (``channels`` is the paper's "largest Conv2d out channels"), flatten,
    Dense(``dense``), Dense(``latent_dim``). Decoder: Dense(``dense``), Dense, then three stride-2
    transposed convs with half the encoder's filters, and a sigmoid conv to the image. Every hidden layer
    is a leaky ReLU: with plain ReLUs a model sometimes never left the "plain background" solution (all
    codes equal, the output one flat image): the perceptual-only model in 1 of 2 seeds at 30 epochs with
    ReLU dense layers, and the MSE model in notebook 04's ``cpu`` seed 2 with ReLU convolutions (MSE 1.5x
    the mean image's; with leaky ReLUs 0.07-0.09x on seeds 0-5). ``seed`` fixes the initial weights and
    the noise, whatever else ran before."""
    for what, value, low in (("latent_dim", latent_dim, 1), ("channels", channels, 8), ("dense", dense, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ParameterError(f"{what}={value!r}: give a whole number >= {low}.")
    shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else ()
    if len(shape) != 3 or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in shape):
        raise ParameterError(f"image_shape={image_shape!r}: give (height, width, channels), e.g. (64, 64, 3).")
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or not learning_rate > 0:
        raise ParameterError(f"learning_rate={learning_rate!r}: give a number > 0, e.g. 1e-3.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ParameterError(f"seed={seed!r}: give a whole number or None.")
    noise = check_noise(noise, noise_level)  # before any name uses it
    h_, w_, c_ = shape
    if h_ % 8 or w_ % 8:
        raise ParameterError(f"image_shape={image_shape}: height and width must be multiples of 8.")
    layer_seeds = iter(range(1000 * (seed or 0), 1000 * (seed or 0) + 100))

    def init() -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=None if seed is None else next(layer_seeds))

    x = keras.Input(image_shape)
    h = x
    for f in (channels // 4, channels // 2, channels):
        h = layers.Conv2D(f, 4, strides=2, padding="same", activation="leaky_relu", kernel_initializer=init())(h)
    h = layers.Dense(dense, activation="leaky_relu", kernel_initializer=init())(layers.Flatten()(h))
    encoder = keras.Model(x, layers.Dense(latent_dim, kernel_initializer=init(), name="code")(h), name="encoder")

    z = keras.Input((latent_dim,))
    dec = (channels // 2, channels // 4, channels // 8)
    h = layers.Dense(dense, activation="leaky_relu", kernel_initializer=init())(z)
    h = layers.Dense(h_ // 8 * w_ // 8 * dec[0], activation="leaky_relu", kernel_initializer=init())(h)
    h = layers.Reshape((h_ // 8, w_ // 8, dec[0]))(h)
    for f in dec:
        h = layers.Conv2DTranspose(
            max(f, 4), 4, strides=2, padding="same", activation="leaky_relu", kernel_initializer=init()
        )(h)
    out = layers.Conv2D(c_, 3, padding="same", activation="sigmoid", kernel_initializer=init())(h)
    decoder = keras.Model(z, out, name="decoder")

    name = name or _default_name(latent_dim, channels, noise, noise_level, lambda_re, lambda_pe)
    model = DenoisingAutoencoder(
        encoder, decoder, Corruption(noise, noise_level, seed), features, lambda_re, lambda_pe, name=name
    )
    model(np.zeros((1, *image_shape), np.float32))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), **conv_compile_options())
    return model


def _default_name(latent_dim: int, channels: int, noise: str, noise_level: float, lre: float, lpe: float) -> str:
    return f"dae_z{latent_dim}_c{channels}_{PAPER_NOISE_NAMES.get(noise, noise)}{noise_level:g}_re{lre:g}_pe{lpe:g}"


#: What :class:`ModelPool` sets on a model it made before: the rest of the arguments fix its architecture.
_POINT_SETTINGS = ("noise_level", "lambda_re", "lambda_pe", "name")


class ModelPool:
    """Denoising autoencoders made once per architecture and trained again from their start. ``pool.build(**args)``
    takes the arguments of :func:`build_denoising_autoencoder` and returns what it would, but a model the pool made
    before with the same architecture (every argument but the noise level, the loss weights and the name; and a
    perceptual term or none) comes back reset: the weights, optimizer state and noise seed it was made with, the
    settings and name asked for. So a grid search's points train one model per architecture.

    Why: a TensorFlow process keeps 50-70 MB of every model it trained after the model is gone (its weights and
    optimizer slots, held outside Python: ``benchmarks/model_retention.py``), so notebook 04's 162 grid models
    would grow the kernel by about 8 GB. A model trained again kept 1-3 MB a point. The pool keeps its models
    (one per architecture) until it is dropped; a model it returned is reset by the next ``build`` of its
    architecture."""

    def __init__(self) -> None:
        self._models: dict[tuple, tuple[DenoisingAutoencoder, list, list]] = {}

    def __len__(self) -> int:
        return len(self._models)

    def build(self, **args: Any) -> DenoisingAutoencoder:
        """:func:`build_denoising_autoencoder` (keyword arguments), or a model of the same architecture made
        before, reset."""
        try:
            bound = inspect.signature(build_denoising_autoencoder).bind(**args)
        except TypeError as err:
            raise ParameterError(f"build_denoising_autoencoder does not take these arguments ({err}).") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        key = tuple(
            (k, id(v) if k == "features" else tuple(v) if isinstance(v, list) else v)
            for k, v in values.items()
            if k not in _POINT_SETTINGS
        ) + (("perceptual", values["lambda_pe"] > 0),)
        try:
            entry = self._models.get(key)
        except TypeError:  # an unhashable argument: build_denoising_autoencoder says what is wrong with it
            return build_denoising_autoencoder(**args)
        if entry is None:
            model = build_denoising_autoencoder(**args)
            build_optimizers(model)
            start = [ops.convert_to_numpy(v) for v in model.variables]
            slots = [ops.convert_to_numpy(v) for v in model.optimizer.variables]
            self._models[key] = (model, start, [a if np.any(a) else None for a in slots])
            return model
        model, start, slots = entry
        check_noise(values["noise"], values["noise_level"])  # checked before any reset
        _check_lambdas(values["lambda_re"], values["lambda_pe"])
        for variable, value in zip(model.variables, start):
            variable.assign(value)
        for variable, value in zip(model.optimizer.variables, slots):
            variable.assign(ops.zeros(variable.shape, variable.dtype) if value is None else value)
        model.corruption.level = values["noise_level"]
        model.set_loss_weights(values["lambda_re"], values["lambda_pe"])
        model.name = values["name"] or _default_name(
            *(values[k] for k in ("latent_dim", "channels", "noise")),
            values["noise_level"],
            values["lambda_re"],
            values["lambda_pe"],
        )
        return model


def conv_compile_options() -> dict:
    """``training.compile_options`` without XLA: XLA's CPU convolutions train this model ~10x slower
    than TensorFlow's oneDNN kernels (measured: 31 s vs 3 s an epoch on 2 cores)."""
    return {**compile_options(), "jit_compile": False}


def to_unit(images: Any) -> np.ndarray:
    """(n, 64, 64, 3) uint8 -> float32 in [0, 1], the model's input. Integer images must be 0-255; float
    images must already lie in [0, 1] (they are returned as float32, not divided again)."""
    x = np.asarray(images)
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ParameterError(f"images have dtype {x.dtype}; give uint8 images (0-255).")
    if np.issubdtype(x.dtype, np.integer):
        if x.size and (x.min() < 0 or x.max() > 255):
            raise ParameterError(f"integer images hold {x.min()}..{x.max()}; give uint8 images (0-255).")
        return x.astype(np.float32) / 255.0
    return _unit_batch(x, "images", ndim=None)


def _unit_batch(x: Any, what: str, ndim: int | None = 4, shape: tuple | None = None) -> np.ndarray:
    """``x`` as float32, finite and in [0, 1] (with ``ndim`` and, when given, the model's item ``shape``)."""
    try:
        x = np.asarray(x, np.float32)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"{what} are not an array of numbers ({err}).") from None
    if ndim is not None and (x.ndim != ndim or len(x) == 0):
        raise ParameterError(f"{what} have shape {x.shape}; give a non-empty batch (n, 64, 64, 3).")
    if shape is not None and tuple(x.shape[1:]) != tuple(shape):
        raise ParameterError(f"{what} have shape {x.shape}; this model takes (n, {', '.join(map(str, shape))}).")
    if not np.isfinite(x).all():
        raise ParameterError(f"{what} contain NaN or infinite values.")
    if x.size and (x.min() < -1e-4 or x.max() > 1 + 1e-4):
        raise ParameterError(
            f"{what} lie in [{x.min():.4g}, {x.max():.4g}], not [0, 1]: convert uint8 images with to_unit(images)."
        )
    return x


def _model_images(model: DenoisingAutoencoder, images: Any) -> np.ndarray:
    return _unit_batch(images, "images", 4, model.encoder.input_shape[1:])


def loss_parts(
    model: DenoisingAutoencoder, images: Any, features: keras.Model | None = None, batch_size: int = 256
) -> dict[str, float]:
    """Mean pixel MSE (``mse``) and feature MSE (``perceptual``) of the model's reconstructions of clean
    ``images`` in [0, 1]. The features are the model's own, or ``features`` (so that models trained
    without a perceptual term can be scored on it too); without either, only ``mse``."""
    features = model.features if features is None else features
    images = _model_images(model, images)

    def per_image(xb: Any) -> dict[str, Any]:
        out = model(xb, training=False)
        parts = {"mse": ops.mean(ops.square(xb - out), axis=(1, 2, 3))}
        if features is not None:
            diff = ops.square(features(xb, training=False) - features(out, training=False))
            parts["perceptual"] = ops.mean(ops.reshape(diff, (ops.shape(xb)[0], -1)), axis=1)
        return parts

    return {k: float(v.mean()) for k, v in map_batches(per_image, images, batch_size=batch_size).items()}


def encode(model: DenoisingAutoencoder, images: Any, batch_size: int = 256) -> np.ndarray:
    """Codes of clean images (n, 64, 64, 3) in [0, 1]: (n, d) float32."""
    return predict(model.encoder, _model_images(model, images), batch_size)


def decode(model: DenoisingAutoencoder, codes: Any, batch_size: int = 256) -> np.ndarray:
    """Images (n, 64, 64, 3) in [0, 1] decoded from codes (n, d)."""
    try:
        codes = np.asarray(codes, np.float32)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"codes are not an array of numbers ({err}).") from None
    d = model.decoder.input_shape[-1]
    if codes.ndim != 2 or codes.shape[1] != d or len(codes) == 0:
        raise ParameterError(f"codes have shape {codes.shape}; this decoder takes (n, {d}).")
    if not np.isfinite(codes).all():
        raise ParameterError("codes contain NaN or infinite values; check the encoder's output.")
    return predict(model.decoder, codes, batch_size)


def train_dae(
    images: Any,
    *,
    epochs: int,
    batch_size: int = 16,
    checkpoint_dir: str | Path | None = None,
    verbose: int | str = 0,
    pool: ModelPool | None = None,
    **build: Any,
) -> tuple[DenoisingAutoencoder, dict[str, list[float]]]:
    """Build (``build``: arguments of :func:`build_denoising_autoencoder`; through ``pool``, a :class:`ModelPool`,
    when given) and train a denoising AE on clean ``images`` (n, 64, 64, 3) in [0, 1] with ``models.fit``
    (resumable from ``checkpoint_dir``). Returns the model and its loss history."""
    model = build_denoising_autoencoder(**build) if pool is None else pool.build(**build)
    images = _model_images(model, images)
    history = fit(
        model,
        images,
        epochs=epochs,
        batch_size=batch_size,
        checkpoint_dir=checkpoint_dir,
        verbose=verbose,
    )
    return model, history
