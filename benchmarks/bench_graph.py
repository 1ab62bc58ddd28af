"""Latent graphs at scale: building the minimal-k kNN graph and the minimal-epsilon graph, plus one
Dijkstra "surfing" path, for 10^3, 10^4 and 10^5 codes on a curved 2-d sheet (in 2-d and in 3-d).

    python benchmarks/bench_graph.py [--sizes 1000 10000 100000] [--trials 5]

Prints, per size: seconds for each step (median of interleaved trials after a warm-up round,
``benchmarks/trials.py``; a call shorter than 0.2 s is repeated within its trial until the trial lasts about that
long, and its time per call reported, so that timer and scheduler noise do not swamp the small sizes; the kNN build
also as min / median / max), the growth ratio to the previous size (x10 points; ~10-12 is n log n), and the kNN
build against a reference measured in the same trials: scikit-learn's ``kneighbors_graph`` at the same k, the
plain way to build that graph without the search for the smallest connecting k, as a ratio of medians with its
per-round spread. Target: kNN build + Dijkstra <= 5 s at 10^5 codes.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.sparse import csgraph
from sklearn.neighbors import kneighbors_graph

from latentlab.latent import graph

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trials import interleaved, ratio, spread  # noqa: E402


def sheet(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` codes spread uniformly over a horseshoe-shaped 2-d sheet (like notebook 04's codes), laid
    flat (dim 2) or rolled up in 3-d (dim 3)."""
    angle = rng.uniform(0.3, 1.7 * np.pi, n)
    radius = np.sqrt(rng.uniform(1.0, 4.0, n))
    if dim == 2:
        return np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    return np.stack([angle * np.cos(angle), radius * 3, angle * np.sin(angle)], 1)


def far_pair(z: np.ndarray) -> tuple[int, int]:
    """The two codes at the ends of the horseshoe (smallest and largest angle)."""
    angle = np.arctan2(z[:, 1], z[:, 0]) if z.shape[1] == 2 else np.arctan2(z[:, 2], z[:, 0])
    angle = np.mod(angle, 2 * np.pi)
    return int(angle.argmin()), int(angle.argmax())


def repeated(fn: Callable[[], object], least: float = 0.2) -> tuple[Callable[[], object], int]:
    """``fn`` made into a call that runs it r times, r such that one call lasts about ``least`` seconds (timed
    once here), and r."""
    start = time.perf_counter()
    fn()
    r = max(1, math.ceil(least / max(time.perf_counter() - start, 1e-6)))

    def run() -> None:
        for _ in range(r):
            fn()

    return run, r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--trials", type=int, default=9)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    print(f"{platform.machine()} | {os.cpu_count()} CPUs | medians of {args.trials} interleaved trials")
    header = (
        "dim",
        "n",
        "k",
        "kNN build",
        "sklearn ref",
        "ours/ref (rounds)",
        "eps build",
        "Dijkstra+surf",
        "kNN+path",
        "growth",
    )
    print(" ".join(f"{h:>13s}" for h in header))
    for dim in (2, 3):
        previous = None
        for n in args.sizes:
            z = sheet(n, dim, np.random.default_rng(n))
            knn = graph.knn_graph(z)
            k = int(knn.param)
            ref = kneighbors_graph(z, k, mode="distance", n_jobs=-1)
            assert csgraph.connected_components(ref, directed=False)[0] == 1
            eps = graph.epsilon_graph(z)
            start, goal = far_pair(z)
            calls = {
                "knn": lambda: graph.knn_graph(z),
                "ref": lambda: kneighbors_graph(z, k, mode="distance", n_jobs=-1),
                "eps": lambda: graph.epsilon_graph(z),
                "path": lambda: graph.surfing_path(z, knn, start, goal, args.frames),
            }
            counts = {}
            for name, fn in calls.items():
                calls[name], counts[name] = repeated(fn)
            seconds, _ = interleaved(calls, trials=args.trials, warmup=1)
            seconds = {name: [t / counts[name] for t in ts] for name, ts in seconds.items()}
            t_knn, t_ref, t_eps, t_path = (statistics.median(seconds[key]) for key in ("knn", "ref", "eps", "path"))
            total = t_knn + t_path
            growth = "" if previous is None else f"x{total / previous:.1f}"
            previous = total
            row = (
                str(dim),
                f"{n:,}",
                str(k),
                f"{t_knn:.3f}s",
                f"{t_ref:.3f}s",
                ratio(seconds["knn"], seconds["ref"]).replace("x (rounds ", " ("),
                f"{t_eps:.3f}s",
                f"{t_path:.3f}s",
                f"{total:.3f}s",
                growth,
            )
            print(
                " ".join(f"{c:>13s}" for c in row),
                f"  (kNN build {spread(seconds['knn'])} s; eps = {eps.param:.3g}, {eps.n_edges:,} edges)",
                flush=True,
            )
    print("target: kNN+path <= 5 s at 100,000 codes")


if __name__ == "__main__":
    main()
