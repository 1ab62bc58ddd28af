"""How a latent space orders time (ATD-12K paper, latent analysis): codes of frame triplets (frame 1, 2, 3).

Each measure takes codes ``zt`` (n, 3, d) of n triplets and answers one question: does the latent encode a
frame's position in time (:func:`frame_index_accuracy`), does it group frames by what they show
(:func:`within_between_ratio`, :func:`within_share_of_variance`), and does frame 2 lie on the way from
frame 1 to frame 3 (:func:`path_shape`). Pairwise distances are taken on a seeded subsample of at most
``max_items`` codes, so memory stays bounded for the 36,000 frames of ATD-12K.
"""

from __future__ import annotations

import numpy as np

from latentlab.errors import ParameterError


def _triplets(zt) -> np.ndarray:
    zt = np.asarray(zt, np.float64)
    if zt.ndim < 3 or zt.shape[1] != 3 or len(zt) < 2:
        raise ParameterError(f"codes of shape {zt.shape}: give (n, 3, ...) codes of at least 2 triplets.")
    return zt.reshape(len(zt), 3, -1)


def path_shape(points) -> tuple[float, float]:
    """How far the middle point lies from the midpoint of the outer two, over their distance, and the cosine
    of the turn the path makes there (1 = straight on), medians over ``points`` (n, 3, d)."""
    p = _triplets(points)
    a, b, c = p[:, 0], p[:, 1], p[:, 2]
    off = np.linalg.norm(b - (a + c) / 2, axis=1) / np.maximum(np.linalg.norm(c - a, axis=1), 1e-12)
    s1, s2 = b - a, c - b
    cos = (s1 * s2).sum(1) / np.maximum(np.linalg.norm(s1, axis=1) * np.linalg.norm(s2, axis=1), 1e-12)
    return float(np.median(off)), float(np.median(cos))


def frame_index_accuracy(zt, k: int = 5, folds: int = 5) -> float:
    """Accuracy of a k-nearest-neighbour guess of each frame's index (1, 2, 3) from its code, cross-validated
    with whole triplets held out (chance: 1/3)."""
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    z = _triplets(zt)
    n = len(z)
    groups, labels = np.repeat(np.arange(n), 3), np.tile([1, 2, 3], n)
    scores = cross_val_score(
        KNeighborsClassifier(min(k, 3 * n - 3)),
        z.reshape(3 * n, -1),
        labels,
        groups=groups,
        cv=GroupKFold(min(folds, n)),
    )
    return float(scores.mean())


def within_between_ratio(zt, max_items: int = 3000, seed: int = 0) -> float:
    """Mean distance between frames of one triplet over the mean distance between frames of different
    triplets (well below 1: the latent groups frames by what they show). The between-triplet mean is taken
    over the pairs of a seeded subsample of at most ``max_items`` frames."""
    from scipy.spatial.distance import pdist

    z = _triplets(zt)
    within = np.mean([np.linalg.norm(z[:, i] - z[:, j], axis=1).mean() for i, j in ((0, 1), (0, 2), (1, 2))])
    flat, owner = z.reshape(-1, z.shape[2]), np.repeat(np.arange(len(z)), 3)
    pick = np.random.default_rng(seed).permutation(len(flat))[:max_items]
    dist = pdist(flat[pick])
    same = pdist(owner[pick, None].astype(float)) == 0
    return float(within / dist[~same].mean())


def within_share_of_variance(zt) -> float:
    """The share of the codes' variance that lies between frames of one triplet rather than between triplets."""
    z = _triplets(zt)
    return float(z.var(1).mean() / z.reshape(-1, z.shape[2]).var(0).mean())


def triplet_structure(zt, frames=None, max_items: int = 3000, seed: int = 0) -> dict[str, float]:
    """Every measure above for codes ``zt`` (n, 3, d); with ``frames`` (n, 3, ...) also the path shape in pixels."""
    off, cos = path_shape(zt)
    out = {
        "frame index from the latent, 5-NN accuracy": frame_index_accuracy(zt),
        "within / between triplets, latent distance": within_between_ratio(zt, max_items, seed),
        "within-triplet share of variance": within_share_of_variance(zt),
        "frame 2 off the midpoint (latent)": off,
        "turn at frame 2, cosine (latent)": cos,
    }
    if frames is not None:
        out["frame 2 off the midpoint (pixels)"], out["turn at frame 2, cosine (pixels)"] = path_shape(frames)
    return out
