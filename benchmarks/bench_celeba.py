"""Notebook 02's speed: encoding CelebA faces in batches, and the latent explorer's update latency.

    python benchmarks/bench_celeba.py [--images 999] [--batch-size 256] [--trials 5] [--folder DIR]

Prints images/s (min / median / max of interleaved trials, ``benchmarks/trials.py``) of (a) reading +
preprocessing jpgs through ``CelebA.dataset`` alone, (b) streaming them from the jpgs and encoding them in batches
(what notebook 02 did before it cached the faces), (c) encoding preloaded images in batches (the in-memory
reference), (d) encoding 64 images one per call (the unbatched reference), (e) encoding them from the cache file
``cache_faces`` wrote, read a batch at a time (``FrameCache.rows``: what notebook 02 does; the streaming encode that
the >= 75% target is about), (f) decoding them into that cache (once per dataset: a second run reads the file) and
(g) encoding the preloaded images (float32) through the loop (e) runs, ``latentlab.batching.predict``, with the
batching speed-up (c)/(d) and the streaming shares (b)/(c), (e)/(c) and (e)/(g) as ratios of medians with their
per-round spread: (e)/(g) differs in the source of the images alone. Then the
:class:`~latentlab.widgets.LatentExplorer` update (decode one z + PNG) against a bare ``decoder.predict`` of one z,
50 interleaved calls each (target: update < 100 ms). ``--folder``: a CelebA copy (e.g. the 202,599-face stand-in of
``standins.py celeba``) instead of the offline subset; the first ``--images`` of it.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from latentlab.batching import predict as batched_predict  # noqa: E402
from latentlab.data.celeba import cache_faces, load_celeba  # noqa: E402
from latentlab.models.conv import build_conv_autoencoder, encode_images  # noqa: E402
from latentlab.widgets import LatentExplorer, keras_decoder  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trials import interleaved, ratio, spread  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=999)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()

    faces = load_celeba("all", folder=args.folder, verbose=False)[: args.images]
    n, bs = len(faces), args.batch_size
    ae = build_conv_autoencoder()
    x = faces.images() / 255.0
    x32 = x.astype(np.float32)
    work = Path(tempfile.mkdtemp(prefix="bench_celeba-"))
    cached = cache_faces(faces, 64, work / "faces.npy", verbose=False).rows()  # read a batch at a time, as notebook 02

    def rebuild() -> None:  # decoded anew each time: a valid cache at the path would be read back instead
        for old in work.glob("build.*"):
            old.unlink()
        cache_faces(faces, 64, work / "build.npy", verbose=False)

    print(
        f"{platform.machine()} {os.cpu_count()} cores, Keras {keras.__version__} on {keras.backend.backend()}; "
        f"{n} faces from {faces.source.kind}, batch {bs}"
    )

    single = x[:64]
    variants = {
        "(a) read + preprocess jpgs": lambda: list(faces.dataset(bs)),
        "(b) stream jpgs + encode": lambda: encode_images(ae.encoder, faces, bs),
        "(c) encode preloaded, batched": lambda: ae.encoder.predict(x, batch_size=bs, verbose=0),
        "(d) encode one image per call": lambda: [
            ae.encoder(single[i : i + 1], training=False) for i in range(len(single))
        ],
        "(e) encode from the cache": lambda: encode_images(ae.encoder, cached, bs),
        "(g) encode preloaded, as (e)": lambda: batched_predict(ae.encoder, x32, bs),
        "(f) decode into the cache": rebuild,
    }
    counts = {name: (len(single) if name.startswith("(d)") else n) for name in variants}
    try:
        seconds, _ = interleaved(variants, trials=args.trials)
    finally:
        shutil.rmtree(work)
    per_image = {name: [t / counts[name] for t in times] for name, times in seconds.items()}
    for name, times in per_image.items():
        print(f"{name:31s} {spread([1 / t for t in times], '{:,.0f}')} images/s (min / median / max)")
    batched = per_image["(c) encode preloaded, batched"]
    print(f"batched / one per call: {ratio(per_image['(d) encode one image per call'], batched)}")
    shares = [
        ("(b) stream jpgs + encode", "(c) encode preloaded, batched"),
        ("(e) encode from the cache", "(c) encode preloaded, batched"),
        ("(e) encode from the cache", "(g) encode preloaded, as (e)"),
    ]
    for name, reference in shares:
        share = statistics.median(per_image[reference]) / statistics.median(per_image[name])
        print(
            f"{name[4:]} keeps {share:.0%} of {reference[:3]}'s in-memory encode rate (in memory faster by "
            f"{ratio(per_image[name], per_image[reference])})"
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
