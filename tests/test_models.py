import json

import keras
import numpy as np
import pytest

from latentlab import config
from latentlab.errors import ParameterError, TrainingError
from latentlab.models import build_dense_autoencoder, fit
from latentlab.models.losses import binary_crossentropy, euclidean_distance_loss, get_loss, mean_squared_error


@pytest.mark.parametrize(
    "layers, widths", [(1, [32]), (5, [512, 128, 32, 128, 512]), (9, [512, 256, 128, 64, 32, 64, 128, 256, 512])]
)
def test_the_papers_architectures(layers, widths):
    ae = build_dense_autoencoder(layers)
    dense = [x.units for m in (ae.encoder, ae.decoder) for x in m.layers if isinstance(x, keras.layers.Dense)]
    assert dense == widths + [784]
    assert ae.encoder.output_shape == (None, 32) and ae.decoder.input_shape == (None, 32)
    x = np.random.default_rng(0).random((4, 784), dtype=np.float32)
    np.testing.assert_allclose(
        ae.predict(x, verbose=0), ae.decoder.predict(ae.encoder.predict(x, verbose=0), verbose=0), atol=1e-6
    )


def test_bad_architecture_and_loss_are_clear():
    with pytest.raises(ParameterError, match="give 1, 5 or 9"):
        build_dense_autoencoder(7)
    with pytest.raises(ParameterError, match="positive widths"):
        build_dense_autoencoder([64, 0, 64])
    with pytest.raises(ParameterError, match="choose one of mse, bce, euclidean"):
        get_loss("l1")


def test_losses_match_their_definitions(small_mnist):
    x, _ = small_mnist
    rng = np.random.default_rng(1)
    pred = np.clip(x[:64] + rng.normal(0, 0.2, x[:64].shape), 0.01, 0.99).astype(np.float32)
    mse = keras.ops.convert_to_numpy(mean_squared_error(x[:64], pred))
    np.testing.assert_allclose(mse, ((pred - x[:64]) ** 2).mean(1), rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(euclidean_distance_loss(x[:64], pred)), 784 * mse, rtol=1e-4)
    ref = keras.ops.convert_to_numpy(keras.losses.binary_crossentropy(x[:64], pred))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(binary_crossentropy(x[:64], pred)), ref, rtol=1e-4)


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt


class _CountEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_interrupted_training_resumes_where_it_stopped(tmp_path, small_mnist):
    x, _ = small_mnist
    ckpt = tmp_path / "ckpt"
    config.seed_everything(0)
    ae = build_dense_autoencoder(1)
    with pytest.raises(KeyboardInterrupt):
        fit(ae, x, epochs=4, batch_size=256, checkpoint_dir=ckpt, verbose=0, callbacks=[_Interrupt(2)])
    state = json.loads((ckpt / "state.json").read_text())
    assert state["epoch"] == 2 and len(state["history"]["loss"]) == 2
    assert sorted(p.name for p in ckpt.iterdir()) == ["epoch00002.weights.h5", "state.json"]

    fresh = build_dense_autoencoder(1)
    counter = _CountEpochs()
    history = fit(fresh, x, epochs=4, batch_size=256, checkpoint_dir=ckpt, verbose=0, callbacks=[counter])
    assert counter.epochs == [2, 3], "should have resumed at epoch 2"
    assert len(history["loss"]) == 4 and history["loss"][:2] == state["history"]["loss"]
    assert history["loss"][3] < history["loss"][0]
    assert int(keras.ops.convert_to_numpy(fresh.optimizer.iterations)) == 4 * int(np.ceil(len(x) / 256))

    again = build_dense_autoencoder(1)
    counter = _CountEpochs()
    assert fit(again, x, epochs=4, batch_size=256, checkpoint_dir=ckpt, verbose=0, callbacks=[counter]) == history
    assert counter.epochs == [], "a finished run must not train again"
    np.testing.assert_array_equal(again.predict(x[:5], verbose=0), fresh.predict(x[:5], verbose=0))

    config.seed_everything(0)
    whole = build_dense_autoencoder(1)
    assert fit(whole, x, epochs=4, batch_size=256, verbose=0)["loss"] == pytest.approx(history["loss"], rel=1e-5)
    np.testing.assert_allclose(
        whole.predict(x[:5], verbose=0),
        fresh.predict(x[:5], verbose=0),
        atol=1e-6,
        err_msg="the resumed run must have trained on the batches of the uninterrupted one",
    )


def test_init_from_continues_another_run(tmp_path, small_mnist):
    x, _ = small_mnist
    first = build_dense_autoencoder(1)
    short = fit(first, x, epochs=2, batch_size=256, checkpoint_dir=tmp_path / "short", verbose=0)
    longer = build_dense_autoencoder(1)
    counter = _CountEpochs()
    history = fit(
        longer,
        x,
        epochs=3,
        batch_size=256,
        checkpoint_dir=tmp_path / "long",
        init_from=tmp_path / "short",
        verbose=0,
        callbacks=[counter],
    )
    assert counter.epochs == [2] and history["loss"][:2] == short["loss"]
    assert json.loads((tmp_path / "short" / "state.json").read_text())["epoch"] == 2, "the source run was changed"


def test_from_uint8_trains_on_the_values_of_a_float_copy_without_making_one(mnist):
    (x, _), _ = mnist
    raw = x[:1000].reshape(1000, -1)  # uint8 images
    floats = (raw / 255.0).astype(np.float32)
    runs = []
    for data, options in ((floats, {}), (raw, {"from_uint8": True})):
        keras.utils.set_random_seed(0)
        ae = build_dense_autoencoder(1)
        held = (data[:200], data[:200])
        history = fit(ae, data, epochs=2, batch_size=128, validation_data=held, verbose=0, **options)
        runs.append((history, ae.get_weights()))
    (float_history, float_weights), (uint8_history, uint8_weights) = runs
    assert uint8_history == float_history and len(uint8_history["val_loss"]) == 2
    for a, b in zip(float_weights, uint8_weights, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ParameterError, match="from_uint8=True.*float32"):
        fit(build_dense_autoencoder(1), floats, epochs=1, from_uint8=True, verbose=0)
    labels = np.zeros(len(raw), np.uint8)  # uint8 class labels would be divided by 255 too
    with pytest.raises(ParameterError, match="y has shape"):
        fit(build_dense_autoencoder(1), raw, labels, epochs=1, from_uint8=True, verbose=0)
    with pytest.raises(ParameterError, match=r"validation_data\[1\] has shape"):
        fit(build_dense_autoencoder(1), raw, epochs=1, validation_data=(raw, labels), from_uint8=True, verbose=0)


def test_image_rows_with_targets_train_as_the_arrays_they_stand_for(mnist):
    """Streamed only as inputs alone (the agent): an autoencoder on ImageRows trains on the array they make."""
    from latentlab.batching import ImageRows

    (x, _), _ = mnist
    flat = x[:2000].reshape(2000, -1)
    index = np.random.default_rng(2).integers(2000, size=600)
    weights = []
    for data in (ImageRows(flat, index), (flat[index] / 255.0).astype(np.float32)):
        keras.utils.set_random_seed(0)
        ae = build_dense_autoencoder(1)
        fit(ae, data, epochs=1, batch_size=128, verbose=0)
        weights.append(ae.get_weights())
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_of_another_model_is_not_loaded(tmp_path, small_mnist):
    x, _ = small_mnist
    fit(build_dense_autoencoder(1), x, epochs=1, batch_size=256, checkpoint_dir=tmp_path, verbose=0)
    counter = _CountEpochs()
    with pytest.warns(UserWarning, match="another model"):
        fit(
            build_dense_autoencoder(5),
            x,
            epochs=1,
            batch_size=256,
            checkpoint_dir=tmp_path,
            verbose=0,
            callbacks=[counter],
        )
    assert counter.epochs == [0]


def test_nan_loss_stops_with_a_clear_message(small_mnist):
    x, _ = small_mnist
    bad = x[:512].copy()
    bad[7, 100] = np.nan
    with pytest.raises(TrainingError, match="became nan.*contain no NaN"):
        fit(build_dense_autoencoder(1), bad, epochs=1, batch_size=64, verbose=0)
