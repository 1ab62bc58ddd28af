"""The grid search of *Surfing the manifold* (sections 5.3-5.4): one denoising autoencoder per grid point,
each scored for reconstruction and interpolation, written as the paper's ``all_scores.csv``."""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from latentlab.errors import ParameterError
from latentlab.experiments.surfing import compare_interpolations
from latentlab.io import atomic_path
from latentlab.latent.graph import knn_graph
from latentlab.models.denoising import (
    NOISE_TYPES,
    PAPER_NOISE_NAMES,
    DenoisingAutoencoder,
    ModelPool,
    decode,
    encode,
    loss_parts,
    train_dae,
)

POINT_KEYS = ("batch_size", "lambdas", "channels", "noise_level", "noise")

#: The paper's grid (section 5.4); ``noise`` uses the paper's all_scores.csv names.
PAPER_GRID = {
    "batch_size": (4, 8, 16),
    "lambdas": ((1.0, 0.0), (0.7, 0.3), (0.0, 1.0)),
    "channels": (64, 128, 256),
    "noise_level": (0.1, 0.2, 0.5),
    "noise": ("normal", "white"),
}


def grid_points(grid: Mapping[str, Any]) -> list[dict]:
    """Every combination of a grid like :data:`PAPER_GRID` (``{setting: values}``), as a list of dicts."""
    if not isinstance(grid, Mapping) or any(
        isinstance(v, (str, bytes)) or not hasattr(v, "__iter__") for v in grid.values()
    ):
        raise ParameterError(f"grid={grid!r}: give a dict {{setting: list of values}} like PAPER_GRID.")
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def check_point(point: Mapping[str, Any]) -> dict:
    """A grid point with every setting present and of the right kind, or :class:`ParameterError` naming the
    first that is not (its values also name a checkpoint folder, so they must be plain numbers and names)."""
    if not isinstance(point, Mapping):
        raise ParameterError(f"a grid point is a dict of {', '.join(POINT_KEYS)}; got {point!r}.")
    missing = [k for k in POINT_KEYS if k not in point]
    if missing:
        raise ParameterError(f"grid point {dict(point)} lacks {missing}; give all of {', '.join(POINT_KEYS)}.")

    def number(value: Any) -> bool:
        return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))

    bs, lambdas, channels, level, noise = (point[k] for k in POINT_KEYS)
    if not number(bs) or bs != int(bs) or bs < 1:
        raise ParameterError(f"batch_size={bs!r}: give a whole number >= 1.")
    if not isinstance(lambdas, (tuple, list)) or len(lambdas) != 2 or not all(number(v) for v in lambdas):
        raise ParameterError(f"lambdas={lambdas!r}: give (lambda_re, lambda_pe), two numbers >= 0.")
    if not number(channels) or channels != int(channels) or channels < 8:
        raise ParameterError(f"channels={channels!r}: give a whole number >= 8.")
    if not isinstance(noise, str) or PAPER_NOISE_NAMES.get(noise, noise) not in NOISE_TYPES:
        raise ParameterError(f"noise={noise!r}: choose one of {NOISE_TYPES} or the paper's 'normal' / 'white'.")
    if not number(level) or not np.isfinite(level) or level < 0:
        raise ParameterError(f"noise_level={level!r}: give a number >= 0.")
    return dict(point)


def point_name(point: Mapping[str, Any], latent_dim: int) -> str:
    """A grid point's folder name, e.g. ``z2_bs16_re0.7_pe0.3_c64_gaussian0.2``."""
    point = check_point(point)
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, (int, np.integer)) or latent_dim < 1:
        raise ParameterError(f"latent_dim={latent_dim!r}: give a whole number >= 1.")
    lre, lpe = point["lambdas"]
    noise = PAPER_NOISE_NAMES.get(point["noise"], point["noise"])
    settings = f"bs{point['batch_size']}_re{lre:g}_pe{lpe:g}_c{point['channels']}"
    return f"z{latent_dim}_{settings}_{noise}{point['noise_level']:g}"


def train_point(
    images: ArrayLike,
    point: Mapping[str, Any],
    *,
    epochs: int,
    latent_dim: int,
    features: keras.Model | None = None,
    checkpoint_root: str | Path | None = None,
    seed: int = 0,
    verbose: int | str = 0,
    pool: ModelPool | None = None,
    **build: Any,
) -> tuple[DenoisingAutoencoder, dict[str, list[float]]]:
    """:func:`train_dae` at a grid point (``batch_size``, ``lambdas`` = (lambda_re, lambda_pe),
    ``channels``, ``noise_level``, ``noise``), checkpointed in ``checkpoint_root/<point_name>`` so that the
    same point trained elsewhere in a notebook (or an earlier run) is not trained again. With ``pool`` (a
    :class:`~latentlab.models.denoising.ModelPool`), a model the pool made for another point of the same
    architecture is reset and trained again instead of a new one."""
    point = check_point(point)
    lre, lpe = point["lambdas"]
    folder = None if checkpoint_root is None else Path(checkpoint_root) / point_name(point, latent_dim)
    return train_dae(
        images,
        epochs=epochs,
        batch_size=int(point["batch_size"]),
        checkpoint_dir=folder,
        verbose=verbose,
        latent_dim=latent_dim,
        channels=int(point["channels"]),
        noise=point["noise"],
        noise_level=point["noise_level"],
        lambda_re=lre,
        lambda_pe=lpe,
        features=features if lpe > 0 else None,
        seed=seed,
        pool=pool,
        **build,
    )


def grid_search(
    images: ArrayLike,
    points: list[dict],
    *,
    epochs: int,
    latent_dim: int,
    features: keras.Model | None,
    pairs: ArrayLike,
    n_frames: int,
    csv_path: str | Path,
    checkpoint_root: str | Path | None = None,
    seed: int = 0,
    verbose: int | str = 0,
    **build: Any,
) -> pd.DataFrame:
    """Train one model per grid point (see :func:`train_point`), score it, and write the table to
    ``csv_path`` after each point (atomically; finished points resume from their checkpoints). Points of one
    architecture (channels, noise type, with or without the perceptual term) train one model, reset before each
    (a :class:`~latentlab.models.denoising.ModelPool`): same results, but TensorFlow does not keep 50-70 MB of
    memory for each of the grid's models. Columns
    follow the paper's all_scores.csv in spirit: the settings, the final training loss, reconstruction
    errors, the kNN graph's k, and the mean interpolationMSE of linear and kNN-surfing interpolation
    over ``pairs``. Returns a DataFrame."""
    if not isinstance(points, (list, tuple)) or not points:
        raise ParameterError("points is empty: give grid points, e.g. grid_points(PAPER_GRID).")
    points = [check_point(p) for p in points]  # every point is checked before the first one trains
    x = np.asarray(images, np.float32)
    rows, pool = [], ModelPool()
    for p in points:
        start = time.perf_counter()
        model, history = train_point(
            x,
            p,
            epochs=epochs,
            latent_dim=latent_dim,
            features=features,
            checkpoint_root=checkpoint_root,
            seed=seed,
            verbose=verbose,
            pool=pool,
            **build,
        )
        z = encode(model, x)
        graph = knn_graph(z)
        scores = compare_interpolations(lambda c, m=model: decode(m, c), z, x, pairs, n_frames, {"knn": graph})
        means = scores.groupby("method")["interpolationMSE"].mean()
        rows.append(
            {
                "batch_size": p["batch_size"],
                "lambda_re": p["lambdas"][0],
                "lambda_pe": p["lambdas"][1],
                "channels": p["channels"],
                "noise": p["noise"],
                "noise_level": p["noise_level"],
                "epochs": epochs,
                "final_loss": history["loss"][-1],
                **{f"recon_{k}": v for k, v in loss_parts(model, x, features).items()},
                "knn_k": int(graph.param),
                "interpolationMSE_linear": means["linear"],
                "interpolationMSE_surfing": means["knn surfing"],
                "seconds": time.perf_counter() - start,
            }
        )
        with atomic_path(csv_path, suffix=".csv") as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)
    return pd.DataFrame(rows)
