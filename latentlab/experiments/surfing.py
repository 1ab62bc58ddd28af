"""Scoring interpolations on a latent graph (*Surfing the manifold*, 5.1 and 6.2.2): linear interpolation against
surfing each graph, over many pairs, by interpolationMSE, smoothness, latent length and a ground truth."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from latentlab import metrics
from latentlab.errors import ParameterError
from latentlab.latent.graph import LatentGraph, interpolation_codes


def compare_interpolations(
    decode: Callable[[np.ndarray], ArrayLike],
    z: ArrayLike,
    images: ArrayLike,
    pairs: ArrayLike,
    n_frames: int,
    graphs: dict[str, LatentGraph],
    truth: Callable[[int, int], dict[str, np.ndarray]] | None = None,
) -> pd.DataFrame:
    """Score linear interpolation against surfing each graph, over image ``pairs`` ((p, 2) indices into
    codes ``z`` (n, d) and ``images`` (n, ...)). ``decode``: codes (m, d) -> images in [0, 1];
    ``truth``: optional ``(i, j) -> {path name: (n_frames, ...) images}`` of valid ground-truth paths.

    Returns a pandas DataFrame, one row per (pair, method): ``interpolationMSE`` (paper 5.1.1),
    ``smoothness`` (spread of frame steps), ``latent length``, and with ``truth`` ``GT straight`` (error
    against the first truth path) and ``GT best`` (minimum over the truth paths, paper 6.2.2)."""
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) == 0 or not np.issubdtype(pairs.dtype, np.integer):
        raise ParameterError(f"pairs have shape {pairs.shape} ({pairs.dtype}); give (p, 2) whole-number indices.")
    if len(np.asarray(z)) != len(images):
        raise ParameterError(f"{len(np.asarray(z))} codes for {len(images)} images: give one code per image.")
    if pairs.min() < 0 or pairs.max() >= len(images):
        raise ParameterError(f"pairs index images 0..{len(images) - 1}; got {pairs.min()}..{pairs.max()}.")
    rows = []
    for i, j in pairs:
        codes = interpolation_codes(z, int(i), int(j), n_frames, graphs)
        frames = np.asarray(decode(np.concatenate(list(codes.values()))))
        want = (len(codes) * n_frames, *np.shape(images)[1:])
        if frames.shape != want:
            raise ParameterError(
                f"decode returned {frames.shape} for {want[0]} codes; it must give one image like the dataset's "
                f"{np.shape(images)[1:]} per code."
            )
        frames = frames.reshape(len(codes), n_frames, *np.shape(images)[1:])
        truths = truth(int(i), int(j)) if truth is not None else None
        scores = metrics.interpolation_mse(frames, images)  # one pair at a time: memory holds one pair's frames
        for (method, c), f, score in zip(codes.items(), frames, scores):
            row = {
                "start": int(i),
                "goal": int(j),
                "method": method,
                "interpolationMSE": float(score),
                "smoothness": metrics.path_smoothness(f),
                "latent length": float(np.linalg.norm(np.diff(c, axis=0), axis=1).sum()),
            }
            if truths:
                gt = metrics.ground_truth_error(f, truths)
                row["GT straight"], row["GT best"] = gt[next(iter(truths))], gt["best"]
            rows.append(row)
    return pd.DataFrame(rows)
