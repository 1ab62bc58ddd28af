"""Per-class samplers of a latent space (MNIST paper, section 2.4).

Fit on codes ``z`` (n, d) with labels ``y`` (n,), then draw new codes for a chosen class:

* :class:`ClassGaussian`: one Gaussian per class, sample mean and sample covariance, optionally
  scaled down (``cov_scale`` < 1) to stay near the mean as the paper did;
* :class:`ClassGMM`: a Gaussian mixture per class (``sklearn.mixture.GaussianMixture``, k-means
  initialisation), the paper's K = 250.

Sampling takes a ``numpy.random.Generator``, so results are reproducible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from latentlab.errors import ParameterError

if TYPE_CHECKING:
    from sklearn.mixture import GaussianMixture

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def _check_codes(z: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    try:
        z = np.asarray(z, np.float64)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"codes are not an array of numbers ({err}); give codes (n, d) as floats.") from None
    y = np.asarray(y)
    if z.ndim != 2 or y.ndim != 1 or len(z) != len(y):
        raise ParameterError(f"Expected codes (n, d) and labels (n,), got {z.shape} and {y.shape}.")
    if len(z) == 0 or z.shape[1] == 0:
        raise ParameterError(f"codes have shape {z.shape}: give at least one code with at least one component.")
    if not np.isfinite(z).all():
        raise ParameterError("Codes contain NaN or infinite values; check the encoder's output.")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ParameterError("labels contain NaN or infinite values; give one class label per code.")
    return z, y


def _count(n: int, what: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError(f"{what}={n!r}: give a whole number >= 1.")
    return int(n)


def _generator(rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(f"rng={rng!r}: pass a numpy Generator, np.random.default_rng(seed).")
    return rng


def _known_labels(sampler: ClassGaussian | ClassGMM, y: np.ndarray) -> None:
    """Refuse labels the sampler was never fitted on: their codes would silently count for nothing."""
    if not hasattr(sampler, "classes_"):
        raise ParameterError(f"{type(sampler).__name__} is not fitted yet: call .fit(z, y) first.")
    unseen = np.setdiff1d(np.unique(y), sampler.classes_)
    if len(unseen):
        raise ParameterError(
            f"labels {unseen.tolist()[:10]} were never fitted (fitted classes: {sampler.classes_.tolist()}); "
            "drop those codes, or fit on data that holds every class."
        )


def _sample_gaussian(rng: np.random.Generator, mean: np.ndarray, cov: np.ndarray, n: int) -> np.ndarray:
    # eigh is robust to the singular covariances that ReLU codes with dead units produce
    vals, vecs = np.linalg.eigh(cov)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    return mean + rng.standard_normal((n, len(mean))) @ root.T


class ClassGaussian:
    """One Gaussian N(mu_c, cov_scale * Sigma_c) per class c, fitted by sample mean and covariance."""

    def __init__(self, cov_scale: float = 1.0) -> None:
        if (
            isinstance(cov_scale, bool)
            or not isinstance(cov_scale, (int, float, np.integer, np.floating))
            or not np.isfinite(cov_scale)
            or cov_scale < 0
        ):
            raise ParameterError(
                f"cov_scale={cov_scale}: the covariance scale must be a number >= 0 "
                "(1 = sample covariance, <1 = scaled down towards the mean)."
            )
        self.cov_scale = float(cov_scale)

    def fit(self, z: ArrayLike, y: ArrayLike) -> ClassGaussian:
        """Sample mean and covariance of the codes z (n, d) of each class in y (n,); every class needs two codes."""
        z, y = _check_codes(z, y)
        classes, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            raise ParameterError(
                f"classes {classes[counts < 2].tolist()} have a single code: a covariance needs at least two "
                "codes per class. Drop those classes or give more codes."
            )
        self.classes_ = classes
        self.means_ = np.stack([z[y == c].mean(0) for c in self.classes_])
        self.covariances_ = np.stack([np.atleast_2d(np.cov(z[y == c], rowvar=False)) for c in self.classes_])
        return self

    def sample(self, label: Any, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` codes (n, d) for class ``label``."""
        i = _class_index(self, label)
        return _sample_gaussian(_generator(rng), self.means_[i], self.cov_scale * self.covariances_[i], _count(n))


class ClassGMM:
    """A K-component Gaussian mixture per class (k-means initialisation, full covariances)."""

    def __init__(
        self,
        n_components: int = 250,
        covariance_type: str = "full",
        max_iter: int = 100,
        reg_covar: float = 1e-4,
        seed: int = 0,
    ) -> None:
        if (
            isinstance(n_components, bool)
            or not isinstance(n_components, (int, float, np.integer, np.floating))
            or not np.isfinite(n_components)
            or int(n_components) != n_components
            or n_components < 1
        ):
            raise ParameterError(f"n_components={n_components!r}: a mixture needs K >= 1 components.")
        if covariance_type not in COVARIANCE_TYPES:
            raise ParameterError(f"covariance_type={covariance_type!r}: choose one of {', '.join(COVARIANCE_TYPES)}.")
        _count(max_iter, "max_iter")
        if (
            isinstance(reg_covar, bool)
            or not isinstance(reg_covar, (int, float, np.integer, np.floating))
            or not reg_covar >= 0
        ):
            raise ParameterError(f"reg_covar={reg_covar!r}: give a number >= 0 (e.g. 1e-4), added to the covariances.")
        self.n_components, self.covariance_type = int(n_components), covariance_type
        self.max_iter, self.reg_covar, self.seed = max_iter, reg_covar, seed

    def fit(self, z: ArrayLike, y: ArrayLike) -> ClassGMM:
        """One K-component mixture per class of the codes z (n, d) with labels y (n,)."""
        from sklearn.mixture import GaussianMixture
        from threadpoolctl import threadpool_limits

        z, y = _check_codes(z, y)
        self.classes_ = np.unique(y)
        smallest = min((y == c).sum() for c in self.classes_)
        if self.n_components > smallest:
            raise ParameterError(
                f"K={self.n_components} components, but the smallest class has only {smallest} codes: "
                f"use K <= {smallest} or more data."
            )
        # One thread (BLAS and OpenMP): EM's many small products gain little from a second thread, and the
        # waiting threads of OpenBLAS and of k-means' OpenMP made these fits 30-100x slower whenever the other
        # core was busy (2 cores, beside a training process: 10 fits of K=5 on 600 x 32 codes took 58-101 s
        # with 2 threads, 4-16 s with one BLAS thread, 0.6-2.0 s with one thread for both).
        with threadpool_limits(1):
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

    def sample(self, label: Any, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` codes (n, d) for class ``label``: a component by its weight, then its Gaussian."""
        gmm = self.mixtures_[_class_index(self, label)]
        n, rng = _count(n), _generator(rng)
        parts = rng.choice(gmm.n_components, size=n, p=gmm.weights_ / gmm.weights_.sum())
        covs = _full_covariances(gmm)
        out = np.empty((n, gmm.means_.shape[1]))
        for k in np.unique(parts):
            rows = np.flatnonzero(parts == k)
            out[rows] = _sample_gaussian(rng, gmm.means_[k], covs[k], len(rows))
        return out

    def score(self, z: ArrayLike, y: ArrayLike) -> float:
        """Mean log-likelihood per code of held-out codes under their own class's mixture (every label must
        be a fitted class)."""
        z, y = self._checked(z, y)
        total = sum(
            self.mixtures_[i].score_samples(z[y == c]).sum() for i, c in enumerate(self.classes_) if (y == c).any()
        )
        return float(total / len(z))

    def bic(self, z: ArrayLike, y: ArrayLike) -> float:
        """Sum over classes of each mixture's BIC on that class's codes (lower is better)."""
        z, y = self._checked(z, y)
        return float(sum(self.mixtures_[i].bic(z[y == c]) for i, c in enumerate(self.classes_) if (y == c).any()))

    def _checked(self, z: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        z, y = _check_codes(z, y)
        _known_labels(self, y)
        if z.shape[1] != self.mixtures_[0].means_.shape[1]:
            raise ParameterError(
                f"codes have {z.shape[1]} components, the mixtures were fitted on {self.mixtures_[0].means_.shape[1]}."
            )
        return z, y


def _full_covariances(gmm: GaussianMixture) -> np.ndarray:
    d = gmm.means_.shape[1]
    cov = gmm.covariances_
    if gmm.covariance_type == "full":
        return cov
    if gmm.covariance_type == "tied":
        return np.broadcast_to(cov, (gmm.n_components, d, d))
    if gmm.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([np.eye(d) * c for c in cov])  # spherical


def _class_index(sampler: ClassGaussian | ClassGMM, label: Any) -> int:
    if not hasattr(sampler, "classes_"):
        raise ParameterError(f"{type(sampler).__name__} is not fitted yet: call .fit(z, y) first.")
    hits = np.flatnonzero(sampler.classes_ == label)
    if not len(hits):
        raise ParameterError(f"Unknown class {label!r}; fitted classes: {sampler.classes_.tolist()}.")
    return int(hits[0])


def sample_per_class(
    sampler: ClassGaussian | ClassGMM, n_per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n_per_class`` codes for every fitted class: codes (c * n, d) and intended labels (c * n,)."""
    if not hasattr(sampler, "classes_"):
        raise ParameterError(f"{type(sampler).__name__} is not fitted yet: call .fit(z, y) first.")
    n_per_class = _count(n_per_class, "n_per_class")
    z = np.concatenate([sampler.sample(c, n_per_class, rng) for c in sampler.classes_])
    return z.astype(np.float32), np.repeat(sampler.classes_, n_per_class)
