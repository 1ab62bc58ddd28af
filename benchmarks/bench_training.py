"""Training throughput of the paper's 9-layer dense autoencoder: latentlab's code against a plain
``model.fit`` reference, and both against the machine's matmul speed, all measured in this run.

    python benchmarks/bench_training.py [--epochs 3] [--batch-size 256]

Prints samples/s of each path, their ratio (target >= 1.0), and achieved GFLOP/s as a fraction of
the GFLOP/s of a large float32 matmul on the same backend (target >= 50% on CPU).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from latentlab import config  # noqa: E402
from latentlab.data import load_mnist, to_vectors  # noqa: E402
from latentlab.models import ARCHITECTURES, build_dense_autoencoder, fit  # noqa: E402

WIDTHS = (784, *ARCHITECTURES[9], 784)


def training_flops_per_sample(widths=WIDTHS) -> float:
    """Multiply-adds of the dense layers x 2 (FLOPs) x 3 (forward, and backward for inputs and weights)."""
    return 3 * 2 * sum(a * b for a, b in zip(widths[:-1], widths[1:]))


def reference_model() -> keras.Model:
    """The same network written the plain way, as a user would without latentlab."""
    inputs = keras.Input((784,))
    h = inputs
    for w in ARCHITECTURES[9]:
        h = keras.layers.Dense(w, activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(784, activation="sigmoid")(h))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


class EpochClock(keras.callbacks.Callback):
    """Seconds from one epoch's start to the next's (so end-of-epoch work such as checkpoints counts)."""

    def __init__(self):
        super().__init__()
        self.marks = []

    def on_epoch_begin(self, epoch, logs=None):
        self.marks.append(time.perf_counter())

    def on_train_end(self, logs=None):
        self.marks.append(time.perf_counter())

    def seconds_per_epoch(self) -> float:
        """Median epoch time, the first (warm-up: tracing, compilation) left out."""
        return float(np.median(np.diff(self.marks)[1:]))


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """float32 GFLOP/s of an n x n matmul through the active Keras backend."""
    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.random((n, n), dtype=np.float32))
    b = keras.ops.convert_to_tensor(rng.random((n, n), dtype=np.float32))
    keras.ops.convert_to_numpy(keras.ops.matmul(a, b))
    start = time.perf_counter()
    for _ in range(repeats):
        c = keras.ops.matmul(a, b)
    keras.ops.convert_to_numpy(c)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per path (after 1 warm-up)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--n", type=int, default=60000, help="training images")
    args = parser.parse_args()

    (x, _), _ = load_mnist(verbose=False)
    x = to_vectors(x[: args.n])
    config.seed_everything(0)
    print(
        f"{config.device_description()} | {platform.processor() or platform.machine()} | "
        f"{len(x)} images, batch {args.batch_size}, {args.epochs} timed epochs"
    )

    ref, ref_clock = reference_model(), EpochClock()
    ref.fit(x, x, batch_size=args.batch_size, epochs=args.epochs + 1, verbose=0, callbacks=[ref_clock])
    ae, our_clock = build_dense_autoencoder(9), EpochClock()
    with tempfile.TemporaryDirectory() as ckpt:
        fit(
            ae,
            x,
            epochs=args.epochs + 1,
            batch_size=args.batch_size,
            checkpoint_dir=ckpt,
            verbose=0,
            callbacks=[our_clock],
        )
    ref_s, ours_s = ref_clock.seconds_per_epoch(), our_clock.seconds_per_epoch()
    peak = matmul_gflops()
    flops = training_flops_per_sample()
    for name, seconds in (("plain model.fit", ref_s), ("latentlab fit", ours_s)):
        rate = len(x) / seconds
        achieved = rate * flops / 1e9
        print(f"{name:16s} {rate:10.0f} samples/s  {achieved:7.1f} GFLOP/s  ({100 * achieved / peak:.0f}% of matmul)")
    print(f"matmul 2048^2    {peak:7.1f} GFLOP/s")
    print(f"ratio latentlab / plain: {ref_s / ours_s:.2f} (target >= 1.0)")


if __name__ == "__main__":
    main()
