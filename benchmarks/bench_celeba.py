"""Notebook 02's speed: encoding CelebA faces in batches, and the latent explorer's update latency.

    python benchmarks/bench_celeba.py [--images 999] [--batch-size 256] [--trials 5]

Prints images/s (min / median / max of interleaved trials, ``benchmarks/trials.py``) of (a) reading +
preprocessing jpgs through ``CelebA.dataset`` alone, (b) streaming and encoding them in batches (what the
notebook does), (c) encoding preloaded images in batches and (d) encoding 64 images one per call (the
unbatched reference), with the batching speed-up (c)/(d) and the streaming share (b)/(c) as ratios of medians
with their per-round spread. Then the :class:`~latentlab.widgets.LatentExplorer` update (decode one z + PNG)
against a bare ``decoder.predict`` of one z, 50 interleaved calls each (target: update < 100 ms).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from latentlab.data.celeba import load_celeba  # noqa: E402
from latentlab.models.conv import build_conv_autoencoder, encode_images  # noqa: E402
from latentlab.widgets import LatentExplorer, keras_decoder  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trials import interleaved, ratio, spread  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=999)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()

    faces = load_celeba("all", verbose=False)[: args.images]
    n, bs = len(faces), args.batch_size
    ae = build_conv_autoencoder()
    x = faces.images() / 255.0
    print(
        f"{platform.machine()} {os.cpu_count()} cores, Keras {keras.__version__} on {keras.backend.backend()}; "
        f"{n} faces from {faces.source.kind}, batch {bs}"
    )

    single = x[:64]
    counts = {"(a) read + preprocess jpgs": n, "(b) stream + encode, batched": n, "(c) encode preloaded, batched": n}
    counts["(d) encode one image per call"] = len(single)
    seconds, _ = interleaved(
        {
            "(a) read + preprocess jpgs": lambda: list(faces.dataset(bs)),
            "(b) stream + encode, batched": lambda: encode_images(ae.encoder, faces, bs),
            "(c) encode preloaded, batched": lambda: ae.encoder.predict(x, batch_size=bs, verbose=0),
            "(d) encode one image per call": lambda: [
                ae.encoder(single[i : i + 1], training=False) for i in range(len(single))
            ],
        },
        trials=args.trials,
    )
    per_image = {name: [t / counts[name] for t in times] for name, times in seconds.items()}
    for name, times in per_image.items():
        print(f"{name:31s} {spread([1 / t for t in times], '{:,.0f}')} images/s (min / median / max)")
    batched, streamed = per_image["(c) encode preloaded, batched"], per_image["(b) stream + encode, batched"]
    print(f"batched / one per call: {ratio(per_image['(d) encode one image per call'], batched)}")
    share = statistics.median(batched) / statistics.median(streamed)
    print(f"streaming keeps {share:.0%} of the in-memory encode rate (in memory faster by {ratio(streamed, batched)})")

    z = ae.encoder.predict(x, batch_size=bs, verbose=0)
    order = np.argsort(-(z.mean(0) ** 2 + z.std(0) ** 2))[:8]
    explorer = LatentExplorer(
        keras_decoder(ae.decoder, (64, 64, 3)),
        {"centre": z.mean(0)},
        directions=np.eye(z.shape[1])[order],
        scales=z.std(0)[order],
    )
    rng = np.random.default_rng(0)
    calls, _ = interleaved(
        {
            "update": lambda: explorer.set_coefficients(rng.uniform(-2, 2, 8)),
            "predict": lambda: ae.decoder.predict(z[:1], verbose=0),
        },
        trials=50,
    )
    update, predict = (1000 * statistics.median(calls[k]) for k in ("update", "predict"))
    print(
        f"explorer update (decode + PNG): {spread([1000 * t for t in calls['update']])} ms; decoder.predict of one "
        f"z: {spread([1000 * t for t in calls['predict']])} ms (min / median / max of 50); update faster by "
        f"{ratio(calls['predict'], calls['update'])}; target < 100 ms: {'met' if update < 100 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
