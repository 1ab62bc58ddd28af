"""Linear views of a latent space: the PCA spectrum and 2-d projections (MNIST paper, section 3.3.3)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike
from tqdm.auto import tqdm

from latentlab.errors import ParameterError


def _codes(z: ArrayLike, min_n: int = 2) -> np.ndarray:
    try:
        z = np.asarray(z, np.float64)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"codes are not an array of numbers ({err}); give codes (n, d).") from None
    if z.ndim != 2 or len(z) < min_n or z.shape[1] < 1:
        raise ParameterError(f"codes have shape {z.shape}; give codes (n, d) with n >= {min_n}.")
    if not np.isfinite(z).all():
        raise ParameterError("codes contain NaN or infinite values; check the encoder's output.")
    return z


@dataclasses.dataclass(frozen=True)
class PCA:
    """Principal axes of codes: ``mean`` (d,), ``components`` (d, d) rows sorted by ``eigenvalues`` (d,)."""

    mean: np.ndarray
    components: np.ndarray
    eigenvalues: np.ndarray

    @property
    def explained_ratio(self) -> np.ndarray:
        """Fraction of the total variance along each axis."""
        return self.eigenvalues / self.eigenvalues.sum()

    def project(self, z: ArrayLike, k: int = 2) -> np.ndarray:
        """Coordinates (n, k) of ``z`` on the first ``k`` axes."""
        d = len(self.mean)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= d:
            raise ParameterError(f"k={k!r}: give a number of axes in 1..{d}.")
        one = np.ndim(z) == 1
        z = _codes(np.atleast_2d(z) if one else z, min_n=0)
        if z.shape[1] != d:
            raise ParameterError(f"codes have {z.shape[1]} components; this PCA was fitted on {d}.")
        out = (z - self.mean) @ self.components[:k].T
        return out[0] if one else out

    def reconstruct(self, coords: ArrayLike) -> np.ndarray:
        """Codes (n, d) from coordinates (n, k) on the first k axes."""
        coords = np.atleast_2d(np.asarray(coords, np.float64))
        if coords.ndim != 2 or not 1 <= coords.shape[1] <= len(self.mean) or not np.isfinite(coords).all():
            raise ParameterError(
                f"coords have shape {coords.shape}; give finite coordinates (n, k) with 1 <= k <= {len(self.mean)}."
            )
        return self.mean + coords @ self.components[: coords.shape[1]]


def pca(z: ArrayLike) -> PCA:
    """Eigen-decomposition of the sample covariance of ``z`` (n, d), n >= 2, largest eigenvalue first."""
    z = _codes(z)
    mean = z.mean(0)
    vals, vecs = np.linalg.eigh(np.atleast_2d(np.cov(z - mean, rowvar=False)))
    order = np.argsort(vals)[::-1]
    return PCA(mean, vecs[:, order].T, np.clip(vals[order], 0.0, None))


def components_for_variance(p: PCA, fraction: float) -> int:
    """How many principal axes hold ``fraction`` of the variance: a number for the paper's
    "the eigenvalues decrease steadily". ``fraction`` in (0, 1]."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.integer, np.floating)):
        raise ParameterError(f"fraction={fraction!r}: give a share of the variance in (0, 1], e.g. 0.9.")
    if not 0 < fraction <= 1:
        raise ParameterError(f"fraction={fraction}: give a share of the variance in (0, 1], e.g. 0.9.")
    if not p.eigenvalues.sum() > 0:
        raise ParameterError("the codes have no variance (every code is the same): there are no axes to count.")
    # rounding can leave the cumulative sum a hair under 1: never count more axes than there are
    return min(int(np.searchsorted(np.cumsum(p.explained_ratio), fraction * (1 - 1e-12)) + 1), len(p.eigenvalues))


EMBEDDINGS = ("pca", "tsne", "umap")


def embed(z: ArrayLike, method: str, seed: int = 0) -> np.ndarray:
    """A 2-d map (n, 2) of codes ``z`` (n, d): ``"pca"`` (linear), ``"tsne"`` or ``"umap"`` (neighbourhood-
    preserving; UMAP is imported only here, since importing it and its first fit compile with numba)."""
    z = np.asarray(z, np.float32)
    if z.ndim < 2:
        raise ParameterError(f"codes have shape {z.shape}; give codes (n, ...) with one row per item.")
    z = z.reshape(len(z), -1)
    if not np.isfinite(z).all():
        raise ParameterError("codes contain NaN or infinite values; check the encoder's output.")
    if method not in EMBEDDINGS:
        raise ParameterError(f"method={method!r}: choose one of {EMBEDDINGS}.")
    if len(z) < 4:
        raise ParameterError(f"{len(z)} codes: a 2-d map needs at least 4.")
    if method == "pca" and len(z) < z.shape[1]:  # wide codes (SD latents): the (n, n) Gram matrix, not (d, d)
        centred = z.astype(np.float64) - z.mean(0, dtype=np.float64)
        vals, vecs = np.linalg.eigh(centred @ centred.T)
        top = np.argsort(vals)[::-1][:2]
        return vecs[:, top] * np.sqrt(np.clip(vals[top], 0.0, None))
    if method == "pca":
        return pca(z).project(z, 2)
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(2, perplexity=min(30.0, (len(z) - 1) / 3), init="pca", random_state=seed).fit_transform(z)
    import warnings

    import umap

    with warnings.catch_warnings():  # n_jobs=1 is implied by the fixed seed; UMAP says so in a warning
        warnings.filterwarnings("ignore", message=".*n_jobs.*", category=UserWarning)
        return umap.UMAP(n_neighbors=min(15, len(z) - 1), random_state=seed, n_jobs=1).fit_transform(z)


def embed_all(z: ArrayLike, methods: Iterable[str], seed: int = 0, progress: bool = True) -> dict[str, np.ndarray]:
    """2-d maps of codes ``z`` by each of ``methods`` in turn (see :func:`embed`), as ``{method: (n, 2)}``. The
    methods are checked before the first map is made. With ``progress``, a bar counts the maps and names the one
    being made: t-SNE and UMAP take minutes on thousands of codes, UMAP's first fit longer (numba compiles it)."""
    methods = list(methods)
    unknown = [m for m in methods if m not in EMBEDDINGS]
    if unknown:
        raise ParameterError(f"methods {unknown}: choose from {EMBEDDINGS}.")
    views = {}
    with tqdm(total=len(methods), desc=f"2-d maps of {len(z):,} codes", unit="map", disable=not progress) as bar:
        for method in methods:
            bar.set_postfix_str(method)
            views[method] = embed(z, method, seed)
            bar.update()
    return views
