"""Dense autoencoders of the MNIST paper (section 2.3.1): 784 -> hidden layers -> 784, a 32-d code.

``ARCHITECTURES[n]`` lists the widths of the n hidden layers; the narrowest one is the code. The
autoencoder is a functional model whose ``.encoder`` and ``.decoder`` are models of their own, so
the code space can be sampled and decoded directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

from latentlab.errors import ParameterError
from latentlab.models.losses import get_loss
from latentlab.models.training import compile_options

ARCHITECTURES: dict[int, tuple[int, ...]] = {
    1: (32,),
    5: (512, 128, 32, 128, 512),
    9: (512, 256, 128, 64, 32, 64, 128, 256, 512),
}


def build_dense_autoencoder(
    hidden: int | Sequence[int] = 9,
    input_dim: int = 784,
    loss: str = "bce",
    learning_rate: float = 1e-3,
    name: str | None = None,
) -> keras.Model:
    """A compiled dense autoencoder on flat inputs in [0, 1] (ReLU hidden layers, sigmoid output).

    ``hidden`` is a key of :data:`ARCHITECTURES` (1, 5 or 9) or the list of hidden widths; the
    narrowest layer is the code. Returns the autoencoder, with ``.encoder`` ((n, 784) -> (n, code))
    and ``.decoder`` ((n, code) -> (n, 784)) attached.
    """
    if isinstance(hidden, bool):
        widths = None
    elif isinstance(hidden, (int, np.integer)):
        widths = ARCHITECTURES.get(int(hidden))
    elif isinstance(hidden, (tuple, list)):
        widths = tuple(hidden)
    else:
        widths = None
    if not widths or any(isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1 for w in widths):
        raise ParameterError(
            f"hidden={hidden!r}: give 1, 5 or 9 (the paper's architectures) or a list of positive widths "
            "(whole numbers)."
        )
    widths = tuple(int(w) for w in widths)
    if isinstance(input_dim, bool) or not isinstance(input_dim, (int, np.integer)) or input_dim < 1:
        raise ParameterError(f"input_dim={input_dim!r}: give the number of inputs, a whole number >= 1 (784).")
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or not learning_rate > 0:
        raise ParameterError(f"learning_rate={learning_rate!r}: give a number > 0, e.g. 1e-3.")
    code_at = min(range(len(widths)), key=lambda i: (widths[i], i))
    code_dim = widths[code_at]
    name = name or f"dense_ae_{len(widths)}"

    x_in = keras.Input((input_dim,), name="image")
    h = x_in
    for i, w in enumerate(widths[:code_at]):
        h = layers.Dense(w, activation="relu", name=f"enc_{i}")(h)
    code = layers.Dense(code_dim, activation="relu", name="code")(h)
    encoder = keras.Model(x_in, code, name="encoder")

    z_in = keras.Input((code_dim,), name="z")
    h = z_in
    for i, w in enumerate(widths[code_at + 1 :]):
        h = layers.Dense(w, activation="relu", name=f"dec_{i}")(h)
    out = layers.Dense(input_dim, activation="sigmoid", name="reconstruction")(h)
    decoder = keras.Model(z_in, out, name="decoder")

    x = keras.Input((input_dim,), name="input")
    autoencoder = keras.Model(x, decoder(encoder(x)), name=name)
    autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=get_loss(loss), **compile_options())
    autoencoder.encoder, autoencoder.decoder = encoder, decoder
    return autoencoder
