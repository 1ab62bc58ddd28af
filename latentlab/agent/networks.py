"""The networks of Ganin's interpolation agent (sections 3, 4.1, 4.3): policy, transformer, value, discriminator.

The policy pi(a | s; s_goal) looks at the current image and the goal and emits a Gaussian action (mean, log
standard deviation) and the logit of a Bernoulli STOP unit. The transformer T(s, a), a small U-Net, turns the
action into a transformation of the image: a flow field for warping (MNIST), plus affine recolouring and
blending with direct synthesis (faces). The value network (the policy's trunk with one output) is the
REINFORCE baseline; the discriminator scores realism. All four are functional Keras models.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
from keras import layers, ops

from latentlab.agent.transformations import blend, recolor, warp
from latentlab.errors import ParameterError

TRANSFORMATIONS = ("warp", "recolor", "blend")
#: Share of each pixel that recolouring and synthesis replace at initialisation: T starts near the identity.
INITIAL_SHARE = 1.0 / (1.0 + math.exp(3.0))
Tensor = Any  # a backend tensor (or anything keras.ops converts to one)


def _trunk(x: keras.KerasTensor, width: int, name: str) -> keras.KerasTensor:
    """The DCGAN-discriminator-like trunk of pi, V and D (paper Fig. 2a): strided convs, one dense."""
    for i, f in enumerate((width, 2 * width)):
        x = layers.Conv2D(f, 4, strides=2, padding="same", name=f"{name}_conv{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"{name}_act{i}")(x)
    x = layers.Flatten(name=f"{name}_flat")(x)
    return layers.Dense(4 * width, activation="relu", name=f"{name}_dense")(x)


def build_policy(
    image_shape: tuple[int, int, int] = (28, 28, 1),
    action_dim: int = 16,
    width: int = 16,
    stop_bias: float = -2.0,
    name: str = "policy",
) -> keras.Model:
    """pi(a | s; s_goal): inputs ``[state, goal]`` (n, h, w, c) each; outputs a dict with ``mean`` and
    ``log_std`` (n, action_dim) of the Gaussian action and ``stop_logit`` (n,) of the STOP unit (its bias
    starts at ``stop_bias``, i.e. preferring to continue)."""
    s, g = keras.Input(image_shape, name="state"), keras.Input(image_shape, name="goal")
    h = _trunk(layers.Concatenate()([s, g, s - g]), width, name)
    mean = layers.Dense(action_dim, name=f"{name}_mean")(h)
    log_std = layers.Dense(action_dim, bias_initializer=keras.initializers.Constant(-1.0), name=f"{name}_log_std")(h)
    stop = layers.Dense(1, bias_initializer=keras.initializers.Constant(stop_bias), name=f"{name}_stop")(h)
    return keras.Model(
        [s, g], {"mean": mean, "log_std": ops.clip(log_std, -5.0, 2.0), "stop_logit": stop[:, 0]}, name=name
    )


def build_value(image_shape: tuple[int, int, int] = (28, 28, 1), width: int = 16, name: str = "value") -> keras.Model:
    """V(s; s_goal), the baseline: the policy's trunk with one output. ``[state, goal]`` -> (n,)."""
    s, g = keras.Input(image_shape, name="state"), keras.Input(image_shape, name="goal")
    h = _trunk(layers.Concatenate()([s, g, s - g]), width, name)
    return keras.Model([s, g], layers.Dense(1, name=f"{name}_out")(h)[:, 0], name=name)


def build_discriminator(
    image_shape: tuple[int, int, int] = (28, 28, 1), width: int = 16, name: str = "discriminator"
) -> keras.Model:
    """D(s): (n, h, w, c) -> (n,) logit that ``s`` is a real image."""
    s = keras.Input(image_shape, name="image")
    return keras.Model(s, layers.Dense(1, name=f"{name}_out")(_trunk(s, width, name))[:, 0], name=name)


def _up(x: keras.KerasTensor, filters: int, name: str) -> keras.KerasTensor:
    """Resize-convolution: a 3x3 conv at the coarse resolution, then bilinear upsampling by 2 (no transposed
    convolution, so no checkerboard grid in what T paints)."""
    x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)(x)
    return layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up")(x)


def _share(features: keras.KerasTensor, step_share: float, name: str) -> keras.KerasTensor:
    """A mask (n, h, w, 1) in [0, step_share]: the share of each pixel a transformation replaces in one step."""
    bias = math.log(INITIAL_SHARE / (step_share - INITIAL_SHARE))  # starts at INITIAL_SHARE whatever the cap
    logits = layers.Conv2D(
        1,
        3,
        padding="same",
        kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3),
        bias_initializer=keras.initializers.Constant(bias),
        name=name,
    )(features)
    return step_share * ops.sigmoid(logits)


def build_transformer(
    image_shape: tuple[int, int, int] = (28, 28, 1),
    action_dim: int = 16,
    transformations: Sequence[str] = ("warp",),
    width: int = 16,
    max_flow: float = 3.0,
    step_share: float = 1.0,
    name: str = "transformer",
) -> keras.Model:
    """T(s, a) as a U-Net (paper Fig. 2b): inputs ``[state (n, h, w, c), action (n, action_dim)]``.

    Outputs a dict: ``flow`` (n, h, w, 2) in pixels (at most ``max_flow``) and ``flow_log_std`` (n, h, w, 2)
    for the stochastic transformer; with ``"recolor"``: ``recolor_alpha`` (n, h, w, 1), ``A`` (n, c, c),
    ``b`` (n, c); with ``"blend"``: ``blend_alpha`` (n, h, w, 1), ``direct`` (n, h, w, c). Each alpha keeps at
    least ``1 - step_share`` of every pixel, so one step can recolour or paint over at most that share of it
    (1: no limit). All transformations start near the identity. ``h`` and ``w`` must be divisible by 4.
    """
    h, w, c = image_shape
    if set(transformations) - set(TRANSFORMATIONS) or "warp" not in transformations or h % 4 or w % 4:
        raise ParameterError(
            f"transformations={tuple(transformations)}, image_shape={tuple(image_shape)}: give "
            f"'warp' plus any of {TRANSFORMATIONS[1:]}, and an image size divisible by 4."
        )
    if not 2 * INITIAL_SHARE < step_share <= 1.0:
        raise ParameterError(f"step_share={step_share}: give a share of a pixel in ({2 * INITIAL_SHARE:.2f}, 1].")
    s, a = keras.Input(image_shape, name="state"), keras.Input((action_dim,), name="action")
    e1 = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"{name}_e1")(s)
    e2 = layers.Conv2D(2 * width, 4, strides=2, padding="same", activation="relu", name=f"{name}_e2")(e1)
    e3 = layers.Conv2D(2 * width, 4, strides=2, padding="same", activation="relu", name=f"{name}_e3")(e2)
    act = layers.Reshape((h // 4, w // 4, 8))(
        layers.Dense(h // 4 * w // 4 * 8, activation="relu", name=f"{name}_action")(a)
    )
    bottleneck = layers.Conv2D(2 * width, 3, padding="same", activation="relu", name=f"{name}_mid")(
        layers.Concatenate()([e3, act])
    )
    d2 = _up(bottleneck, 2 * width, f"{name}_d2")
    d1 = _up(layers.Concatenate()([d2, e2]), width, f"{name}_d1")
    d0 = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"{name}_d0")(layers.Concatenate()([d1, e1]))
    small = keras.initializers.RandomNormal(stddev=1e-3)
    out = {
        "flow": max_flow
        * ops.tanh(layers.Conv2D(2, 3, padding="same", kernel_initializer=small, name=f"{name}_flow")(d0)),
        "flow_log_std": ops.clip(  # as pi's: a log-std running off to -inf made PG's loss -inf (cpu seed 2)
            layers.Conv2D(
                2,
                3,
                padding="same",
                kernel_initializer=small,
                bias_initializer=keras.initializers.Constant(-1.0),
                name=f"{name}_flow_log_std",
            )(d0),
            -5.0,
            2.0,
        ),
    }
    if "recolor" in transformations:
        out["recolor_alpha"] = 1.0 - _share(d0, step_share, f"{name}_recolor_alpha")
        affine = layers.Dense(c * c + c, kernel_initializer=small, name=f"{name}_affine")(
            layers.GlobalAveragePooling2D()(bottleneck)
        )
        out["A"] = ops.add(layers.Reshape((c, c))(affine[:, : c * c]), ops.eye(c))  # KerasTensor first: JAX
        out["b"] = affine[:, c * c :]
    if "blend" in transformations:
        out["blend_alpha"] = 1.0 - _share(d0, step_share, f"{name}_blend_alpha")
        out["direct"] = layers.Conv2D(c, 3, padding="same", activation="sigmoid", name=f"{name}_direct")(d0)
    return keras.Model([s, a], out, name=name)


def apply_transformations(images: Tensor, params: dict[str, Tensor], flow: Tensor | None = None) -> Tensor:
    """Apply the transformer's outputs ``params`` to ``images`` (n, h, w, c): warp by ``flow`` (default
    ``params["flow"]``), then recolour and blend when their parameters are present. Clipped to [0, 1]."""
    out = warp(images, params["flow"] if flow is None else flow)
    if "A" in params:
        out = recolor(out, params["recolor_alpha"], params["A"], params["b"])
    if "direct" in params:
        out = blend(out, params["blend_alpha"], params["direct"])
    return ops.clip(out, 0.0, 1.0)


def gaussian_log_prob(x: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """Log-density of ``x`` under N(mean, exp(log_std)^2), summed over every axis but the first: (n,)."""
    z = (x - mean) * ops.exp(-log_std)
    per_dim = -0.5 * ops.square(z) - log_std - 0.5 * math.log(2 * math.pi)
    return ops.sum(ops.reshape(per_dim, (ops.shape(per_dim)[0], -1)), axis=1)


def clipped_score_surrogate(x: Tensor, mean: Tensor, log_std: Tensor, tau: float) -> Tensor:
    """The paper's eq. 9 as a stand-in for :func:`gaussian_log_prob` in REINFORCE: a value (n,) whose gradient
    with respect to ``mean`` is the score of the log-density at ``x``, d log N / d mean, with its norm clipped to
    ``tau`` per sample, and whose gradient with respect to the standard deviation ``exp(log_std)`` is d log N /
    d std clipped the same way (the paper: "one handles the gradient w.r.t. sigma in a similar fashion").
    Only its gradient means anything; its value is not a log-density. Scores at most ``tau`` long pass
    unchanged, so a large ``tau`` gives :func:`gaussian_log_prob`'s gradient."""
    std = ops.exp(log_std)
    z = (x - mean) / std
    n = ops.shape(z)[0]

    def clip(g: Tensor) -> Tensor:
        norm = ops.sqrt(ops.sum(ops.square(ops.reshape(g, (n, -1))), axis=1))
        scale = ops.minimum(1.0, tau / ops.maximum(norm, 1e-12))
        return g * ops.reshape(scale, (-1,) + (1,) * (len(ops.shape(g)) - 1))

    d_mean, d_std = clip(z / std), clip((ops.square(z) - 1.0) / std)
    terms = ops.stop_gradient(d_mean) * mean + ops.stop_gradient(d_std) * std
    return ops.sum(ops.reshape(terms, (n, -1)), axis=1)


def bernoulli_log_prob(sample: Tensor, logit: Tensor) -> Tensor:
    """Log-probability of ``sample`` (0/1) under Bernoulli(sigmoid(logit)): (n,)."""
    return sample * ops.log_sigmoid(logit) + (1.0 - sample) * ops.log_sigmoid(-logit)


def bernoulli_entropy(logit: Tensor) -> Tensor:
    """Entropy of Bernoulli(sigmoid(logit)), elementwise."""
    p, q = ops.sigmoid(logit), ops.sigmoid(-logit)
    return -(p * ops.log_sigmoid(logit) + q * ops.log_sigmoid(-logit))
