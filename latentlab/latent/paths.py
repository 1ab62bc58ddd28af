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


def origin_to_centre(centre: np.ndarray, n_steps: int = 6) -> np.ndarray:
    """The straight path from the latent space's origin to the bulk centre (d,): (n_steps, d)
    (latent fragmentation blog, part VI)."""
    return convex_combinations(np.zeros_like(np.asarray(centre, np.float32)), centre, n_steps)


def plane_path(
    centre: np.ndarray,
    axes: tuple[int, int],
    half_lengths: tuple[float, float],
    angle_deg: float = 45.0,
    n_steps: int = 7,
) -> np.ndarray:
    """A path through ``centre`` (d,) inside the coordinate plane of ``axes`` (j1, j2): from
    centre - v to centre + v with v_j1 = cos(angle) h1, v_j2 = sin(angle) h2 and every other
    component of v zero (blog part VI). With h = a few widths of each component the path stays in
    the bulk's ellipse; another ``angle`` rotates it in the plane. Returns (n_steps, d)."""
    j1, j2 = axes
    if j1 == j2:
        raise ParameterError(f"axes={axes}: a plane needs two different components.")
    centre = np.asarray(centre, np.float32)
    v = np.zeros_like(centre)
    theta = np.deg2rad(angle_deg)
    v[j1], v[j2] = np.cos(theta) * half_lengths[0], np.sin(theta) * half_lengths[1]
    return convex_combinations(centre - v, centre + v, n_steps)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between rows of ``a`` and ``b`` (n, d) at ``t`` in [0, 1]: Shoemake's
    sin((1-t) w) / sin w * a + sin(t w) / sin w * b, w the angle between them (on the sphere when
    |a| = |b|); the straight line where they are parallel. (n, d) float32."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a, axis=-1, keepdims=True), np.linalg.norm(b, axis=-1, keepdims=True)
    cos = np.clip(np.sum(a * b, -1, keepdims=True) / np.maximum(na * nb, 1e-12), -1.0, 1.0)
    omega = np.arccos(cos)
    sin = np.sin(omega)
    safe = sin > 1e-6
    wa = np.where(safe, np.sin((1 - t) * omega) / np.where(safe, sin, 1.0), 1 - t)
    wb = np.where(safe, np.sin(t * omega) / np.where(safe, sin, 1.0), t)
    return (wa * a + wb * b).astype(np.float32)
