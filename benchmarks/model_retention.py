"""What a process keeps of each model it trained and deleted: notebook 04's grid trains its denoising autoencoders
one after the other in one kernel, each deleted (and collected) before the next is built.

    python benchmarks/model_retention.py [--models 6] [--channels 256] [--images 256]
    KERAS_BACKEND=jax python benchmarks/model_retention.py

Trains ``--models`` grid points (``grid_search.train_point``: batch 4, ``--channels`` filters, 2-d codes; the step
cap ``LATENTLAB_MAX_STEPS``, 2 unless set) on random images, encodes the images with each, deletes it, collects
garbage and trims the heap (``latentlab.memory.give_back``), then prints the anonymous memory of the process and
whether any of the models is still alive (a weak reference to each). A diagnostic, not a benchmark with a target:
the growth from the second model on is what the process keeps per model.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import weakref
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trials import anon_mb  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=6)
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--images", type=int, default=256)
    args = parser.parse_args()
    os.environ.setdefault("LATENTLAB_MAX_STEPS", "2")
    import keras
    import numpy as np

    from latentlab.experiments import grid_search
    from latentlab.memory import give_back
    from latentlab.models import denoising

    x = np.random.default_rng(0).random((args.images, 64, 64, 3), dtype=np.float32)
    point = dict(batch_size=4, lambdas=(1.0, 0.0), channels=args.channels, noise="normal", noise_level=0.1)
    refs, anon = [], []
    for _ in range(args.models):
        model, _ = grid_search.train_point(x, point, epochs=1, latent_dim=2, features=None, seed=0, verbose=0)
        denoising.encode(model, x)
        refs.append(weakref.ref(model))
        del model
        gc.collect()
        give_back()
        anon.append(anon_mb())
    alive = sum(r() is not None for r in refs)
    per_model = (anon[-1] - anon[1]) / max(len(anon) - 2, 1)
    print(
        f"{keras.backend.backend()}, {args.models} models of {args.channels} channels: anonymous MB after each "
        f"{', '.join(f'{a:,.0f}' for a in anon)}; {per_model:+.1f} MB per model from the second on; "
        f"models still alive: {alive}"
    )


if __name__ == "__main__":
    main()
