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
from latentlab.memory import give_back


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


def unit_floats(x: np.ndarray, rows: np.ndarray | None = None, chunk: int = 1024) -> np.ndarray:
    """``x[rows]`` (default: all of ``x``) as float32, uint8 images divided by 255 (in float64, then rounded: the
    values of ``(x / 255.0).astype(np.float32)``), converted ``chunk`` rows at a time: memory holds the float32
    result and one float64 chunk, never a float64 copy of them all."""
    rows = np.arange(len(x)) if rows is None else np.asarray(rows)
    out = np.empty((len(rows), *x.shape[1:]), np.float32)
    for part in batch_slices(len(rows), chunk):
        out[part] = x[rows[part]] / 255.0 if x.dtype == np.uint8 else x[rows[part]]
    return out


class LazyRows:
    """Items read when they are indexed instead of held: the base of row sources such as a cache file's rows
    (:class:`latentlab.data.frame_cache.CacheRows`), which :func:`predict`, :func:`unit_floats`, the pipelines here
    and :func:`latentlab.models.fit` take where they take arrays. A subclass gives ``__len__``, ``shape``, ``dtype``
    and ``__getitem__`` (an index, a slice or an integer array of positions -> a numpy array of those items)."""

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def dtype(self) -> np.dtype:
        raise NotImplementedError

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        raise NotImplementedError

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[np.arange(len(self))]
        return out if dtype is None else out.astype(dtype, copy=False)


def is_uint8_images(x: Any) -> bool:
    """Whether ``x`` holds uint8 items as an array or as :class:`LazyRows` (what ``from_uint8`` takes)."""
    return isinstance(x, (np.ndarray, LazyRows)) and x.dtype == np.uint8


class ImageRows:
    """Rows of an image array read as float32 in [0, 1] when they are used: ``rows[k]`` (an index, a slice or an
    array of positions) is ``unit_floats(images, index[k])``, so a million-pair training set holds the images once
    and two index arrays, not float copies of every pair. It has ``len``, ``shape`` and ``dtype`` (float32) as
    the array it stands for, and ``np.asarray(rows)`` makes that array. :func:`latentlab.models.fit` streams it in
    batches (on TensorFlow) with the order and values that array would have had."""

    def __init__(self, images: np.ndarray, index: Any) -> None:
        images, index = np.asarray(images), np.asarray(index)
        if images.ndim < 2 or index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
            raise ParameterError(
                f"ImageRows: images of shape {images.shape} and an index of shape {index.shape} "
                f"({index.dtype}); give images (n, ...) and a 1-d integer index into them."
            )
        if len(index) and (index.min() < 0 or index.max() >= len(images)):
            raise ParameterError(
                f"ImageRows: the index holds {index.min()}..{index.max()}; give positions 0..{len(images) - 1} "
                f"of the {len(images)} images."
            )
        self.images, self.index = images, index.astype(np.int64)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.index), *self.images.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float32)

    def __getitem__(self, key: Any) -> np.ndarray:
        picked = self.index[key]
        return unit_floats(self.images, picked) if picked.ndim else unit_floats(self.images, picked[None])[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = unit_floats(self.images, self.index)
        return out if dtype is None else out.astype(dtype, copy=False)

    def __repr__(self) -> str:
        images = self.images
        return f"ImageRows({len(self)} rows of {len(images)} {images.dtype} images of shape {images.shape[1:]})"


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    try:
        from keras import ops

        return np.asarray(ops.convert_to_numpy(value))
    except (ImportError, ValueError, TypeError):
        return np.asarray(value)


def _place(out: Any, part: Any, rows: slice, n: int) -> Any:
    """Write one batch's output ``part`` (an array or tensor, or a dict / tuple / list of them, each with one row per
    item of the batch) into ``out`` at ``rows``; ``out`` (None at the first batch) is allocated (n, ...) then."""
    if isinstance(part, dict):
        return {k: _place(None if out is None else out[k], v, rows, n) for k, v in part.items()}
    if isinstance(part, (tuple, list)):
        slots = [None] * len(part) if out is None else out
        return type(part)(_place(o, v, rows, n) for o, v in zip(slots, part))
    value = np.atleast_1d(_to_numpy(part))
    if len(value) != rows.stop - rows.start:
        raise ParameterError(
            f"map_batches: fn gave {len(value)} rows for a batch of {rows.stop - rows.start} items; it must give "
            "one row per item (outputs are stacked along the first axis)."
        )
    if out is None:
        out = np.empty((n, *value.shape[1:]), value.dtype)
    out[rows] = value
    return out


def map_batches(fn: Callable[..., Any], *arrays: Any, batch_size: int = 256, progress: str | None = None) -> Any:
    """``fn(*batches)`` for consecutive batches of ``arrays`` (each of length n, indexable by slices),
    outputs (one row per item) stacked along the first axis: an array (n, ...), or a tuple / dict of them, filled
    batch by batch (no list of every batch's output beside the result). ``progress`` names a progress bar (tqdm)
    shown while the batches run. After a pass of several batches the heap's free memory is returned
    (:func:`latentlab.memory.give_back`): notebook 05's episodes of 1,000 pairs left about 250 MB there otherwise."""
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
    out = None  # written batch by batch: memory holds the result and one batch's output, never a list of them all
    for s in slices:
        out = _place(out, fn(*(a[s] for a in arrays)), s, n)
    if len(slices) > 1:  # the batches' freed temporaries go back to the system (2-3 ms), not kept in the heap
        give_back()
    return out


def predict(
    model: Callable[..., Any], x: Any, batch_size: int = 256, progress: str | None = None, from_uint8: bool = False
) -> Any:
    """``model(x, training=False)`` (a Keras model or layer) on float32 ``x`` (n, ...), ``batch_size`` items at a
    time: numpy (n, ...), or a tuple / dict of them when the model has several outputs. Items whose layout differs
    from a Keras model's input but whose size matches (images into a dense encoder) are reshaped to it.

    ``from_uint8=True`` takes uint8 images (0-255: an array, or :class:`LazyRows` such as a cache file's rows, read a
    batch at a time) and feeds each batch as float32 in [0, 1] (the values of :func:`unit_floats`), so no float copy
    of them all is made: 162,770 CelebA faces at 64 x 64 are 2.0 GB as uint8 and 8.0 GB as float32."""
    if from_uint8:
        if not is_uint8_images(x):
            raise ParameterError(
                f"predict(from_uint8=True): x is {type(x).__name__} {getattr(x, 'dtype', '')}; give uint8 images "
                "(0-255), or leave from_uint8 off for floats."
            )
        return map_batches(
            lambda b: model(_shaped(model, unit_floats(b)), training=False), x, batch_size=batch_size, progress=progress
        )
    x = _shaped(model, np.asarray(x, np.float32))
    return map_batches(lambda b: model(b, training=False), x, batch_size=batch_size, progress=progress)


def _shaped(model: Any, x: np.ndarray) -> np.ndarray:
    """``x`` reshaped to a Keras model's input layout where only the layout differs (images into a dense encoder)."""
    wanted = getattr(model, "input_shape", None)
    if (
        isinstance(wanted, tuple)
        and len(wanted) > 1
        and all(isinstance(d, int) for d in wanted[1:])
        and x.shape[1:] != wanted[1:]
        and int(np.prod(x.shape[1:])) == int(np.prod(wanted[1:]))
    ):
        x = x.reshape(len(x), *wanted[1:])
    return x


def predictor(model: Callable[..., Any], batch_size: int = 256) -> Callable[[Any], Any]:
    """``x -> predict(model, x, batch_size)``: an encoder or decoder as a plain function of arrays."""
    return lambda x: predict(model, x, batch_size)


def steady(dataset: Any) -> Any:
    """``dataset`` (a ``tf.data.Dataset``) with tf.data's autotuning and default graph rewrites turned off: buffers
    and parallelism stay as the pipeline sets them. With autotuning on, training epochs on 2 cores flipped at random
    between two speeds 1.8x apart: in the slow one the input thread and the training step ran in turn, each core
    half idle, for the same CPU time (``benchmarks/bench_autotune.py``; figures in benchmarks/README.md)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    return dataset.with_options(options)


def _numpy_rows(held: Sequence[np.ndarray], convert: bool) -> Callable[..., list[Any]]:
    """A ``tf.data`` map function: batches of row numbers (one int64 tensor per array of ``held``) -> those rows of
    each array, gathered in numpy (``tf.numpy_function``), so the arrays stay numpy arrays held once. A pipeline that
    held them as tensors (``tf.convert_to_tensor``, as Keras's own array adapter does) took about twice their size
    beside them: 49,000 faces of 64 x 64 (602 MB of uint8) cost 1,150 MB more. With ``convert``, uint8 rows come as
    float32 in [0, 1] (the values of :func:`unit_floats`); other arrays as they are."""
    import tensorflow as tf

    floats = [convert and a.dtype == np.uint8 for a in held]
    types = [tf.float32 if f else tf.as_dtype(a.dtype) for f, a in zip(floats, held)]

    def gather(*index: np.ndarray) -> list[np.ndarray]:
        return [unit_floats(a, i) if f else a[i] for a, i, f in zip(held, index, floats)]

    def rows(*index: Any) -> list[Any]:
        got = tf.numpy_function(gather, list(index), types, stateful=False)  # shapes as tf.gather's would be
        return [tf.ensure_shape(g, [i.shape[0], *a.shape[1:]]) for g, i, a in zip(got, index, held)]

    return rows


def array_batches(
    x: Any, y: Any, batch_size: int, seed: int | None = None, epoch: Any = 0, from_uint8: bool = False
) -> Any:
    """A ``tf.data`` pipeline of one epoch of ``(x, y)`` batches for ``model.fit`` on TensorFlow. With a ``seed``,
    the order is a shuffle seeded by ``(seed, epoch)``, where ``epoch`` is a number or a ``tf.Variable`` read each
    time an iterator starts (``fit`` sets it at each epoch's start), so a run resumed at epoch k sees the batches
    an uninterrupted run saw there; without a seed (validation data), items come in order. ``x`` and ``y`` are
    arrays of equal length, or tuples of them (several inputs); ``y`` may be ``x`` itself, which is then held once.
    Batches are gathered in numpy from the arrays themselves, never a tensor copy of them (:func:`_numpy_rows`),
    and the pipeline is :func:`steady`.
    With ``from_uint8``, uint8 arrays (images, 0-255) are held as they are and each batch is fed as float32 in [0, 1]
    (``x / 255`` in float64, then rounded: the values of converting the arrays first), so no float copy of the
    dataset is ever made."""
    import tensorflow as tf

    n = len(x[0] if isinstance(x, (list, tuple)) else x)
    if y is None or len(y[0] if isinstance(y, (list, tuple)) else y) != n:
        raise ParameterError(f"array_batches: give targets y of the same length as x ({n}).")
    batch_slices(n, batch_size)  # validates batch_size
    same = y is x
    x, y = (tuple(a) if isinstance(a, list) else a for a in (x, y))  # tf.data would stack a list into one tensor
    data = (x,) if same else (x, y)
    held = [a if isinstance(a, LazyRows) else np.asarray(a) for a in tf.nest.flatten(data)]  # rows read when used
    rows = _numpy_rows(held, from_uint8)

    def order(_: Any) -> Any:
        indices = tf.range(n, dtype=tf.int64)
        if seed is None:
            return indices
        key = tf.stack([tf.constant(seed, tf.int64), tf.cast(tf.convert_to_tensor(epoch), tf.int64)])
        return tf.random.experimental.stateless_shuffle(indices, seed=key)

    def gather(index: Any) -> Any:
        picked = tf.nest.pack_sequence_as(data, rows(*[index] * len(held)))
        return (picked[0], picked[0]) if same else picked

    indices = tf.data.Dataset.range(1).map(order).flat_map(lambda o: tf.data.Dataset.from_tensor_slices(o))
    batches = indices.batch(batch_size).map(gather).apply(tf.data.experimental.assert_cardinality(-(-n // batch_size)))
    return steady(batches.prefetch(2))


def array_sequence(
    x: Any, y: Any, batch_size: int, seed: int | None = None, epoch: int = 0, from_uint8: bool = False
) -> Any:
    """:func:`array_batches` for backends without ``tf.data`` (JAX, PyTorch): a ``keras.utils.PyDataset`` of one
    epoch of ``(x, y)`` batches gathered from the arrays in numpy, batch by batch, in an order shuffled by ``(seed,
    epoch)`` (``epoch`` starts at the one given and is set by :meth:`set_epoch`, which ``fit`` calls at each epoch's
    start; without a seed, in order). ``x`` and ``y`` are arrays of equal length or tuples of them; ``y`` may be ``x``.
    With ``from_uint8``, uint8 arrays are fed as float32 in [0, 1] (the values of :func:`unit_floats`) a batch at a
    time, so memory holds the uint8 images once and one float batch, never a float copy of them all."""
    import keras

    n = len(x[0] if isinstance(x, (list, tuple)) else x)
    if y is None or len(y[0] if isinstance(y, (list, tuple)) else y) != n:
        raise ParameterError(f"array_sequence: give targets y of the same length as x ({n}).")
    batch_slices(n, batch_size)  # validates batch_size
    same = y is x

    def rows(a: Any, index: np.ndarray) -> Any:
        if isinstance(a, (list, tuple)):
            return tuple(rows(b, index) for b in a)
        return unit_floats(a, index) if from_uint8 and a.dtype == np.uint8 else a[index]

    class ArraySequence(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.epoch, self._order = int(epoch), None

        def set_epoch(self, value: int) -> None:
            self.epoch, self._order = int(value), None

        def order(self) -> np.ndarray:
            if self._order is None:
                shuffled = seed is not None
                self._order = np.random.default_rng([seed, self.epoch]).permutation(n) if shuffled else np.arange(n)
            return self._order

        def __len__(self) -> int:
            return -(-n // batch_size)

        def __getitem__(self, index: int) -> tuple[Any, Any]:
            if not 0 <= index < len(self):
                raise IndexError(index)
            # sorted, so that a file's rows are read in order; the order within a batch does not change its gradient
            picked = np.sort(self.order()[index * batch_size : (index + 1) * batch_size])
            inputs = rows(x, picked)
            return inputs, inputs if same else rows(y, picked)

    return ArraySequence()


def shuffled_rows(rows: Sequence[ImageRows], batch_size: int) -> Any:
    """A ``tf.data`` pipeline of one epoch of batches of ``rows`` (:class:`ImageRows` of equal length, the inputs of
    a model trained without targets), shuffled as Keras's ``fit`` shuffles arrays: Keras's own array adapter draws
    the permutation, here over the positions, so the batches are those the float arrays would have given (same
    order, same values: each batch's images are converted as :func:`unit_floats` converts them). The image arrays
    are read where they are, as they are (uint8 stays uint8): no copy of them is made (:func:`_numpy_rows`)."""
    import tensorflow as tf
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    batch_slices(len(rows[0]) if rows else 0, batch_size)  # validates batch_size
    if not rows or any(not isinstance(r, ImageRows) or len(r) != len(rows[0]) for r in rows):
        raise ParameterError("shuffled_rows: give ImageRows of equal length, e.g. the two of make_pairs(lazy=True).")
    rows_of = _numpy_rows([r.images for r in rows], convert=True)
    positions = ArrayDataAdapter(tuple(r.index for r in rows), shuffle=True, batch_size=batch_size).get_tf_dataset()

    def read(index: Any) -> Any:  # the positions of each of rows in this batch
        return (tuple(rows_of(*index)),)

    batches = positions.map(read)
    return batches.apply(tf.data.experimental.assert_cardinality(-(-len(rows[0]) // batch_size)))
