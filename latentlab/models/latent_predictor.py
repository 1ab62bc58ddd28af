"""A model that predicts the latent of a triplet's middle frame from the latents of frames 1 and 3: the model the
ATD-12K paper (paper 003) proposed as future work, since the latent midpoint decodes to a poor frame 2.

It starts from the midpoint and learns only a correction: ``z2 = (z1 + z3) / 2 + r(z1, z3)``, ``r`` a few 3x3
convolutions whose last one is initialised to zero, so the untrained model is exactly the midpoint and training
can only move away from it where the data asks. ``keras.layers`` and ``keras.ops`` only, so every backend runs it.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from latentlab.errors import ParameterError

#: Dilation of each hidden 3x3 convolution of the residual: a receptive field of 15 latent pixels (120 image
#: pixels through SD's VAE) for the motion between frames 1 and 3.
DILATIONS = (1, 2, 4)


def _whole(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= 1


def build_middle_latent_predictor(
    latent_shape: tuple[int, int, int], width: int = 32, name: str = "middle_latent_predictor"
) -> keras.Model:
    """An uncompiled model from the latents of frames 1 and 3 concatenated on channels, (n, h, w, 2c) NHWC, to
    the predicted latent of frame 2, (n, h, w, c): their midpoint plus a residual of ``width``-filter 3x3
    convolutions (SiLU) whose zero-initialised last layer makes the untrained model return exactly the midpoint.
    ``latent_shape`` is one latent's (h, w, c), e.g. (32, 32, 4) for 256 x 256 frames through SD's VAE."""
    shape = tuple(latent_shape) if isinstance(latent_shape, (tuple, list)) else ()
    if len(shape) != 3 or not all(_whole(s) for s in shape):
        raise ParameterError(
            f"latent_shape={latent_shape!r}: give one latent's (height, width, channels), whole numbers >= 1, "
            "e.g. (32, 32, 4)."
        )
    if not _whole(width):
        raise ParameterError(f"width={width!r}: give the number of filters of the hidden convolutions, >= 1.")
    h, w, c = (int(s) for s in shape)
    pair = keras.Input((h, w, 2 * c), name="latents_1_and_3")
    midpoint = ops.divide(ops.add(pair[..., :c], pair[..., c:]), 2.0)
    r = pair
    for i, rate in enumerate(DILATIONS):
        r = layers.Conv2D(int(width), 3, padding="same", dilation_rate=rate, activation="silu", name=f"conv{i}")(r)
    r = layers.Conv2D(c, 3, padding="same", kernel_initializer="zeros", bias_initializer="zeros", name="residual")(r)
    return keras.Model(pair, layers.Add(name="latent_2")([midpoint, r]), name=name)
