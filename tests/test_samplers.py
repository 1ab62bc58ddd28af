import numpy as np
import pytest

from latentlab.errors import ParameterError
from latentlab.experiments.gmm_sweep import gmm_sweep
from latentlab.latent import ClassGaussian, ClassGMM, pca, sample_per_class


@pytest.fixture(scope="module")
def codes(small_mnist):
    """Real low-dimensional codes: MNIST pixels on their first 8 principal axes."""
    x, y = small_mnist
    return pca(x).project(x, 8), y


def test_gaussian_matches_class_statistics(codes):
    z, y = codes
    g = ClassGaussian().fit(z, y)
    s = g.sample(3, 20000, np.random.default_rng(0))
    np.testing.assert_allclose(s.mean(0), z[y == 3].mean(0), atol=0.05 * z.std())
    np.testing.assert_allclose(np.cov(s, rowvar=False), np.cov(z[y == 3], rowvar=False), atol=0.05 * z.var())


def test_scaled_covariance_shrinks_towards_the_mean(codes):
    z, y = codes
    rng = np.random.default_rng(0)
    spread = {scale: ClassGaussian(scale).fit(z, y).sample(5, 4000, rng).std(0).mean() for scale in (1.0, 0.25, 0.0)}
    assert spread[0.25] == pytest.approx(0.5 * spread[1.0], rel=0.05)
    assert spread[0.0] == pytest.approx(0.0, abs=1e-9)


def test_samples_are_reproducible_and_land_in_their_class(codes):
    z, y = codes
    for sampler in (ClassGaussian(0.1).fit(z, y), ClassGMM(5, seed=0).fit(z, y)):
        a, la = sample_per_class(sampler, 50, np.random.default_rng(7))
        b, _ = sample_per_class(sampler, 50, np.random.default_rng(7))
        np.testing.assert_array_equal(a, b)
        means = np.stack([z[y == c].mean(0) for c in range(10)])
        nearest = ((a[:, None] - means[None]) ** 2).sum(-1).argmin(1)
        assert (nearest == la).mean() > 0.6, type(sampler).__name__


def test_gmm_fits_more_likely_than_one_gaussian(codes):
    z, y = codes
    sweep = gmm_sweep(z[:1500], y[:1500], z[1500:], y[1500:], ks=(1, 2), seed=0)
    assert sweep["k"] == [1, 2]
    assert sweep["bic"][1] < sweep["bic"][0] and sweep["test_loglik"][1] > sweep["test_loglik"][0]
    two = ClassGMM(2, seed=0).fit(z[:1500], y[:1500])
    assert gmm_sweep(z[:1500], y[:1500], z[1500:], y[1500:], ks=(2,), fitted={2: two})["bic"] == [
        two.bic(z[:1500], y[:1500])
    ]


def test_bad_sampler_parameters_are_clear(codes):
    z, y = codes
    with pytest.raises(ParameterError, match="K >= 1"):
        ClassGMM(0)
    with pytest.raises(ParameterError, match=r"smallest class has only \d+ codes: use K <= \d+"):
        ClassGMM(10_000).fit(z, y)
    with pytest.raises(ParameterError, match="must be a number >= 0"):
        ClassGaussian(-0.5)
    with pytest.raises(ParameterError, match="not fitted"):
        ClassGaussian().sample(1, 3, np.random.default_rng())
    with pytest.raises(ParameterError, match="Unknown class 11"):
        ClassGaussian().fit(z, y).sample(11, 3, np.random.default_rng())
    bad = z.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ParameterError, match="NaN"):
        ClassGaussian().fit(bad, y)
