"""What giving tensors' memory back would cost in speed: training steps with TensorFlow's oneDNN pool (its default,
which keeps the largest working set a step needed) against the C library's allocator
(``TF_ONEDNN_USE_SYSTEM_ALLOCATOR=true``, which returns it; see latentlab.memory), and against that allocator told
to keep freed memory in its heap (glibc's ``mallopt``: no mmap, no trimming; ``heap``), which would avoid a page
fault per page of every large tensor.

    python benchmarks/bench_allocator.py [--trials 3] [--steps 30] [--work face_agent,conv_ae] [--variants pool,system]

The setting is read once per process, so every trial is a fresh process: pool, system, heap, pool, ... (the
variants interleaved), each building one model, running ``--steps`` training steps untimed (tracing, warm-up),
then ``--steps`` timed ones, and reporting steps/s, the peak anonymous memory sampled after every step, and the
anonymous memory left after the model, its traced functions and its data are deleted and the heap trimmed. Work:

    face_agent  notebook 05's face agent in `full`: 64 x 64 faces, width 32, warp + recolour + blend, 5 steps
                (BPTT, recomputed in the backward pass), its discriminator's own updates; batch 64 of random faces
    face_agent_cpu  the same agent in `cpu`: 32 x 32 faces, width 16, batch 32
    digit_agent notebook 05's BPTT digit agent in `cpu` (and `full` but for its batch): 28 x 28, width 16, 5 warps,
                batch 32 of random digits
    conv_ae     notebook 02's convolutional autoencoder (64 x 64, latent 256); batch 64 of random faces
    dense_ae    notebook 01's 9-layer dense autoencoder; batch 256 of random digits
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_agent_step import FACES  # noqa: E402
from bench_agent_step import WORK as AGENT_STEPS  # noqa: E402
from trials import anon_mb, in_fresh_process, spread  # noqa: E402

#: This benchmark's agent work: bench_agent_step's settings of the same agent.
AGENTS = {"face_agent": "faces_full", "face_agent_cpu": "faces_cpu", "digit_agent": "digits_cpu"}
WORK = (*AGENTS, "conv_ae", "dense_ae")
VARIANTS = {"pool": ("false", "0"), "system": ("true", "0"), "heap": ("true", "1")}


def one(work: str, steps: int) -> dict:
    """One trial in this process (call it in a fresh one: the allocator is chosen when TensorFlow starts)."""
    import gc

    if os.environ.get("BENCH_HEAP") == "1":  # glibc: no block of its own per large tensor, nothing trimmed on free
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(-4, 0)  # M_MMAP_MAX
        libc.mallopt(-1, 1 << 40)  # M_TRIM_THRESHOLD
    import keras
    import numpy as np

    from latentlab.memory import drop_traced, give_back

    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    if work in AGENTS:
        from latentlab.agent import AgentConfig, InterpolationAgent
        from latentlab.agent.training import DiscriminatorUpdates, compile_agent

        settings = dict(AGENT_STEPS[AGENTS[work]])
        batch = settings.pop("batch")
        faces = settings["image_shape"][-1] == 3  # the face agents recompute their steps, as notebook 05's
        config = AgentConfig(**settings, **(FACES if faces else {}), recompute=faces)
        images = rng.random((2048, *config.image_shape), dtype=np.float32)
        model = compile_agent(InterpolationAgent(config))
        data = {"x": [images, images[::-1].copy()], "batch_size": batch}
        callbacks = [DiscriminatorUpdates(images, images[::-1].copy(), batch)] if faces else []
    elif work == "conv_ae":
        from latentlab.models.conv import build_conv_autoencoder

        faces = rng.random((2048, 64, 64, 3), dtype=np.float32)
        model, data, callbacks = build_conv_autoencoder(256), {"x": faces, "y": faces, "batch_size": 64}, []
    else:
        from latentlab.models import build_dense_autoencoder

        digits = rng.random((8192, 784), dtype=np.float32)
        model, data, callbacks = build_dense_autoencoder(9), {"x": digits, "y": digits, "batch_size": 256}, []
    peak = [0.0]

    class Sample(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            peak[0] = max(peak[0], anon_mb())

    kw = {**data, "steps_per_epoch": steps, "verbose": 0, "callbacks": [*callbacks, Sample()]}
    model.fit(**kw, epochs=1)  # tracing and warm-up
    started = time.perf_counter()
    model.fit(**kw, epochs=1)
    seconds = time.perf_counter() - started
    drop_traced(model)
    del model, data, kw, callbacks
    gc.collect()
    give_back()
    return {"steps_per_s": steps / seconds, "peak_anon_mb": peak[0], "left_mb": anon_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--work", default="face_agent,conv_ae")
    parser.add_argument("--variants", default="pool,system,heap", help="of pool, system, heap; pool is the reference")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one trial of this work in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.steps)))
        return
    works, variants = args.work.split(","), args.variants.split(",")
    if unknown := set(works) - set(WORK):
        parser.error(f"unknown work {sorted(unknown)}: choose from {', '.join(WORK)}")
    if "pool" not in variants or set(variants) - set(VARIANTS):
        parser.error(f"--variants {args.variants}: pool and any of {', '.join(VARIANTS)}")
    print(f"{args.trials} trials x {args.steps} timed steps, variants interleaved, each trial a fresh process")
    for work in works:
        results: dict[str, list[dict]] = {v: [] for v in variants}
        for _ in range(args.trials):
            for variant in variants:
                value, heap = VARIANTS[variant]
                env = {**os.environ, "TF_ONEDNN_USE_SYSTEM_ALLOCATOR": value, "TF_CPP_MIN_LOG_LEVEL": "3"}
                env["BENCH_HEAP"] = heap
                argv = [__file__, "--one", work, "--steps", str(args.steps)]
                results[variant].append(in_fresh_process(argv, env, f"{work} / {variant}"))
        print(f"\n{work}")
        print("| allocator | steps/s min / median / max | peak anonymous MB (median) | left after, MB (median) |")
        print("|---|---|---|---|")
        for variant, rows in results.items():
            rates = [r["steps_per_s"] for r in rows]
            peak = statistics.median(r["peak_anon_mb"] for r in rows)
            left = statistics.median(r["left_mb"] for r in rows)
            print(f"| {variant} | {spread(rates)} | {peak:,.0f} | {left:,.0f} |")
        pool = [r["steps_per_s"] for r in results["pool"]]
        for variant in (v for v in variants if v != "pool"):
            rates = [r["steps_per_s"] for r in results[variant]]
            rounds = [s / p for s, p in zip(rates, pool)]
            print(
                f"{variant} / pool, ratio of medians: {statistics.median(rates) / statistics.median(pool):.2f} "
                f"(rounds {min(rounds):.2f}-{max(rounds):.2f})"
            )


if __name__ == "__main__":
    main()
