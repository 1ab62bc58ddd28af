"""Straight paths between latent points: convex combinations (MNIST paper, section 3.3.2)."""

from __future__ import annotations

import numpy as np

from latentlab.errors import ParameterError


def convex_combinations(a: np.ndarray, b: np.ndarray, n_steps: int) -> np.ndarray:
    """``n_steps`` points (1 - t) a + t b for t evenly spaced in [0, 1]: (n_steps, d)."""
    if n_steps < 2:
        raise ParameterError(f"n_steps={n_steps}: a path needs at least its two end points.")
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.shape != b.shape or a.ndim != 1:
        raise ParameterError(f"End points must be two vectors of one length, got {a.shape} and {b.shape}.")
    t = np.linspace(0.0, 1.0, n_steps, dtype=np.float32)[:, None]
    return (1.0 - t) * a + t * b


def pairwise_paths(points: np.ndarray, n_steps: int) -> np.ndarray:
    """Convex combinations between every ordered pair of ``points`` (c, d): (c, c, n_steps, d).
    Entry [i, j] runs from point i to point j; the diagonal stays at its point."""
    points = np.asarray(points, np.float32)
    return np.stack([np.stack([convex_combinations(p, q, n_steps) for q in points]) for p in points])
