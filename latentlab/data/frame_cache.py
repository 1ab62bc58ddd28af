"""Images decoded once and kept on disk, read back a batch at a time, so memory is bounded by the batch.

A :class:`FrameCache` is one ``.npy`` file of uint8 items, ``(n, *item_shape)`` (for ATD-12K: ``(n, 3, 256, 256,
3)``, the three frames of n triplets), and a small JSON file beside it that says what the items are (its
``key``). :meth:`FrameCache.build` writes both from a stream of batches, atomically: the data file first, then
the JSON, so a cache whose JSON is there is complete. :meth:`FrameCache.open` checks the key, the header and the
file's length before it trusts the file. :meth:`FrameCache.read` reads the rows asked for with plain file reads
(no memory map, whose pages would count in the process's resident memory once touched), and
:meth:`FrameCache.batches` walks rows in batches with a progress bar. Where code wants an array of every item (to
index, to ``fit`` on), :meth:`FrameCache.array` maps the file read-only instead: the pages it reads are page cache
the kernel can drop, not the process's anonymous memory.

:class:`CropBatches` streams random crops of cached images to ``fit`` (a ``keras.utils.PyDataset``, which
:meth:`CropBatches.stream` hands to TensorFlow through ``tf.data``): how a model trains on the frames of a dataset
that does not fit in memory.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import keras
import numpy as np

from latentlab.batching import LazyRows, steady
from latentlab.errors import DataFormatError, ParameterError
from latentlab.io import atomic_path, write_json


def _rows(rows: Any, n: int) -> np.ndarray:
    """Row indices as a 1-d int64 array, each in [0, n)."""
    if isinstance(rows, slice):
        return np.arange(n)[rows]
    idx = np.asarray(rows)
    if idx.ndim == 1 and idx.size == 0:
        return np.zeros(0, np.int64)
    if idx.dtype == bool or not np.issubdtype(idx.dtype, np.integer) or idx.ndim != 1:
        raise ParameterError(f"rows {rows!r}: give a slice or a 1-d list of whole row numbers.")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ParameterError(f"rows span [{idx.min()}, {idx.max()}] but the cache holds {n} items (0 to {n - 1}).")
    return idx.astype(np.int64)


class FrameCache:
    """uint8 items ``(n, *item_shape)`` in one ``.npy`` file at :attr:`path`, described by its JSON :attr:`key`."""

    def __init__(self, path: Path, shape: tuple[int, ...], offset: int, key: dict, notes: dict | None = None) -> None:
        self.path, self.shape, self.offset, self.key = Path(path), tuple(shape), int(offset), key
        self.notes = {} if notes is None else notes  # what the builder recorded beside the items (read back as is)
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64))

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"FrameCache({self.path}, shape={self.shape})"

    @property
    def item_shape(self) -> tuple[int, ...]:
        return self.shape[1:]

    @staticmethod
    def _meta_path(path: Path) -> Path:
        return Path(path).with_suffix(".json")

    @classmethod
    def open(cls, path: str | Path, key: dict) -> FrameCache | None:
        """The cache at ``path`` if it is complete and holds what ``key`` describes; None if there is none or it
        holds something else (another key, a damaged or truncated file: it is then rebuilt, never trusted)."""
        path = Path(path)
        meta = cls._meta_path(path)
        if not (path.is_file() and meta.is_file()):
            return None
        try:
            saved = json.loads(meta.read_text())
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                read_header = (
                    np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(f)
                offset = f.tell()
        except (OSError, ValueError, json.JSONDecodeError):
            return None
        expected = offset + int(np.prod(shape, dtype=np.int64))
        if (
            saved.get("key") != key
            or tuple(saved.get("shape", ())) != tuple(shape)
            or dtype != np.uint8
            or fortran
            or path.stat().st_size != expected
        ):
            return None
        notes = saved.get("notes", {})
        return cls(path, tuple(shape), offset, key, notes if isinstance(notes, dict) else {})

    @classmethod
    def build(
        cls,
        path: str | Path,
        shape: tuple[int, ...],
        batches: Iterable[np.ndarray],
        key: dict,
        notes: dict | None = None,
    ) -> FrameCache:
        """Write the items of ``batches`` (uint8 arrays whose lengths add up to ``shape[0]``, each item of
        ``shape[1:]``) to ``path``, then the JSON that makes it valid, with ``notes`` (JSON values: what a reader
        should know beside the items, such as the images left out; :attr:`notes` when opened). Memory: one batch."""
        path, shape = Path(path), tuple(int(s) for s in shape)
        if not shape or shape[0] < 1 or any(s < 1 for s in shape):
            raise ParameterError(f"shape {shape}: a cache holds at least one item of a non-empty shape.")
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False, "shape": shape}
        with atomic_path(path, suffix=".npy") as tmp:
            with open(tmp, "wb") as f:  # plain writes, no memory map: memory stays at one batch
                np.lib.format.write_array_header_1_0(f, header)
                done = 0
                for batch in batches:
                    batch = np.asarray(batch)
                    if batch.dtype != np.uint8 or batch.shape[1:] != shape[1:] or done + len(batch) > shape[0]:
                        raise DataFormatError(
                            f"a batch of {batch.dtype} {batch.shape} does not fit a cache of uint8 {shape} "
                            f"at item {done}; this is a bug in the code that reads the images."
                        )
                    f.write(memoryview(np.ascontiguousarray(batch)).cast("B"))
                    done += len(batch)
            if done != shape[0]:
                raise DataFormatError(f"the batches held {done} items, not the {shape[0]} the cache was made for.")
        write_json(cls._meta_path(path), {"key": key, "shape": list(shape), "notes": notes or {}})
        opened = cls.open(path, key)
        if opened is None:  # pragma: no cover - only if the file changed under us
            raise DataFormatError(f"{path} could not be read back after writing it; check the disk.")
        return opened

    def read(self, rows: Any) -> np.ndarray:
        """Items ``rows`` (a slice or a list of row numbers) as a uint8 array ``(len(rows), *item_shape)``, read
        from the file (consecutive rows in one read)."""
        idx = _rows(rows, len(self))
        out = np.empty((len(idx), *self.item_shape), np.uint8)
        flat = out.reshape(len(idx), -1)
        with open(self.path, "rb") as f:
            start = 0
            while start < len(idx):
                stop = start + 1
                while stop < len(idx) and idx[stop] == idx[stop - 1] + 1:
                    stop += 1
                f.seek(self.offset + int(idx[start]) * self.row_bytes)
                got = f.readinto(memoryview(flat[start:stop]).cast("B"))
                if got != (stop - start) * self.row_bytes:
                    raise DataFormatError(f"{self.path} is shorter than its header says; delete it to rebuild it.")
                start = stop
        return out

    def rows(self, rows: Any = slice(None)) -> CacheRows:
        """Items ``rows`` (a slice or a list of row numbers) as :class:`CacheRows`: read from the file when they are
        indexed, never mapped, so what training or encoding reads does not stay in the process's memory."""
        return CacheRows(self, _rows(rows, len(self)))

    def array(self) -> np.ndarray:
        """Every item, ``(n, *item_shape)`` uint8, as a read-only memory map of the file: nothing is read until it is
        used, and what is read is page cache, which counts in the process's RSS while mapped but not in its anonymous
        memory, and which the kernel can drop under pressure. For an array too large to hold beside a model
        (notebook 05's 50,000 faces of ``full``: 614 MB)."""
        mapped = np.load(self.path, mmap_mode="r")
        if mapped.shape != self.shape or mapped.dtype != np.uint8:
            raise DataFormatError(f"{self.path} changed since it was opened; delete it to rebuild it.")
        return mapped

    def batches(
        self, rows: Any = slice(None), batch_size: int = 32, progress: str | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(row numbers, items)`` for consecutive batches of ``rows``; ``progress`` names a progress bar."""
        from latentlab.batching import batch_slices

        idx = _rows(rows, len(self))
        slices = list(batch_slices(len(idx), batch_size))
        if progress:
            from tqdm.auto import tqdm

            slices = tqdm(slices, desc=progress, unit="batch", leave=False)
        for s in slices:
            yield idx[s], self.read(idx[s])

    def mean(self, rows: Any = slice(None), batch_size: int = 32) -> np.ndarray:
        """The mean item over ``rows``, float64 ``item_shape``, summed a batch at a time."""
        total, count = np.zeros(self.item_shape, np.float64), 0
        for _, items in self.batches(rows, batch_size):
            total += items.sum(0, dtype=np.float64)
            count += len(items)
        if not count:
            raise ParameterError("no rows to average; give at least one row.")
        return total / count


class CacheRows(LazyRows):
    """Rows of a :class:`FrameCache` (``index``: their row numbers), read from its file when indexed: ``rows[k]`` (an
    index, a slice, an array of positions) is :meth:`FrameCache.read` of those rows, a uint8 array. It has ``len``,
    ``shape`` and ``dtype`` as the array it stands for, so ``fit`` and ``predict`` (``from_uint8=True``) and
    ``encode_images`` take it a batch at a time. Plain reads, no memory map: the file's pages are page cache the
    kernel may keep, never the process's resident memory (notebook 02's 162,770 faces of ``full``: 2.0 GB)."""

    def __init__(self, cache: FrameCache, index: np.ndarray) -> None:
        self.cache, self.index = cache, np.asarray(index, np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def __repr__(self) -> str:
        return f"CacheRows({len(self)} of the {len(self.cache)} items of {self.cache.path})"

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.index), *self.cache.item_shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8)

    def __getitem__(self, key: Any) -> np.ndarray:
        picked = self.index[key]
        return self.cache.read(picked) if np.ndim(picked) else self.cache.read([int(picked)])[0]

    def mean(self, batch_size: int = 1024) -> np.ndarray:
        """The mean item, float64 ``item_shape``, summed a batch at a time (:meth:`FrameCache.mean`)."""
        return self.cache.mean(self.index, batch_size)


def key_digest(parts: Iterable[Any]) -> str:
    """A short sha256 of the ``repr`` of ``parts``: a cache key for a long list (file names, sizes, times)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode())
    return h.hexdigest()[:16]


def _crops(n_images: int, n_crops: int, extent: tuple[int, int], size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Which image each of ``n_crops`` crops comes from (every image equally often, give or take one) and its
    top-left corner, (n_crops,) and (n_crops, 2), drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    reps, extra = divmod(n_crops, n_images)
    image = np.sort(np.concatenate([np.repeat(np.arange(n_images), reps), rng.choice(n_images, extra, replace=False)]))
    h, w = extent
    return image, np.stack([rng.integers(0, h - size + 1, n_crops), rng.integers(0, w - size + 1, n_crops)], -1)


class CropBatches(keras.utils.PyDataset):
    """Random ``size`` x ``size`` crops of the images of cache ``rows``, as ``(x, x)`` batches for ``fit``: an item
    holding several images, (k, H, W, c), gives k images. ``n_crops`` crops per epoch, spread evenly over the
    images (None: one per image), so the cost of an epoch is set apart from the number of images. ``transform``
    maps the uint8 crops to the model's input. Which image each crop comes from, and where, is drawn once from
    ``seed``; the order is reshuffled every epoch, from ``seed`` too. :attr:`n_samples` and :attr:`fingerprint`
    are what ``latentlab.models.fit`` asks of a stream."""

    def __init__(
        self,
        cache: FrameCache,
        rows: Any,
        size: int,
        n_crops: int | None,
        batch_size: int,
        seed: int,
        transform: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        super().__init__()
        for name, value in (("size", size), ("n_crops", 1 if n_crops is None else n_crops), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"{name}={value!r}: give a whole number >= 1.")
        self.cache, self.rows = cache, _rows(rows, len(cache))
        if not len(self.rows):
            raise ParameterError("no images to crop: give at least one row.")
        item = cache.item_shape
        self.k = item[0] if len(item) == 4 else 1  # images per item
        self.image_shape = item[-3:]
        if size > min(self.image_shape[:2]):
            raise ParameterError(f"crop {size} is larger than the images ({item[-3]}x{item[-2]}).")
        self.size, self.n_crops, self.batch_size = int(size), n_crops, int(batch_size)
        self.seed, self.transform, self.epoch = int(seed), transform, 0
        n_images = len(self.rows) * self.k
        self.image, self.pos = _crops(
            n_images, n_images if n_crops is None else int(n_crops), self.image_shape[:2], self.size, self.seed
        )
        self.order = self._order()
        self.n_samples = len(self.pos)
        self.fingerprint = key_digest(
            [cache.key, self.rows.tolist(), self.image.tolist(), self.pos.tolist(), self.seed]
        )

    def _order(self) -> np.ndarray:
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.pos))

    def __len__(self) -> int:
        return math.ceil(len(self.pos) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        crops = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.image[crops]  # image i is image i % k of item rows[i // k]
        items, where = np.unique(images // self.k, return_inverse=True)
        read = self.cache.read(self.rows[items]).reshape(len(items), self.k, *self.image_shape)
        s = self.size
        cut = [
            read[w, i % self.k, top : top + s, left : left + s]
            for w, i, (top, left) in zip(where, images, self.pos[crops])
        ]
        x = self.transform(np.stack(cut))
        return x, x

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self._order()

    def stream(self) -> Any:
        """What to give ``fit``: on TensorFlow, a ``tf.data`` pipeline that calls :meth:`__getitem__` for each batch
        in turn and reshuffles when a new epoch starts (Keras feeds a ``PyDataset`` to TensorFlow through
        ``from_generator``, which on 2 cores made each epoch 2-4x slower, with as much system time as compute);
        on other backends the ``PyDataset`` itself."""
        if keras.backend.backend() != "tensorflow":
            return self
        import tensorflow as tf

        started = [False]

        def load(index: np.int64) -> np.ndarray:
            if index == 0 and started[0]:  # the first batch of a new epoch
                self.on_epoch_end()
            started[0] = True
            return np.asarray(self[int(index)][0], np.float32)

        shape = [None, self.size, self.size, self.image_shape[-1]]

        def batch(index: Any) -> tuple[Any, Any]:
            x = tf.ensure_shape(tf.numpy_function(load, [index], tf.float32, stateful=True), shape)
            return x, x

        return steady(tf.data.Dataset.range(len(self)).map(batch).prefetch(2))

    def restarted(self) -> CropBatches:
        """The same crops from their first epoch's order: for a second ``fit`` that must not depend on how many
        epochs the first one ran (or resumed from a checkpoint)."""
        return self.at_epoch(0)

    def at_epoch(self, epoch: int) -> CropBatches:
        """The same crops in the order of epoch ``epoch`` (0: the first): for a ``fit`` that starts at that epoch,
        e.g. one resumed from a checkpoint, so that it sees the batches an uninterrupted run would."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ParameterError(f"epoch={epoch!r}: give a whole number >= 0.")
        again = CropBatches(self.cache, self.rows, self.size, self.n_crops, self.batch_size, self.seed, self.transform)
        again.epoch = int(epoch)
        again.order = again._order()
        return again
