"""The code's own axes (notebook 01, Fig. 5) on real ReLU-like codes: MNIST pixels on their principal axes."""

import numpy as np
import pytest

from latentlab.errors import ParameterError
from latentlab.latent import pca, unit_basis


@pytest.fixture(scope="module")
def relu_codes(small_mnist):
    """Non-negative codes with two units that never fire, as a ReLU code has."""
    x, _ = small_mnist
    z = np.maximum(pca(x).project(x, 6), 0)
    return np.insert(z, [2, 6], 0.0, axis=1)  # units 2 and 7 (0-based) dead


def test_each_live_unit_is_scaled_to_its_mean_activation_where_it_fires(relu_codes):
    basis = unit_basis(relu_codes)
    assert basis.dead.tolist() == [False, False, True, False, False, False, False, True]
    assert basis.live.tolist() == [0, 1, 3, 4, 5, 6]
    for unit in basis.live:
        fired = relu_codes[:, unit][relu_codes[:, unit] > 0]
        assert basis.scales[unit] == pytest.approx(fired.mean()) and basis.scales[unit] > 1
    np.testing.assert_allclose(basis.codes, np.diag(basis.scales), rtol=1e-6)
    assert basis.codes.dtype == np.float32


def test_dead_units_get_the_live_units_median_scale(relu_codes):
    basis = unit_basis(relu_codes)
    assert basis.scales[2] == basis.scales[7] == pytest.approx(np.median(basis.scales[basis.live]))


def test_codes_without_a_live_unit_or_finite_values_are_refused(relu_codes):
    with pytest.raises(ParameterError, match="every code unit is 0"):
        unit_basis(np.zeros((10, 4)))
    bad = relu_codes.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ParameterError, match="NaN"):
        unit_basis(bad)
    with pytest.raises(ParameterError, match="shape"):
        unit_basis(np.ones(5))
