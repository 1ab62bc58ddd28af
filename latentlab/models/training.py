"""Resumable training: ``fit`` is ``model.fit`` plus an atomic checkpoint after every epoch and a progress bar.

A run interrupted at epoch 37 of 1000 resumes at epoch 37 (weights, optimizer state and loss history); a finished
run returns its stored history at once, so re-running a notebook does not retrain. A checkpoint is resumed only
by the same model, loss, optimizer, batch size and training data (a fingerprint of them is stored with it); a
checkpoint made for anything else, or one that cannot be read, is moved aside to a sibling folder (nothing is
deleted) and training starts afresh, with a warning that says where it went. A checkpoint's ``state.json`` may
only name weights files that ``fit`` writes itself, in its own folder. A NaN or infinite loss (training or
validation) stops training with a :class:`~latentlab.errors.TrainingError`.

``LATENTLAB_MAX_STEPS=N`` (never set by default) cuts every ``fit`` to N optimizer steps, without checkpoints:
for measuring the cost of everything around training at full data size (``benchmarks/bench_scale.py``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import re
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from latentlab.batching import (
    ImageRows,
    LazyRows,
    array_batches,
    array_sequence,
    is_uint8_images,
    shuffled_rows,
    unit_floats,
)
from latentlab.config import current_seed, max_steps
from latentlab.errors import ParameterError, TrainingError
from latentlab.io import atomic_path, write_json
from latentlab.memory import give_back

STATE = "state.json"
WEIGHTS = re.compile(r"epoch\d{5}\.weights\.h5")


def compile_options(steps_per_execution: int = 16) -> dict:
    """Keyword arguments for ``model.compile`` that make small models train fast: several steps per call (less
    Python overhead per batch; callbacks see every ``steps_per_execution``-th batch) and Keras's ``"auto"``
    XLA, which compiles on a GPU and on JAX but not on a TensorFlow CPU. There, compiling the dense autoencoder
    with XLA took 6-7 s longer per model (a fit's first epoch 13 s instead of 6-7 s on 2 cores) for no steady
    gain that held: 1.4 or 2.6 s per epoch on 12k images, 2.1-2.4 s without (epochs that took twice as long came
    from tf.data's autotuning, with or without XLA: see :func:`fit`)."""
    return {"jit_compile": "auto", "steps_per_execution": steps_per_execution}


def data_fingerprint(*arrays: Any) -> str:
    """A short fingerprint of training arrays: their shapes, dtypes and a hash of up to 257 evenly spaced items
    each (cheap for 10^6 items, and it tells two datasets of the same shape apart)."""
    digest = hashlib.sha1()
    for a in arrays:
        if isinstance(a, (list, tuple)):
            digest.update(data_fingerprint(*a).encode())
            continue
        a = a if isinstance(a, (ImageRows, LazyRows)) else np.asarray(a)  # rows: the values of the array they stand for
        digest.update(f"{a.shape}{a.dtype}".encode())
        if len(a):
            picks = np.unique(np.linspace(0, len(a) - 1, min(len(a), 257)).astype(int))
            digest.update(np.ascontiguousarray(a[picks]).tobytes())
    return digest.hexdigest()[:16]


def _optimizer_config(model: keras.Model) -> dict:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return {}
    config = {k: v for k, v in optimizer.get_config().items() if k != "name"}
    return {"class": type(optimizer).__name__, **config}


def signature(model: keras.Model, batch_size: int, n_samples: int, data: str | None = None) -> str:
    """What a checkpoint must match to be resumed: the model's name and weight shapes, its loss, its optimizer and
    their settings, the batch size, the number of samples and the data's fingerprint."""
    shapes = [tuple(w.shape) for w in model.weights]
    loss = getattr(model.loss, "__name__", type(model.loss).__name__ if model.loss is not None else None)
    optimizer = json.dumps(_optimizer_config(model), sort_keys=True, default=str)
    return json.dumps([model.name, shapes, loss, optimizer, int(batch_size), int(n_samples), data])


def _compiled_models(model: keras.Model) -> Iterator[keras.Model]:
    """``model`` and the compiled models nested in it (e.g. a GAN's discriminator with its own optimizer)."""
    if getattr(model, "optimizer", None) is not None:
        yield model
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _compiled_models(layer)


def build_optimizers(model: keras.Model) -> None:
    """Build the optimizers of ``model`` and of the compiled models nested in it, once they are built, for the
    variables they train. Keras on TensorFlow would build an optimizer inside the first traced train step, and
    ``tf.function`` then traces the step a second time (variables may be created on its first trace only): that
    second trace was 3 of the 6.5 s an interpolation agent of notebook 05 took to train 2 epochs in smoke. ``fit``
    calls it; call it yourself before a first ``train_on_batch``."""
    for sub in _compiled_models(model):
        if sub.built and not sub.optimizer.built:
            sub.optimizer.build(sub.trainable_variables)


def read_state(folder: str | Path) -> dict | None:
    """The ``state.json`` of a checkpoint folder (None if there is none). Raises :class:`TrainingError` when it
    cannot be read or names a weights file ``fit`` would not write (``epochNNNNN.weights.h5`` in that folder)."""
    path = Path(folder) / STATE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TrainingError(f"{path} cannot be read ({type(exc).__name__}: {exc}).") from None
    if not isinstance(state, dict) or not {"epoch", "weights", "history", "signature"} <= set(state):
        raise TrainingError(f"{path} is not a latentlab checkpoint (it needs epoch, weights, history, signature).")
    if not isinstance(state["weights"], str) or not WEIGHTS.fullmatch(state["weights"]):
        raise TrainingError(
            f"{path} names the weights file {state['weights']!r}; a checkpoint may only name "
            "epochNNNNN.weights.h5 in its own folder."
        )
    if not isinstance(state["epoch"], int) or state["epoch"] < 0 or not isinstance(state["history"], dict):
        raise TrainingError(f"{path}: epoch must be a whole number >= 0 and history a mapping.")
    return state


def load_state(model: keras.Model, folder: str | Path) -> dict | None:
    """Load the checkpoint in ``folder`` into ``model`` (weights and optimizer state) and return its state dict
    (``epoch``, ``history``, ``signature``), or None if there is none. Raises :class:`TrainingError` for a
    checkpoint that cannot be read or loaded."""
    state = read_state(folder)
    if state is None:
        return None
    build_optimizers(model)  # Keras restores an optimizer's variables only into a built one
    weights = Path(folder) / state["weights"]
    try:
        model.load_weights(weights)
    except Exception as exc:  # h5py, OSError, ValueError on a missing, truncated or foreign file
        raise TrainingError(
            f"{weights} cannot be loaded into {model.name} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})."
        ) from None
    return state


def move_aside(folder: str | Path, reason: str) -> Path:
    """Rename a checkpoint folder to ``<folder>.<reason>-<time>`` beside it (nothing is deleted) and return the
    new path."""
    folder = Path(folder)
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S%f")
    target = folder.with_name(f"{folder.name}.{reason}-{stamp}")
    try:
        shutil.move(str(folder), str(target))
    except OSError as exc:
        raise TrainingError(f"Cannot move the checkpoint {folder} aside ({exc}): move or rename it yourself.") from None
    return target


class Checkpoint(keras.callbacks.Callback):
    """Writes weights with the optimizer state (Keras ``.weights.h5``) and the history after each epoch. The
    weights file carries the epoch in its name and ``state.json`` is replaced last, so a crash at any moment
    leaves a consistent checkpoint; the previous weights file is removed only after that."""

    def __init__(self, folder: Path, sig: str, history: dict[str, list[float]], every: int = 1) -> None:
        super().__init__()
        self.folder, self.sig, self.history, self.every = Path(folder), sig, history, every

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        last = epoch + 1 == self.params.get("epochs")
        if (epoch + 1) % self.every and not last:
            return
        self.save(epoch + 1)

    def save(self, epoch: int) -> None:
        """Write the checkpoint of ``epoch``."""
        weights = f"epoch{epoch:05d}.weights.h5"
        try:
            old = read_state(self.folder)
        except TrainingError:
            old = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.folder / weights, suffix=".weights.h5") as tmp:
                self.model.save_weights(tmp)
            write_json(
                self.folder / STATE,
                dict(epoch=epoch, weights=weights, history=self.history, signature=self.sig),
                allow_nan=False,
            )
        except OSError as exc:
            raise TrainingError(
                f"Cannot write the checkpoint in {self.folder} ({exc}): make the folder writable, "
                "or set LATENTLAB_BUILD to a writable folder."
            ) from None
        if old and old["weights"] != weights:  # read_state allowed only epochNNNNN.weights.h5 in this folder
            (self.folder / old["weights"]).unlink(missing_ok=True)


class BatchCurve(keras.callbacks.Callback):
    """The value of logged metrics (``keys``, e.g. ``("return", "steps")``) at every training batch, for curves
    finer than an epoch (``values[key]``, one float per batch in training order). Keras logs running means over
    the epoch; the value of batch b is recovered as ``(b + 1) m_b - b m_(b-1)``, which needs a model compiled with
    ``steps_per_execution=1`` (otherwise the callback sees only every n-th batch and says so).

    With ``path`` (a JSON file, e.g. in the run's checkpoint folder) the curve is written atomically after every
    epoch and read back when the callback is made, so the curve of a resumed run, or of one whose checkpoint is
    already finished (``fit`` then returns without training), holds every batch trained so far. Given to ``fit``
    it runs before the checkpoint is written; batches of epochs the checkpoint does not hold are dropped when
    training resumes."""

    def __init__(self, keys: Sequence[str], path: str | Path | None = None) -> None:
        super().__init__()
        if isinstance(keys, str) or not keys or not all(isinstance(k, str) for k in keys):
            raise ParameterError(f"keys={keys!r}: give the names of logged metrics, e.g. ('loss',).")
        self.keys, self.path = tuple(keys), None if path is None else Path(path)
        self.values: dict[str, list[float]] = {k: [] for k in self.keys}
        self.per_epoch: int | None = None
        if self.path is not None and self.path.is_file():
            self._read()

    def _read(self) -> None:
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
            values, per_epoch = record["values"], record["per_epoch"]
            ok = (
                isinstance(per_epoch, int)
                and per_epoch > 0
                and set(values) == set(self.keys)
                and len({len(v) for v in values.values()}) == 1
                and all(isinstance(x, (int, float)) and math.isfinite(x) for v in values.values() for x in v)
            )
        except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError) as exc:
            ok, per_epoch, values = False, None, f"{type(exc).__name__}: {exc}"
        if not ok:
            raise TrainingError(
                f"{self.path} is not a batch curve of {list(self.keys)} ({str(values)[:120]}): remove it, or give "
                "BatchCurve another path, and train again from the checkpoint's start."
            )
        self.per_epoch, self.values = per_epoch, {k: [float(x) for x in values[k]] for k in self.keys}

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        steps = self.params.get("steps")
        if self.per_epoch is not None and steps is not None and steps != self.per_epoch:
            raise TrainingError(
                f"{self.path} holds {self.per_epoch} batches an epoch, this run trains {steps}: "
                "give BatchCurve another path."
            )
        self.per_epoch = steps or self.per_epoch
        kept = epoch * (self.per_epoch or 0)
        self.values = {k: v[:kept] for k, v in self.values.items()}  # batches past the checkpoint go
        self._means, self._seen = dict.fromkeys(self.keys, 0.0), -1

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if batch != self._seen + 1:
            raise TrainingError(
                f"BatchCurve saw batch {batch} after batch {self._seen}: compile the model with "
                "steps_per_execution=1 to see every batch."
            )
        self._seen, logs = batch, logs or {}
        missing = [k for k in self.keys if k not in logs]
        if missing:
            raise ParameterError(f"BatchCurve: {missing} are not logged; the logs have {sorted(logs)}.")
        for key in self.keys:
            mean = float(logs[key])
            self.values[key].append((batch + 1) * mean - batch * self._means[key])
            self._means[key] = mean

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.path is not None:
            write_json(self.path, {"per_epoch": self.per_epoch, "values": self.values}, allow_nan=False)


class StopOnNaN(keras.callbacks.Callback):
    """Raise a clear :class:`TrainingError` as soon as a batch loss, or any loss of an epoch (validation
    included), is NaN or infinite."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrainingError(
                f"Training loss became {float(loss)} at batch {batch}: lower the learning rate, check "
                "that inputs are scaled to [0, 1] and contain no NaN, or use a smaller batch."
            )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        bad = {k: float(v) for k, v in (logs or {}).items() if not math.isfinite(float(v))}
        if bad:
            raise TrainingError(
                f"Epoch {epoch + 1} ended with non-finite {bad}: check the validation data for NaN "
                "or values outside [0, 1], or lower the learning rate."
            )


class Progress(keras.callbacks.Callback):
    """One progress bar (``tqdm.auto``: a widget in a notebook, a single line in a terminal) over every batch of
    a fit, with its ETA and, after each epoch, the epoch and its losses."""

    def __init__(self, description: str, epochs: int, initial_epoch: int = 0, steps: int | None = None) -> None:
        super().__init__()
        self.description, self.epochs, self.initial_epoch, self.steps = description, epochs, initial_epoch, steps
        self.bar, self.done, self.per_epoch = None, 0, 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        from tqdm.auto import tqdm

        self.per_epoch = steps = self.params.get("steps") or self.steps or 0
        self.bar = tqdm(
            total=steps * (self.epochs - self.initial_epoch) or None,
            desc=self.description,
            unit="batch",
            leave=True,
            mininterval=1.0,
            dynamic_ncols=True,
        )

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.done = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        reached = min(batch + 1, self.per_epoch) if self.per_epoch else batch + 1  # a block of steps may overrun
        if self.bar is not None and reached > self.done:
            self.bar.update(reached - self.done)
            self.done = reached

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.bar is not None:
            losses = {k: f"{float(v):.4g}" for k, v in (logs or {}).items() if "loss" in k}
            self.bar.set_postfix(epoch=f"{epoch + 1}/{self.epochs}", **losses)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.bar is not None:
            self.bar.close()


class _SetEpoch(keras.callbacks.Callback):
    """Sets the epoch whose shuffle :func:`~latentlab.batching.array_batches` (or ``array_sequence``) draws, before
    the epoch's batches: ``set_epoch(epoch)`` at each epoch's start."""

    def __init__(self, set_epoch: Callable[[int], Any]) -> None:
        super().__init__()
        self.set_epoch = set_epoch

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.set_epoch(epoch)


def _is_arrays(x: Any, kind: type | tuple[type, ...] = np.ndarray) -> bool:
    if isinstance(x, (list, tuple)):
        return bool(x) and all(isinstance(a, kind) for a in x)
    return isinstance(x, kind)


def _dense(x: Any) -> Any:
    """:class:`~latentlab.batching.ImageRows` in ``x`` (one, or a list or tuple) as the arrays they stand for."""
    if isinstance(x, (list, tuple)):
        return type(x)(_dense(a) for a in x)
    return np.asarray(x) if isinstance(x, ImageRows) else x


class _FirstBatches(keras.utils.PyDataset):
    """The first ``n`` batches of a ``PyDataset``."""

    def __init__(self, data: keras.utils.PyDataset, n: int) -> None:
        super().__init__()
        self.data, self.n = data, n

    def __len__(self) -> int:
        return min(self.n, len(self.data))

    def __getitem__(self, index: int) -> Any:
        return self.data[index]

    def on_epoch_end(self) -> None:
        self.data.on_epoch_end()


def _first_batches(feed: dict[str, Any], n: int) -> dict[str, Any]:
    """``model.fit``'s inputs cut to their first ``n`` batches (``LATENTLAB_MAX_STEPS``). ``steps_per_epoch`` alone
    does not cut them: a compiled ``steps_per_execution`` of 16 runs up to 16 steps per call whatever it says."""
    x = feed["x"]
    if isinstance(x, keras.utils.PyDataset):
        return {**feed, "x": _FirstBatches(x, n)}
    if hasattr(x, "take") and hasattr(x, "element_spec"):  # a tf.data.Dataset
        return {**feed, "x": x.take(n)}
    if feed.get("batch_size"):  # arrays (or lists of them) that Keras batches
        rows = slice(0, n * feed["batch_size"])
        cut = {k: keras.tree.map_structure(lambda a: a[rows], feed[k]) for k in ("x", "y") if feed.get(k) is not None}
        return {**feed, **cut}
    raise ParameterError(
        f"LATENTLAB_MAX_STEPS cannot cut a {type(x).__name__} to its first batches; give arrays, a tf.data.Dataset "
        "or a keras.utils.PyDataset, or unset LATENTLAB_MAX_STEPS."
    )


def _uint8_arrays(x: Any, y: Any, validation_data: Any, convert: bool) -> tuple[Any, Any, Any]:
    """``fit(from_uint8=True)``'s inputs checked to be uint8 arrays; with ``convert``, as float32 in [0, 1]."""
    arrays = {"x": x, "y": y}
    if isinstance(validation_data, tuple):
        arrays.update({f"validation_data[{i}]": a for i, a in enumerate(validation_data)})
    for name, a in arrays.items():
        if a is not None and not is_uint8_images(a):
            raise ParameterError(
                f"fit(from_uint8=True): {name} is {type(a).__name__} {getattr(a, 'dtype', '')}; give uint8 image "
                "arrays (0-255), or leave from_uint8 off for floats."
            )
    pairs = [("y", y, x)]
    if isinstance(validation_data, tuple) and len(validation_data) >= 2:
        pairs.append(("validation_data[1]", validation_data[1], validation_data[0]))
    for name, target, inputs in pairs:
        if target is not None and target.shape != inputs.shape:
            raise ParameterError(
                f"fit(from_uint8=True) divides the targets by 255 too (it is for image targets, as an autoencoder's); "
                f"{name} has shape {target.shape}, not the images' {inputs.shape}: give a classifier float images "
                "(x / 255) with from_uint8 off."
            )
    if not convert:
        return x, y, validation_data
    same = y is x
    x = unit_floats(x)
    y = x if same else None if y is None else unit_floats(y)
    if isinstance(validation_data, tuple):
        validation_data = tuple(unit_floats(a) for a in validation_data)
    return x, y, validation_data


def _whole(name: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ParameterError(f"{name}={value!r}: give a whole number >= {least}.")
    return int(value)


def _resume(model: keras.Model, sig: str, checkpoint_dir: Path, init_from: Path | None) -> tuple[int, dict]:
    """The epoch and history to continue from; a foreign or damaged ``checkpoint_dir`` is moved aside."""
    for folder in (checkpoint_dir, init_from):
        if folder is None:
            continue
        try:
            state = read_state(folder)
            if state is None:
                continue
            if state["signature"] != sig:
                raise TrainingError(
                    f"the checkpoint in {folder} was made for another model, optimizer, batch size or training data"
                )
            state = load_state(model, folder)
            return state["epoch"], state["history"]
        except TrainingError as why:
            if folder == checkpoint_dir:
                moved = move_aside(folder, "replaced")
                warnings.warn(f"{why}; moved it to {moved} and training from scratch.", stacklevel=3)
            else:
                warnings.warn(f"{why}; not starting from it.", stacklevel=3)
    return 0, {}


def fit(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    epochs: int,
    batch_size: int = 256,
    validation_data: Any = None,
    checkpoint_dir: str | Path | None = None,
    init_from: str | Path | None = None,
    checkpoint_every: int = 1,
    verbose: int | str = "auto",
    callbacks: Sequence[keras.callbacks.Callback] = (),
    n_samples: int | None = None,
    fingerprint: str | None = None,
    seed: int | None = None,
    from_uint8: bool = False,
) -> dict[str, list[float]]:
    """Train ``model`` to ``epochs`` epochs in total and return the loss history of all of them.

    With ``checkpoint_dir`` the run is resumable: an earlier run's state there (same architecture, loss,
    optimizer, batch size and data) is loaded and training continues from its epoch. With ``init_from`` (another
    checkpoint folder), an empty ``checkpoint_dir`` starts from that run's state instead of from scratch, e.g. to
    train a model further than a comparison run did. A streamed ``x`` (a ``tf.data.Dataset`` or ``PyDataset`` of
    ``(inputs, targets)`` batches) is given with ``n_samples``, its number of samples, and ideally a
    ``fingerprint`` of what it streams; arrays are fingerprinted here. ``verbose=0`` hides the progress bar.

    Arrays are shuffled anew every epoch. On TensorFlow, arrays with targets (and validation arrays) are fed through
    :func:`~latentlab.batching.array_batches`: each epoch's order is seeded by ``(seed, epoch)`` (``seed`` defaults
    to :func:`~latentlab.config.current_seed`), so a resumed run trains on the batches an uninterrupted one would,
    and the pipeline does not autotune (with tf.data's autotuning, epochs on 2 cores flipped at random between two
    speeds 1.8x apart). Other backends (JAX, PyTorch) feed them through
    :func:`~latentlab.batching.array_sequence`, seeded the same way. Inputs without targets (the interpolation
    agent's episodes, whose `cpu` results were verified on Keras's own shuffling) are shuffled as Keras does.

    Inputs may be :class:`~latentlab.batching.ImageRows` (images picked by index, read as float32 in [0, 1]): on
    TensorFlow, a list of them without targets is streamed by :func:`~latentlab.batching.shuffled_rows`, in
    Keras's order and with the values of the arrays they stand for (same batches, same weights), holding the images
    once; otherwise they are made into those arrays first.

    ``from_uint8=True`` takes uint8 image arrays (0-255: x, y and validation arrays; memory maps, or
    :class:`~latentlab.batching.LazyRows` such as a cache file's rows) and feeds the model float32 in [0, 1], each
    batch converted as it is read, so memory holds the uint8 images at most once, not a float copy (4x their size)
    and its tensor; inputs without targets are converted once before training.
    Targets are converted too, so they must be images shaped like the inputs (an autoencoder's): uint8 class labels
    are refused.

    When training ends, the heap's free memory is returned to the system (:func:`latentlab.memory.give_back`).
    """
    epochs, batch_size = _whole("epochs", epochs, 0), _whole("batch_size", batch_size, 1)
    checkpoint_every = _whole("checkpoint_every", checkpoint_every, 1)
    if y is None and n_samples is None:  # an autoencoder: the inputs are the targets
        y = x
    tensorflow = keras.backend.backend() == "tensorflow"
    rows = _is_arrays(x, ImageRows) and not from_uint8
    if rows and (y is not None or not tensorflow or not isinstance(x, (list, tuple))):  # else: made into arrays
        same, rows = y is x, False
        x = _dense(x)
        y = x if same else _dense(y)
    if from_uint8:
        # converted per batch as they are read where there are targets (inputs alone go to Keras as they are)
        x, y, validation_data = _uint8_arrays(x, y, validation_data, convert=y is None)
    if _is_arrays(x, (np.ndarray, ImageRows, LazyRows)):
        fingerprint = data_fingerprint(*(a for a in (x, y) if a is not None)) + ("/255" if from_uint8 else "")
        n_samples = len(x[0]) if isinstance(x, (list, tuple)) else len(x)
    elif n_samples is None:
        raise ParameterError("A streamed x (a dataset of batches) needs n_samples=<its number of samples>.")
    n_samples = _whole("n_samples", n_samples, 1)
    sig = signature(model, batch_size, n_samples, fingerprint)
    cap = max_steps()
    start, history = 0, {}
    if checkpoint_dir is not None and cap is None:
        checkpoint_dir = Path(checkpoint_dir)
        start, history = _resume(model, sig, checkpoint_dir, None if init_from is None else Path(init_from))
        if start > epochs:
            raise TrainingError(
                f"Checkpoint {checkpoint_dir} is at epoch {start}, past the {epochs} asked for: ask for "
                f">= {start} epochs or use another checkpoint folder."
            )
    if start >= epochs:
        return history
    target, cbs = epochs, [StopOnNaN(), *callbacks]
    if cap is not None:  # LATENTLAB_MAX_STEPS: one short epoch, no checkpoint
        start, target = 0, 1
    elif checkpoint_dir is not None:
        cbs.append(Checkpoint(checkpoint_dir, sig, history, every=checkpoint_every))
    if verbose != 0:
        cbs.append(Progress(model.name, target, start, cap or math.ceil(n_samples / batch_size)))
    feed = {"x": x, "y": y, "batch_size": batch_size, "shuffle": _is_arrays(x)}
    if rows:
        feed = {"x": shuffled_rows(list(x), batch_size), "y": None}
        feed.update(batch_size=None, shuffle=False)
    arrays = (np.ndarray, LazyRows)  # LazyRows (a cache file's rows): read a batch at a time, as arrays are gathered
    if _is_arrays(x, arrays) and y is not None:
        seed = current_seed() if seed is None else seed
        checked = isinstance(validation_data, tuple) and len(validation_data) == 2
        checked = checked and _is_arrays(validation_data[0], arrays)
        if tensorflow:
            import tensorflow as tf

            epoch = tf.Variable(start, dtype=tf.int64, trainable=False)
            stream, set_epoch = array_batches(x, y, batch_size, seed, epoch, from_uint8), epoch.assign
            if checked:
                validation_data = array_batches(*validation_data, batch_size, from_uint8=from_uint8)
        else:  # the same seeded order, gathered batch by batch in numpy (no tf.data)
            stream = array_sequence(x, y, batch_size, seed, start, from_uint8)
            set_epoch = stream.set_epoch
            if checked:
                validation_data = array_sequence(*validation_data, batch_size, from_uint8=from_uint8)
        feed, cbs = {"x": stream, "y": None, "batch_size": None, "shuffle": False}, [_SetEpoch(set_epoch), *cbs]
    # (a stream shuffles itself: Keras would reorder a PyDataset's batches with Python's unseeded random)
    if cap is not None:
        feed = _first_batches(feed, cap)
    build_optimizers(model)
    try:
        run = model.fit(
            **feed,
            steps_per_epoch=cap,
            epochs=target,
            initial_epoch=start,
            validation_data=validation_data,
            callbacks=cbs,
            verbose=0,
        )
    finally:  # the heap's free memory goes back to the system (latentlab.memory)
        give_back()
    if checkpoint_dir is None or cap is not None:
        for key, values in run.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
    return history
