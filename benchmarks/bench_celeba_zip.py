"""Reading CelebA from its zip: one handle shared by every reading thread (latentlab) against one handle per thread
(the reference: latentlab's reader until 2026-12-07, rebuilt here).

    python benchmarks/bench_celeba_zip.py PATH/img_align_celeba.zip [--images 8192] [--trials 5]

Each way, in interleaved trials: seconds to load the set (list the zip, check a few headers) and stream its first
``--images`` faces through ``CelebA.dataset`` (tf.data decodes on every core). Then, once each and untimed, how
many handles were opened and what they hold after it (tracemalloc, what zipfile allocated: their directories).
A stand-in of the real size: ``python benchmarks/standins.py celeba --dest DIR`` (202,599 faces).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import tracemalloc
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from latentlab.data import celeba  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trials import interleaved, ratio, spread  # noqa: E402


class PerThreadZip:
    """The reference: a handle on the zip per reading thread, each reading the whole directory when opened."""

    def __init__(self, path: Path) -> None:
        self.path, self.archives, self.lock = path, {}, threading.Lock()

    def read(self, name: str) -> bytes:
        key = threading.get_ident()
        archive = self.archives.get(key)
        if archive is None:
            with self.lock:
                archive = self.archives.get(key) or self.archives.setdefault(key, zipfile.ZipFile(self.path))
        return archive.read(name)


def stream(path: Path, n: int, per_thread: bool) -> celeba.CelebA:
    """Load the set from ``path`` and stream its first ``n`` faces; returns the subset streamed."""
    faces = celeba.load_celeba("all", folder=path, verbose=False)[:n]
    if per_thread:
        faces._zip = PerThreadZip(faces.location)
    for _ in faces.dataset(256):
        pass
    return faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("zip", type=Path)
    parser.add_argument("--images", type=int, default=8192)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    with zipfile.ZipFile(args.zip) as archive:
        entries = len(archive.infolist())
    print(
        f"{platform.machine()} {os.cpu_count()} cores; {args.zip} ({entries:,} entries), the first "
        f"{args.images:,} faces streamed, {args.trials} interleaved trials"
    )
    ways = {"one handle (latentlab)": False, "a handle per thread (reference)": True}
    seconds, _ = interleaved(
        {name: (lambda p=p: stream(args.zip, args.images, p)) for name, p in ways.items()},
        trials=args.trials,
    )
    for name, times in seconds.items():
        print(f"{name:33s} load + stream: {spread(times, '{:.2f}')} s (min / median / max)")
    print(f"one handle against a handle per thread: {ratio(seconds[list(ways)[1]], seconds[list(ways)[0]])} faster")
    for name, per_thread in ways.items():
        tracemalloc.start()
        faces = stream(args.zip, args.images, per_thread)
        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, zipfile.__file__)])
        tracemalloc.stop()
        held = sum(stat.size for stat in snapshot.statistics("filename")) / 2**20
        handles = len(faces._zip.archives) if per_thread else 1
        print(f"{name:33s} {handles} handle(s) on the zip after streaming, holding {held:,.1f} MB (zipfile's objects)")
        del faces


if __name__ == "__main__":
    main()
