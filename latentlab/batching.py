"""One way to run a model over many items: in batches, with memory bounded by the batch.

:func:`map_batches` applies a function (a model, an encoder, a scorer) to consecutive batches of one or more
arrays of equal length and concatenates its outputs, whatever their structure (an array, a tuple of arrays or
a dict of arrays); :func:`predict` does that for a Keras model in inference mode, and :func:`predictor` turns a
model into such a function of arrays. Every batched encode, decode and predict in latentlab goes through them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from latentlab.errors import ParameterError


def batch_slices(n: int, batch_size: int) -> Iterator[slice]:
    """``slice(i, i + batch_size)`` for i = 0, batch_size, ... covering ``range(n)``."""
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise ParameterError(f"batch_size={batch_size!r}: give a whole number >= 1, e.g. 256.")
    for i in range(0, int(n), int(batch_size)):
        yield slice(i, min(i + int(batch_size), int(n)))


def subsample(n: int, size: int | None, seed: int) -> np.ndarray:
    """Indices of a seeded random subsample of ``size`` items of ``range(n)`` (all of them when ``size`` is None
    or at least n), in increasing order: for the analyses whose cost grows faster than the number of items."""
    if isinstance(size, bool) or (size is not None and (not isinstance(size, (int, np.integer)) or size < 1)):
        raise ParameterError(f"size={size!r}: give a whole number >= 1, or None for every item.")
    if size is None or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=int(size), replace=False))


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    try:
        from keras import ops

        return np.asarray(ops.convert_to_numpy(value))
    except (ImportError, ValueError, TypeError):
        return np.asarray(value)


def _concat(parts: Sequence[Any]) -> Any:
    first = parts[0]
    if isinstance(first, dict):
        return {k: _concat([p[k] for p in parts]) for k in first}
    if isinstance(first, (tuple, list)):
        return type(first)(_concat([p[i] for p in parts]) for i in range(len(first)))
    return np.concatenate([np.atleast_1d(_to_numpy(p)) for p in parts])


def map_batches(fn: Callable[..., Any], *arrays: Any, batch_size: int = 256, progress: str | None = None) -> Any:
    """``fn(*batches)`` for consecutive batches of ``arrays`` (each of length n, indexable by slices),
    outputs concatenated along the first axis: an array (n, ...), or a tuple / dict of them. ``progress``
    names a progress bar (tqdm) shown while the batches run."""
    if not arrays:
        raise ParameterError("map_batches needs at least one array to batch.")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ParameterError(
            f"map_batches: arrays of different lengths {[len(a) for a in arrays]}; give equal lengths."
        )
    slices = list(batch_slices(n, batch_size))
    if not slices:
        raise ParameterError("map_batches: the arrays are empty; give at least one item.")
    if progress:
        from tqdm.auto import tqdm

        slices = tqdm(slices, desc=progress, unit="batch", leave=False)
    return _concat([fn(*(a[s] for a in arrays)) for s in slices])


def predict(model: Callable[..., Any], x: Any, batch_size: int = 256, progress: str | None = None) -> Any:
    """``model(x, training=False)`` (a Keras model or layer) on float32 ``x`` (n, ...), ``batch_size`` items at a
    time: numpy (n, ...), or a tuple / dict of them when the model has several outputs. Items whose layout differs
    from a Keras model's input but whose size matches (images into a dense encoder) are reshaped to it."""
    x = np.asarray(x, np.float32)
    wanted = getattr(model, "input_shape", None)
    if (
        isinstance(wanted, tuple)
        and len(wanted) > 1
        and all(isinstance(d, int) for d in wanted[1:])
        and x.shape[1:] != wanted[1:]
        and int(np.prod(x.shape[1:])) == int(np.prod(wanted[1:]))
    ):
        x = x.reshape(len(x), *wanted[1:])
    return map_batches(lambda b: model(b, training=False), x, batch_size=batch_size, progress=progress)


def predictor(model: Callable[..., Any], batch_size: int = 256) -> Callable[[Any], Any]:
    """``x -> predict(model, x, batch_size)``: an encoder or decoder as a plain function of arrays."""
    return lambda x: predict(model, x, batch_size)
