"""Notebook 02's speed: encoding CelebA faces in batches, and the latent explorer's update latency.

    python benchmarks/bench_celeba.py [--images 999] [--batch-size 256]

Prints images/s of (a) reading + preprocessing jpgs through ``CelebA.dataset`` alone, (b) streaming
and encoding them in batches (what the notebook does), (c) encoding preloaded images in batches and
(d) encoding one image per call (the unbatched reference), with the batching speed-up (c)/(d). Then
the :class:`~latentlab.widgets.LatentExplorer` update (decode one z + PNG) against a bare
``decoder.predict`` of one z, both medians of 50 calls (target: update < 100 ms).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from latentlab.data.celeba import load_celeba  # noqa: E402
from latentlab.models.conv import build_conv_autoencoder, encode_images  # noqa: E402
from latentlab.widgets import LatentExplorer, keras_decoder  # noqa: E402


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:8.0f} images/s"


def timed(fn, repeats: int = 1) -> float:
    """Best of ``repeats`` wall-clock seconds of ``fn()`` after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def median_ms(fn, calls: int = 50) -> float:
    fn()
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=999)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    faces = load_celeba("all", verbose=False)[: args.images]
    n, bs = len(faces), args.batch_size
    ae = build_conv_autoencoder()
    x = faces.images() / 255.0
    print(
        f"{platform.machine()} {os.cpu_count()} cores, Keras {keras.__version__} on {keras.backend.backend()}; "
        f"{n} faces from {faces.source.kind}, batch {bs}"
    )

    t_read = timed(lambda: list(faces.dataset(bs)), 2)
    t_stream = timed(lambda: encode_images(ae.encoder, faces, bs), 2)
    t_memory = timed(lambda: ae.encoder.predict(x, batch_size=bs, verbose=0), 2)
    single = x[:64]
    t_single = timed(lambda: [ae.encoder(single[i : i + 1], training=False) for i in range(len(single))])
    print(f"(a) read + preprocess jpgs     {rate(n, t_read)}")
    print(f"(b) stream + encode, batched   {rate(n, t_stream)}")
    print(f"(c) encode preloaded, batched  {rate(n, t_memory)}")
    print(f"(d) encode one image per call  {rate(len(single), t_single)}")
    print(
        f"batched / one per call: {(n / t_memory) / (len(single) / t_single):.1f}x; "
        f"streaming keeps {100 * t_memory / t_stream:.0f}% of the in-memory encode rate"
    )

    z = ae.encoder.predict(x, batch_size=bs, verbose=0)
    order = np.argsort(-(z.mean(0) ** 2 + z.std(0) ** 2))[:8]
    explorer = LatentExplorer(
        keras_decoder(ae.decoder, (64, 64, 3)),
        {"centre": z.mean(0)},
        directions=np.eye(z.shape[1])[order],
        scales=z.std(0)[order],
    )
    rng = np.random.default_rng(0)
    update = median_ms(lambda: explorer.set_coefficients(rng.uniform(-2, 2, 8)))
    predict = median_ms(lambda: ae.decoder.predict(z[:1], verbose=0))
    print(
        f"explorer update (decode + PNG): {update:.1f} ms median; decoder.predict of one z: {predict:.1f} ms "
        f"(ratio {predict / update:.1f}x); target < 100 ms: {'met' if update < 100 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
