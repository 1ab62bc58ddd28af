"""The memory that training notebook 04's factor CNN adds: ``perceptual.train_factor_cnn`` on ``--images`` images
of a real-layout MPI3D file, cut to 2 steps, in this process, with its anonymous memory sampled every 20 ms.

    python benchmarks/factor_cnn_memory.py PATH/TO/mpi3d_toy.npz [--images 20000]

A diagnostic, not a benchmark with a target: bench_scale found notebook 04 in ``full`` holding 4.3-5.3 GB, part of
it the factor CNN's 20,000 training images as float32 in numpy and again in ``tf.data``. It prints the anonymous
memory (``RssAnon``: a memory-mapped file's pages are not in it) before the call, its peak during the call and
after it. Run it against another checkout with ``PYTHONPATH=<checkout>`` to compare two versions of the code.
``benchmarks/standins.py mpi3d --dest DIR`` writes a stand-in file.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

from vae_step_memory import _kib  # noqa: E402  (a sibling script: run from benchmarks/ or as a path)


def _anon_mb() -> int:
    return int(_kib("RssAnon"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="an mpi3d_toy.npz (real layout)")
    parser.add_argument("--images", type=int, default=20_000, help="training images (notebook 04's full: 20,000)")
    args = parser.parse_args(argv)
    os.environ["LATENTLAB_MAX_STEPS"] = "2"
    peak = [0]

    def watch() -> None:
        while True:
            peak[0] = max(peak[0], _anon_mb())
            time.sleep(0.02)

    threading.Thread(target=watch, daemon=True).start()
    from latentlab.data.mpi3d import load_mpi3d
    from latentlab.experiments import perceptual

    data = load_mpi3d(args.path, verbose=False)
    time.sleep(0.2)
    before, started = _anon_mb(), time.perf_counter()
    perceptual.train_factor_cnn(args.images, 1, 0, data=data, verbose=0)
    seconds = time.perf_counter() - started
    time.sleep(0.2)
    print(
        f"train_factor_cnn({args.images:,} images of {len(data.images):,}, 2 steps): anonymous memory {before:,} MB "
        f"before, peak {peak[0]:,} MB (+{peak[0] - before:,}), {_anon_mb():,} MB after; {seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
