"""What a process keeps of each model it trained: notebook 04's grid trains 162 denoising autoencoders one after the
other in one kernel.

    python benchmarks/model_retention.py [--models 6] [--channels 256] [--images 256] [--pool]
    KERAS_BACKEND=jax python benchmarks/model_retention.py

Trains ``--models`` grid points (``grid_search.train_point``: ``--channels`` filters, 2-d codes, noise level 0.1,
0.2, 0.5 in turn at batch size 4, then at 8, then 16, as the grid orders them; the step cap ``LATENTLAB_MAX_STEPS``,
2 unless set) on random images, encodes the images with each, deletes it, collects garbage and trims the heap
(``latentlab.memory.give_back``), then prints the anonymous memory of the process and how many distinct models are
still alive (a weak reference to each). With ``--pool`` the points train through one ``denoising.ModelPool``, as
``grid_search`` trains them: one model, reset before each point. A diagnostic, not a benchmark with a target: the
growth from the second point on is what the process keeps per point.
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
    parser.add_argument("--pool", action="store_true", help="train the points through one ModelPool")
    args = parser.parse_args()
    os.environ.setdefault("LATENTLAB_MAX_STEPS", "2")
    import keras
    import numpy as np

    from latentlab.experiments import grid_search
    from latentlab.memory import give_back
    from latentlab.models import denoising

    x = np.random.default_rng(0).random((args.images, 64, 64, 3), dtype=np.float32)
    pool = denoising.ModelPool() if args.pool else None
    refs, anon = [], []
    for i in range(args.models):
        point = dict(
            batch_size=(4, 8, 16)[i // 3 % 3],
            lambdas=(1.0, 0.0),
            channels=args.channels,
            noise="normal",
            noise_level=(0.1, 0.2, 0.5)[i % 3],
        )
        model, _ = grid_search.train_point(x, point, epochs=1, latent_dim=2, features=None, seed=0, pool=pool)
        denoising.encode(model, x)
        refs.append(weakref.ref(model))
        del model
        gc.collect()
        give_back()
        anon.append(anon_mb())
    alive = len({id(m) for m in (r() for r in refs) if m is not None})
    per_model = (anon[-1] - anon[1]) / max(len(anon) - 2, 1)
    print(
        f"{keras.backend.backend()}, {args.models} points of {args.channels} channels"
        f"{' through a ModelPool' if pool else ''}: anonymous MB after each {', '.join(f'{a:,.0f}' for a in anon)}; "
        f"{per_model:+.1f} MB per point from the second on; distinct models still alive: {alive}"
    )


if __name__ == "__main__":
    main()
