"""Paths as functions t -> latent (latentlab.latent.paths): straight, slerp over the whole latent, and through key
latents; on latents shaped like SD's VAE codes (h, w, c)."""

import numpy as np
import pytest

from latentlab.errors import ParameterError
from latentlab.latent.paths import linear_path, polyline_path, slerp, slerp_path


@pytest.fixture
def codes():
    rng = np.random.default_rng(0)
    return rng.normal(size=(3, 8, 8, 4)).astype(np.float32)


def test_linear_path_runs_straight_between_its_ends(codes):
    a, b = codes[0], codes[2]
    path = linear_path(a, b)
    np.testing.assert_array_equal(path(0.0), a)
    np.testing.assert_allclose(path(1.0), b, atol=1e-6)
    np.testing.assert_allclose(path(0.25), 0.75 * a + 0.25 * b, atol=1e-6)
    assert path(0.5).dtype == np.float32 and path(0.5).shape == (8, 8, 4)


def test_slerp_path_interpolates_the_whole_latent_on_its_sphere(codes):
    a, b = codes[0], codes[2] * np.linalg.norm(codes[0]) / np.linalg.norm(codes[2])  # one radius
    path = slerp_path(a, b)
    np.testing.assert_allclose(path(0.0), a, atol=1e-5)
    np.testing.assert_allclose(path(1.0), b, atol=1e-5)
    assert np.linalg.norm(path(0.5)) == pytest.approx(np.linalg.norm(a), rel=1e-5)  # the line's midpoint is shorter
    assert np.linalg.norm((a + b) / 2) < 0.9 * np.linalg.norm(a)
    np.testing.assert_allclose(path(0.3), slerp(a.reshape(1, -1), b.reshape(1, -1), 0.3).reshape(a.shape))


def test_polyline_path_reaches_each_key_latent_in_turn(codes):
    z1, z2, z3 = codes
    path = polyline_path(z1, z2, z3)
    for t, expected in [(0.0, z1), (0.5, z2), (1.0, z3), (0.25, (z1 + z2) / 2), (0.75, (z2 + z3) / 2)]:
        np.testing.assert_allclose(path(t), expected, atol=1e-6)
    np.testing.assert_allclose(polyline_path(z1, z3)(0.4), linear_path(z1, z3)(0.4), atol=1e-6)


@pytest.mark.parametrize(
    "make, fix",
    [
        (lambda c: linear_path(c[0], c[1, :4]), "latents of one shape"),
        (lambda c: slerp_path(c[0], np.full_like(c[1], np.nan)), "NaN"),
        (lambda c: polyline_path(c[0]), "give at least two latents"),
        (lambda c: linear_path(c[0], c[1])(1.2), "t=1.2: give a number in [0, 1]"),
        (lambda c: polyline_path(*c)(-0.1), "t=-0.1"),
        (lambda c: slerp_path(c[0], c[1])(float("nan")), "t=nan"),
    ],
)
def test_bad_paths_say_what_to_give(codes, make, fix):
    with pytest.raises(ParameterError) as err:
        make(codes)
    assert fix in str(err.value)
