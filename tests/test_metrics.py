import keras
import numpy as np
import pytest

from latentlab import metrics
from latentlab.errors import ParameterError


def test_reconstruction_errors_match_keras(small_mnist):
    x, _ = small_mnist
    noisy = np.clip(x[:100] + np.random.default_rng(0).normal(0, 0.1, x[:100].shape), 0, 1).astype(np.float32)
    errors = metrics.reconstruction_errors(x[:100], noisy)
    assert errors["mse"] == pytest.approx(
        float(keras.ops.mean(keras.losses.mean_squared_error(x[:100], noisy))), rel=1e-4
    )
    assert errors["bce"] == pytest.approx(
        float(keras.ops.mean(keras.losses.binary_crossentropy(x[:100], noisy))), rel=1e-3
    )
    assert errors["euclidean"] == pytest.approx(784 * errors["mse"], rel=1e-5)
    with pytest.raises(ParameterError, match="differ in shape"):
        metrics.reconstruction_errors(x[:10], x[:9])


def test_pairwise_bce_equals_the_direct_formula(small_mnist):
    x, _ = small_mnist
    targets, candidates = x[:5], np.clip(x[5:305], 0.05, 0.95)
    got = metrics.pairwise_bce(targets, candidates, chunk=64)
    direct = np.array([[-(t * np.log(c) + (1 - t) * np.log(1 - c)).mean() for c in candidates] for t in targets])
    np.testing.assert_allclose(got, direct, rtol=1e-4)


def test_nearest_distances_are_exact(small_mnist):
    x, _ = small_mnist
    queries, refs = x[:20] + 0.01, x[20:1000]
    dist, idx = metrics.nearest_distances(queries, refs, chunk=100)
    brute = np.sqrt(((queries[:, None] - refs[None]) ** 2).sum(-1))
    np.testing.assert_array_equal(idx, brute.argmin(1))
    np.testing.assert_allclose(dist, brute.min(1), rtol=1e-4)
    assert metrics.nearest_distances(x[:3], x[:100])[0] == pytest.approx(0, abs=1e-3)
    # more queries than a chunk: they are taken a chunk at a time too, with the same answers
    many = x[:250] + 0.01
    dist, idx = metrics.nearest_distances(many, refs, chunk=64)
    brute = np.sqrt(((many[:, None] - refs[None]) ** 2).sum(-1))
    np.testing.assert_array_equal(idx, brute.argmin(1))
    np.testing.assert_allclose(dist, brute.min(1), rtol=1e-4)


def test_nearest_distances_on_wide_images_hold_a_bounded_chunk(monkeypatch):
    """Wide rows (64 x 64 x 3 faces) are taken fewer than ``chunk`` at a time, so a chunk's float64 copy stays under
    CHUNK_BYTES, and float32 inputs are not copied: memory beside the inputs is a small part of them."""
    import tracemalloc

    rng = np.random.default_rng(0)
    queries = rng.random((300, 64 * 64 * 3), dtype=np.float32)
    refs = rng.random((400, 64 * 64 * 3), dtype=np.float32)
    refs[123] = queries[7] + 0.001  # one near copy: its index must be found
    monkeypatch.setattr(metrics, "CHUNK_BYTES", 2**20)
    tracemalloc.start()
    dist, idx = metrics.nearest_distances(queries, refs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 0.2 * (queries.nbytes + refs.nbytes), f"{peak / 1e6:.1f} MB beside {refs.nbytes / 1e6:.1f} MB"
    brute = np.stack([np.sqrt(((q.astype(np.float64) - refs) ** 2).sum(1)) for q in queries])
    np.testing.assert_array_equal(idx, brute.argmin(1))
    np.testing.assert_allclose(dist, brute.min(1), rtol=1e-5)
    assert idx[7] == 123


def test_generation_scores_tell_copies_and_noise_apart(small_mnist):
    x, y = small_mnist
    copies = metrics.generation_scores(x[:200], y[:200], y[:200], x)
    assert copies["accuracy"] == 1.0 and copies["novelty"] == pytest.approx(0, abs=1e-3)
    noise = np.random.default_rng(0).random((200, 784)).astype(np.float32)
    scored = metrics.generation_scores(noise, y[:200], np.zeros(200, int), x)
    assert scored["accuracy"] == pytest.approx((y[:200] == 0).mean())
    real = metrics.generation_scores(x[1000:1200], y[1000:1200], y[1000:1200], x[:1000])
    assert scored["novelty"] > 2 * real["novelty"] > 0
    assert scored["diversity"] > copies["diversity"]
    with pytest.raises(ParameterError, match="at least two"):
        metrics.mean_pairwise_distance(x[:1])


def test_detail_energy_is_the_laplacian_and_drops_with_blur(small_mnist):
    from scipy import ndimage

    from latentlab.metrics import detail_energy

    digits = small_mnist[0][:20].reshape(20, 28, 28)
    lap = np.stack([ndimage.laplace(d.astype(np.float64))[1:-1, 1:-1] for d in digits])
    np.testing.assert_allclose(detail_energy(digits), np.square(lap).reshape(20, -1).mean(1), rtol=1e-6)
    blurred = np.stack([ndimage.gaussian_filter(d, 1.0) for d in digits])
    assert (detail_energy(blurred) < 0.5 * detail_energy(digits)).all()
    assert np.allclose(detail_energy(np.full((2, 8, 8, 3), 0.4)), 0)
    assert np.allclose(detail_energy((digits * 255).round().astype(np.uint8)), detail_energy(digits), rtol=0.05)
    with pytest.raises(ParameterError):
        detail_energy(np.zeros((2, 2, 2)))


def test_detail_energy_of_many_images_holds_a_chunk_in_float64_not_them_all(small_mnist):
    import tracemalloc

    from latentlab.metrics import detail_energy

    digits = small_mnist[0].reshape(-1, 28, 28)  # 2,000 digits, eight chunks
    each = [float(detail_energy(digits[i : i + 1])[0]) for i in range(0, len(digits), 97)]
    tracemalloc.start()
    energy = detail_energy(digits)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_allclose(energy[::97], each, rtol=1e-12)
    assert peak < 0.5 * digits.size * 8, f"{peak / 2**20:.1f} MB; all of them in float64: {digits.size * 8 / 2**20:.1f}"
