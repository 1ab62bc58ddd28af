"""What recomputing each step in the backward pass costs and saves: training steps of notebook 05's agents with
``AgentConfig(recompute=False)`` (every step's activations of T kept for the gradients) against the default
``recompute=True`` (``keras.remat``: each step's state and action kept, T run again in the backward pass).

    python benchmarks/bench_agent_step.py [--trials 3] [--steps 8] [--work digits_cpu,faces_cpu,faces_full]

Every trial is a fresh process (the oneDNN pool keeps the largest working set a process needed, so a peak is
only a peak in a process of its own): kept, recompute, kept, ... (interleaved), each building one agent, running
``--steps`` training steps untimed (tracing, warm-up), then ``--steps`` timed ones, and reporting steps/s and
the peak anonymous memory over both fits (sampled every 10 ms), less the process's before the agent was built.
Work (random images; the sizes of notebook 05's settings):

    digits_cpu  the digit agents of `cpu`: 28 x 28, width 16, BPTT, 5 steps, batch 32
    stop_cpu    the BPTT+STOP agents of `cpu`: the same with a budget of 10 steps
    faces_cpu   the face agent of `cpu`: 32 x 32 x 3, width 16, warp + recolour + blend, 5 steps, its
                discriminator's own updates, batch 32
    faces_full  the face agent of `full`: 64 x 64 x 3, width 32, max flow 6, batch 64
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trials import anon_mb, in_fresh_process, spread  # noqa: E402

WORK = {
    "digits_cpu": dict(image_shape=(28, 28, 1), mode="bptt", n_steps=5, width=16, batch=32),
    "stop_cpu": dict(image_shape=(28, 28, 1), mode="bptt_stop", n_steps=10, width=16, batch=32),
    "faces_cpu": dict(image_shape=(32, 32, 3), mode="bptt", n_steps=5, width=16, max_flow=3.0, batch=32),
    "faces_full": dict(image_shape=(64, 64, 3), mode="bptt", n_steps=5, width=32, max_flow=6.0, batch=64),
}
FACES = dict(
    transformations=("warp", "recolor", "blend"),
    step_share=0.25,
    noise_resolution=None,
    realism_weight=0.05,
    discriminator_lr=1e-3,
    discriminator_steps=2,
)
VARIANTS = ("kept", "recompute")


def one(work: str, recompute: bool, steps: int) -> dict:
    """One trial in this process."""
    import keras
    import numpy as np

    from latentlab.agent import AgentConfig, InterpolationAgent
    from latentlab.agent.training import DiscriminatorUpdates, compile_agent

    settings = dict(WORK[work])
    batch = settings.pop("batch")
    faces = settings["image_shape"][-1] == 3
    keras.utils.set_random_seed(0)
    images = np.random.default_rng(0).random((4 * batch, *settings["image_shape"]), dtype=np.float32)
    goals = images[::-1].copy()
    base, peak, stop = anon_mb(), [0.0], threading.Event()

    def sample() -> None:
        while not stop.wait(0.01):
            peak[0] = max(peak[0], anon_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    config = AgentConfig(**settings, **(FACES if faces else {}), recompute=recompute)
    model = compile_agent(InterpolationAgent(config))
    callbacks = [DiscriminatorUpdates(images, goals, batch)] if faces else []
    kw = dict(x=[images, goals], batch_size=batch, steps_per_epoch=steps, verbose=0, callbacks=callbacks)
    model.fit(**kw, epochs=1)  # tracing and warm-up
    started = time.perf_counter()
    model.fit(**kw, epochs=1)
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    return {"steps_per_s": steps / seconds, "peak_mb": max(peak[0], anon_mb()) - base}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--work", default=",".join(WORK))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one trial of this work in this process
    parser.add_argument("--recompute", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, bool(args.recompute), args.steps)))
        return
    works = args.work.split(",")
    if unknown := set(works) - set(WORK):
        parser.error(f"unknown work {sorted(unknown)}: choose from {', '.join(WORK)}")
    print(f"{args.trials} trials x {args.steps} timed steps, variants interleaved, each trial a fresh process")
    print("| work | variant | steps/s min / median / max | peak anonymous MB, min / median / max |")
    print("|---|---|---|---|")
    for work in works:
        results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
        for _ in range(args.trials):
            for variant in VARIANTS:
                argv = [__file__, "--one", work, "--steps", str(args.steps)]
                argv += ["--recompute", str(int(variant == "recompute"))]
                env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
                results[variant].append(in_fresh_process(argv, env, f"{work} / {variant}"))
        for variant, rows in results.items():
            rates, peaks = [r["steps_per_s"] for r in rows], [r["peak_mb"] for r in rows]
            print(f"| {work} | {variant} | {spread(rates)} | {spread(peaks, '{:,.0f}')} |")
        kept, again = ([r["steps_per_s"] for r in results[v]] for v in VARIANTS)
        rounds = [a / k for a, k in zip(again, kept)]
        memory = statistics.median(r["peak_mb"] for r in results["recompute"]) / statistics.median(
            r["peak_mb"] for r in results["kept"]
        )
        print(
            f"|  {work}: recompute / kept | speed {statistics.median(again) / statistics.median(kept):.2f} "
            f"(rounds {min(rounds):.2f}-{max(rounds):.2f}) | memory {memory:.2f} | |",
            flush=True,
        )


if __name__ == "__main__":
    main()
