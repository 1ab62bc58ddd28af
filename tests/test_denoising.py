"""The denoising AE (noise, losses, a training step), the perceptual feature network, and the
interpolation metrics, on known cases and on real renders of the synthetic MPI3D scene."""

import keras
import numpy as np
import pytest

from latentlab import metrics
from latentlab.data import mpi3d_synthetic
from latentlab.errors import ParameterError
from latentlab.experiments import grid_search, perceptual
from latentlab.models import denoising, features


@pytest.fixture(scope="module")
def renders():
    """64 renders of the paper's white cone at arm positions spread over the grid, in [0, 1]."""
    hv = np.stack(np.meshgrid(np.linspace(0, 39, 8), np.linspace(0, 39, 8)), -1).reshape(-1, 2)
    f = np.concatenate([np.tile([0, 0, 1, 0, 0], (64, 1)), hv], 1)
    return denoising.to_unit(mpi3d_synthetic.render(f))


def test_interpolation_mse_is_the_mean_mse_to_the_nearest_dataset_image():
    dataset = np.stack([np.full((4, 4, 3), v, np.float32) for v in (0.0, 0.5, 1.0)])
    frames = np.stack([np.full((4, 4, 3), v, np.float32) for v in (0.1, 0.6, 0.8)])
    assert metrics.interpolation_mse(frames, dataset) == pytest.approx(np.mean([0.01, 0.01, 0.04]))
    both = metrics.interpolation_mse(np.stack([frames, dataset]), dataset)
    assert both.shape == (2,) and both[0] == pytest.approx(0.02) and both[1] == 0
    as_uint8 = (dataset * 255).round().astype(np.uint8)
    assert metrics.interpolation_mse(as_uint8, dataset) == pytest.approx(0, abs=1e-5)


def test_ground_truth_error_takes_the_best_valid_path():
    frames = np.linspace(0, 1, 5, dtype=np.float32)[:, None, None, None] * np.ones((1, 2, 2, 3), np.float32)
    truth = {"straight": frames + 0.1, "other": frames}
    scores = metrics.ground_truth_error(frames, truth)
    assert scores["straight"] == pytest.approx(0.01) and scores["other"] == 0 and scores["best"] == 0
    assert metrics.ground_truth_error(frames, frames + 0.2)["best"] == pytest.approx(0.04)


def test_path_smoothness_is_the_spread_of_frame_steps():
    even = np.arange(6, dtype=np.float32)[:, None]
    assert metrics.path_smoothness(even) == pytest.approx(0)
    jumpy = np.array([[0.0], [1.0], [2.0], [4.0]])  # steps 1, 1, 2
    assert metrics.path_smoothness(jumpy) == pytest.approx(np.std([1, 1, 2]) / np.mean([1, 1, 2]))
    with pytest.raises(ParameterError):
        metrics.path_smoothness(even[:2])


def test_gaussian_noise_has_the_asked_standard_deviation():
    x = np.zeros((8, 32, 32, 3), np.float32)
    noisy = keras.ops.convert_to_numpy(denoising.corrupt(x, "gaussian", 0.2, seed=1))
    assert abs(noisy.mean()) < 0.01 and noisy.std() == pytest.approx(0.2, rel=0.05)
    again = keras.ops.convert_to_numpy(denoising.corrupt(x, "normal", 0.2, seed=1))
    assert np.array_equal(noisy, again)  # 'normal' is the paper's name for it; same seed, same noise


def test_pixel_drop_zeroes_the_asked_fraction_of_whole_pixels():
    x = np.ones((8, 32, 32, 3), np.float32)
    dropped = keras.ops.convert_to_numpy(denoising.corrupt(x, "white", 0.3, seed=2))
    zero = dropped == 0
    assert np.array_equal(zero.all(-1), zero.any(-1)), "a dropped pixel loses all its channels"
    assert zero[..., 0].mean() == pytest.approx(0.3, abs=0.02)
    assert np.array_equal(keras.ops.convert_to_numpy(denoising.corrupt(x, "drop", 0.0)), x)
    with pytest.raises(ParameterError):
        denoising.corrupt(x, "salt", 0.1)
    with pytest.raises(ParameterError):
        denoising.corrupt(x, "drop", 1.5)


def test_corruption_acts_only_in_training(renders):
    layer = denoising.Corruption("gaussian", 0.5, seed=0)
    assert np.array_equal(keras.ops.convert_to_numpy(layer(renders[:2])), renders[:2])
    assert not np.allclose(keras.ops.convert_to_numpy(layer(renders[:2], training=True)), renders[:2])


def tiny_features():
    x = keras.Input((64, 64, 3))
    net = keras.Model(
        x, keras.layers.Conv2D(4, 3, strides=4, kernel_initializer=keras.initializers.GlorotUniform(0))(x)
    )
    net.trainable = False
    return net


def test_loss_is_the_weighted_sum_of_pixel_and_feature_mse(renders):
    keras.utils.set_random_seed(0)
    feats = tiny_features()
    model = denoising.build_denoising_autoencoder(2, 8, 16, features=feats, lambda_re=0.7, lambda_pe=0.3)
    y = renders[:8]
    y_pred = model(y, training=False)
    pixel = np.mean(np.square(y - keras.ops.convert_to_numpy(y_pred)))
    feat = np.mean(np.square(keras.ops.convert_to_numpy(feats(y)) - keras.ops.convert_to_numpy(feats(y_pred))))
    loss = float(keras.ops.convert_to_numpy(model.compute_loss(y, y, y_pred)))
    assert loss == pytest.approx(0.7 * pixel + 0.3 * feat, rel=1e-4)
    assert denoising.loss_parts(model, y) == pytest.approx({"mse": pixel, "perceptual": feat}, rel=1e-4)
    with pytest.raises(ParameterError, match="feature network"):
        denoising.build_denoising_autoencoder(2, 8, 16, lambda_pe=0.3)


def test_a_short_training_run_lowers_the_loss(renders, tmp_path):
    keras.utils.set_random_seed(0)
    model = denoising.build_denoising_autoencoder(2, 16, 32, noise_level=0.1, learning_rate=3e-3)
    before = denoising.loss_parts(model, renders)["mse"]
    model, history = denoising.train_dae(
        renders,
        epochs=6,
        batch_size=16,
        checkpoint_dir=tmp_path / "ck",
        latent_dim=2,
        channels=16,
        dense=32,
        noise_level=0.1,
        learning_rate=3e-3,
    )
    assert denoising.loss_parts(model, renders)["mse"] < 0.7 * before
    assert set(denoising.loss_parts(model, renders, tiny_features())) == {"mse", "perceptual"}
    assert history["loss"][-1] < history["loss"][0]
    z = denoising.encode(model, renders)
    assert z.shape == (64, 2) and denoising.decode(model, z).shape == renders.shape


def test_noise_level_and_loss_weights_can_be_set_on_a_model(renders):
    keras.utils.set_random_seed(0)
    model = denoising.build_denoising_autoencoder(2, 8, 16, noise="drop", noise_level=0.1, seed=0)
    y = renders[:8]
    y_pred = model(y, training=False)
    pixel = float(np.mean(np.square(y - keras.ops.convert_to_numpy(y_pred))))
    model.lambda_re = 0.25
    assert float(keras.ops.convert_to_numpy(model.compute_loss(y, y, y_pred))) == pytest.approx(0.25 * pixel, rel=1e-5)
    model.corruption.level = 0.6
    dropped = keras.ops.convert_to_numpy(model.corruption(np.ones((4, 32, 32, 3), np.float32), training=True))
    assert model.corruption.level == pytest.approx(0.6) and (dropped[..., 0] == 0).mean() == pytest.approx(
        0.6, abs=0.03
    )
    with pytest.raises(ParameterError, match="drop ratio"):
        model.corruption.level = 1.5
    with pytest.raises(ParameterError, match="perceptual term"):
        model.lambda_pe = 0.3  # made without a feature network
    with pytest.raises(ParameterError, match="not both 0"):
        model.lambda_re = 0.0
    assert model.corruption.level == pytest.approx(0.6) and (model.lambda_re, model.lambda_pe) == (0.25, 0.0)


def test_a_pooled_model_trains_a_grid_point_as_a_new_model_would(renders, tmp_path):
    x, feats, pool = renders[:32], tiny_features(), denoising.ModelPool()
    kw = dict(epochs=2, latent_dim=2, features=feats, seed=3, dense=16)
    first = dict(batch_size=8, lambdas=(1.0, 0.0), channels=8, noise_level=0.5, noise="normal")
    later = dict(batch_size=4, lambdas=(0.5, 0.0), channels=8, noise_level=0.1, noise="normal")
    a, _ = grid_search.train_point(x, first, pool=pool, **kw)
    b, history = grid_search.train_point(x, later, pool=pool, **kw)
    fresh, fresh_history = grid_search.train_point(x, later, **kw)
    assert b is a and len(pool) == 1 and b.name == fresh.name
    assert history["loss"] == pytest.approx(fresh_history["loss"], rel=1e-6)
    for pooled, new in zip(b.variables, fresh.variables, strict=True):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(pooled), keras.ops.convert_to_numpy(new), atol=1e-6)
    step = b.train_function
    c, _ = grid_search.train_point(x, {**later, "noise_level": 0.2}, pool=pool, **kw)
    assert c is b and c.train_function is step  # same batch size: its traced step is kept, not traced again
    other_noise, _ = grid_search.train_point(x, {**later, "noise": "white"}, pool=pool, **kw)
    perceptual_term, _ = grid_search.train_point(x, {**later, "lambdas": (0.7, 0.3)}, pool=pool, **kw)
    assert len({id(a), id(other_noise), id(perceptual_term)}) == 3 and len(pool) == 3
    # a checkpoint written by a model made for the point resumes in the pool's model (same name, same signature)
    trained, _ = grid_search.train_point(x, first, checkpoint_root=tmp_path, **kw)
    resumed, again = grid_search.train_point(x, first, checkpoint_root=tmp_path, pool=pool, **kw)
    assert resumed is a and len(again["loss"]) == 2
    for kept, loaded in zip(trained.weights, resumed.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(kept), keras.ops.convert_to_numpy(loaded))


def test_grid_points_and_names():
    points = grid_search.grid_points(grid_search.PAPER_GRID)
    assert len(points) == 3 * 3 * 3 * 3 * 2
    p = dict(batch_size=16, lambdas=(0.7, 0.3), channels=64, noise_level=0.2, noise="normal")
    assert grid_search.point_name(p, 2) == "z2_bs16_re0.7_pe0.3_c64_gaussian0.2"
    assert grid_search.point_name({**p, "noise": "gaussian"}, 2) == grid_search.point_name(p, 2)


def test_perceptual_network_never_downloads_vgg(tmp_path, monkeypatch, renders):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_keras_home"))
    assert features.cached_vgg16_weights() is None
    with pytest.raises(ParameterError, match="not in the Keras cache"):
        perceptual.perceptual_features(renders, kind="vgg16")
    keras.utils.set_random_seed(0)
    net = perceptual.perceptual_features(renders, n_images=64, epochs=1, seed=0)
    assert net.kind == "factor_cnn" and "VGG16 weights not cached" in net.description
    out = keras.ops.convert_to_numpy(net.model(renders))
    assert out.shape == (64, 16, 16, 32) and np.sqrt(np.mean(out**2)) == pytest.approx(1, rel=1e-3)
    assert not net.model.trainable_weights


def test_factor_targets_one_hot_and_scaled_axes():
    t = perceptual.factor_targets(np.array([[5, 0, 1, 2, 1, 39, 0]]))
    assert t.shape == (1, 22) and t[0, 5] == 1 and t[0, 6] == 1 and t[0, 13] == 1 and t[0, 16] == 1
    assert t[0].sum() == pytest.approx(5 + 1) and t[0, -2] == 1 and t[0, -1] == 0
