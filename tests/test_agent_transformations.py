"""Warp, recolour and blend (notebook 05) on real MNIST digits: identities, shifts, gradients."""

import numpy as np
import pytest
import tensorflow as tf

from latentlab.agent.transformations import blend, recolor, warp


@pytest.fixture(scope="module")
def digits(mnist):
    (x, _), _ = mnist
    return (x[:8, ..., None] / 255.0).astype(np.float32)


def test_zero_flow_is_identity(digits):
    out = np.asarray(warp(digits, np.zeros((*digits.shape[:3], 2), np.float32)))
    np.testing.assert_allclose(out, digits, atol=1e-6)


@pytest.mark.parametrize("dx, dy", [(2, 0), (0, -3), (4, 5), (-6, 1)])
def test_constant_flow_shifts_by_that_amount(digits, dx, dy):
    flow = np.broadcast_to(np.array([dx, dy], np.float32), (*digits.shape[:3], 2))
    out = np.asarray(warp(digits, flow))
    expected = np.zeros_like(digits)  # O(x, y) = I(x + dx, y + dy), zero outside the image
    h, w = digits.shape[1:3]
    ys, xs = slice(max(0, -dy), min(h, h - dy)), slice(max(0, -dx), min(w, w - dx))
    expected[:, ys, xs] = digits[:, max(0, dy) : min(h, h + dy), max(0, dx) : min(w, w + dx)]
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert out.sum() > 0.5 * digits.sum()


def test_half_pixel_flow_is_bilinear(digits):
    flow = np.zeros((*digits.shape[:3], 2), np.float32)
    flow[..., 0] = 0.5
    out = np.asarray(warp(digits, flow))
    np.testing.assert_allclose(out[:, :, :-1], 0.5 * (digits[:, :, :-1] + digits[:, :, 1:]), atol=1e-6)


def test_border_padding_repeats_the_edge(digits):
    flow = np.full((*digits.shape[:3], 2), -40.0, np.float32)
    out = np.asarray(warp(digits, flow, padding="border"))
    np.testing.assert_allclose(out, np.broadcast_to(digits[:, :1, :1], digits.shape), atol=1e-6)


def test_recolor_identity_and_affine(digits):
    rng = np.random.default_rng(0)
    rgb = np.repeat(digits, 3, axis=-1)
    alpha = rng.uniform(size=(*rgb.shape[:3], 1)).astype(np.float32)
    eye = np.broadcast_to(np.eye(3, dtype=np.float32), (len(rgb), 3, 3))
    zero = np.zeros((len(rgb), 3), np.float32)
    np.testing.assert_allclose(np.asarray(recolor(rgb, alpha, eye, zero)), rgb, atol=1e-6)
    A = rng.normal(size=(len(rgb), 3, 3)).astype(np.float32)
    b = rng.normal(size=(len(rgb), 3)).astype(np.float32)
    full = np.asarray(recolor(rgb, np.zeros_like(alpha), A, b))
    np.testing.assert_allclose(full, np.einsum("nij,nhwj->nhwi", A, rgb) + b[:, None, None], atol=1e-5)
    np.testing.assert_allclose(np.asarray(recolor(rgb, np.ones_like(alpha), A, b)), rgb, atol=1e-6)


def test_blend_masks(digits):
    direct = digits[::-1].copy()
    ones, zeros = np.ones_like(digits), np.zeros_like(digits)
    np.testing.assert_allclose(np.asarray(blend(digits, ones, direct)), digits, atol=1e-6)
    np.testing.assert_allclose(np.asarray(blend(digits, zeros, direct)), direct, atol=1e-6)
    np.testing.assert_allclose(np.asarray(blend(digits, 0.5 * ones, direct)), 0.5 * (digits + direct), atol=1e-6)


def test_gradients_flow_through_all_three(digits):
    n = len(digits)
    rgb = tf.constant(np.repeat(digits, 3, axis=-1))
    flow = tf.Variable(np.full((n, 28, 28, 2), 0.3, np.float32))
    alpha = tf.Variable(np.full((n, 28, 28, 1), 0.5, np.float32))
    A = tf.Variable(np.broadcast_to(0.8 * np.eye(3, dtype=np.float32), (n, 3, 3)).copy())
    b = tf.Variable(np.full((n, 3), 0.1, np.float32))
    mask = tf.Variable(np.full((n, 28, 28, 1), 0.5, np.float32))
    direct = tf.Variable(np.full((n, 28, 28, 3), 0.2, np.float32))
    target = tf.constant(np.repeat(digits[::-1], 3, axis=-1))
    with tf.GradientTape() as tape:
        out = blend(recolor(warp(rgb, flow), alpha, A, b), mask, direct)
        loss = tf.reduce_mean(tf.square(out - target))
    grads = tape.gradient(loss, [flow, alpha, A, b, mask, direct])
    for name, grad in zip(["flow", "recolor alpha", "A", "b", "blend alpha", "direct"], grads):
        assert grad is not None and np.isfinite(grad.numpy()).all(), name
        assert np.abs(grad.numpy()).max() > 0, f"no gradient reaches {name}"


def test_nan_flow_gives_nan_not_an_out_of_range_read(digits):
    flow = np.zeros((*digits.shape[:3], 2), np.float32)
    flow[0, 5, 5] = np.nan
    out = np.asarray(warp(digits, flow))
    assert np.isnan(out[0, 5, 5]).all() and np.isfinite(out[1:]).all()
