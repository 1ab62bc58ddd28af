"""Linear views of a latent space: the PCA spectrum and 2-d projections (MNIST paper, section 3.3.3)."""

from __future__ import annotations

import dataclasses

import numpy as np

from latentlab.errors import ParameterError


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

    def project(self, z: np.ndarray, k: int = 2) -> np.ndarray:
        """Coordinates (n, k) of ``z`` on the first ``k`` axes."""
        return (np.asarray(z, np.float64) - self.mean) @ self.components[:k].T

    def reconstruct(self, coords: np.ndarray) -> np.ndarray:
        """Codes (n, d) from coordinates (n, k) on the first k axes."""
        coords = np.atleast_2d(coords)
        return self.mean + coords @ self.components[: coords.shape[1]]


def pca(z: np.ndarray) -> PCA:
    """Eigen-decomposition of the sample covariance of ``z`` (n, d), largest eigenvalue first."""
    z = np.asarray(z, np.float64)
    mean = z.mean(0)
    vals, vecs = np.linalg.eigh(np.cov(z - mean, rowvar=False))
    order = np.argsort(vals)[::-1]
    return PCA(mean, vecs[:, order].T, np.clip(vals[order], 0.0, None))


def components_for_variance(p: PCA, fraction: float) -> int:
    """How many principal axes hold ``fraction`` of the variance: a number for the paper's
    "the eigenvalues decrease steadily"."""
    return int(np.searchsorted(np.cumsum(p.explained_ratio), fraction) + 1)


EMBEDDINGS = ("pca", "tsne", "umap")


def embed(z: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """A 2-d map (n, 2) of codes ``z`` (n, d): ``"pca"`` (linear), ``"tsne"`` or ``"umap"`` (neighbourhood-
    preserving; UMAP is imported only here, since importing it and its first fit compile with numba)."""
    z = np.asarray(z, np.float32).reshape(len(z), -1)
    if method not in EMBEDDINGS:
        raise ParameterError(f"method={method!r}: choose one of {EMBEDDINGS}.")
    if len(z) < 4:
        raise ParameterError(f"{len(z)} codes: a 2-d map needs at least 4.")
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
