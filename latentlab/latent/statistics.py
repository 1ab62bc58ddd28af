"""Statistics of a latent space's z-points, and statistical z-points to compare with them
(*latent space fragmentation* blog, parts II-VI).

Over real latent vectors ``z`` (n, d):

* per-component number distributions with a Gaussian fit (:func:`component_stats`), the dominant
  components (:func:`dominant_components`), correlations (:func:`strongest_pairs`);
* radii against statistical vectors with independent uniform components in [-b, b], whose radii
  crowd into a thin shell of radius ~ b sqrt(d/3) and width ~ b / sqrt(15) (:func:`uniform_radius_pdf`);
* the slice test of part IV (:func:`slice_mask`);
* generators of statistical vectors (:func:`statistical_generators`);
* beyond the blog: how far any set of z-points lies from the real bulk (:class:`BulkReference`:
  k-nearest-neighbour distance relative to real-to-real, Mahalanobis percentile), how well its
  decoded images survive re-encoding (:func:`reencoding_error`), how much the images along a path
  change (:func:`path_pixel_spread`, part VI), the part-IV window around the origin
  (:func:`window_mask`), and what the faces nearest a point have in common (:func:`share_near`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from latentlab.batching import subsample
from latentlab.errors import ParameterError
from latentlab.latent.samplers import ClassGaussian, ClassGMM


def _codes(z: ArrayLike, name: str = "z", min_n: int = 2) -> np.ndarray:
    try:
        z = np.asarray(z, np.float64)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"{name} is not an array of numbers ({err}); give latent vectors (n, d).") from None
    if z.ndim != 2 or len(z) < min_n or z.shape[1] < 1:
        raise ParameterError(f"{name} must be latent vectors (n, d) with n >= {min_n}, got shape {z.shape}.")
    if not np.isfinite(z).all():
        raise ParameterError(f"{name} contains NaN or infinite values; check the encoder's output.")
    return z


def _whole(value: int, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(f"{name}={value!r}: give a whole number >= {low}.")
    return int(value)


def _positive(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name}={value!r}: give a finite number > 0.")
    if not np.isfinite(value) or value <= 0:
        raise ParameterError(f"{name}={value}: give a finite number > 0.")
    return float(value)


def _gaussian(x: np.ndarray, amplitude: float, mean: float, width: float) -> np.ndarray:
    return amplitude * np.exp(-0.5 * ((x - mean) / width) ** 2)


@dataclasses.dataclass(frozen=True)
class ComponentStats:
    """Per-component number distributions: Gaussian-fit ``mean`` and ``width`` (sigma), and the
    plain ``sample_mean`` and ``sample_std``, each (d,)."""

    mean: np.ndarray
    width: np.ndarray
    sample_mean: np.ndarray
    sample_std: np.ndarray

    @property
    def score(self) -> np.ndarray:
        """mean^2 + width^2 per component (d,): its share of the squared radius of a typical z-point."""
        return self.mean**2 + self.width**2


def fit_gaussian(values: np.ndarray, bins: int = 50) -> tuple[float, float]:
    """(mean, sigma) of a Gaussian fitted by least squares to the histogram of ``values`` (n,),
    starting from the sample mean and standard deviation (returned if the fit fails)."""
    from scipy.optimize import curve_fit

    values = np.asarray(values, np.float64).ravel()
    bins = _whole(bins, "bins")
    if len(values) < 2 or not np.isfinite(values).all():
        raise ParameterError(
            f"fit_gaussian needs at least two finite values, got {len(values)} "
            f"({int((~np.isfinite(values)).sum())} not finite)."
        )
    m0, s0 = float(values.mean()), float(values.std()) or 1e-6
    density, edges = np.histogram(values, bins=bins, density=True)
    centres = 0.5 * (edges[1:] + edges[:-1])
    try:
        (_, m, s), _ = curve_fit(_gaussian, centres, density, p0=(density.max(), m0, s0), maxfev=2000)
    except (RuntimeError, ValueError):
        return m0, s0
    s = abs(s)
    if not (np.isfinite(m) and np.isfinite(s)) or s > 10 * s0 or s < 0.1 * s0:
        return m0, s0
    return float(m), float(s)


def component_stats(z: ArrayLike, bins: int = 50) -> ComponentStats:
    """Gaussian fits to the number distribution of every component of ``z`` (n, d)."""
    z = _codes(z)
    bins = _whole(bins, "bins")
    fits = np.array([fit_gaussian(z[:, j], bins) for j in range(z.shape[1])])
    return ComponentStats(fits[:, 0], fits[:, 1], z.mean(0), z.std(0))


def dominant_components(stats: ComponentStats, min_abs_mean: float = 1.0, min_width: float = 1.0) -> np.ndarray:
    """Indices of the blog's dominant components, whose distribution is centred away from 0
    (``|mean| >= min_abs_mean``) and wide (``width >= min_width``), largest :attr:`~ComponentStats.score` first."""
    for name, value in (("min_abs_mean", min_abs_mean), ("min_width", min_width)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value >= 0:
            raise ParameterError(f"{name}={value!r}: give a number >= 0.")
    hits = np.flatnonzero((np.abs(stats.mean) >= min_abs_mean) & (stats.width >= min_width))
    return hits[np.argsort(-stats.score[hits], kind="stable")]


def top_components(stats: ComponentStats, k: int, **criteria: float) -> np.ndarray:
    """``k`` component indices: the dominant ones (see :func:`dominant_components`) first, then the
    others, each group by decreasing score."""
    k = _whole(k, "k")
    if k > len(stats.score):
        raise ParameterError(f"k={k}: there are only {len(stats.score)} components.")
    dominant = dominant_components(stats, **criteria)
    rest = np.setdiff1d(np.arange(len(stats.score)), dominant)
    rest = rest[np.argsort(-stats.score[rest], kind="stable")]
    return np.concatenate([dominant, rest])[:k]


def correlation(z: ArrayLike) -> np.ndarray:
    """Pearson correlation matrix (d, d) of the components of ``z``; constant components get 0."""
    z = _codes(z)
    std = z.std(0)
    zc = (z - z.mean(0)) / np.where(std > 0, std, 1.0)
    corr = zc.T @ zc / len(z)
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, -1.0, 1.0)


def strongest_pairs(corr: np.ndarray, k: int = 10) -> list[tuple[int, int, float]]:
    """The ``k`` component pairs (i < j) with the largest |correlation|, as (i, j, r)."""
    corr = np.asarray(corr, np.float64)
    if corr.ndim != 2 or corr.shape[0] != corr.shape[1] or not np.isfinite(corr).all():
        raise ParameterError(f"corr has shape {corr.shape}; give a finite square correlation matrix (d, d).")
    k = _whole(k, "k")
    i, j = np.triu_indices(len(corr), k=1)
    order = np.argsort(-np.abs(corr[i, j]), kind="stable")[:k]
    return [(int(i[o]), int(j[o]), float(corr[i[o], j[o]])) for o in order]


def radii(z: ArrayLike) -> np.ndarray:
    """Euclidean length of each vector (n,)."""
    z = np.asarray(z, np.float64)
    if z.ndim != 2 or not np.isfinite(z).all():
        raise ParameterError(f"z has shape {z.shape}; give finite latent vectors (n, d).")
    return np.linalg.norm(z, axis=1)


def uniform_radius_moments(b: float, d: int) -> tuple[float, float]:
    """Mean and standard deviation of the radius of d independent components uniform in [-b, b]:
    r^2 has mean d b^2 / 3 and variance 4 d b^4 / 45, so r ~ b sqrt(d / 3) +- b / sqrt(15)
    (a shell whose width does not grow with d)."""
    b, d = _positive(b, "b"), _whole(d, "d")
    mean_sq, var_sq = d * b * b / 3.0, 4.0 * d * b**4 / 45.0
    mean = np.sqrt(mean_sq) * (1.0 - var_sq / (8.0 * mean_sq**2))
    return float(mean), float(np.sqrt(var_sq) / (2.0 * np.sqrt(mean_sq)))


def uniform_radius_pdf(r: ArrayLike, b: float, d: int) -> np.ndarray:
    """Density of the radius at ``r`` for d components uniform in [-b, b] (central-limit form:
    r^2 Gaussian with the exact mean and variance of :func:`uniform_radius_moments`)."""
    r = np.asarray(r, np.float64)
    b, d = _positive(b, "b"), _whole(d, "d")
    mean_sq, var_sq = d * b * b / 3.0, 4.0 * d * b**4 / 45.0
    return 2.0 * r * np.exp(-0.5 * (r * r - mean_sq) ** 2 / var_sq) / np.sqrt(2.0 * np.pi * var_sq)


def radius_matched_b(z: ArrayLike) -> float:
    """The b for which uniform vectors in [-b, b]^d have the real vectors' root-mean-square radius."""
    z = _codes(z)
    return float(np.sqrt(3.0 * np.mean(np.sum(z * z, axis=1)) / z.shape[1]))


def slice_mask(z: ArrayLike, keep: tuple[int, int], bound: float = 1.5) -> np.ndarray:
    """The part-IV slice: True where |z_j| < ``bound`` for every component j except the two in ``keep``."""
    z = _codes(z, min_n=1)
    bound = _positive(bound, "bound")
    if any(isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 0 <= j < z.shape[1] for j in keep):
        raise ParameterError(f"keep={keep!r}: give component indices in 0..{z.shape[1] - 1}.")
    inside = np.abs(z) < bound
    inside[:, list(keep)] = True
    return inside.all(axis=1)


def uniform_cube(n: int, d: int, b: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` vectors (n, d) with independent components uniform in [-b, b]."""
    n, d, b, rng = _whole(n, "n"), _whole(d, "d"), _positive(b, "b"), _rng(rng)
    return rng.uniform(-b, b, size=(n, d))


def uniform_intervals(n: int, low: np.ndarray, high: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``n`` vectors whose component j is uniform in [low_j, high_j]."""
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    n, rng = _whole(n, "n"), _rng(rng)
    if low.ndim != 1 or low.shape != high.shape or not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise ParameterError(f"low {low.shape} and high {high.shape} must be finite vectors (d,) of one length.")
    if (low > high).any():
        raise ParameterError(f"low > high for components {np.flatnonzero(low > high).tolist()[:10]}; swap them.")
    return low + (high - low) * rng.uniform(size=(n, len(low)))


def independent_gaussians(n: int, mean: np.ndarray, width: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``n`` vectors whose component j is drawn from N(mean_j, width_j^2), independently of the others."""
    mean, width = np.asarray(mean, np.float64), np.asarray(width, np.float64)
    n, rng = _whole(n, "n"), _rng(rng)
    if mean.ndim != 1 or mean.shape != width.shape or not (np.isfinite(mean).all() and np.isfinite(width).all()):
        raise ParameterError(f"mean {mean.shape} and width {width.shape} must be finite vectors (d,) of one length.")
    if (width < 0).any():
        raise ParameterError("width holds negative values; widths are standard deviations (>= 0).")
    return np.asarray(mean) + np.asarray(width) * rng.standard_normal((n, len(mean)))


Generator = Callable[[int, np.random.Generator], np.ndarray]


def _rng(rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(f"rng={rng!r}: pass a numpy Generator, np.random.default_rng(seed).")
    return rng


def statistical_generators(
    z: ArrayLike,
    stats: ComponentStats,
    bs: Sequence[float] = (1.0, 1.5, 2.0, 5.0),
    gmm_k: int = 10,
    gmm_max_iter: int = 100,
    seed: int = 0,
    gmm_max_codes: int | None = None,
) -> dict[str, Generator]:
    """Named generators ``(n, rng) -> (n, d)`` of statistical vectors, from the blog's naive ones to
    ones fitted to the real latents ``z`` (n, d):

    uniform b            components uniform in [-b, b], for each b in ``bs`` (part V)
    uniform b*           the same with b matched to the real radii
    intervals [-b_j, b_j]    per-component intervals with b_j = |mean_j| + width_j (part V, literally)
    intervals mean +- w  per-component intervals mean_j +- sqrt(3) width_j (same mean and variance)
    Gaussians per component  independent N(mean_j, width_j^2) (the end of part V)
    full-covariance Gaussian, GMM K   fitted to ``z`` with correlations (beyond the blog)

    The mixture is fitted on a seeded subsample of at most ``gmm_max_codes`` codes (None: all of them), since
    each EM step costs about n K d^2 multiply-adds: 5e11 for K = 50 full covariances in 256 dimensions over
    CelebA's 160,000 training codes; :func:`gmm_codes_used` says how many it takes.
    """
    z = _codes(z)
    d = z.shape[1]
    if len(stats.mean) != d:
        raise ParameterError(f"stats describe {len(stats.mean)} components but z has {d}: use component_stats(z).")
    bs = [_positive(b, "b") for b in bs]
    gens: dict[str, Generator] = {f"uniform b={b:g}": (lambda n, rng, b=b: uniform_cube(n, d, b, rng)) for b in bs}
    b_star = radius_matched_b(z)
    gens[f"uniform b*={b_star:.2f} (radius-matched)"] = lambda n, rng: uniform_cube(n, d, b_star, rng)
    reach = np.abs(stats.mean) + stats.width
    gens["intervals [-b_j, b_j]"] = lambda n, rng: uniform_intervals(n, -reach, reach, rng)
    half = np.sqrt(3.0) * stats.width
    gens["intervals mean_j +- sqrt(3) w_j"] = lambda n, rng: uniform_intervals(
        n, stats.mean - half, stats.mean + half, rng
    )
    gens["Gaussians per component"] = lambda n, rng: independent_gaussians(n, stats.mean, stats.width, rng)
    one = np.zeros(len(z), int)
    full = ClassGaussian().fit(z, one)
    gens["full-covariance Gaussian"] = lambda n, rng: full.sample(0, n, rng)
    used = gmm_codes_used(len(z), gmm_max_codes)
    gmm = ClassGMM(gmm_k, max_iter=gmm_max_iter, reg_covar=1e-3, seed=seed).fit(
        z[subsample(len(z), used, seed)], one[:used]
    )
    gens[f"GMM K={gmm_k}"] = lambda n, rng: gmm.sample(0, n, rng)
    return gens


def gmm_codes_used(n: int, gmm_max_codes: int | None) -> int:
    """How many of ``n`` codes :func:`statistical_generators` fits its mixture on."""
    n = _whole(n, "n")
    return n if gmm_max_codes is None else min(n, _whole(gmm_max_codes, "gmm_max_codes"))


class BulkReference:
    """Where z-points lie relative to the real bulk.

    Fitted on real training latents ``z_train`` (n, d) and real held-out latents ``z_held`` (m, d),
    which give the reference scale: a held-out real point is what "inside the bulk" looks like.

    * ``knn_ratio``: mean distance to the ``k`` nearest training latents, divided by the median of
      the same for held-out real latents (1 = as close as real faces, >> 1 = in a void);
    * ``mahalanobis_percentile``: percentile of the Mahalanobis distance (Ledoit-Wolf covariance of
      ``z_train``) among held-out real latents (100 = farther out than every real face);
    * ``shell``: Mahalanobis distance over the held-out median. In d dimensions real latents lie on a
      shell around the centre (distance ~ sqrt(d)), so both << 1 (the empty interior, e.g. the centre
      itself) and >> 1 (outside) are places where no real latent lies, although the k-nearest-neighbour
      distance of interior points is small.
    """

    def __init__(self, z_train: ArrayLike, z_held: ArrayLike, k: int = 10) -> None:
        from sklearn.covariance import LedoitWolf
        from sklearn.neighbors import NearestNeighbors

        z_train, z_held = _codes(z_train, "z_train"), _codes(z_held, "z_held")
        if (
            z_train.shape[1] != z_held.shape[1]
            or isinstance(k, bool)
            or not isinstance(k, (int, np.integer))
            or not 1 <= k <= len(z_train)
        ):
            raise ParameterError(
                f"z_train {z_train.shape} and z_held {z_held.shape} must share d, and 1 <= k={k} <= {len(z_train)}."
            )
        self.k = k
        self.neighbours = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(z_train)
        self.covariance = LedoitWolf().fit(z_train)
        self.knn_scale = float(np.median(self._knn(z_held)))
        if not self.knn_scale > 0:
            raise ParameterError(
                "the held-out latents coincide with training latents (median k-NN distance 0): give held-out "
                "latents of images that are not in the training set."
            )
        self.held_mahalanobis = np.sort(self._mahalanobis(z_held))
        if not self.held_mahalanobis[len(self.held_mahalanobis) // 2] > 0:
            raise ParameterError(
                "the held-out latents sit at the centre of the training latents; give real held-out latents."
            )

    def _checked(self, z: ArrayLike) -> np.ndarray:
        z = _codes(z, min_n=1)
        if z.shape[1] != self.neighbours.n_features_in_:
            raise ParameterError(
                f"z has shape {z.shape}; give finite latent vectors (n, {self.neighbours.n_features_in_})."
            )
        return z

    def _knn(self, z: ArrayLike) -> np.ndarray:
        return self.neighbours.kneighbors(self._checked(z))[0].mean(1)

    def _mahalanobis(self, z: ArrayLike) -> np.ndarray:
        return np.sqrt(self.covariance.mahalanobis(self._checked(z)))

    def knn_ratio(self, z: ArrayLike) -> np.ndarray:
        """(n,) distance to the k nearest real latents relative to real-to-real."""
        return self._knn(z) / self.knn_scale

    def mahalanobis_percentile(self, z: ArrayLike) -> np.ndarray:
        """(n,) percent of held-out real latents closer to the bulk centre (in Mahalanobis distance)."""
        ref = self.held_mahalanobis
        return 100.0 * np.searchsorted(ref, self._mahalanobis(z), side="right") / len(ref)

    def summary(self, z: ArrayLike) -> dict[str, float]:
        """Medians over ``z`` (n, d): ``knn_ratio``, ``mahalanobis_percentile``, ``shell``, and
        ``outside``, the fraction of points farther out (Mahalanobis) than the farthest held-out real latent."""
        m = self._mahalanobis(z)
        return {
            "knn_ratio": float(np.median(self.knn_ratio(z))),
            "mahalanobis_percentile": float(np.median(self.mahalanobis_percentile(z))),
            "shell": float(np.median(m) / np.median(self.held_mahalanobis)),
            "outside": float(np.mean(m > self.held_mahalanobis[-1])),
        }


def reencoding_error(
    encode: Callable[[np.ndarray], np.ndarray], decode: Callable[[np.ndarray], np.ndarray], z: ArrayLike
) -> np.ndarray:
    """||E(D(z)) - z|| per vector (n,): how far the code of a decoded image lies from the code it was
    decoded from. Small for points whose images the encoder recognises; ``encode`` and ``decode``
    map arrays (n, ...) to arrays."""
    z = _codes(z, min_n=1).astype(np.float32)
    again = np.asarray(encode(decode(z)), np.float64)
    if again.shape != z.shape:
        raise ParameterError(
            f"encode(decode(z)) has shape {again.shape}, z has {z.shape}: the encoder must return codes (n, d) "
            "of the decoder's input size."
        )
    return np.linalg.norm(again - z, axis=1)


def point_set_scores(
    points: dict[str, np.ndarray],
    bulk: BulkReference,
    encode: Callable[[np.ndarray], np.ndarray],
    decode: Callable[[np.ndarray], np.ndarray],
    z_held: ArrayLike,
) -> dict[str, dict[str, float]]:
    """For each named set of z-points (n, d): where it lies relative to the real bulk (``bulk.summary``), its
    median re-encoding error and the median pixel contrast of its decoded images, each relative to the same for
    the real held-out latents ``z_held`` (1 = like a real face), and its mean radius."""
    real_reencoding = np.median(reencoding_error(encode, decode, z_held))
    real_images = np.asarray(decode(np.asarray(z_held, np.float32)))
    if real_images.ndim != 4:
        raise ParameterError(
            f"decode(z_held) has shape {real_images.shape}; the decoder must return images (n, h, w, c)."
        )
    real_contrast = np.median(real_images.std(axis=(1, 2, 3)))
    if not (real_reencoding > 0 and real_contrast > 0):
        raise ParameterError(
            "the real held-out latents have zero re-encoding error or zero contrast, so nothing can be compared "
            "relative to them: check the encoder and decoder (a constant output?)."
        )
    return {
        name: {
            **bulk.summary(z),
            "reencoding / real": float(np.median(reencoding_error(encode, decode, z)) / real_reencoding),
            "contrast / real": float(np.median(np.asarray(decode(z)).std(axis=(1, 2, 3))) / real_contrast),
            "mean radius": float(radii(z).mean()),
        }
        for name, z in points.items()
    }


def window_mask(z: ArrayLike, plane: tuple[int, int], half_width: float) -> np.ndarray:
    """(n,) True where the projection of ``z`` (n, d) onto the coordinate plane (j1, j2) falls into the square
    |z_j1|, |z_j2| <= ``half_width`` around the origin: the points of the blog's zoom on the origin (part IV).
    Unlike :func:`slice_mask`, every other component may take any value: the projection hides how far away they are."""
    z = _codes(z, min_n=1)
    half_width = _positive(half_width, "half_width")
    if any(isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 0 <= j < z.shape[1] for j in plane):
        raise ParameterError(f"plane={plane!r}: give component indices in 0..{z.shape[1] - 1}.")
    return (np.abs(z[:, list(plane)]) <= half_width).all(axis=1)


def pixel_spread(images: ArrayLike) -> float:
    """How much a set of images (n, h, w[, c]) differ from one another: the standard deviation of each pixel over
    the set (n - 1 in the denominator), averaged over pixels and channels. 0 for identical images."""
    images = np.asarray(images, np.float64)
    if images.ndim < 3 or len(images) < 2 or not np.isfinite(images).all():
        raise ParameterError(f"images have shape {images.shape}; give at least two finite images (n, h, w[, c]).")
    return float(images.std(axis=0, ddof=1).mean())


def path_pixel_spread(
    decode: Callable[[np.ndarray], np.ndarray], path_list: Sequence[ArrayLike], reference: ArrayLike
) -> np.ndarray:
    """(p,) how much the decoded images change along each path of ``path_list`` (each (n_steps, d)): its
    :func:`pixel_spread` over that of the ``reference`` images (m, h, w, c), e.g. the reconstructions of real
    held-out faces. 1 = the images along the path differ as much as different real faces do; near 0 = one face.
    ``decode`` maps codes (n, d) to images (n, h, w, c)."""
    scale = pixel_spread(reference)
    if not scale > 0:
        raise ParameterError("the reference images are all alike (pixel spread 0); give images of different faces.")
    return np.array([pixel_spread(decode(_codes(p, "path").astype(np.float32))) / scale for p in path_list])


def share_near(z: ArrayLike, point: ArrayLike, flags: ArrayLike, k: int) -> tuple[float, float]:
    """(share among the ``k`` rows of ``z`` (n, d) nearest to ``point`` (d,), share among all rows) of the rows whose
    ``flags`` (n,) bool is set: e.g. how many of the faces nearest the bulk centre are female, against how many of
    all faces are (the blog's "the average face is female", part VI)."""
    z = _codes(z, min_n=1)
    point, flags = np.asarray(point, np.float64), np.asarray(flags)
    k = _whole(k, "k")
    if point.shape != (z.shape[1],) or flags.shape != (len(z),) or flags.dtype != bool or k > len(z):
        raise ParameterError(
            f"point {point.shape}, flags {flags.shape} ({flags.dtype}) and k={k}: give one point (d,) = "
            f"({z.shape[1]},), one bool flag per row of z ({len(z)},) and k <= {len(z)}."
        )
    nearest = np.argsort(np.linalg.norm(z - point, axis=1), kind="stable")[:k]
    return float(flags[nearest].mean()), float(flags.mean())
