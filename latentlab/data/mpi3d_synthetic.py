"""A synthetic MPI3D-like scene, rendered deterministically with PIL: a robot-arm-like pole whose tip
holds an object, seen by a camera at one of three heights in front of a coloured background.

Factors, in MPI3D's order (see :data:`latentlab.data.mpi3d.FACTORS`): object colour (6), object shape
(6), object size (2), camera height (3), background colour (3), horizontal and vertical axis (40 each).
The last two are continuous: any float in [0, 39] renders, which makes the renderer a ground truth for
interpolations between grid images (the paper's future work, 6.2.1-6.2.2). It is the offline stand-in
for ``mpi3d_toy.npz``: images look alike in kind (64 x 64 RGB, smooth shading), not pixel for pixel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from latentlab.errors import ParameterError

if TYPE_CHECKING:
    from PIL import ImageDraw

FACTORS = (
    "object_color",
    "object_shape",
    "object_size",
    "camera_height",
    "background_color",
    "horizontal_axis",
    "vertical_axis",
)
FACTOR_SIZES = (6, 6, 2, 3, 3, 40, 40)
CONTINUOUS = ("horizontal_axis", "vertical_axis")

OBJECT_COLORS = {
    "white": (235, 235, 230),
    "green": (40, 165, 70),
    "red": (205, 45, 40),
    "blue": (45, 80, 205),
    "brown": (125, 80, 40),
    "olive": (130, 130, 20),
}
OBJECT_SHAPES = ("cone", "cube", "cylinder", "hexagonal", "pyramid", "sphere")
OBJECT_SIZES = ("small", "large")
CAMERA_HEIGHTS = ("top", "center", "bottom")
BACKGROUND_COLORS = {"purple": (105, 70, 140), "sea_green": (50, 135, 95), "salmon": (235, 135, 115)}

SIZE = 64
_SS = 4  # supersampling: drawn at 256 x 256, box-filtered down, so sub-pixel moves change the image
_ELEVATION = np.radians([62.0, 38.0, 14.0])  # camera looking down, per camera height
_HORIZON = (0.12, 0.38, 0.62)  # where the floor starts (fraction of the height), per camera height
_ARM = (70, 70, 78)


def check_factors(factors: ArrayLike, sizes: Sequence[int] = FACTOR_SIZES) -> np.ndarray:
    """``factors`` as a float (n, 7) array, or :class:`ParameterError` naming the first factor out of
    range: discrete factors must be integers in [0, size), the two axes floats in [0, size - 1]."""
    try:
        f = np.atleast_2d(np.asarray(factors, np.float64))
    except (TypeError, ValueError) as err:
        raise ParameterError(
            f"factors are not numbers ({err}); give (n, {len(FACTORS)}) values in the order {', '.join(FACTORS)}."
        ) from None
    if f.ndim != 2 or f.shape[1] != len(FACTORS):
        raise ParameterError(
            f"factors have shape {np.shape(factors)}; expected (n, {len(FACTORS)}) in the order {', '.join(FACTORS)}."
        )
    for i, (name, size) in enumerate(zip(FACTORS, sizes)):
        col = f[:, i]
        top = size - 1
        bad = ~np.isfinite(col) | (col < 0) | (col > top)
        if name not in CONTINUOUS:
            bad |= col != np.round(col)
        if bad.any():
            kind = "a float in [0, {}]" if name in CONTINUOUS else "an integer in 0..{}"
            raise ParameterError(
                f"{name}={float(col[bad][0]):g} is out of range: it must be {kind.format(top)} ({size} values)."
            )
    return f


def _geometry(h: float, v: float, camera: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Screen positions (in 0..1 units, y down) of the arm's base and tip, and the tip's depth scale."""
    alpha = np.radians(-55.0 + 110.0 * h / 39.0)  # rotation of the base about the vertical
    beta = np.radians(-5.0 + 70.0 * v / 39.0)  # elevation of the arm
    tip = np.array(
        [0.62 * np.sin(alpha) * np.cos(beta), 0.62 * np.cos(alpha) * np.cos(beta) - 0.15, 0.62 * np.sin(beta) + 0.1]
    )
    base = np.array([0.0, -0.15, -0.35])
    e = _ELEVATION[camera]

    def project(p: np.ndarray) -> tuple[np.ndarray, float]:
        depth = p[1] * np.cos(e) - p[2] * np.sin(e)
        s = 1.0 / (1.0 + 0.35 * depth)
        return np.array([0.5 + 0.55 * s * p[0], 0.62 - 0.55 * s * (p[1] * np.sin(e) + p[2] * np.cos(e))]), s

    (b, _), (t, s) = project(base), project(tip)
    return b, t, s


def _draw_object(
    draw: ImageDraw.ImageDraw,
    shape: str,
    cx: float,
    cy: float,
    r: float,
    color: tuple[int, ...],
    shade: tuple[tuple[int, ...], tuple[int, ...]],
) -> None:
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == "sphere":
        draw.ellipse(box, fill=color)
        draw.ellipse((cx - 0.55 * r, cy - 0.6 * r, cx - 0.05 * r, cy - 0.1 * r), fill=shade[1])
    elif shape == "cube":
        draw.rectangle((cx - r, cy - 0.6 * r, cx + 0.6 * r, cy + r), fill=color)
        draw.polygon(
            [(cx - r, cy - 0.6 * r), (cx - 0.6 * r, cy - r), (cx + r, cy - r), (cx + 0.6 * r, cy - 0.6 * r)],
            fill=shade[1],
        )
        draw.polygon(
            [(cx + 0.6 * r, cy - 0.6 * r), (cx + r, cy - r), (cx + r, cy + 0.6 * r), (cx + 0.6 * r, cy + r)],
            fill=shade[0],
        )
    elif shape == "cylinder":
        draw.rectangle((cx - 0.75 * r, cy - 0.7 * r, cx + 0.75 * r, cy + 0.8 * r), fill=color)
        draw.ellipse((cx - 0.75 * r, cy + 0.55 * r, cx + 0.75 * r, cy + r), fill=color)
        draw.ellipse((cx - 0.75 * r, cy - r, cx + 0.75 * r, cy - 0.4 * r), fill=shade[1])
    elif shape == "cone":
        draw.ellipse((cx - r, cy + 0.55 * r, cx + r, cy + r), fill=shade[0])
        draw.polygon([(cx, cy - r), (cx - r, cy + 0.78 * r), (cx + r, cy + 0.78 * r)], fill=color)
    elif shape == "pyramid":
        draw.polygon([(cx, cy - r), (cx - r, cy + 0.8 * r), (cx + 0.15 * r, cy + r)], fill=color)
        draw.polygon([(cx, cy - r), (cx + 0.15 * r, cy + r), (cx + r, cy + 0.7 * r)], fill=shade[0])
    else:  # hexagonal prism, seen end-on
        angles = np.radians(np.arange(6) * 60.0 + 30.0)
        draw.polygon([(cx + r * np.cos(a), cy + r * np.sin(a)) for a in angles], fill=color)
        draw.polygon([(cx + 0.5 * r * np.cos(a), cy + 0.5 * r * np.sin(a) - 0.1 * r) for a in angles], fill=shade[1])


def _render_one(f: np.ndarray) -> np.ndarray:
    from PIL import Image, ImageDraw

    color_i, shape_i, size_i, camera, bg_i = (int(round(x)) for x in f[:5])
    h, v = float(f[5]), float(f[6])
    n = SIZE * _SS
    bg = np.array(list(BACKGROUND_COLORS.values())[bg_i], np.float64)
    img = Image.new("RGB", (n, n), tuple(int(c) for c in bg))
    draw = ImageDraw.Draw(img)
    floor = int(_HORIZON[camera] * n)
    draw.rectangle((0, n - floor, n, n), fill=tuple(int(c) for c in 0.8 * bg))
    base, tip, s = _geometry(h, v, camera)
    bx, by, tx, ty = base[0] * n, base[1] * n, tip[0] * n, tip[1] * n
    draw.rectangle((bx - 0.07 * n, by - 0.02 * n, bx + 0.07 * n, by + 0.06 * n), fill=(50, 50, 56))
    draw.line((bx, by, tx, ty), fill=_ARM, width=max(1, int(round(0.045 * n * s))))
    color = np.array(list(OBJECT_COLORS.values())[color_i], np.float64)
    shade = (tuple(int(c) for c in 0.7 * color), tuple(int(c) for c in np.minimum(255, 0.75 * color + 64)))
    radius = (0.075 if size_i == 0 else 0.115) * n * s
    _draw_object(draw, OBJECT_SHAPES[shape_i], tx, ty - 0.6 * radius, radius, tuple(int(c) for c in color), shade)
    return np.asarray(img.resize((SIZE, SIZE), Image.BOX), np.uint8)


def render(factors: ArrayLike) -> np.ndarray:
    """Images of the scene at ``factors`` ((n, 7) or (7,), MPI3D's factor order; the two axes may be
    any floats in [0, 39]): (n, 64, 64, 3) uint8. Same factors, same pixels."""
    f = check_factors(factors)
    out = np.empty((len(f), SIZE, SIZE, 3), np.uint8)
    for i, row in enumerate(f):
        out[i] = _render_one(row)
    return out


def grid_factors(sizes: Sequence[int] = FACTOR_SIZES, indices: ArrayLike | None = None) -> np.ndarray:
    """Factor values of the images of an MPI3D-layout array (row-major over ``sizes``): all of them, or
    those at flat ``indices`` (m,): (m, 7) int."""
    sizes = _check_sizes(sizes, renderable=False)
    total = int(np.prod(sizes))
    if indices is None:
        idx = np.arange(total)
    else:
        idx = np.asarray(indices)
        whole = np.issubdtype(idx.dtype, np.integer) or (
            np.issubdtype(idx.dtype, np.floating) and bool((idx == np.round(idx)).all())
        )
        if idx.size and not whole:
            raise ParameterError(f"image indices must be whole numbers in 0..{total - 1}, got {idx.dtype}.")
        idx = idx.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= total):
        raise ParameterError(f"image indices must lie in 0..{total - 1} for factor sizes {tuple(sizes)}.")
    return np.stack(np.unravel_index(idx, tuple(sizes)), axis=1)


def _check_sizes(sizes: Sequence[int], renderable: bool = True) -> tuple[int, ...]:
    """Factor sizes: one whole number >= 1 per factor (with ``renderable``, the discrete ones at most the
    renderer's)."""
    try:
        sizes = tuple(sizes)
    except TypeError:
        sizes = ()
    if (
        len(sizes) != len(FACTORS)
        or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes)
        or (renderable and any(s > top for s, top in zip(sizes, FACTOR_SIZES)))
    ):
        raise ParameterError(
            f"sizes={sizes!r}: give {len(FACTORS)} whole numbers >= 1 in the order {', '.join(FACTORS)}, "
            f"at most {FACTOR_SIZES} to render (the values the renderer knows)."
        )
    return tuple(int(s) for s in sizes)


class SyntheticImages:
    """A lazily rendered (N, 64, 64, 3) uint8 array in MPI3D's layout: ``images[i]`` is the image whose
    factors are ``grid_factors(sizes, [i])``. Supports integer, slice and integer-array indexing, so
    the loader's selection code works on it exactly as on the memory-mapped real file; an integer index
    outside ``-N .. N - 1`` raises :class:`IndexError`, as numpy does."""

    dtype = np.dtype(np.uint8)

    def __init__(self, sizes: Sequence[int] = FACTOR_SIZES) -> None:
        self.sizes = _check_sizes(sizes)
        self.shape = (int(np.prod(self.sizes)), SIZE, SIZE, 3)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: int | slice | ArrayLike) -> np.ndarray:
        """The image(s) at ``key``: (64, 64, 3) uint8 for an integer, (*key.shape, 64, 64, 3) otherwise."""
        if isinstance(key, (int, np.integer)):
            index, n = int(key), len(self)
            if not -n <= index < n:
                raise IndexError(f"index {index} is out of bounds for axis 0 with size {n}")
            return render(grid_factors(self.sizes, [index % n]))[0]
        idx = np.arange(len(self))[key] if isinstance(key, slice) else np.asarray(key, np.int64)
        return render(grid_factors(self.sizes, idx.ravel())).reshape(*idx.shape, SIZE, SIZE, 3)

    def __repr__(self) -> str:
        return f"SyntheticImages(sizes={self.sizes}, shape={self.shape})"


def valid_factor_paths(start: ArrayLike, goal: ArrayLike, n_frames: int) -> dict[str, np.ndarray]:
    """The interpolations we count as valid between two factor settings ((7,) each, equal in the
    discrete factors): the straight line in (horizontal, vertical), and the two L-shaped paths (one axis
    first, then the other) at constant speed. Returns ``{name: (n_frames, 7) float}``."""
    a, b = check_factors(start), check_factors(goal)
    if len(a) != 1 or len(b) != 1:
        raise ParameterError(
            f"start and goal must be one factor setting ({len(FACTORS)},) each, got {len(a)} and {len(b)}."
        )
    a, b = a[0], b[0]
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 2:
        raise ParameterError(f"n_frames={n_frames}: a path needs at least its two end points.")
    if not np.array_equal(a[:5], b[:5]):
        raise ParameterError("start and goal differ in a discrete factor; valid paths move only the two axes.")
    t = np.linspace(0.0, 1.0, n_frames)[:, None]
    paths = {"straight": a + t * (b - a)}
    dh, dv = abs(b[5] - a[5]), abs(b[6] - a[6])
    corner_h, corner_v = a.copy(), a.copy()
    corner_h[5], corner_v[6] = b[5], b[6]
    for name, corner, first in (("horizontal first", corner_h, dh), ("vertical first", corner_v, dv)):
        split = first / (dh + dv) if dh + dv > 0 else 0.5
        leg1 = a + np.clip(t / max(split, 1e-12), 0, 1) * (corner - a)
        leg2 = corner + np.clip((t - split) / max(1 - split, 1e-12), 0, 1) * (b - corner)
        paths[name] = np.where(t <= split, leg1, leg2)
    return paths


def truth_interpolations(start: ArrayLike, goal: ArrayLike, n_frames: int) -> dict[str, np.ndarray]:
    """Renders of every :func:`valid_factor_paths` path: ``{name: (n_frames, 64, 64, 3) uint8}``,
    ``straight`` first."""
    return {name: render(path) for name, path in valid_factor_paths(start, goal, n_frames).items()}
