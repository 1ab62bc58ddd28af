"""Notebook 03's passes of a VAE over ATD-12K, a batch of triplets at a time (ATD-12K paper, section 3: metrics
and latents; the middle-frame guesses are this project's measure of what the paper showed by eye).

:func:`reconstruct` encodes and decodes every frame once: it scores each reconstruction (MSE, PSNR, SSIM), writes
each triplet's latents in the paper's format as they are produced, measures the triplet's path in pixels, and keeps
the images of a few triplets for figures. :func:`guess_middle_frames` reads those latents back and guesses each
triplet's frame 2 from frames 1 and 3, in pixels and in the latent. Memory is bounded by ``chunk`` triplets, not by
the dataset: frames come from a :class:`~latentlab.data.frame_cache.FrameCache`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from latentlab.data import atd12k
from latentlab.data.frame_cache import FrameCache
from latentlab.errors import ParameterError
from latentlab.latent.paths import slerp
from latentlab.latent.triplets import path_geometry
from latentlab.metrics import image_quality

METRICS = ("mse", "psnr", "ssim")
#: The guesses of frame 2 that :func:`guess_middle_frames` scores, in order.
GUESSES = ("frame 1 (no motion)", "pixel average", "latent midpoint", "latent slerp")


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
            if int(r) in keep:
                kept[int(r)] = (truth[3 * i : 3 * i + 3], recon[3 * i : 3 * i + 3])
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
) -> tuple[dict[str, dict[str, np.ndarray]], dict[int, dict[str, np.ndarray]]]:
    """Guess frame 2 of triplets ``rows`` from frames 1 and 3 (:data:`GUESSES`: frame 1 itself, the pixel
    average, and the decoded latent midpoint and slerp of the latents :func:`reconstruct` wrote to
    ``latent_dest``) and score each guess against the true frame 2. Returns ``scores[guess][metric]`` (one value
    per row) and, for the rows in ``keep``, every guess's image (H, W, 3) in [0, 1] under ``kept[row][guess]``."""
    rows = np.asarray(list(rows), np.int64)
    _check(cache, triplets, chunk)
    if not len(rows):
        raise ParameterError("no triplets to guess the middle frame of; give at least one row.")
    keep = {int(r) for r in keep}
    parts: dict[str, dict[str, list[np.ndarray]]] = {g: {m: [] for m in METRICS} for g in GUESSES}
    kept: dict[int, dict[str, np.ndarray]] = {}
    for batch, frames in cache.batches(rows, chunk, "guessing frame 2" if progress else None):
        truth = _unit(frames)
        z = atd12k.read_triplet_latents(latent_dest, [triplets[r] for r in batch])
        z1, z3 = z[:, 0].reshape(len(z), -1), z[:, 2].reshape(len(z), -1)

        def decode(codes: np.ndarray, shape: tuple[int, ...] = z.shape[2:]) -> np.ndarray:
            return atd12k.to_unit_range(vae.decode(codes.reshape(-1, *shape), batch_size=batch_size))

        guesses = {
            GUESSES[0]: truth[:, 0],
            GUESSES[1]: (truth[:, 0] + truth[:, 2]) / 2,
            GUESSES[2]: decode((z1 + z3) / 2),
            GUESSES[3]: decode(slerp(z1, z3, 0.5)),
        }
        for name, images in guesses.items():
            for m, values in image_quality(truth[:, 1], images).items():
                parts[name][m].append(values)
        for i, r in enumerate(batch):
            if int(r) in keep:
                kept[int(r)] = {name: images[i] for name, images in guesses.items()}
    return {g: {m: np.concatenate(v) for m, v in ms.items()} for g, ms in parts.items()}, kept
