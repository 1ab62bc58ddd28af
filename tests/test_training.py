"""Resumable training on real MNIST digits: what a checkpoint may name, what happens to one that does not fit,
and the arguments, step cap and progress bar of ``fit``."""

import json

import keras
import numpy as np
import pytest

from latentlab.errors import ParameterError, TrainingError
from latentlab.models import build_dense_autoencoder, fit
from latentlab.models.training import BatchCurve


@pytest.fixture
def x(small_mnist):
    return small_mnist[0][:512]


def _train(x, folder, epochs=1, **kwargs):
    keras.utils.set_random_seed(0)
    return fit(build_dense_autoencoder(1), x, epochs=epochs, batch_size=128, checkpoint_dir=folder, verbose=0, **kwargs)


def _aside(folder):
    return sorted(p.name.split("-")[0] for p in folder.parent.iterdir() if p.name.startswith(folder.name + "."))


def test_a_state_file_that_names_a_file_elsewhere_deletes_and_loads_nothing(tmp_path, x):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    folder = tmp_path / "run"
    _train(x, folder)
    state = json.loads((folder / "state.json").read_text())
    (folder / "state.json").write_text(json.dumps({**state, "weights": "../victim.txt"}))
    with pytest.warns(UserWarning, match="may only name epochNNNNN.weights.h5.*moved it to"):
        history = _train(x, folder, epochs=2)
    assert victim.read_text() == "keep me" and len(history["loss"]) == 2, "trained afresh, the victim untouched"
    assert _aside(folder) == ["run.replaced"], "the crafted checkpoint is kept beside, not deleted"
    assert json.loads((folder / "state.json").read_text())["weights"] == "epoch00002.weights.h5"


@pytest.mark.parametrize("damage", ["empty state", "truncated state", "missing weights", "truncated weights"])
def test_a_damaged_checkpoint_is_moved_aside_and_training_restarts(tmp_path, x, damage):
    folder = tmp_path / "run"
    _train(x, folder)
    state, weights = folder / "state.json", folder / "epoch00001.weights.h5"
    if damage == "empty state":
        state.write_text("")
    elif damage == "truncated state":
        state.write_text(state.read_text()[:40])
    elif damage == "missing weights":
        weights.unlink()
    else:
        weights.write_bytes(weights.read_bytes()[:300])
    with pytest.warns(UserWarning, match="moved it to"):
        history = _train(x, folder, epochs=1)
    assert len(history["loss"]) == 1 and _aside(folder) == ["run.replaced"]


def test_new_data_of_the_same_shape_or_another_optimizer_is_not_resumed(tmp_path, x, small_mnist):
    folder = tmp_path / "run"
    first = _train(x, folder, epochs=2)
    assert _train(x, folder, epochs=2) == first, "same data: resumed, nothing trained"
    other = small_mnist[0][512:1024]
    with pytest.warns(UserWarning, match="another model, optimizer, batch size or training data"):
        _train(other, folder, epochs=2)
    keras.utils.set_random_seed(0)
    faster = build_dense_autoencoder(1, learning_rate=1e-2)
    with pytest.warns(UserWarning, match="training data"):
        fit(faster, other, epochs=2, batch_size=128, checkpoint_dir=folder, verbose=0)
    assert len(_aside(folder)) == 2


def test_a_nan_validation_loss_stops_training_before_it_is_saved(tmp_path, x):
    bad = x[:128].copy()
    bad[3, 10] = np.nan
    with pytest.raises(TrainingError, match="non-finite.*val_loss"):
        _train(x, tmp_path / "run", validation_data=(bad, bad))
    assert not (tmp_path / "run" / "state.json").exists()


@pytest.mark.parametrize(
    "kwargs", [dict(checkpoint_every=0), dict(batch_size=0), dict(epochs=-1), dict(batch_size=2.5), dict(epochs=True)]
)
def test_bad_arguments_name_the_fix(x, kwargs):
    args = dict(epochs=1, batch_size=128) | kwargs
    with pytest.raises(ParameterError, match="give a whole number"):
        fit(build_dense_autoencoder(1), x, verbose=0, **args)


def test_an_unwritable_checkpoint_folder_is_a_project_error(tmp_path, x):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(TrainingError, match="Cannot write the checkpoint.*LATENTLAB_BUILD"):
        _train(x, blocker / "run")


def test_the_step_cap_trains_a_few_steps_and_writes_no_checkpoint(tmp_path, x, monkeypatch):
    monkeypatch.setenv("LATENTLAB_MAX_STEPS", "2")
    steps = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: steps.append(batch))
    keras.utils.set_random_seed(0)
    model = build_dense_autoencoder(1)
    model.compile(optimizer="adam", loss="mse", steps_per_execution=1)
    history = fit(model, x, epochs=5, batch_size=64, checkpoint_dir=tmp_path / "run", verbose=0, callbacks=[counter])
    assert steps == [0, 1] and len(history["loss"]) == 1 and not (tmp_path / "run").exists()
    monkeypatch.setenv("LATENTLAB_MAX_STEPS", "two")
    with pytest.raises(ParameterError, match="LATENTLAB_MAX_STEPS='two'"):
        fit(model, x, epochs=1, verbose=0)


@pytest.mark.parametrize("data", ["arrays", "tf.data", "PyDataset"])
def test_the_step_cap_holds_when_a_call_runs_several_steps(x, monkeypatch, data):
    # steps_per_execution=16 runs up to 16 steps per call whatever steps_per_epoch says: the data is cut instead
    monkeypatch.setenv("LATENTLAB_MAX_STEPS", "2")
    read = []

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return len(x) // 16

        def __getitem__(self, i):
            read.append(i)
            return x[i * 16 : (i + 1) * 16], x[i * 16 : (i + 1) * 16]

    if data == "tf.data":
        if keras.backend.backend() != "tensorflow":
            pytest.skip("tf.data needs TensorFlow")
        import tensorflow as tf

        feed = {"x": tf.data.Dataset.from_tensor_slices((x, x)).batch(16), "n_samples": len(x)}
    else:
        feed = {"x": x} if data == "arrays" else {"x": Batches(), "n_samples": len(x)}
    keras.utils.set_random_seed(0)
    model = build_dense_autoencoder(1)
    model.compile(optimizer="adam", loss="mse", steps_per_execution=16)
    assert len(x) // 16 > 16, "the data must hold more batches than one call runs"
    fit(model, **feed, epochs=3, batch_size=16, verbose=0)
    assert int(model.optimizer.iterations) == 2
    if data == "PyDataset":
        assert sorted(set(read)) == [0, 1], read


def test_training_shows_one_progress_bar_not_a_line_per_epoch(x, capsys):
    keras.utils.set_random_seed(0)
    fit(build_dense_autoencoder(1, name="tiny_ae"), x, epochs=3, batch_size=128)
    err = capsys.readouterr().err
    assert "tiny_ae" in err and "12/12" in err and "epoch=3/3" in err, err[-500:]
    assert "Epoch 1/3" not in err + capsys.readouterr().out, "no Keras per-epoch lines"


def _per_batch_model():
    keras.utils.set_random_seed(0)
    model = build_dense_autoencoder(1)
    model.compile(optimizer="adam", loss="mse")  # steps_per_execution=1: callbacks see every batch
    return model


def test_batch_curve_recovers_each_batch_from_the_running_means(x):
    model = _per_batch_model()
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")  # frozen weights: each batch's loss is known
    curve = BatchCurve(["loss"])
    model.fit(x, x, batch_size=128, epochs=2, shuffle=False, verbose=0, callbacks=[curve])
    batches = np.split(x, 4)
    want = [float(np.mean((model.predict(b, verbose=0) - b) ** 2)) for b in batches]
    assert np.ptp(want) > 1e-4  # the batches differ by more than the tolerance, so running means would not pass
    np.testing.assert_allclose(curve.values["loss"], want * 2, rtol=1e-5)


def test_batch_curve_resumes_with_the_checkpoint(tmp_path, x):
    folder = tmp_path / "run"
    first = BatchCurve(["loss"], folder / "curve.json")
    fit(_per_batch_model(), x, epochs=2, batch_size=128, checkpoint_dir=folder, verbose=0, callbacks=[first])
    assert len(first.values["loss"]) == 8 and first.values["loss"][-1] < first.values["loss"][0]
    resumed = BatchCurve(["loss"], folder / "curve.json")
    fit(_per_batch_model(), x, epochs=3, batch_size=128, checkpoint_dir=folder, verbose=0, callbacks=[resumed])
    assert len(resumed.values["loss"]) == 12 and resumed.values["loss"][:8] == first.values["loss"]
    finished = BatchCurve(["loss"], folder / "curve.json")  # fit returns at once; the curve is read from the file
    fit(_per_batch_model(), x, epochs=3, batch_size=128, checkpoint_dir=folder, verbose=0, callbacks=[finished])
    assert finished.values == resumed.values


def test_batch_curve_refuses_what_it_cannot_measure(tmp_path, x):
    fast = build_dense_autoencoder(1)  # compiled with several steps per execution
    with pytest.raises(TrainingError, match="steps_per_execution=1"):
        fast.fit(x, x, batch_size=16, epochs=1, verbose=0, callbacks=[BatchCurve(["loss"])])
    with pytest.raises(ParameterError, match="not logged"):
        _per_batch_model().fit(x, x, batch_size=128, epochs=1, verbose=0, callbacks=[BatchCurve(["return"])])
    damaged = tmp_path / "curve.json"
    damaged.write_text('{"per_epoch": 4, "values": {"loss": [1.0, NaN]}}')
    with pytest.raises(TrainingError, match="curve.json"):
        BatchCurve(["loss"], damaged)
    with pytest.raises(ParameterError, match="keys"):
        BatchCurve("loss")


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="counts TensorFlow's traces")
def test_a_fresh_model_traces_its_train_step_once(x):
    """Keras on TensorFlow builds the optimizer inside the first traced step, and tf.function then traces the step
    again; fit builds it before, so two epochs trace once (each trace runs train_step's Python body)."""
    keras.utils.set_random_seed(0)
    model = build_dense_autoencoder(1)
    traces, step = [], model.train_step
    model.train_step = lambda data: traces.append(1) or step(data)
    history = fit(model, x, epochs=2, batch_size=128, verbose=0)
    assert len(history["loss"]) == 2 and len(traces) == 1
