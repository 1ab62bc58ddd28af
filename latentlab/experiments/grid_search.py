"""The grid search of *Surfing the manifold* (sections 5.3-5.4): one denoising autoencoder per grid point,
each scored for reconstruction and interpolation, written as the paper's ``all_scores.csv``."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd

from latentlab.experiments.surfing import compare_interpolations
from latentlab.io import atomic_path
from latentlab.latent.graph import knn_graph
from latentlab.models.denoising import PAPER_NOISE_NAMES, decode, encode, loss_parts, train_dae

#: The paper's grid (section 5.4); ``noise`` uses the paper's all_scores.csv names.
PAPER_GRID = {
    "batch_size": (4, 8, 16),
    "lambdas": ((1.0, 0.0), (0.7, 0.3), (0.0, 1.0)),
    "channels": (64, 128, 256),
    "noise_level": (0.1, 0.2, 0.5),
    "noise": ("normal", "white"),
}


def grid_points(grid: dict) -> list[dict]:
    """Every combination of a grid like :data:`PAPER_GRID` (``{setting: values}``), as a list of dicts."""
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def point_name(point: dict, latent_dim: int) -> str:
    """A grid point's folder name, e.g. ``z2_bs16_re0.7_pe0.3_c64_gaussian0.2``."""
    lre, lpe = point["lambdas"]
    noise = PAPER_NOISE_NAMES.get(point["noise"], point["noise"])
    return f"z{latent_dim}_bs{point['batch_size']}_re{lre:g}_pe{lpe:g}_c{point['channels']}_{noise}{point['noise_level']:g}"


def train_point(
    images,
    point: dict,
    *,
    epochs: int,
    latent_dim: int,
    features=None,
    checkpoint_root=None,
    seed: int = 0,
    verbose=0,
    **build,
):
    """:func:`train_dae` at a grid point (``batch_size``, ``lambdas`` = (lambda_re, lambda_pe),
    ``channels``, ``noise_level``, ``noise``), checkpointed in ``checkpoint_root/<point_name>`` so that the
    same point trained elsewhere in a notebook (or an earlier run) is not trained again."""
    lre, lpe = point["lambdas"]
    folder = None if checkpoint_root is None else Path(checkpoint_root) / point_name(point, latent_dim)
    return train_dae(
        images,
        epochs=epochs,
        batch_size=point["batch_size"],
        checkpoint_dir=folder,
        verbose=verbose,
        latent_dim=latent_dim,
        channels=point["channels"],
        noise=point["noise"],
        noise_level=point["noise_level"],
        lambda_re=lre,
        lambda_pe=lpe,
        features=features if lpe > 0 else None,
        seed=seed,
        **build,
    )


def grid_search(
    images,
    points: list[dict],
    *,
    epochs: int,
    latent_dim: int,
    features,
    pairs,
    n_frames: int,
    csv_path,
    checkpoint_root=None,
    seed: int = 0,
    verbose=0,
    **build,
):
    """Train one model per grid point (see :func:`train_point`), score it, and write the table to
    ``csv_path`` after each point (atomically; finished points resume from their checkpoints). Columns
    follow the paper's all_scores.csv in spirit: the settings, the final training loss, reconstruction
    errors, the kNN graph's k, and the mean interpolationMSE of linear and kNN-surfing interpolation
    over ``pairs``. Returns a DataFrame."""
    x = np.asarray(images, np.float32)
    rows = []
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
            **build,
        )
        z = encode(model, x)
        graph = knn_graph(z)
        scores = compare_interpolations(lambda c: decode(model, c), z, x, pairs, n_frames, {"knn": graph})
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
