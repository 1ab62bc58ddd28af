"""Linear views of a latent space: the PCA spectrum and 2-d projections (MNIST paper, section 3.3.3)."""

from __future__ import annotations

import dataclasses

import numpy as np


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
