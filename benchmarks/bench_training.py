"""Training throughput of the paper's 9-layer dense autoencoder: latentlab's ``fit`` against a plain
``model.fit`` reference, and both against the machine's matmul speed, all measured in this run.

    python benchmarks/bench_training.py [--trials 9] [--batch-size 256] [--n 60000]

One epoch per trial, the variants interleaved (plain, latentlab, plain, ...) after a warm-up epoch of each;
latentlab's epoch writes its checkpoint as in the notebooks (a fresh folder per trial). On TensorFlow a third
variant, the train step alone over batches already in memory (no input pipeline, no callbacks), shows the
ceiling. Prints min / median / max samples/s of each with its count of slow epochs (< 75% of its fastest), the
ratio of medians with the per-round spread (target >= 1.2) and latentlab's median against the plain variant's
fastest epoch, and achieved GFLOP/s against a float32 matmul measured after every round (target >= 70%).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from latentlab import config  # noqa: E402
from latentlab.data import load_mnist, to_vectors  # noqa: E402
from latentlab.models import ARCHITECTURES, build_dense_autoencoder, fit  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from trials import interleaved, ratio, spread  # noqa: E402

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


def bare_steps(x: np.ndarray, batch_size: int) -> Callable[[], None] | None:
    """One epoch of the plain model's train step as a bare ``tf.function`` over batches already in memory, in order:
    no input pipeline, no callbacks, no Keras loop. The ceiling of what any ``fit`` can reach (TensorFlow only)."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    model, loss_fn = reference_model(), keras.losses.BinaryCrossentropy()
    batches = [tf.constant(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            loss = loss_fn(batch, model(batch, training=True))
        model.optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    def epoch() -> None:
        for batch in batches:
            loss = step(batch)
        float(loss)

    return epoch


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
    parser.add_argument("--trials", type=int, default=9, help="timed epochs per variant (after 1 warm-up each)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--n", type=int, default=60000, help="training images")
    args = parser.parse_args()

    (x, _), _ = load_mnist(verbose=False)
    x = to_vectors(x[: args.n])
    config.seed_everything(0)
    print(
        f"{config.device_description()} | {platform.processor() or platform.machine()} | "
        f"{len(x)} images, batch {args.batch_size}, {args.trials} interleaved trials of one epoch"
    )
    ref, ae = reference_model(), build_dense_autoencoder(9)
    with tempfile.TemporaryDirectory() as root:
        folders = iter(Path(root) / f"trial{i}" for i in range(10_000))
        variants = {
            "plain model.fit": lambda: ref.fit(x, x, batch_size=args.batch_size, epochs=1, verbose=0),
            "latentlab fit": lambda: fit(
                ae, x, epochs=1, batch_size=args.batch_size, checkpoint_dir=next(folders), verbose=0
            ),
        }
        bare = bare_steps(x, args.batch_size)
        if bare is not None:
            variants["train steps alone"] = bare
        seconds, peaks = interleaved(variants, trials=args.trials, warmup=1, between=matmul_gflops)
    flops = training_flops_per_sample()
    peak = statistics.median(peaks)
    for name, times in seconds.items():
        rates = [len(x) / t for t in times]
        achieved = statistics.median(rates) * flops / 1e9
        share = f"{achieved:6.1f} GFLOP/s ({100 * achieved / peak:.0f}% of matmul)"
        slow = sum(r < 0.75 * max(rates) for r in rates)
        print(
            f"{name:17s} samples/s min/median/max {spread(rates, '{:,.0f}')}  {share}  slow epochs {slow}/{len(rates)}"
        )
    print(f"matmul 2048^2     GFLOP/s min/median/max {spread(peaks)}")
    plain, ours = seconds["plain model.fit"], seconds["latentlab fit"]
    print(f"latentlab / plain: {ratio(plain, ours)} (target >= 1.2)")
    print(f"latentlab median / plain's fastest epoch: {min(plain) / statistics.median(ours):.2f}x")


if __name__ == "__main__":
    main()
