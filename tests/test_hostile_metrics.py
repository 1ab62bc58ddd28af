"""Hostile inputs to latentlab.metrics (issue 18): what used to give a silently wrong number (inf, -22 dB, an
out-of-bounds window) is now a ParameterError saying what to change, and valid uint8 inputs give the right result."""

import numpy as np
import pytest

from latentlab import metrics
from latentlab.errors import ParameterError


@pytest.fixture(scope="module")
def pairs():
    """Smooth random images in [0, 1] and noisy copies, (4, 24, 24, 3) float32."""
    rng = np.random.default_rng(0)
    x = np.clip(rng.random((4, 24, 24, 3)).cumsum(1) / 12, 0, 1).astype(np.float32)
    y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1).astype(np.float32)
    return x, y


def test_one_nan_reference_is_an_error_not_inf_everywhere(small_mnist):
    x, _ = small_mnist
    refs = x[:50].copy()
    refs[7, 3] = np.nan
    with pytest.raises(ParameterError, match=r"references contains NaN.*in 1 of 50"):
        metrics.nearest_distances(x[50:60], refs)
    with pytest.raises(ParameterError, match="queries contains NaN"):
        metrics.nearest_distances(np.full((2, 784), np.inf), x[:5])
    with pytest.raises(ParameterError, match="one size"):
        metrics.nearest_distances(x[:2], x[:5, :100])
    with pytest.raises(ParameterError, match="references is empty"):
        metrics.nearest_distances(x[:2], x[:0])
    for chunk in (0, -1, 2.5, True):
        with pytest.raises(ParameterError, match=f"chunk={chunk!r}"):
            metrics.nearest_distances(x[:2], x[:5], chunk=chunk)


@pytest.mark.parametrize("win_size", [-3, 1, 2, 8, 25, True, 7.0])
def test_bad_ssim_windows_are_refused(pairs, win_size):
    x, y = pairs
    with pytest.raises(ParameterError, match="win_size"):
        metrics.ssim_per_image(x, y, win_size=win_size)


@pytest.mark.parametrize("data_range", [0, -1.0, float("nan"), float("inf"), "1", True])
def test_bad_data_ranges_are_refused(pairs, data_range):
    x, y = pairs
    with pytest.raises(ParameterError, match="data_range"):
        metrics.psnr_per_image(x, y, data_range=data_range)
    with pytest.raises(ParameterError, match="data_range"):
        metrics.image_quality(x, y, data_range=data_range)


def test_uint8_images_need_data_range_255_and_then_agree_with_floats(pairs):
    x, y = pairs
    x8, y8 = (x * 255).round().astype(np.uint8), (y * 255).round().astype(np.uint8)
    with pytest.raises(ParameterError, match="give data_range=255 for uint8 images, or scale them to"):
        metrics.psnr_per_image(x8, y8)  # used to be about -22 dB
    with pytest.raises(ParameterError, match="data_range=255"):
        metrics.ssim_per_image(x8, y8, data_range=1.0)
    psnr8 = metrics.psnr_per_image(x8, y8, data_range=255)
    np.testing.assert_allclose(psnr8, metrics.psnr_per_image(x8 / 255.0, y8 / 255.0), rtol=1e-6)
    assert 20 < psnr8.min() < 40
    q = metrics.image_quality(x8, y8, data_range=255)
    np.testing.assert_allclose(q["ssim"], metrics.ssim_per_image(x8 / 255.0, y8 / 255.0), atol=1e-4)
    with pytest.raises(ParameterError, match=r"not \[0, 1\]"):
        metrics.image_quality(x * 255, y * 255)  # float 0..255 without data_range


def test_non_finite_or_mismatched_images_are_refused(pairs):
    x, y = pairs
    bad = y.copy()
    bad[1, 2, 3, 0] = np.nan
    for fn in (metrics.ssim_per_image, metrics.psnr_per_image, metrics.mse_per_image, metrics.image_quality):
        with pytest.raises(ParameterError, match="NaN"):
            fn(x, bad)
    with pytest.raises(ParameterError, match="one shape"):
        metrics.image_quality(x, y[:3])
    with pytest.raises(ParameterError, match="images is empty"):
        metrics.image_quality(x[:0], y[:0])
    with pytest.raises(ParameterError, match="dtype"):
        metrics.mse_per_image(np.array([[["a"]]]), np.array([[["b"]]]))


def test_reconstruction_errors_treat_uint8_as_unit_range_and_refuse_0_255_floats(small_mnist):
    x, _ = small_mnist
    x8 = (x[:20] * 255).round().astype(np.uint8)
    errors = metrics.reconstruction_errors(x8, x8 / 255.0)
    assert errors["mse"] == pytest.approx(0, abs=1e-10)
    with pytest.raises(ParameterError, match=r"reconstructions lie in .*divide 0-255 images by 255"):
        metrics.reconstruction_errors(x[:20], x[:20] * 255)
    with pytest.raises(ParameterError, match="targets"):
        metrics.pairwise_bce(x[:3] * 2, x[:5])
    with pytest.raises(ParameterError, match="one size"):
        metrics.pairwise_bce(x[:3], x[:5, :10])


def test_generation_scores_need_two_images_per_class_and_one_label_each(small_mnist):
    x, y = small_mnist
    labels = np.array([0, 0, 1, 1, 2])
    with pytest.raises(ParameterError, match=r"classes \[2\] have a single generated image"):
        metrics.generation_scores(x[:5], labels, labels, x[100:200])
    with pytest.raises(ParameterError, match="one intended and one predicted label per image"):
        metrics.generation_scores(x[:5], labels[:4], labels, x[100:200])


def test_interpolation_metrics_check_ranges_and_shapes():
    dataset = np.stack([np.full((4, 4, 3), v, np.float32) for v in (0.0, 0.5, 1.0)])
    with pytest.raises(ParameterError, match=r"frames lie in"):
        metrics.interpolation_mse(dataset * 255, dataset)  # float 0..255 against [0, 1]
    with pytest.raises(ParameterError, match="do not match the dataset"):
        metrics.interpolation_mse(dataset[:, :2], dataset)
    wide = np.arange(12, dtype=np.int64).reshape(3, 4) * 40
    with pytest.raises(ParameterError, match="integer images must be 0-255"):
        metrics.interpolation_mse(wide, wide)
    as_int = (dataset * 255).round().astype(np.int64)
    assert metrics.interpolation_mse(as_int, dataset) == pytest.approx(0, abs=1e-5)
    with pytest.raises(ParameterError, match="NaN"):
        metrics.path_smoothness(np.array([[0.0], [np.nan], [1.0]]))
    with pytest.raises(ParameterError, match="images is empty"):
        metrics.across_image_variance(np.zeros((0, 3)))
    with pytest.raises(ParameterError, match="truth path 'x'"):
        metrics.ground_truth_error(dataset, {"x": np.full_like(dataset, np.inf)})
