"""Notebook 03's passes of a VAE over ATD-12K, a batch of triplets at a time (ATD-12K paper, section 3: metrics
and latents; the middle-frame guesses are this project's measure of what the paper showed by eye), and the model
the paper proposed as future work: one that predicts frame 2's latent from those of frames 1 and 3.

:func:`reconstruct` encodes and decodes every frame once: it scores each reconstruction (MSE, PSNR, SSIM), writes
each triplet's latents in the paper's format as they are produced, measures the triplet's path in pixels, and keeps
the images of a few triplets for figures. :func:`guess_middle_frames` reads those latents back and guesses each
triplet's frame 2 from frames 1 and 3, in pixels and in the latent (midpoint, slerp and, given a trained
:func:`~latentlab.models.latent_predictor.build_middle_latent_predictor`, its prediction), scoring the latent
guesses against frame 2's latent too. :func:`train_middle_latent_predictor` trains that predictor, resumably, on
:class:`LatentTriplets`, a stream of the written latents. Memory is bounded by ``chunk`` triplets (or a training
batch), not by the dataset: frames come from a :class:`~latentlab.data.frame_cache.FrameCache`, latents from their
files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from latentlab.batching import steady
from latentlab.data import atd12k
from latentlab.data.frame_cache import FrameCache, key_digest
from latentlab.errors import DataFormatError, ParameterError
from latentlab.latent.paths import slerp
from latentlab.latent.triplets import path_geometry
from latentlab.metrics import image_quality
from latentlab.models.training import compile_options, fit

METRICS = ("mse", "psnr", "ssim")
#: The guesses of frame 2 that :func:`guess_middle_frames` scores, in order.
GUESSES = ("frame 1 (no motion)", "pixel average", "latent midpoint", "latent slerp")
#: The guess a trained middle-latent predictor adds, after :data:`GUESSES`.
PREDICTED = "predicted latent"
#: The guesses made in the latent, which are scored against frame 2's latent as well (:data:`LATENT_MSE`).
LATENT_GUESSES = (GUESSES[2], GUESSES[3], PREDICTED)
LATENT_MSE = "latent mse"
#: How many triplets' latents (evenly spaced) :class:`LatentTriplets` hashes into its fingerprint.
FINGERPRINT_ROWS = 16


def _check(cache: FrameCache, triplets: list[atd12k.Triplet], chunk: int) -> None:
    if len(cache) != len(triplets) or cache.item_shape[:1] != (3,):
        raise ParameterError(
            f"the frame cache holds {cache.shape}, not the 3 frames of the {len(triplets)} triplets given: build it "
            "from the same list (atd12k.cache_frames(triplets, ...))."
        )
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ParameterError(f"chunk={chunk!r}: give a whole number of triplets >= 1.")


def _unit(frames: np.ndarray) -> np.ndarray:
    return frames.astype(np.float32) / 255


@dataclasses.dataclass
class Reconstruction:
    """What :func:`reconstruct` measured. ``quality`` holds each frame's ``mse``, ``psnr`` and ``ssim`` (3n,) in
    triplet order (frame 1, 2, 3 of triplet 0, then of triplet 1, ...); ``mean_squared_error`` is the mean over
    every pixel of every frame, summed apart from ``quality`` (so the two can check each other); ``pixel_path``
    is :func:`~latentlab.latent.triplets.path_geometry` of each triplet's frames; ``kept`` maps the rows asked
    for to (frames, reconstructions), each (3, H, W, 3) in [0, 1]; ``latent_files`` lists what was written."""

    quality: dict[str, np.ndarray]
    mean_squared_error: float
    pixel_path: tuple[np.ndarray, np.ndarray]
    kept: dict[int, tuple[np.ndarray, np.ndarray]]
    latent_files: list[Path]


def reconstruct(
    vae: Any,
    cache: FrameCache,
    triplets: list[atd12k.Triplet],
    latent_dest: str | Path,
    batch_size: int = 8,
    keep: Iterable[int] = (),
    chunk: int = 16,
    progress: bool = True,
) -> Reconstruction:
    """Encode (the posterior mean) and decode every frame of ``triplets`` (whose frames ``cache`` holds, row i =
    triplet i) through ``vae`` (an :class:`~latentlab.models.AutoencoderKL`), ``chunk`` triplets at a time; see
    :class:`Reconstruction`. Latents go to ``latent_dest/<split>/<triplet>/latent{1,2,3}.npy``."""
    _check(cache, triplets, chunk)
    keep = {int(r) for r in keep}
    quality: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
    offs, coss, files, kept = [], [], [], {}
    squared, count = 0.0, 0
    for rows, frames in cache.batches(slice(None), chunk, "encode, decode, score" if progress else None):
        flat = frames.reshape(-1, *frames.shape[2:])
        z, _ = vae.encode(atd12k.to_model_range(flat), batch_size=batch_size)
        recon = atd12k.to_unit_range(vae.decode(z, batch_size=batch_size))
        truth = _unit(flat)
        for m, values in image_quality(truth, recon).items():
            quality[m].append(values)
        squared += float(np.square(truth - recon, dtype=np.float64).sum())
        count += truth.size
        files += atd12k.write_latents(latent_dest, [triplets[r] for r in rows], z.reshape(len(rows), 3, *z.shape[1:]))
        off, cos = path_geometry(frames.reshape(len(rows), 3, -1))
        offs.append(off)
        coss.append(cos)
        for i, r in enumerate(rows):
            if int(r) in keep:  # copies: a view would keep its whole chunk's frames alive (75 MB at 256 px)
                kept[int(r)] = (truth[3 * i : 3 * i + 3].copy(), recon[3 * i : 3 * i + 3].copy())
    return Reconstruction(
        {m: np.concatenate(v) for m, v in quality.items()},
        squared / count,
        (np.concatenate(offs), np.concatenate(coss)),
        kept,
        files,
    )


def guess_middle_frames(
    vae: Any,
    cache: FrameCache,
    triplets: list[atd12k.Triplet],
    rows: Iterable[int],
    latent_dest: str | Path,
    batch_size: int = 8,
    keep: Iterable[int] = (),
    chunk: int = 16,
    progress: bool = True,
    predictor: keras.Model | None = None,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[int, dict[str, np.ndarray]]]:
    """Guess frame 2 of triplets ``rows`` from frames 1 and 3 (:data:`GUESSES`: frame 1 itself, the pixel
    average, and the decoded latent midpoint and slerp of the latents :func:`reconstruct` wrote to
    ``latent_dest``; with a ``predictor`` from :func:`~latentlab.models.latent_predictor.build_middle_latent_predictor`,
    its decoded prediction too, as :data:`PREDICTED`) and score each guess against the true frame 2. Returns
    ``scores[guess][metric]`` (one value per row, guesses in that order) and, for the rows in ``keep``, every
    guess's image (H, W, 3) in [0, 1] under ``kept[row][guess]``. The metrics are ``mse``, ``psnr`` and ``ssim``
    of the image; the latent guesses (:data:`LATENT_GUESSES`) also have :data:`LATENT_MSE`, the mean squared
    difference from frame 2's latent, which the pixel guesses, having no latent, lack."""
    rows = np.asarray(list(rows), np.int64)
    _check(cache, triplets, chunk)
    if not len(rows):
        raise ParameterError("no triplets to guess the middle frame of; give at least one row.")
    keep = {int(r) for r in keep}
    names = GUESSES if predictor is None else (*GUESSES, PREDICTED)
    parts: dict[str, dict[str, list[np.ndarray]]] = {
        g: {m: [] for m in (*METRICS, LATENT_MSE) if m in METRICS or g in LATENT_GUESSES} for g in names
    }
    kept: dict[int, dict[str, np.ndarray]] = {}
    for batch, frames in cache.batches(rows, chunk, "guessing frame 2" if progress else None):
        truth = _unit(frames)
        z = atd12k.read_triplet_latents(latent_dest, [triplets[r] for r in batch])
        z1, z2, z3 = (z[:, j].reshape(len(z), -1) for j in range(3))

        def decode(codes: np.ndarray, shape: tuple[int, ...] = z.shape[2:]) -> np.ndarray:
            return atd12k.to_unit_range(vae.decode(codes.reshape(-1, *shape), batch_size=batch_size))

        codes = {GUESSES[2]: (z1 + z3) / 2, GUESSES[3]: slerp(z1, z3, 0.5)}
        if predictor is not None:
            codes[PREDICTED] = _predict(predictor, z, batch_size).reshape(len(z), -1)
        for name, code in codes.items():
            parts[name][LATENT_MSE].append(np.square(code - z2, dtype=np.float64).mean(1))
        guesses = {
            GUESSES[0]: truth[:, 0],
            GUESSES[1]: (truth[:, 0] + truth[:, 2]) / 2,
            **{name: decode(code) for name, code in codes.items()},
        }
        for name, images in guesses.items():
            for m, values in image_quality(truth[:, 1], images).items():
                parts[name][m].append(values)
        for i, r in enumerate(batch):
            if int(r) in keep:  # copies, not views of the chunk's images
                kept[int(r)] = {name: images[i].copy() for name, images in guesses.items()}
    return {g: {m: np.concatenate(v) for m, v in ms.items()} for g, ms in parts.items()}, kept


def _whole(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _check_predictor(model: Any, latent_shape: tuple[int, ...]) -> None:
    """Refuse a model whose input is not two latents (h, w, 2c) on channels or whose output is not one (h, w, c)."""
    h, w, c = latent_shape
    want_in, want_out = (h, w, 2 * c), (h, w, c)
    if not isinstance(model, keras.Model):
        raise ParameterError(
            f"the predictor is a {type(model).__name__}, not a Keras model: build it with "
            f"latentlab.models.build_middle_latent_predictor({want_out})."
        )
    try:
        got_in, got_out = tuple(model.inputs[0].shape[1:]), tuple(model.outputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        return  # a subclassed model that declares no shapes: _predict checks what it returns
    if len(model.inputs) != 1 or got_in != want_in or got_out != want_out:
        raise ParameterError(
            f"the predictor {model.name} maps {got_in} to {got_out}, but the latents here are {want_out}: it must "
            f"map latents 1 and 3 concatenated on channels, {want_in}, to latent 2, {want_out}. Build it with "
            f"latentlab.models.build_middle_latent_predictor({want_out})."
        )


def _predict(model: keras.Model, z: np.ndarray, batch_size: int) -> np.ndarray:
    """``model``'s latent 2 (n, h, w, c) from the triplet latents ``z`` (n, 3, h, w, c)."""
    _check_predictor(model, z.shape[2:])
    pairs = np.concatenate([z[:, 0], z[:, 2]], -1)
    out = np.asarray(model.predict(pairs, batch_size=batch_size, verbose=0), np.float32)
    if out.shape != z[:, 1].shape:
        raise ParameterError(
            f"the predictor {model.name} returned {out.shape} for latents {z[:, 1].shape}; it must return one latent "
            "per triplet (build it with latentlab.models.build_middle_latent_predictor)."
        )
    if not np.isfinite(out).all():
        raise ParameterError(
            f"the predictor {model.name} returned NaN or infinite latents: its weights are broken; train it again."
        )
    return out


def _triplet_rows(rows: Iterable[int], n: int) -> np.ndarray:
    """``rows`` as row numbers (k,) int64 of a list of ``n`` triplets, at least one."""
    try:
        idx = np.asarray(list(rows))
    except TypeError:
        raise ParameterError(f"rows={rows!r}: give a list of row numbers of the triplets.") from None
    if not idx.size:
        raise ParameterError("no triplets to train on: give at least one row (e.g. the training split's rows).")
    if idx.ndim != 1 or idx.dtype == bool or not np.issubdtype(idx.dtype, np.integer):
        raise ParameterError(f"rows {idx.tolist()!r}: give whole row numbers of the triplets, a flat list.")
    if idx.min() < 0 or idx.max() >= n:
        raise ParameterError(f"rows span [{idx.min()}, {idx.max()}] but {n} triplets were given (rows 0 to {n - 1}).")
    return idx.astype(np.int64)


class LatentTriplets(keras.utils.PyDataset):
    """Batches ``(inputs, targets)`` for a middle-latent predictor, read from the latents :func:`reconstruct`
    wrote under ``latent_dest`` for triplets ``rows`` of ``triplets``: inputs (b, h, w, 2c) are latents 1 and 3
    concatenated on channels, targets (b, h, w, c) latent 2. Each epoch's order is a permutation seeded by
    ``(seed, epoch)``; a batch's latents are read when it is asked for, so memory is one batch whatever the number
    of triplets. :attr:`n_samples` and :attr:`fingerprint` (the rows' names, the seed and a hash of the latents of
    up to :data:`FINGERPRINT_ROWS` of them) are what ``latentlab.models.fit`` asks of a stream."""

    def __init__(
        self,
        latent_dest: str | Path,
        triplets: list[atd12k.Triplet],
        rows: Iterable[int],
        batch_size: int = 32,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not _whole(batch_size) or batch_size < 1:
            raise ParameterError(f"batch_size={batch_size!r}: give a whole number of triplets >= 1.")
        if not _whole(seed) or seed < 0:
            raise ParameterError(f"seed={seed!r}: give a whole number >= 0.")
        self.latent_dest, self.batch_size, self.seed, self.epoch = Path(latent_dest), int(batch_size), int(seed), 0
        self.rows = _triplet_rows(rows, len(triplets))
        self.triplets = [triplets[r] for r in self.rows]
        self.n_samples = len(self.triplets)
        digest = hashlib.sha1()
        for i in np.unique(np.linspace(0, self.n_samples - 1, min(self.n_samples, FINGERPRINT_ROWS)).astype(int)):
            z = atd12k.read_triplet_latents(self.latent_dest, [self.triplets[i]])
            if i == 0:
                self.latent_shape: tuple[int, int, int] = tuple(int(s) for s in z.shape[2:])
            digest.update(z.tobytes())
        names = [(t.split, t.name) for t in self.triplets]
        self.fingerprint = key_digest([names, self.latent_shape, self.seed, digest.hexdigest()])

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The positions in ``rows`` in the order of ``epoch`` (default: the current one), (n_samples,)."""
        return np.random.default_rng([self.seed, self.epoch if epoch is None else int(epoch)]).permutation(
            self.n_samples
        )

    def __len__(self) -> int:
        return math.ceil(self.n_samples / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        picked = self.order()[index * self.batch_size : (index + 1) * self.batch_size]
        try:
            z = atd12k.read_triplet_latents(self.latent_dest, [self.triplets[i] for i in picked])
        except ValueError as err:
            if isinstance(err, DataFormatError):
                raise
            raise DataFormatError(
                f"the latents under {self.latent_dest} differ in shape between triplets ({err}); write them all "
                "again with one VAE at one frame size (reconstruct)."
            ) from err
        if z.shape[2:] != self.latent_shape:
            raise DataFormatError(
                f"latents of shape {z.shape[2:]} under {self.latent_dest}, unlike the first triplet's "
                f"{self.latent_shape}; write them all again with one VAE at one frame size (reconstruct)."
            )
        return np.concatenate([z[:, 0], z[:, 2]], -1), z[:, 1]

    def on_epoch_end(self) -> None:
        self.epoch += 1

    def follow_epochs(self) -> keras.callbacks.Callback:
        """A callback for ``fit`` that sets :attr:`epoch` to fit's own at each epoch's start, so a run resumed at
        epoch k reads the batches an uninterrupted run read there."""
        data = self

        class FollowEpochs(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
                data.epoch = int(epoch)

        return FollowEpochs()

    def stream(self) -> Any:
        """What to give ``fit``: on TensorFlow, a ``tf.data`` pipeline that calls :meth:`__getitem__` for each batch
        in turn (as :meth:`~latentlab.data.frame_cache.CropBatches.stream` does, for the same reason), reshuffling
        when a new epoch starts that :meth:`follow_epochs` did not announce; on other backends the dataset itself."""
        if keras.backend.backend() != "tensorflow":
            return self
        import tensorflow as tf

        served = [None]  # the epoch whose first batch was served last

        def load(index: np.int64) -> tuple[np.ndarray, np.ndarray]:
            if index == 0:
                if served[0] == self.epoch:
                    self.on_epoch_end()
                served[0] = self.epoch
            return self[int(index)]

        h, w, c = self.latent_shape

        def batch(index: Any) -> tuple[Any, Any]:
            x, y = tf.numpy_function(load, [index], (tf.float32, tf.float32), stateful=True)
            return tf.ensure_shape(x, [None, h, w, 2 * c]), tf.ensure_shape(y, [None, h, w, c])

        return steady(tf.data.Dataset.range(len(self)).map(batch).prefetch(2))


def train_middle_latent_predictor(
    model: keras.Model,
    latent_dest: str | Path,
    triplets: list[atd12k.Triplet],
    rows: Iterable[int],
    epochs: int,
    batch_size: int = 32,
    checkpoint_dir: str | Path | None = None,
    seed: int = 0,
    learning_rate: float = 1e-3,
    verbose: int | str = "auto",
) -> dict[str, list[float]]:
    """Train ``model`` (:func:`~latentlab.models.latent_predictor.build_middle_latent_predictor`) to predict
    latent 2 from latents 1 and 3 of triplets ``rows``, streamed by :class:`LatentTriplets` from what
    :func:`reconstruct` wrote to ``latent_dest``, for ``epochs`` epochs in total. An uncompiled model is compiled
    with Adam at ``learning_rate`` and the MSE (a compiled one keeps its own optimizer and loss). Training goes
    through :func:`latentlab.models.fit`: with ``checkpoint_dir`` it resumes where an earlier run on the same
    data stopped, and a finished run returns its history without training again. Returns the loss history."""
    if not _whole(epochs) or epochs < 1:
        raise ParameterError(f"epochs={epochs!r}: give a whole number of epochs >= 1.")
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or not learning_rate > 0:
        raise ParameterError(f"learning_rate={learning_rate!r}: give a number > 0, e.g. 1e-3.")
    data = LatentTriplets(latent_dest, triplets, rows, batch_size, seed)
    _check_predictor(model, data.latent_shape)
    if not model.compiled:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse", **compile_options())
    return fit(
        model,
        data.stream(),
        n_samples=data.n_samples,
        fingerprint=data.fingerprint,
        epochs=int(epochs),
        batch_size=data.batch_size,
        checkpoint_dir=checkpoint_dir,
        verbose=verbose,
        callbacks=[data.follow_epochs()],
    )
