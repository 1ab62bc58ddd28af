"""Per-class samplers of a latent space (MNIST paper, section 2.4).

Fit on codes ``z`` (n, d) with labels ``y`` (n,), then draw new codes for a chosen class:

* :class:`ClassGaussian`: one Gaussian per class, sample mean and sample covariance, optionally
  scaled down (``cov_scale`` < 1) to stay near the mean as the paper did;
* :class:`ClassGMM`: a Gaussian mixture per class (``sklearn.mixture.GaussianMixture``, k-means
  initialisation), the paper's K = 250.

Sampling takes a ``numpy.random.Generator``, so results are reproducible.
"""

from __future__ import annotations

import numpy as np

from latentlab.errors import ParameterError


def _check_codes(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z, y = np.asarray(z, np.float64), np.asarray(y)
    if z.ndim != 2 or y.ndim != 1 or len(z) != len(y):
        raise ParameterError(f"Expected codes (n, d) and labels (n,), got {z.shape} and {y.shape}.")
    if not np.isfinite(z).all():
        raise ParameterError("Codes contain NaN or infinite values; check the encoder's output.")
    return z, y


def _sample_gaussian(rng: np.random.Generator, mean: np.ndarray, cov: np.ndarray, n: int) -> np.ndarray:
    # eigh is robust to the singular covariances that ReLU codes with dead units produce
    vals, vecs = np.linalg.eigh(cov)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    return mean + rng.standard_normal((n, len(mean))) @ root.T


class ClassGaussian:
    """One Gaussian N(mu_c, cov_scale * Sigma_c) per class c, fitted by sample mean and covariance."""

    def __init__(self, cov_scale: float = 1.0):
        if not np.isfinite(cov_scale) or cov_scale < 0:
            raise ParameterError(
                f"cov_scale={cov_scale}: the covariance scale must be a number >= 0 "
                "(1 = sample covariance, <1 = scaled down towards the mean)."
            )
        self.cov_scale = float(cov_scale)

    def fit(self, z: np.ndarray, y: np.ndarray) -> ClassGaussian:
        z, y = _check_codes(z, y)
        self.classes_ = np.unique(y)
        self.means_ = np.stack([z[y == c].mean(0) for c in self.classes_])
        self.covariances_ = np.stack([np.cov(z[y == c], rowvar=False) for c in self.classes_])
        return self

    def sample(self, label, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` codes (n, d) for class ``label``."""
        i = _class_index(self, label)
        return _sample_gaussian(rng, self.means_[i], self.cov_scale * self.covariances_[i], n)


class ClassGMM:
    """A K-component Gaussian mixture per class (k-means initialisation, full covariances)."""

    def __init__(
        self,
        n_components: int = 250,
        covariance_type: str = "full",
        max_iter: int = 100,
        reg_covar: float = 1e-4,
        seed: int = 0,
    ):
        if int(n_components) != n_components or n_components < 1:
            raise ParameterError(f"n_components={n_components}: a mixture needs K >= 1 components.")
        self.n_components, self.covariance_type = int(n_components), covariance_type
        self.max_iter, self.reg_covar, self.seed = max_iter, reg_covar, seed

    def fit(self, z: np.ndarray, y: np.ndarray) -> ClassGMM:
        from sklearn.mixture import GaussianMixture

        z, y = _check_codes(z, y)
        self.classes_ = np.unique(y)
        smallest = min((y == c).sum() for c in self.classes_)
        if self.n_components > smallest:
            raise ParameterError(
                f"K={self.n_components} components, but the smallest class has only {smallest} codes: "
                f"use K <= {smallest} or more data."
            )
        self.mixtures_ = [
            GaussianMixture(
                self.n_components,
                covariance_type=self.covariance_type,
                init_params="kmeans",
                max_iter=self.max_iter,
                reg_covar=self.reg_covar,
                random_state=self.seed,
            ).fit(z[y == c])
            for c in self.classes_
        ]
        return self

    def sample(self, label, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` codes (n, d) for class ``label``: a component by its weight, then its Gaussian."""
        gmm = self.mixtures_[_class_index(self, label)]
        parts = rng.choice(gmm.n_components, size=n, p=gmm.weights_ / gmm.weights_.sum())
        covs = _full_covariances(gmm)
        out = np.empty((n, gmm.means_.shape[1]))
        for k in np.unique(parts):
            rows = np.flatnonzero(parts == k)
            out[rows] = _sample_gaussian(rng, gmm.means_[k], covs[k], len(rows))
        return out

    def score(self, z: np.ndarray, y: np.ndarray) -> float:
        """Mean log-likelihood per code of held-out codes under their own class's mixture."""
        z, y = _check_codes(z, y)
        return float(
            sum(self.mixtures_[i].score_samples(z[y == c]).sum() for i, c in enumerate(self.classes_)) / len(z)
        )

    def bic(self, z: np.ndarray, y: np.ndarray) -> float:
        """Sum over classes of each mixture's BIC on that class's codes (lower is better)."""
        z, y = _check_codes(z, y)
        return float(sum(self.mixtures_[i].bic(z[y == c]) for i, c in enumerate(self.classes_)))


def _full_covariances(gmm) -> np.ndarray:
    d = gmm.means_.shape[1]
    cov = gmm.covariances_
    if gmm.covariance_type == "full":
        return cov
    if gmm.covariance_type == "tied":
        return np.broadcast_to(cov, (gmm.n_components, d, d))
    if gmm.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([np.eye(d) * c for c in cov])  # spherical


def _class_index(sampler, label) -> int:
    if not hasattr(sampler, "classes_"):
        raise ParameterError(f"{type(sampler).__name__} is not fitted yet: call .fit(z, y) first.")
    hits = np.flatnonzero(sampler.classes_ == label)
    if not len(hits):
        raise ParameterError(f"Unknown class {label!r}; fitted classes: {sampler.classes_.tolist()}.")
    return int(hits[0])


def sample_per_class(sampler, n_per_class: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n_per_class`` codes for every fitted class: codes (c * n, d) and intended labels (c * n,)."""
    z = np.concatenate([sampler.sample(c, n_per_class, rng) for c in sampler.classes_])
    return z.astype(np.float32), np.repeat(sampler.classes_, n_per_class)
