"""MPI3D ``mpi3d_toy.npz`` (Gondal et al., 2019): 64 x 64 RGB renders of a robot arm holding an object,
one image per combination of seven factors, stored row-major in the order of :data:`FACTORS`.

Sources, in order: ``mpi3d_toy.npz`` in the data folder (``LATENTLAB_DATA`` or ``data/``), then the
synthetic renderer of :mod:`latentlab.data.mpi3d_synthetic` (the same factor layout, rendered on
demand). There is no checksummed download: the published file has no checksum we could pin, so it is
never fetched automatically. The real file is ~12 GB of pixels, read through a memory map so that only
the selected images are read. When its ``images`` member is stored (not compressed, as ``np.savez``
writes it) the map points straight into the npz: no copy, no extra disk. A compressed member
(``np.savez_compressed``) is extracted once into ``mpi3d_toy.images.npy`` beside it and that is mapped; the
cache is keyed on the npz's size and modification time (ns) in ``mpi3d_toy.images.json``, checked for
completeness before use, and written atomically: a partial extraction never becomes the cache.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

import numpy as np

from latentlab import config
from latentlab.data.mpi3d_synthetic import FACTOR_SIZES, FACTORS, SyntheticImages
from latentlab.data.sources import DataSource
from latentlab.errors import DataFormatError, DataNotFoundError, OutputError, ParameterError
from latentlab.io import atomic_path, write_json

FILENAME = "mpi3d_toy.npz"
KEY = "images"
#: Factor sizes of the published files, by image count: the current toy set and the older one.
LAYOUTS = {6 * 6 * 2 * 3 * 3 * 40 * 40: FACTOR_SIZES, 4 * 4 * 2 * 3 * 3 * 40 * 40: (4, 4, 2, 3, 3, 40, 40)}
VALUE_NAMES = {
    "object_color": ("white", "green", "red", "blue", "brown", "olive"),
    "object_shape": ("cone", "cube", "cylinder", "hexagonal", "pyramid", "sphere"),
    "object_size": ("small", "large"),
    "camera_height": ("top", "center", "bottom"),
    "background_color": ("purple", "sea_green", "salmon"),
}
#: The paper's 1,600-image set: a large white cone, purple background, camera at the top.
PAPER_FIXED = {"object_color": 0, "object_shape": 0, "object_size": 1, "camera_height": 0, "background_color": 0}
REPO = "https://github.com/rr-learning/disentanglement_dataset"
MISSING_HELP = (
    f"Put {FILENAME} (the 'simplistic rendered images', key 'images', uint8 (N, 64, 64, 3)) in {{folder}} "
    f"or set LATENTLAB_DATA to the folder holding it; the download link is in the MPI3D repository {REPO}."
)


@dataclasses.dataclass
class MPI3D:
    """The MPI3D image array ((N, 64, 64, 3) uint8: a memory map of the real file, or lazily rendered
    :class:`~latentlab.data.mpi3d_synthetic.SyntheticImages`), its factor sizes and its source."""

    images: np.ndarray | SyntheticImages
    factor_sizes: tuple[int, ...]
    source: DataSource

    @property
    def synthetic(self) -> bool:
        """True for the rendered stand-in, False for the real file."""
        return isinstance(self.images, SyntheticImages)


def factor_sizes_for(n_images: int, where: str = "the file") -> tuple[int, ...]:
    """The factor sizes of a published MPI3D toy file with ``n_images`` images."""
    if n_images not in LAYOUTS:
        known = ", ".join(f"{n:,} -> {sizes}" for n, sizes in LAYOUTS.items())
        raise DataFormatError(
            f"{where} holds {n_images:,} images; an MPI3D toy file holds {known}. It is truncated or not "
            f"mpi3d_toy: replace it with the file from {REPO}, or pass factor_sizes for a custom layout."
        )
    return LAYOUTS[n_images]


def _npy_header(handle: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(handle)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(handle)
    raise ValueError(f"unsupported .npy format version {version}")


def _member_header(path: Path) -> tuple[str, tuple[int, ...], np.dtype]:
    """The ``images`` member of an npz and its array's shape and dtype, read from the header only."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n[:-4] if n.endswith(".npy") else n for n in zf.namelist()]
            if KEY not in names:
                raise DataFormatError(
                    f"{path} has no array '{KEY}' (it holds {names}); MPI3D's npz stores the "
                    f"images under '{KEY}'. Replace it with the file from {REPO}."
                )
            member = f"{KEY}.npy" if f"{KEY}.npy" in zf.namelist() else KEY
            with zf.open(member) as handle:
                shape, fortran, dtype = _npy_header(handle)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        if isinstance(err, DataFormatError):
            raise
        raise DataFormatError(
            f"{path} is not a readable npz ({type(err).__name__}: {err}); delete it or replace "
            f"it with the file from {REPO}."
        ) from err
    _check_header(path, shape, fortran, dtype)
    return member, shape, dtype


def _check_header(path: Path, shape: tuple[int, ...], fortran: bool, dtype: np.dtype) -> None:
    """:class:`DataFormatError` unless the npy header describes C-ordered uint8 images (N, 64, 64, 3)."""
    if fortran or dtype != np.uint8 or len(shape) != 4 or shape[1:] != (64, 64, 3):
        raise DataFormatError(
            f"{path}: '{KEY}' is {'Fortran-ordered ' if fortran else ''}{dtype} of shape {shape}; "
            "MPI3D toy images are C-ordered uint8 of shape (N, 64, 64, 3)."
        )


#: A zip local file header: signature, version, flags, method, time, date, CRC, sizes, name and extra lengths.
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")


def _map_stored(path: Path, member: str, shape: tuple[int, ...]) -> np.memmap | None:
    """The array of a stored (uncompressed, unencrypted) npz member as a read-only memory map of the npz
    itself, or None when the member is compressed or encrypted (it must then be extracted).

    The member's data starts after its local file header: 30 bytes, the file name and the extra field, whose
    lengths are read from the local header itself (its extra field, e.g. zip64's, may differ from the
    central directory's). The npy header found there must be the one ``_member_header`` read, and the npz
    must hold every byte it promises, else :class:`DataFormatError`."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(member)
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            return None
        with open(path, "rb") as handle:
            handle.seek(info.header_offset)
            local = handle.read(_LOCAL_HEADER.size)
            if len(local) < _LOCAL_HEADER.size:
                raise EOFError(f"the local header of '{member}' at byte {info.header_offset:,} is cut short")
            signature, _, _, method, *_, name_len, extra_len = _LOCAL_HEADER.unpack(local)
            if signature != b"PK\x03\x04" or method != zipfile.ZIP_STORED:
                raise ValueError(f"no stored local header for '{member}' at byte {info.header_offset:,}")
            start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
            handle.seek(start)
            found, fortran, dtype = _npy_header(handle)
            offset = handle.tell()
        size = path.stat().st_size
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise DataFormatError(
            f"{path} is not a readable npz ({type(err).__name__}: {err}); delete it or replace "
            f"it with the file from {REPO}."
        ) from err
    _check_header(path, found, fortran, dtype)
    if found != tuple(shape):
        raise DataFormatError(
            f"{path}: the '{KEY}' member's header reads {found} in place but {tuple(shape)} through the zip "
            f"index; the file is corrupt. Get the file again from {REPO}."
        )
    nbytes = int(np.prod(shape)) * dtype.itemsize
    promised = offset - start + nbytes
    if info.file_size != promised or size < offset + nbytes:
        held = min(info.file_size, size - start)
        raise DataFormatError(
            f"{path}: '{KEY}' holds {held:,} bytes but its header {tuple(shape)} needs {promised:,}; the file "
            f"is truncated or corrupt. Delete it, or get the file again from {REPO}."
        )
    return np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=tuple(shape), order="C")


def _cache_path(path: Path) -> Path:
    return path.with_name(path.name[:-4] + f".{KEY}.npy" if path.name.endswith(".npz") else path.name + ".npy")


def _key_path(cache: Path) -> Path:
    return cache.with_suffix(".json")


def _source_key(path: Path, member: str, shape: tuple[int, ...]) -> dict:
    stat = path.stat()
    return {
        "source": path.name,
        "source_size": stat.st_size,
        "source_mtime_ns": stat.st_mtime_ns,
        "member": member,
        "shape": list(shape),
    }


def _valid_cache(cache: Path, key: dict) -> np.memmap | None:
    """The cache as a memory map when its key file matches ``key`` (the npz's size and mtime in ns, the
    member and shape) and the cache is complete (its size as recorded, every promised byte present)."""
    try:
        stored = json.loads(_key_path(cache).read_text())
        if not isinstance(stored, dict) or {k: stored.get(k) for k in key} != key:
            return None
        stat = cache.stat()
        if [stat.st_size, stat.st_mtime_ns] != [stored.get("cache_size"), stored.get("cache_mtime_ns")]:
            return None
        cached = np.load(cache, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):  # no key, a corrupt key, a missing or short cache: rebuild it
        return None
    complete = cache.stat().st_size == cached.offset + cached.nbytes
    if cached.shape != tuple(key["shape"]) or cached.dtype != np.uint8 or not complete:
        return None
    return cached


def _extract(path: Path, member: str, shape: tuple[int, ...], cache: Path, chunk: int) -> None:
    """Stream ``member`` of the npz into ``cache`` atomically, checking that every promised byte arrived."""
    with atomic_path(cache, suffix=".npy") as tmp:
        try:
            with zipfile.ZipFile(path) as zf, zf.open(member) as src, open(tmp, "wb") as dst:
                for block in iter(lambda: src.read(chunk), b""):
                    dst.write(block)
        except (zipfile.BadZipFile, zlib.error, EOFError) as err:
            raise DataFormatError(
                f"{path}: its '{KEY}' member is corrupt ({type(err).__name__}: {err}); no cache was written. "
                f"Get the file again from {REPO}."
            ) from err
        try:
            images = np.load(tmp, mmap_mode="r", allow_pickle=False)
            complete = images.shape == tuple(shape) and tmp.stat().st_size == images.offset + images.nbytes
        except (OSError, ValueError, EOFError):
            complete = False
        if not complete:
            raise DataFormatError(
                f"{path}: '{KEY}' holds fewer bytes than its header promises {shape}; the file is "
                f"truncated, and no cache was written. Get the file again from {REPO}."
            )


def open_images(path: Path, chunk: int = 1 << 24) -> np.memmap:
    """The ``images`` array of an MPI3D npz as a read-only (N, 64, 64, 3) uint8 memory map.

    A stored member (``np.savez``, and ``benchmarks/standins.py mpi3d``, zip64 or not) is mapped in place,
    straight from the npz: nothing is copied or written. A compressed member (``np.savez_compressed``) is
    extracted (streamed ``chunk`` bytes at a time, atomically) into ``<name>.images.npy`` beside the npz on
    first use, and again whenever the npz's size or modification time (ns) differs from the cache's key or
    the cache is incomplete; the cache is mapped. Raises :class:`DataFormatError` for a file that is not an
    npz of such images or holds fewer bytes than its header promises."""
    return _open_images(Path(path), chunk)[0]


def _open_images(path: Path, chunk: int = 1 << 24) -> tuple[np.memmap, str]:
    """:func:`open_images`, and a few words on how the array was opened (for the source's note)."""
    member, shape, _ = _member_header(path)
    in_place = _map_stored(path, member, shape)
    if in_place is not None:
        return in_place, f"'{KEY}' memory-mapped in place (a stored npz member)"
    cache = _cache_path(path)
    how = f"'{KEY}' is compressed in the npz: extracted once into {cache.name} beside it and memory-mapped"
    key = _source_key(path, member, shape)
    cached = _valid_cache(cache, key)
    if cached is not None:
        return cached, how
    try:
        _key_path(cache).unlink(missing_ok=True)  # the old key must never vouch for a new cache
    except OSError as err:
        raise OutputError(
            f"cannot replace the cache key {_key_path(cache)} ({type(err).__name__}: {err}); make {cache.parent} "
            f"writable, or copy {path.name} into a writable folder and load it from there."
        ) from err
    _extract(path, member, shape, cache, chunk)
    if _source_key(path, member, shape) != key:
        cache.unlink(missing_ok=True)
        raise DataFormatError(f"{path} changed while it was being read; run again once it is complete.")
    stat = cache.stat()
    write_json(_key_path(cache), {**key, "cache_size": stat.st_size, "cache_mtime_ns": stat.st_mtime_ns})
    return np.load(cache, mmap_mode="r", allow_pickle=False), how


def _factor_sizes(factor_sizes: Iterable[int]) -> tuple[int, ...]:
    try:
        sizes = tuple(factor_sizes)
    except TypeError:
        sizes = ()
    if len(sizes) != len(FACTORS) or any(
        isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes
    ):
        raise ParameterError(
            f"factor_sizes={factor_sizes!r}: give {len(FACTORS)} whole numbers >= 1, one per factor "
            f"({', '.join(FACTORS)})."
        )
    return tuple(int(s) for s in sizes)


def load_mpi3d(
    path: str | Path | None = None,
    *,
    factor_sizes: Iterable[int] | None = None,
    synthetic_fallback: bool = True,
    verbose: bool = True,
) -> MPI3D:
    """MPI3D toy images with their factor layout and source.

    ``path``: an ``mpi3d_toy.npz`` (default: ``<data folder>/mpi3d_toy.npz``). The factor sizes follow
    from the image count (:data:`LAYOUTS`) unless ``factor_sizes`` gives a custom layout (a subset file
    written in the same format). Without the file, the synthetic renderer stands in (when
    ``synthetic_fallback``), else :class:`DataNotFoundError` says where to put the file. The file's images
    are memory-mapped as :func:`open_images` says (in place when stored, else from an extracted cache);
    ``source.note`` says which.
    """
    local = Path(path) if path is not None else config.data_dir() / FILENAME
    if local.is_file():
        images, how = _open_images(local)
        if factor_sizes is None:
            sizes = factor_sizes_for(len(images), str(local))
        else:
            sizes = _factor_sizes(factor_sizes)
            if int(np.prod(sizes)) != len(images):
                raise DataFormatError(
                    f"{local} holds {len(images):,} images but factor_sizes={sizes} describe "
                    f"{int(np.prod(sizes)):,} (one size per factor: {', '.join(FACTORS)})."
                )
        source = DataSource("MPI3D toy", "local", str(local), complete=sizes in LAYOUTS.values(), note=how)
        data = MPI3D(images, sizes, source)
    elif path is not None or not synthetic_fallback:
        raise DataNotFoundError(f"{local} does not exist. " + MISSING_HELP.format(folder=local.parent))
    else:
        note = "rendered by latentlab's MPI3D-like scene, not the real MPI3D images; " + MISSING_HELP.format(
            folder=local.parent
        )
        data = MPI3D(
            SyntheticImages(FACTOR_SIZES),
            FACTOR_SIZES,
            DataSource("MPI3D toy", "synthetic", "latentlab.data.mpi3d_synthetic", note=note),
        )
    if verbose:
        print(f"MPI3D: {len(data.images):,} images, factor sizes {data.factor_sizes} - {data.source}")
    return data


def _value_index(name: str, value: object, size: int) -> int:
    if isinstance(value, str):
        names = VALUE_NAMES.get(name, ())
        if value not in names[:size]:
            raise ParameterError(f"{name}={value!r} is not a value of this file; choose from {list(names[:size])}.")
        return names.index(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not number.is_integer() or not 0 <= int(number) < size:
        raise ParameterError(
            f"{name}={value!r} is out of range: give an integer in 0..{size - 1}"
            + (f" or one of {list(VALUE_NAMES[name][:size])}." if name in VALUE_NAMES else ".")
        )
    return int(number)


def select_factors(
    data: MPI3D, fixed: Mapping[str, object] | None = None, free: Iterable[str] | str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images whose factors equal ``fixed`` (``{factor: index or value name}``, default the paper's
    :data:`PAPER_FIXED`) while the ``free`` factors take all their values (default: every factor not
    fixed; a factor may also be fixed to a list/range of indices). Returns images (n, 64, 64, 3) uint8
    and their factor values (n, 7) int, in row-major order of the free factors."""
    if fixed is not None and not isinstance(fixed, Mapping):
        raise ParameterError(f"fixed={fixed!r}: give a dict {{factor: value}}, e.g. {PAPER_FIXED}.")
    fixed = dict(PAPER_FIXED if fixed is None else fixed)
    free = [free] if isinstance(free, str) else free
    unknown = set(fixed) - set(FACTORS) | set(free or ()) - set(FACTORS)
    if unknown:
        raise ParameterError(f"unknown factors {sorted(unknown)}; the factors are {', '.join(FACTORS)}.")
    free = set(FACTORS) - set(fixed) if free is None else set(free)
    both = sorted(free & set(fixed), key=FACTORS.index)
    if both:
        raise ParameterError(
            f"factors {both} are both fixed and free: a factor either takes all its values (free) or the "
            "fixed ones; remove it from one of the two."
        )
    choices = []
    for name, size in zip(FACTORS, data.factor_sizes):
        if name in free:
            choices.append(np.arange(size))
        elif name in fixed:
            vals = fixed[name]
            vals = list(vals) if isinstance(vals, (list, tuple, range, np.ndarray)) else [vals]
            if not vals:
                raise ParameterError(f"{name} is fixed to no value at all; give a value, a list of them, or free it.")
            choices.append(np.array([_value_index(name, v, size) for v in vals]))
        else:
            raise ParameterError(f"factor {name!r} is neither fixed nor free: fix it or list it in free.")
    grid = np.stack(np.meshgrid(*choices, indexing="ij"), -1).reshape(-1, len(FACTORS))
    flat = np.ravel_multi_index(tuple(grid.T), data.factor_sizes)
    return np.asarray(data.images[flat]), grid


def paper_set(data: MPI3D, three_dof: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The paper's 1,600 images (horizontal x vertical, all else fixed), or with ``three_dof`` its
    4,800-image set that also varies the camera height (section 5.2.2)."""
    fixed = {k: v for k, v in PAPER_FIXED.items() if not (three_dof and k == "camera_height")}
    return select_factors(data, fixed)
