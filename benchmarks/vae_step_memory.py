"""Where notebook 03's memory goes in ``full`` on a CPU: the peak host memory of one step of an AutoencoderKL,
each measured in a fresh process, against the same process's memory just before the step.

    python benchmarks/vae_step_memory.py [--batches 1,2] [--size 256] [--config sd] [--mode train]

A diagnostic, not a benchmark with a target: bench_scale found notebook 03's ``full`` run at about 22 GB of
anonymous memory whatever the number of triplets. This measures the candidates in isolation: a training step
(``train_on_batch``, what the run-time estimate times and what fine-tuning runs) or an inference pass
(``predict_on_batch``, what encoding and decoding every frame run), for SD's kl-f8 configuration (``sd``, 83.7M
parameters) or the small one trained when the pretrained weights are absent (``small``). Per batch size it prints
the process's resident memory before the first step, its peak (``VmHWM``) after one and after two steps, and the
time of each step. The growth per frame of the batch is the slope between the batch sizes given.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys


def _kib(key: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


def one(mode: str, batch: int, size: int, config: str) -> dict:
    """One measurement in this process (call it in a fresh one: ``VmHWM`` never goes down)."""
    import time

    import keras
    import numpy as np

    from latentlab.models import AutoencoderKL, AutoencoderKLConfig

    model = AutoencoderKL(AutoencoderKLConfig() if config == "sd" else AutoencoderKLConfig.small(), seed=0)
    x = np.random.default_rng(0).uniform(-1, 1, (batch, size, size, 3)).astype("float32")
    if mode == "train":
        model.compile(optimizer=keras.optimizers.Adam(1e-4))
        step = lambda: model.train_on_batch(x, x)  # noqa: E731
    else:
        step = lambda: model.predict_on_batch(x)  # noqa: E731
    model.predict_on_batch(x[:1])  # built, weights allocated
    row = {"mode": mode, "batch": batch, "size": size, "config": config, "params": model.count_params()}
    row["before_mb"] = _kib("VmRSS")
    for i in (1, 2):
        started = time.perf_counter()
        step()
        row[f"step{i}_s"] = time.perf_counter() - started
        row[f"peak{i}_mb"] = _kib("VmHWM")
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="1,2")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--config", choices=["sd", "small"], default="sd")
    parser.add_argument("--mode", choices=["train", "predict"], default="train")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process: one batch size
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(one(args.mode, args.one, args.size, args.config)))
        return
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        argv_one = [*sys.argv[1:], "--one", str(batch)]
        out = subprocess.run([sys.executable, __file__, *argv_one], env=env, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(
            f"{r['config']} ({r['params']:,} parameters), {r['mode']} step, batch {batch} at {r['size']} px: "
            f"{r['before_mb']:,.0f} MB before, peak {r['peak1_mb']:,.0f} / {r['peak2_mb']:,.0f} MB after step 1 / 2 "
            f"(+{r['peak2_mb'] - r['before_mb']:,.0f} MB); step {r['step1_s']:.1f} / {r['step2_s']:.1f} s",
            flush=True,
        )
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        frames = b["batch"] - a["batch"]
        memory, seconds = (b["peak2_mb"] - a["peak2_mb"]) / frames, (b["step2_s"] - a["step2_s"]) / frames
        print(f"per frame of the batch: {memory:,.0f} MB of peak memory, {seconds:.1f} s of step time")


if __name__ == "__main__":
    main()
