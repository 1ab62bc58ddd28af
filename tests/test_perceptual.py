"""The factor CNN of the perceptual loss: trained on the real MPI3D file's images when it is there (a small
file in the real npz format here), on synthetic renders otherwise, exactly as before the real-data path."""

import keras
import numpy as np
import pytest

from latentlab.data import mpi3d, mpi3d_synthetic
from latentlab.data.sources import DataSource
from latentlab.errors import DataFormatError, ParameterError
from latentlab.experiments import perceptual
from latentlab.models.features import build_factor_cnn

SIZES = (2, 2, 2, 1, 1, 3, 4)  # a custom layout of 96 images; targets 2 + 2 + 2 + 1 + 1 one-hot, then 2 axes


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """A stored npz in MPI3D's format whose images are renders of its own factor grid (so they depend on
    the factors), loaded as the real file: (MPI3D, its images (96, 64, 64, 3) uint8)."""
    images = mpi3d_synthetic.render(mpi3d_synthetic.grid_factors(SIZES))
    path = tmp_path_factory.mktemp("mpi3d") / mpi3d.FILENAME
    np.savez(path, images=images)
    data = mpi3d.load_mpi3d(path, factor_sizes=SIZES, verbose=False)
    assert not data.synthetic and isinstance(data.images, np.memmap)
    return data, images


class Reads:
    """The memory map, recording every key it is read with."""

    def __init__(self, images):
        self.images, self.keys = images, []

    def __len__(self):
        return len(self.images)

    def __getitem__(self, key):
        self.keys.append(np.asarray(key))
        return self.images[key]


def test_factor_targets_follow_the_data_factor_sizes():
    older = (4, 4, 2, 3, 3, 40, 40)
    t = perceptual.factor_targets([[3, 0, 1, 2, 0, 39, 13]], older)
    assert t.shape == (1, 4 + 4 + 2 + 3 + 3 + 2) and t.dtype == np.float32
    assert np.flatnonzero(t[0, :-2]).tolist() == [3, 4, 9, 12, 13] and np.allclose(t[0, -2:], [1, 1 / 3])
    small = perceptual.factor_targets([[1, 0, 1, 0, 0, 2, 3]], SIZES)
    assert small.shape == (1, 10) and np.allclose(small[0, -2:], [1, 1])  # axes / (size - 1)
    assert perceptual.factor_targets([[5, 5, 1, 2, 2, 39, 0]]).shape == (1, 22)  # the synthetic sizes by default
    with pytest.raises(ParameterError, match="object_color=5 is out of range"):
        perceptual.factor_targets([[5, 0, 0, 0, 0, 1, 1]], older)


def test_the_factor_cnn_trains_and_scores_on_the_real_file_images(real, monkeypatch, tmp_path):
    data, images = real
    lookup = {im.tobytes(): i for i, im in enumerate(images)}
    assert len(lookup) == len(images), "every image of the grid should differ"
    spied = mpi3d.MPI3D(Reads(data.images), data.factor_sizes, data.source)
    fed, scored = {}, {}

    def fit(net, x, y, **kwargs):
        fed.update(x=x, y=y)
        return perceptual_fit(net, x, y, **kwargs)

    def predict(net, x, **kwargs):
        scored["x"] = x
        return perceptual_predict(net, x, **kwargs)

    perceptual_fit, perceptual_predict = perceptual.fit, perceptual.predict
    monkeypatch.setattr(perceptual, "fit", fit)
    monkeypatch.setattr(perceptual, "predict", predict)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_keras_home"))
    keras.utils.set_random_seed(0)
    net = perceptual.perceptual_features(images[:8] / 255.0, n_images=40, epochs=1, seed=3, data=spied)

    def indices(x):
        assert x.dtype == np.uint8, "the images stay uint8 in memory"
        return np.array([lookup[im.tobytes()] for im in x])

    train, test = indices(fed["x"]), indices(scored["x"])
    expected = perceptual.real_factor_split(data, 40, 3)
    assert np.array_equal(train, expected[0]) and np.array_equal(test, expected[1])
    assert len(set(train)) == 40 and len(test) == 56 and not set(train) & set(test)  # 200 capped by the 96 held
    assert np.array_equal(fed["y"], perceptual.factor_targets(np.stack(np.unravel_index(train, SIZES), 1), SIZES))
    reads = [k.tolist() for k in spied.images.keys]
    assert reads == [expected[0].tolist(), expected[1].tolist()], "only the subsample is read, in sorted order"
    assert net.kind == "factor_cnn" and "VGG16 weights not cached" in net.description
    assert "trained here on 40 real MPI3D images (a random subsample of 96)" in net.description
    assert "held out on 56 other real images: object_color accuracy" in net.description
    assert "synthetic" not in net.description


def test_a_synthetic_checkpoint_is_not_reused_for_real_images(tmp_path):
    sizes = (6, 6, 2, 3, 3, 1, 1)  # the synthetic groups: the same network, so only the data tells them apart
    fake = np.random.default_rng(0).integers(0, 256, (int(np.prod(sizes)), 64, 64, 3), dtype=np.uint8)
    data = mpi3d.MPI3D(fake, sizes, DataSource("MPI3D toy", "local", "in memory"))
    keras.utils.set_random_seed(0)
    perceptual.train_factor_cnn(10, 1, 0, tmp_path, verbose=0)
    with pytest.warns(UserWarning, match="another model, optimizer, batch size or training data.*moved it"):
        _, scores = perceptual.train_factor_cnn(10, 1, 0, tmp_path, verbose=0, data=data)
    assert len(scores) == 6 and scores["axes RMSE (grid steps)"] >= 0


def test_the_synthetic_path_is_unchanged(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path))
    synthetic = mpi3d.load_mpi3d(verbose=False)
    fed = {}

    def fit(net, x, y, **kwargs):
        fed.update(x=x, y=y)
        return perceptual_fit(net, x, y, **kwargs)

    perceptual_fit = perceptual.fit
    monkeypatch.setattr(perceptual, "fit", fit)
    keras.utils.set_random_seed(0)
    _, scores = perceptual.train_factor_cnn(10, 1, 0, verbose=0, data=synthetic)
    f = perceptual.random_factors(10, np.random.default_rng(0))
    assert fed["x"].dtype == np.uint8 and np.array_equal(fed["x"], mpi3d_synthetic.render(f)), "the same renders"
    assert np.array_equal(fed["y"], perceptual.factor_targets(f)), "the same targets"
    keras.utils.set_random_seed(0)
    assert perceptual.train_factor_cnn(10, 1, 0, verbose=0)[1] == scores, "synthetic data = no data"


def test_the_description_says_synthetic_renders_as_before(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_keras_home"))
    calls = []

    def train(n_images, epochs, seed, checkpoint_dir, verbose, data):
        calls.append(data)
        x = keras.Input((64, 64, 3))
        return keras.Model(x, keras.layers.Conv2D(2, 3)(x)), {"object_color accuracy": 0.5}

    monkeypatch.setattr(perceptual, "train_factor_cnn", train)
    synthetic = mpi3d.MPI3D(mpi3d_synthetic.SyntheticImages(), mpi3d_synthetic.FACTOR_SIZES, None)
    for data in (None, synthetic):
        net = perceptual.perceptual_features(np.full((2, 64, 64, 3), 0.5), n_images=64, epochs=2, data=data)
        assert net.description == (
            "VGG16 weights not cached; small CNN trained here on 64 synthetic renders for 2 epochs to recognise "
            "the scene factors (held out: object_color accuracy 0.50); features of its second conv block"
        )
    assert calls == [None, None], "the synthetic stand-in trains on renders, as with no data"


def test_bad_real_data_input_is_refused(real):
    data, _ = real
    with pytest.raises(ParameterError, match=r"n_images=96: .* holds 96 MPI3D images.*n_images <= 95"):
        perceptual.train_factor_cnn(96, 1, 0, data=data)
    with pytest.raises(ParameterError, match=r"n_images=5,000: .*holds 96"):
        perceptual.perceptual_features(np.zeros((2, 64, 64, 3)), kind="factor_cnn", n_images=5000, data=data)
    with pytest.raises(ParameterError, match="pass the MPI3D of latentlab.data.mpi3d.load_mpi3d"):
        perceptual.train_factor_cnn(20, 1, 0, data=data.images)
    wrong = mpi3d.MPI3D(data.images, (4, 4, 2, 3, 3, 40, 40), data.source)
    with pytest.raises(DataFormatError, match=r"96 images but factor sizes \(4, 4, 2, 3, 3, 40, 40\)"):
        perceptual.train_factor_cnn(20, 1, 0, data=wrong)
    with pytest.raises(ParameterError, match="give a whole number"):
        perceptual.real_factor_split(data, 0, 0)
    train, test = perceptual.real_factor_split(data, 95, 0)
    assert len(train) == 95 and len(test) == 1 and sorted({*train, *test}) == list(range(96))


def test_the_factor_cnn_learns_from_uint8_images_as_from_floats():
    rng = np.random.default_rng(0)
    images = mpi3d_synthetic.render(perceptual.random_factors(8, rng))
    net, _ = build_factor_cnn((64, 64, 3), perceptual.GROUPS)
    wrapped = perceptual.on_uint8(net)
    assert wrapped.input.dtype == "uint8" and wrapped.weights == net.weights, "the same network, a uint8 input"
    floats = images.astype(np.float32) / 255.0
    assert np.array_equal(np.asarray(wrapped(images)), np.asarray(net(floats))), "eager: x / 255 exactly"
    assert np.allclose(wrapped.predict(images, verbose=0), net.predict(floats, verbose=0), rtol=1e-5, atol=1e-6)
