"""Reconstruction metrics and VAE throughput on 256x256 ATD-12K frames (or the offline stand-in).

    python benchmarks/bench_metrics.py [--frames 96] [--vae-frames 16]

Prints frames/s of ``latentlab.metrics.image_quality`` (MSE, PSNR, SSIM of a whole batch) against a
per-image loop over scikit-image's ``mean_squared_error``, ``peak_signal_noise_ratio`` and
``structural_similarity`` (same 7x7 window and data range) in the same run (target >= 5x), the largest
SSIM difference between the two, and encode / decode frames/s of ``AutoencoderKL``: the small
configuration the notebook trains and Stable Diffusion's (kl-f8, random weights: the speed is the same).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from latentlab import config, metrics  # noqa: E402
from latentlab.data import atd12k  # noqa: E402
from latentlab.models import AutoencoderKL, AutoencoderKLConfig  # noqa: E402


def best_of(fn, repeats: int) -> float:
    """Shortest wall time of ``repeats`` calls (the machine is shared: the minimum is the least disturbed)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=96, help="frame pairs scored by the metrics")
    parser.add_argument("--vae-frames", type=int, default=16, help="frames encoded and decoded per model")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    triplets, source = atd12k.load_atd12k(verbose=False)
    frames = atd12k.load_frames(triplets[: -(-args.frames // 3)]).reshape(-1, 256, 256, 3)[: args.frames]
    x = frames.astype(np.float32) / 255
    y = np.clip(x + np.random.default_rng(0).normal(0, 0.03, x.shape), 0, 1).astype(np.float32)
    print(f"{config.device_description()} | {len(x)} frame pairs 256x256x3 from {source}")

    from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

    def reference():
        return [
            (
                mean_squared_error(a, b),
                peak_signal_noise_ratio(a, b, data_range=1.0),
                structural_similarity(a, b, win_size=7, data_range=1.0, channel_axis=-1),
            )
            for a, b in zip(x, y)
        ]

    metrics.image_quality(x[:2], y[:2])  # compile the SSIM kernel (cached on disk after the first run)
    ours_s = best_of(lambda: metrics.image_quality(x, y), args.repeats)
    ref_s = best_of(reference, args.repeats)
    diff = np.abs(metrics.ssim_per_image(x, y) - np.array([r[2] for r in reference()])).max()
    print(f"scikit-image loop   {len(x) / ref_s:8.1f} frames/s")
    print(f"latentlab batched   {len(x) / ours_s:8.1f} frames/s")
    print(f"ratio {ref_s / ours_s:.1f}x (target >= 5x); max |SSIM difference| {diff:.1e}")

    xv = atd12k.to_model_range(frames[: args.vae_frames])
    for name, cfg in (("small (notebook)", AutoencoderKLConfig.small()), ("SD kl-f8", AutoencoderKLConfig())):
        vae = AutoencoderKL(cfg, seed=0)
        vae.decode(vae.encode(xv[:2], batch_size=2)[0], batch_size=2)  # warm-up
        enc_s = best_of(lambda: vae.encode(xv, batch_size=8), 1)
        z = vae.encode(xv, batch_size=8)[0]
        dec_s = best_of(lambda: vae.decode(z, batch_size=8), 1)
        print(
            f"AutoencoderKL {name:17s} {vae.count_params() / 1e6:5.1f}M params: encode {len(xv) / enc_s:6.2f} "
            f"frames/s, decode {len(xv) / dec_s:6.2f} frames/s (256x256, batch 8)"
        )


if __name__ == "__main__":
    main()
