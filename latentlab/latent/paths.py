"""Paths between latent points: convex combinations (MNIST paper, section 3.3.2), slerp, and paths as functions
``t -> latent`` for t in [0, 1] (:func:`linear_path`, :func:`slerp_path`, :func:`polyline_path`; ATD-12K paper)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from latentlab.errors import ParameterError


def _vectors(x: ArrayLike, name: str) -> np.ndarray:
    try:
        x = np.asarray(x, np.float32)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"{name} is not an array of numbers ({err}).") from None
    if not np.isfinite(x).all():
        raise ParameterError(f"{name} contains NaN or infinite values; check the codes it came from.")
    return x


def _steps(n_steps: int) -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 2:
        raise ParameterError(f"n_steps={n_steps!r}: a path needs at least its two end points (a whole number >= 2).")
    return int(n_steps)


def convex_combinations(a: ArrayLike, b: ArrayLike, n_steps: int) -> np.ndarray:
    """``n_steps`` points (1 - t) a + t b for t evenly spaced in [0, 1]: (n_steps, d)."""
    n_steps = _steps(n_steps)
    a, b = _vectors(a, "a"), _vectors(b, "b")
    if a.shape != b.shape or a.ndim != 1:
        raise ParameterError(f"End points must be two vectors of one length, got {a.shape} and {b.shape}.")
    t = np.linspace(0.0, 1.0, n_steps, dtype=np.float32)[:, None]
    return (1.0 - t) * a + t * b


def pairwise_paths(points: ArrayLike, n_steps: int) -> np.ndarray:
    """Convex combinations between every ordered pair of ``points`` (c, d): (c, c, n_steps, d).
    Entry [i, j] runs from point i to point j; the diagonal stays at its point."""
    points = _vectors(points, "points")
    if points.ndim != 2 or len(points) == 0:
        raise ParameterError(f"points have shape {points.shape}; give points (c, d) with c >= 1.")
    return np.stack([np.stack([convex_combinations(p, q, n_steps) for q in points]) for p in points])


def origin_to_centre(centre: ArrayLike, n_steps: int = 6) -> np.ndarray:
    """The straight path from the latent space's origin to the bulk centre (d,): (n_steps, d)
    (latent fragmentation blog, part VI)."""
    centre = _vectors(centre, "centre")
    return convex_combinations(np.zeros_like(centre), centre, n_steps)


def plane_path(
    centre: ArrayLike,
    axes: tuple[int, int],
    half_lengths: tuple[float, float],
    angle_deg: float = 45.0,
    n_steps: int = 7,
) -> np.ndarray:
    """A path through ``centre`` (d,) inside the coordinate plane of ``axes`` (j1, j2): from
    centre - v to centre + v with v_j1 = cos(angle) h1, v_j2 = sin(angle) h2 and every other
    component of v zero (blog part VI). With h = a few widths of each component the path stays in
    the bulk's ellipse; another ``angle`` rotates it in the plane. Returns (n_steps, d)."""
    centre = _vectors(centre, "centre")
    if centre.ndim != 1:
        raise ParameterError(f"centre has shape {centre.shape}; give one vector (d,).")
    if (
        not isinstance(axes, (tuple, list))
        or len(axes) != 2
        or any(isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 0 <= j < len(centre) for j in axes)
    ):
        raise ParameterError(f"axes={axes!r}: give two component indices in 0..{len(centre) - 1}.")
    j1, j2 = (int(j) for j in axes)
    if j1 == j2:
        raise ParameterError(f"axes={axes}: a plane needs two different components.")
    half_lengths = _vectors(half_lengths, "half_lengths")
    if half_lengths.shape != (2,) or not np.isfinite(angle_deg):
        raise ParameterError(
            f"half_lengths={half_lengths}, angle_deg={angle_deg}: give two lengths and a finite angle."
        )
    v = np.zeros_like(centre)
    theta = np.deg2rad(angle_deg)
    v[j1], v[j2] = np.cos(theta) * half_lengths[0], np.sin(theta) * half_lengths[1]
    return convex_combinations(centre - v, centre + v, n_steps)


def slerp(a: ArrayLike, b: ArrayLike, t: float) -> np.ndarray:
    """Spherical interpolation between rows of ``a`` and ``b`` (n, d) at ``t`` in [0, 1]: Shoemake's
    sin((1-t) w) / sin w * a + sin(t w) / sin w * b, w the angle between them (on the sphere when
    |a| = |b|); the straight line where they are parallel. (n, d) float32."""
    a, b = _vectors(a, "a").astype(np.float64), _vectors(b, "b").astype(np.float64)
    if a.shape != b.shape or a.ndim == 0:
        raise ParameterError(f"a {a.shape} and b {b.shape} must be arrays of one shape (n, d).")
    if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)) or not 0 <= t <= 1:
        raise ParameterError(f"t={t!r}: give a number in [0, 1] (0 = a, 1 = b).")
    na, nb = np.linalg.norm(a, axis=-1, keepdims=True), np.linalg.norm(b, axis=-1, keepdims=True)
    cos = np.clip(np.sum(a * b, -1, keepdims=True) / np.maximum(na * nb, 1e-12), -1.0, 1.0)
    omega = np.arccos(cos)
    sin = np.sin(omega)
    safe = sin > 1e-6
    wa = np.where(safe, np.sin((1 - t) * omega) / np.where(safe, sin, 1.0), 1 - t)
    wb = np.where(safe, np.sin(t * omega) / np.where(safe, sin, 1.0), t)
    return (wa * a + wb * b).astype(np.float32)


def _t(t: float) -> float:
    if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)) or not 0 <= t <= 1:
        raise ParameterError(f"t={t!r}: give a number in [0, 1] (0 = the path's start, 1 = its end).")
    return float(t)


def _latents(points: Sequence[ArrayLike], what: str) -> list[np.ndarray]:
    arrays = [_vectors(p, f"{what} {i + 1}") for i, p in enumerate(points)]
    shapes = [a.shape for a in arrays]
    if len(set(shapes)) != 1 or arrays[0].size == 0:
        raise ParameterError(f"{what}s must be latents of one shape, e.g. (h, w, c) each; got {shapes}.")
    return arrays


def linear_path(a: ArrayLike, b: ArrayLike) -> Callable[[float], np.ndarray]:
    """The straight path ``t -> (1 - t) a + t b`` between two latents of one shape (any, e.g. (h, w, c)),
    t in [0, 1]; each point float32 of that shape."""
    a, b = _latents([a, b], "end point")

    def at(t: float) -> np.ndarray:
        t = _t(t)
        return (1 - t) * a + t * b

    return at


def slerp_path(a: ArrayLike, b: ArrayLike) -> Callable[[float], np.ndarray]:
    """The spherical path ``t ->`` :func:`slerp` of the whole latents ``a`` and ``b`` (one shape, e.g. (h, w, c),
    each taken as one flat vector as notebook 03 does), t in [0, 1]; each point float32 of that shape."""
    a, b = _latents([a, b], "end point")
    flat_a, flat_b = a.reshape(1, -1), b.reshape(1, -1)
    return lambda t: slerp(flat_a, flat_b, _t(t)).reshape(a.shape)


def polyline_path(*points: ArrayLike) -> Callable[[float], np.ndarray]:
    """The piecewise-straight path through ``points`` (k >= 2 latents of one shape), the i-th reached at
    t = i / (k - 1): with (z1, predicted z2, z3), t = 0.5 is the prediction. Each point float32 of that shape."""
    if len(points) < 2:
        raise ParameterError(f"a path through {len(points)} point(s): give at least two latents (start and end).")
    stacked = np.stack(_latents(points, "key point"))
    last = len(stacked) - 1

    def at(t: float) -> np.ndarray:
        s = _t(t) * last
        i = min(int(s), last - 1)
        return (1 - (s - i)) * stacked[i] + (s - i) * stacked[i + 1]

    return at
