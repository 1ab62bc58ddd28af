"""Reconstruction metrics and VAE throughput on 256x256 ATD-12K frames (or the offline stand-in).

    python benchmarks/bench_metrics.py [--frames 96] [--vae-frames 4] [--trials 5] [--vae-trials 3]

Prints frames/s (min / median / max of interleaved trials, ``benchmarks/trials.py``) of
``latentlab.metrics.image_quality`` (MSE, PSNR, SSIM of a whole batch) against a per-image loop over
scikit-image's ``mean_squared_error``, ``peak_signal_noise_ratio`` and ``structural_similarity`` (same 7x7 window
and data range), their ratio of medians with its per-round spread (target >= 5x), the largest SSIM difference
between the two, and encode / decode frames/s of ``AutoencoderKL``, interleaved: the small configuration the
notebook trains and Stable Diffusion's (kl-f8, random weights: the speed is the same), with how many times
slower SD's is.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from latentlab import config, metrics  # noqa: E402
from latentlab.data import atd12k  # noqa: E402
from latentlab.models import AutoencoderKL, AutoencoderKLConfig  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trials import interleaved, ratio, spread  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=96, help="frame pairs scored by the metrics")
    parser.add_argument("--vae-frames", type=int, default=4, help="frames encoded and decoded per model")
    parser.add_argument("--trials", type=int, default=5, help="interleaved trials of the metrics")
    parser.add_argument("--vae-trials", type=int, default=3, help="interleaved trials of the VAEs (SD's is slow)")
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
    seconds, _ = interleaved(
        {"scikit-image loop": reference, "latentlab batched": lambda: metrics.image_quality(x, y)}, trials=args.trials
    )
    diff = np.abs(metrics.ssim_per_image(x, y) - np.array([r[2] for r in reference()])).max()
    for name, times in seconds.items():
        print(f"{name:18s} {spread([len(x) / t for t in times], '{:.1f}')} frames/s (min / median / max)")
    print(
        f"latentlab faster by {ratio(seconds['scikit-image loop'], seconds['latentlab batched'])} (target >= 5x); "
        f"max |SSIM difference| {diff:.1e}"
    )

    xv = atd12k.to_model_range(frames[: args.vae_frames])
    vaes = {"small (notebook)": AutoencoderKL(AutoencoderKLConfig.small(), seed=0)}
    vaes["SD kl-f8"] = AutoencoderKL(AutoencoderKLConfig(), seed=0)
    codes = {}
    for name, vae in vaes.items():
        codes[name] = vae.encode(xv, batch_size=8)[0]  # warm-up, and the codes to decode
    variants = {}
    for name, vae in vaes.items():
        variants[f"{name} encode"] = lambda vae=vae: vae.encode(xv, batch_size=8)
        variants[f"{name} decode"] = lambda vae=vae, name=name: vae.decode(codes[name], batch_size=8)
    seconds, _ = interleaved(variants, trials=args.vae_trials, warmup=0)
    for name, vae in vaes.items():
        print(f"AutoencoderKL {name:17s} {vae.count_params() / 1e6:5.1f}M params (256x256, batch 8):")
        for step in ("encode", "decode"):
            rates = [len(xv) / t for t in seconds[f"{name} {step}"]]
            print(f"    {step} {spread(rates, '{:.2f}')} frames/s (min / median / max)")
    for step in ("encode", "decode"):
        print(
            f"SD kl-f8 {step} slower than the small one by {ratio(*(seconds[f'{n} {step}'] for n in reversed(vaes)))}"
        )


if __name__ == "__main__":
    main()
