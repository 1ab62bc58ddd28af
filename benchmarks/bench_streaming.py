"""Streaming encode against in-memory encode: what reading frames a batch at a time from a FrameCache costs.

    python benchmarks/bench_streaming.py [--triplets 32] [--size 256] [--batch-size 8] [--trials 5]

Notebook 03 reads its frames from a cache file a few triplets at a time (``FrameCache.batches``), scales them to
[-1, 1] and encodes them, so that memory is bounded by the batch. The reference holds every frame in memory,
already scaled, and encodes it at the same batch size. Both encode with the small AutoencoderKL of notebook 03
(random weights: the arithmetic is the same), in interleaved trials. Target: streaming keeps at least 75% of the
in-memory rate. Frames come from the offline ATD-12K stand-in, or from ``--data`` (an ATD-12K layout).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trials import interleaved, ratio, spread  # noqa: E402

from latentlab.data import atd12k  # noqa: E402
from latentlab.models import AutoencoderKL, AutoencoderKLConfig  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triplets", type=int, default=32)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=16, help="triplets read per batch from the cache")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--data", type=Path, default=None, help="an ATD-12K folder (default: the offline stand-in)")
    args = parser.parse_args(argv)

    triplets = atd12k.find_triplets(args.data) if args.data else atd12k.load_atd12k(verbose=False)[0]
    chosen = atd12k.select(triplets, {"train": args.triplets // 2, "test": args.triplets - args.triplets // 2})
    cache = atd12k.cache_frames(chosen, Path(tempfile.mkdtemp()) / "frames.npy", args.size, verbose=False)
    vae = AutoencoderKL(AutoencoderKLConfig.small(), seed=0)
    in_memory = atd12k.to_model_range(cache.read(slice(None)).reshape(-1, args.size, args.size, 3))
    n = len(in_memory)

    def streamed() -> None:
        for _, frames in cache.batches(slice(None), args.chunk):
            vae.encode(atd12k.to_model_range(frames.reshape(-1, *frames.shape[2:])), batch_size=args.batch_size)

    seconds, _ = interleaved(
        {"in memory": lambda: vae.encode(in_memory, batch_size=args.batch_size), "streamed": streamed},
        trials=args.trials,
    )
    print(
        f"{n} frames of {args.size} px, batch {args.batch_size}, {args.chunk} triplets per read, {args.trials} trials"
    )
    for name, values in seconds.items():
        rates = [n / s for s in values]
        print(f"  {name:9s}: {spread(rates, '{:.1f}')} frames/s (min / median / max)")
    share = np.median(seconds["in memory"]) / np.median(seconds["streamed"])
    faster = ratio(seconds["streamed"], seconds["in memory"])
    print(f"  streamed / in-memory rate: {share:.0%} (in memory faster by {faster})")
    print(f"  in-memory frames held: {in_memory.nbytes / 1e6:.0f} MB; streamed: one read of {args.chunk} triplets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
