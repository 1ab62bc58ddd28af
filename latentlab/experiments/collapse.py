"""The ATD-12K paper's failed fine-tuning, measured epoch by epoch (paper 003, "Evaluation and Results"): with
its loss (MSE plus the KL summed over the latent, weight 1) the VAE's outputs collapse towards one average frame.

:func:`collapse_probe` measures a model on fixed frames: reconstruction MSE, KL per image, how much the outputs
still differ from one another (their spread over the inputs'), and their distance to the training set's mean
frame. :func:`finetune_with_probes` fine-tunes one epoch at a time, each epoch resumable from a checkpoint of its
own, and probes after each, so the collapse is a curve rather than a before/after pair.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from latentlab.batching import batch_slices
from latentlab.data import atd12k
from latentlab.data.frame_cache import CropBatches
from latentlab.errors import ParameterError
from latentlab.metrics import AcrossImageVariance
from latentlab.models import fit

#: What :func:`collapse_probe` measures, in order.
PROBE = ("MSE ([-1, 1])", "KL per image", "output spread / input spread", "MSE to the mean frame")


def collapse_probe(
    vae: Any, frames: ArrayLike, mean_frame: ArrayLike, batch_size: int = 8, keep_first: int = 0
) -> tuple[dict[str, float], np.ndarray]:
    """Encode ``frames`` (n, H, W, 3) to their posterior means and decode them, ``batch_size`` frames at a time:
    uint8 frames (0-255, as a frame cache reads them) are brought to [-1, 1] a batch at a time, float frames are
    taken as [-1, 1] already. Returns the :data:`PROBE` numbers and the outputs (in [-1, 1]) of the first
    ``keep_first`` frames, for figures. ``mean_frame`` (H, W, 3) in [-1, 1] is the frame an output collapses to when
    it no longer depends on its input. Memory: a batch, whatever n (the outputs of 150 frames of 256 px are 118 MB)."""
    frames, mean_frame = _frames(frames), np.asarray(mean_frame, np.float32)
    if frames.ndim != 4 or len(frames) < 2 or mean_frame.shape != frames.shape[1:]:
        raise ParameterError(
            f"frames {frames.shape} and mean frame {mean_frame.shape}: give at least 2 frames (n, H, W, 3) and one "
            "mean frame (H, W, 3) of the same size."
        )
    if isinstance(keep_first, bool) or not isinstance(keep_first, (int, np.integer)) or keep_first < 0:
        raise ParameterError(f"keep_first={keep_first!r}: give how many outputs to return, a whole number >= 0.")
    spread_out, spread_in = AcrossImageVariance(), AcrossImageVariance()
    squared = {"input": 0.0, "mean frame": 0.0}
    kl, kept = [], []
    for x in _model_range_batches(frames, batch_size):
        mean, logvar = vae.encode(x, batch_size=batch_size)
        out = vae.decode(mean, batch_size=batch_size)
        kl.append(0.5 * (mean**2 + np.exp(logvar) - 1 - logvar).sum((1, 2, 3)))
        squared["input"] += _squared_sum(out, x)
        squared["mean frame"] += _squared_sum(out, mean_frame)
        spread_out.add(out)
        spread_in.add(x)
        kept.append(out[: keep_first - sum(map(len, kept))].copy())  # empty once keep_first are kept
    size = frames.size
    numbers = {
        PROBE[0]: squared["input"] / size,
        PROBE[1]: float(np.concatenate(kl).mean()),
        PROBE[2]: spread_out.value() / spread_in.value(),
        PROBE[3]: squared["mean frame"] / size,
    }
    return numbers, np.concatenate(kept)


def mean_frame_mse(frames: ArrayLike, mean_frame: ArrayLike, batch_size: int = 64) -> float:
    """The MSE of answering ``mean_frame`` for each of ``frames`` (as in :func:`collapse_probe`): what a model whose
    outputs have collapsed to the mean frame scores, the pixel variance of the frames about it."""
    frames, mean_frame = _frames(frames), np.asarray(mean_frame, np.float32)
    if frames.ndim != 4 or not len(frames) or mean_frame.shape != frames.shape[1:]:
        raise ParameterError(
            f"frames {frames.shape} and mean frame {mean_frame.shape}: give frames (n, H, W, 3) and one mean frame "
            "(H, W, 3) of the same size."
        )
    return sum(_squared_sum(x, mean_frame) for x in _model_range_batches(frames, batch_size)) / frames.size


def _frames(frames: ArrayLike) -> np.ndarray:
    """``frames`` as an array, uint8 kept as it is (converted a batch at a time), anything else as float32."""
    x = np.asarray(frames)
    return x if x.dtype == np.uint8 else x.astype(np.float32, copy=False)


def _model_range_batches(frames: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Consecutive batches of ``frames`` as float32 in [-1, 1] (uint8 through :func:`atd12k.to_model_range`)."""
    for s in batch_slices(len(frames), batch_size):
        yield atd12k.to_model_range(frames[s]) if frames.dtype == np.uint8 else frames[s]


def _squared_sum(a: np.ndarray, b: np.ndarray) -> float:
    """``((a - b) ** 2).sum()`` in float64, with one float32 temporary of ``a``'s size."""
    diff = a - b
    np.square(diff, out=diff)
    return float(diff.sum(dtype=np.float64))


def finetune_with_probes(
    vae: Any,
    batches: CropBatches,
    epochs: int,
    probe: Callable[[], dict[str, float]],
    checkpoint_root: str | Path | None = None,
    verbose: int | str = "auto",
) -> tuple[dict[str, list[float]], list[dict[str, float]]]:
    """Fine-tune the compiled ``vae`` for ``epochs`` epochs on ``batches``, one ``fit`` per epoch, and call
    ``probe()`` before the first and after every epoch. Epoch e is checkpointed in ``<checkpoint_root>/epoch<e>``
    and starts from epoch e - 1's checkpoint, on the batches of its own epoch (``batches.at_epoch``): a rerun
    resumes every finished epoch, an interrupted one restarts at the epoch it was in, and either gives the same
    numbers as a run without a break. Returns the training history (one value per epoch) and the probes
    (``epochs + 1`` dicts, the first before fine-tuning)."""
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ParameterError(f"epochs={epochs!r}: give a whole number of epochs >= 1.")
    root = None if checkpoint_root is None else Path(checkpoint_root)
    history: dict[str, list[float]] = {}
    probes = [probe()]
    for epoch in range(1, int(epochs) + 1):
        stream = batches.at_epoch(epoch - 1)
        one = fit(
            vae,
            stream.stream(),
            n_samples=stream.n_samples,
            fingerprint=stream.fingerprint,
            epochs=epoch if root is not None else 1,  # without checkpoints, fit starts at epoch 0 every time
            batch_size=stream.batch_size,
            checkpoint_dir=None if root is None else root / f"epoch{epoch}",
            init_from=None if root is None or epoch == 1 else root / f"epoch{epoch - 1}",
            verbose=verbose,
        )
        for key, values in one.items():
            history.setdefault(key, []).append(values[-1])
        probes.append(probe())
    return history, probes
