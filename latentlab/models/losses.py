"""Reconstruction losses of the MNIST paper (section 2.3.3), in ``keras.ops`` so every backend runs them.

For a flat input X in R^d and reconstruction F(X):
    E1 mean squared error      (1/d) sum_i (F(X)_i - X_i)^2
    E2 binary cross-entropy    -sum_i X_i log F(X)_i + (1 - X_i) log(1 - F(X)_i)   (Keras averages over d)
    E3 squared Euclidean       ||F(X) - X||^2  (= d * E1)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from latentlab.errors import ParameterError


def _flat(x: Any) -> Any:
    return ops.reshape(x, (ops.shape(x)[0], -1))


@keras.saving.register_keras_serializable(package="latentlab")
def mean_squared_error(y_true: Any, y_pred: Any) -> Any:
    """E1 per sample: mean over pixels of the squared difference."""
    return ops.mean(ops.square(_flat(y_pred) - _flat(y_true)), axis=-1)


@keras.saving.register_keras_serializable(package="latentlab")
def binary_crossentropy(y_true: Any, y_pred: Any) -> Any:
    """E2 per sample, averaged over pixels as Keras does (divide the paper's sum by d)."""
    eps = keras.config.epsilon()
    p = ops.clip(_flat(y_pred), eps, 1.0 - eps)
    t = _flat(y_true)
    return -ops.mean(t * ops.log(p) + (1.0 - t) * ops.log(1.0 - p), axis=-1)


@keras.saving.register_keras_serializable(package="latentlab")
def euclidean_distance_loss(y_true: Any, y_pred: Any) -> Any:
    """E3 per sample: the squared Euclidean distance ||F(X) - X||^2 (not averaged)."""
    return ops.sum(ops.square(_flat(y_pred) - _flat(y_true)), axis=-1)


LOSSES = {"mse": mean_squared_error, "bce": binary_crossentropy, "euclidean": euclidean_distance_loss}


def get_loss(name: str) -> Callable[[Any, Any], Any]:
    """The loss function called ``name`` (``mse``, ``bce`` or ``euclidean``)."""
    if not isinstance(name, str) or name not in LOSSES:
        raise ParameterError(f"Unknown loss {name!r}; choose one of {', '.join(LOSSES)}.")
    return LOSSES[name]
