"""How a latent space orders time (ATD-12K paper, latent analysis): codes of frame triplets (frame 1, 2, 3).

Each measure takes codes ``zt`` (n, 3, d) of n triplets and answers one question: does the latent encode a
frame's position in time (:func:`frame_index_accuracy`), does it group frames by what they show
(:func:`within_between_ratio`, :func:`within_share_of_variance`), and does frame 2 lie on the way from
frame 1 to frame 3 (:func:`path_shape`; per triplet, :func:`path_geometry`). Pairwise distances are taken on
a seeded subsample of at most ``max_items`` codes, so memory stays bounded for the 36,000 frames of ATD-12K.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from latentlab.errors import ParameterError


def _triplets(zt: ArrayLike, least: int = 2) -> np.ndarray:
    try:
        zt = np.asarray(zt, np.float64)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"codes are not an array of numbers ({err}); give (n, 3, ...) codes.") from None
    if zt.ndim < 3 or zt.shape[1] != 3 or len(zt) < least:
        raise ParameterError(f"codes of shape {zt.shape}: give (n, 3, ...) codes of at least {least} triplets.")
    if not np.isfinite(zt).all():
        raise ParameterError("codes contain NaN or infinite values; check the encoder's output.")
    return zt.reshape(len(zt), 3, -1)


def _whole(value: int, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(f"{name}={value!r}: give a whole number >= {low}.")
    return int(value)


def path_geometry(points: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """For each triplet of ``points`` (n, 3, d): how far the middle point lies from the midpoint of the outer two,
    over their distance, and the cosine of the turn the path makes there (1 = straight on); two arrays (n,)."""
    p = _triplets(points, least=1)
    a, b, c = p[:, 0], p[:, 1], p[:, 2]
    off = np.linalg.norm(b - (a + c) / 2, axis=1) / np.maximum(np.linalg.norm(c - a, axis=1), 1e-12)
    s1, s2 = b - a, c - b
    cos = (s1 * s2).sum(1) / np.maximum(np.linalg.norm(s1, axis=1) * np.linalg.norm(s2, axis=1), 1e-12)
    return off, cos


def path_shape(points: ArrayLike) -> tuple[float, float]:
    """The medians over ``points`` (n, 3, d) of :func:`path_geometry`'s two measures."""
    off, cos = path_geometry(points)
    return float(np.median(off)), float(np.median(cos))


def frame_index_accuracy(zt: ArrayLike, k: int = 5, folds: int = 5) -> float:
    """Accuracy of a k-nearest-neighbour guess of each frame's index (1, 2, 3) from its code, cross-validated
    with whole triplets held out (chance: 1/3)."""
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    z = _triplets(zt)
    k, folds = _whole(k, "k", 1), _whole(folds, "folds", 2)
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


def within_between_ratio(zt: ArrayLike, max_items: int = 3000, seed: int = 0) -> float:
    """Mean distance between frames of one triplet over the mean distance between frames of different
    triplets (well below 1: the latent groups frames by what they show). The between-triplet mean is taken
    over the pairs of a seeded subsample of at most ``max_items`` frames."""
    from scipy.spatial.distance import pdist

    z = _triplets(zt)
    max_items = _whole(max_items, "max_items", 4)  # 4 frames always span two triplets
    within = np.mean([np.linalg.norm(z[:, i] - z[:, j], axis=1).mean() for i, j in ((0, 1), (0, 2), (1, 2))])
    flat, owner = z.reshape(-1, z.shape[2]), np.repeat(np.arange(len(z)), 3)
    pick = np.random.default_rng(seed).permutation(len(flat))[:max_items]
    dist = pdist(flat[pick])
    same = pdist(owner[pick, None].astype(float)) == 0
    between = dist[~same].mean()
    if not between > 0:
        raise ParameterError("every triplet has the same codes: there is no distance between triplets to compare.")
    return float(within / between)


def within_share_of_variance(zt: ArrayLike) -> float:
    """The share of the codes' variance that lies between frames of one triplet rather than between triplets."""
    z = _triplets(zt)
    total = z.reshape(-1, z.shape[2]).var(0).mean()
    if not total > 0:
        raise ParameterError("the codes have no variance (every frame has the same code): there is no share to take.")
    return float(z.var(1).mean() / total)


def triplet_structure(
    zt: ArrayLike,
    frames: ArrayLike | None = None,
    max_items: int = 3000,
    seed: int = 0,
    pixel_path: tuple[ArrayLike, ArrayLike] | None = None,
) -> dict[str, float]:
    """Every measure above for codes ``zt`` (n, 3, d); with ``frames`` (n, 3, ...) also the path shape in pixels.
    ``pixel_path`` gives that shape instead as :func:`path_geometry`'s per-triplet arrays, measured a batch at a
    time over any number of triplets (the frames of all of ATD-12K do not fit in memory)."""
    if frames is not None and pixel_path is not None:
        raise ParameterError("give the frames or their pixel_path, not both.")
    if frames is not None and len(np.asarray(frames)) != len(np.asarray(zt)):
        raise ParameterError(f"{len(np.asarray(frames))} frame triplets for {len(np.asarray(zt))} code triplets.")
    off, cos = path_shape(zt)
    out = {
        "frame index from the latent, 5-NN accuracy": frame_index_accuracy(zt),
        "within / between triplets, latent distance": within_between_ratio(zt, max_items, seed),
        "within-triplet share of variance": within_share_of_variance(zt),
        "frame 2 off the midpoint (latent)": off,
        "turn at frame 2, cosine (latent)": cos,
    }
    if frames is not None:
        pixel_path = path_geometry(frames)
    if pixel_path is not None:
        pix_off, pix_cos = (np.asarray(v, np.float64) for v in pixel_path)
        if pix_off.shape != pix_cos.shape or pix_off.ndim != 1 or not len(pix_off):
            raise ParameterError("pixel_path: give path_geometry's two arrays (n,) of one set of triplets.")
        out["frame 2 off the midpoint (pixels)"] = float(np.median(pix_off))
        out["turn at frame 2, cosine (pixels)"] = float(np.median(pix_cos))
    return out
