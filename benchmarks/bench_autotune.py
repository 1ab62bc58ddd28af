"""Where the bimodal training epochs come from: the paper's dense autoencoder's train step fed by a ``tf.data``
iterator with tf.data's autotuning on (its default, what Keras's ``fit`` uses for arrays) and off
(``latentlab.batching.steady``), against the same step over batches already in memory. TensorFlow only.

    python benchmarks/bench_autotune.py [--trials 9]

One epoch of the 60k MNIST training images per trial, batch 256, in order; the three feeds interleaved after a
warm-up epoch of each. For each: min / median / max samples/s, the count of slow epochs (< 75% of its fastest),
and the median CPU seconds per epoch with the share of the two cores left idle (from /proc/stat on Linux): a slow
epoch that spends the same CPU time with a core idle is one whose threads ran in turn.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from latentlab import config  # noqa: E402
from latentlab.batching import steady  # noqa: E402
from latentlab.data import load_mnist, to_vectors  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from bench_training import reference_model  # noqa: E402
from trials import spread  # noqa: E402


def idle_seconds() -> float:
    """Seconds all cores have been idle since boot (Linux), else 0."""
    try:
        return int(Path("/proc/stat").read_text().split()[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=9, help="timed epochs per feed (after 1 warm-up each)")
    args = parser.parse_args()
    (x, _), _ = load_mnist(verbose=False)
    x = to_vectors(x)
    config.seed_everything(0)
    model, loss_fn = reference_model(), keras.losses.BinaryCrossentropy()

    @tf.function
    def step(batch: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn(batch, model(batch, training=True))
        model.optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    @tf.function
    def step_from(iterator: tf.data.Iterator) -> tf.Tensor:
        return step(next(iterator))

    in_memory = [tf.constant(x[i : i + 256]) for i in range(0, len(x), 256)]
    autotuned = tf.data.Dataset.from_tensor_slices(x).batch(256).prefetch(2)
    feeds = {
        "in memory": None,
        "tf.data, autotuned": autotuned,
        "tf.data, steady": steady(autotuned),
    }

    def epoch(name: str) -> None:
        if feeds[name] is None:
            for batch in in_memory:
                loss = step(batch)
        else:
            iterator = iter(feeds[name])
            for _ in in_memory:
                loss = step_from(iterator)
        float(loss)

    cores = os.cpu_count() or 1
    for name in feeds:  # warm-up
        epoch(name)
    rates: dict[str, list[float]] = {name: [] for name in feeds}
    cpu: dict[str, list[float]] = {name: [] for name in feeds}
    idle: dict[str, list[float]] = {name: [] for name in feeds}
    for _ in range(args.trials):
        for name in feeds:
            usage, free, start = resource.getrusage(resource.RUSAGE_SELF), idle_seconds(), time.perf_counter()
            epoch(name)
            seconds = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_SELF)
            rates[name].append(len(x) / seconds)
            cpu[name].append(after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime)
            idle[name].append((idle_seconds() - free) / (cores * seconds))
    print(f"{config.device_description()} | {len(x)} images, batch 256, {args.trials} interleaved trials")
    for name in feeds:
        slow = sum(r < 0.75 * max(rates[name]) for r in rates[name])
        print(
            f"{name:19s} samples/s min/median/max {spread(rates[name], '{:,.0f}')}  slow epochs {slow}/{args.trials}"
            f"  CPU s/epoch {statistics.median(cpu[name]):.1f}  idle {100 * statistics.median(idle[name]):.0f}%"
            f" (slowest epoch {100 * idle[name][rates[name].index(min(rates[name]))]:.0f}%)"
        )


if __name__ == "__main__":
    main()
