"""Numbers for what papers show by eye: reconstruction errors, nearest matches, and the quality,
diversity and novelty of generated images. Plain numpy over flat images (n, d) in [0, 1]."""

from __future__ import annotations

import numpy as np

from latentlab.errors import ParameterError

EPS = 1e-7


def _flat(x) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x.reshape(len(x), -1)


def reconstruction_errors(x, x_hat) -> dict[str, float]:
    """Mean over images of the paper's three losses: ``mse`` (E1), ``bce`` (E2 / d, as Keras
    reports it) and ``euclidean`` (E3 = ||x_hat - x||^2)."""
    x, x_hat = _flat(x), _flat(x_hat)
    if x.shape != x_hat.shape:
        raise ParameterError(f"Images and reconstructions differ in shape: {x.shape} vs {x_hat.shape}.")
    sq = np.square(x_hat - x)
    p = np.clip(x_hat, EPS, 1 - EPS)
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).mean(1)
    return {"mse": float(sq.mean()), "bce": float(bce.mean()), "euclidean": float(sq.sum(1).mean())}


def pairwise_bce(targets, candidates, chunk: int = 4096) -> np.ndarray:
    """Binary cross-entropy (mean over pixels) of each candidate (m, d) as a prediction of each
    target (n, d): an (n, m) matrix, computed by matrix products in chunks."""
    t = _flat(targets)
    out = np.empty((len(t), len(candidates)), np.float32)
    for s in range(0, len(candidates), chunk):
        c = np.clip(_flat(candidates[s:s + chunk]), EPS, 1 - EPS)
        out[:, s:s + chunk] = -(t @ np.log(c).T + (1 - t) @ np.log(1 - c).T) / t.shape[1]
    return out


def nearest_distances(queries, references, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance from each query (n, d) to its nearest reference (m, d), and that
    reference's index; exact, by chunked matrix products."""
    q, r = _flat(queries).astype(np.float64), _flat(references)
    r_sq = np.einsum("ij,ij->i", r, r, dtype=np.float64)
    best = np.full(len(q), np.inf)
    arg = np.zeros(len(q), np.int64)
    for s in range(0, len(r), chunk):
        block = r[s:s + chunk].astype(np.float64)
        d2 = r_sq[s:s + chunk][None, :] - 2 * q @ block.T
        i = d2.argmin(1)
        v = d2[np.arange(len(q)), i]
        better = v < best
        best[better], arg[better] = v[better], i[better] + s
    best = np.sqrt(np.clip(best + np.einsum("ij,ij->i", q, q), 0, None))
    return best, arg


def mean_pairwise_distance(x) -> float:
    """Mean Euclidean distance between distinct images of a set: its diversity."""
    x = _flat(x).astype(np.float64)
    if len(x) < 2:
        raise ParameterError("Diversity needs at least two images.")
    sq = np.einsum("ij,ij->i", x, x)
    d = np.sqrt(np.clip(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0, None))
    return float(d.sum() / (len(x) * (len(x) - 1)))


def generation_scores(images, intended, predicted, train_images) -> dict[str, float]:
    """How good a generator of labelled images is.

    ``accuracy``: fraction whose classifier prediction is the intended label;
    ``diversity``: mean pairwise distance within each intended class, averaged over classes;
    ``novelty``: mean distance to the nearest training image (0 = a copy of the training set).
    Images (n, 28, 28) or (n, 784) in [0, 1]; ``intended`` and ``predicted`` labels (n,).
    """
    intended, predicted = np.asarray(intended), np.asarray(predicted)
    classes = np.unique(intended)
    diversity = np.mean([mean_pairwise_distance(_flat(images)[intended == c]) for c in classes])
    novelty, _ = nearest_distances(images, train_images)
    return {"accuracy": float((intended == predicted).mean()), "diversity": float(diversity),
            "novelty": float(novelty.mean())}
