"""Training the interpolation agent (Ganin, section 4.4): pairs of images, the resumable fit, and the
discriminator's own updates."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from latentlab.agent.model import InterpolationAgent
from latentlab.batching import ImageRows, unit_floats
from latentlab.config import deterministic_ops
from latentlab.errors import ParameterError
from latentlab.memory import drop_traced, give_back
from latentlab.models.training import fit


def make_pairs(
    images: np.ndarray, n_pairs: int, rng: np.random.Generator, lazy: bool = False
) -> tuple[np.ndarray, np.ndarray] | tuple[ImageRows, ImageRows]:
    """``n_pairs`` random (start, goal) pairs of distinct images from ``images`` (n, h, w[, c]) uint8 or
    float in [0, 1]: two float32 arrays (n_pairs, h, w, c) in [0, 1]. Only the chosen images are converted, a
    chunk at a time: memory holds the pairs, not a float copy of ``images``. With ``lazy``, the same pairs as
    two :class:`~latentlab.batching.ImageRows` (the images held once, each pair two positions), which
    :func:`train_agent` streams in batches with the values and order of the arrays: for many large pairs
    (20,000 pairs of 64 x 64 faces are 2 GB as floats)."""
    x = np.asarray(images)
    if x.ndim not in (3, 4) or len(x) < 2:
        raise ParameterError(f"images of shape {x.shape}: give at least two images (n, h, w) or (n, h, w, c).")
    x = x[..., None] if x.ndim == 3 else x
    i = rng.integers(len(x), size=n_pairs)
    j = (i + rng.integers(1, len(x), size=n_pairs)) % len(x)
    return (ImageRows(x, i), ImageRows(x, j)) if lazy else (unit_floats(x, i), unit_floats(x, j))


class DiscriminatorUpdates(keras.callbacks.Callback):
    """After every agent batch, ``discriminator_steps`` updates of the agent's discriminator with its own
    optimizer: ``2 * batch_size`` real images (drawn from ``start`` and ``goal``) against as many frames
    (after the start, while the episode runs) of the current agent's deterministic episodes on ``batch_size``
    random training pairs. Draws are seeded by ``seed``. D's optimizer state is saved in the agent's
    checkpoints (:func:`latentlab.models.fit`) and restored on resume."""

    def __init__(
        self, start: np.ndarray | ImageRows, goal: np.ndarray | ImageRows, batch_size: int, seed: int = 0
    ) -> None:
        super().__init__()
        self.start, self.goal, self.batch_size = start, goal, int(batch_size)
        self.rng = np.random.default_rng(seed)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        model, n = self.model, 2 * self.batch_size
        i = self.rng.integers(len(self.start), size=self.batch_size)
        ep = model.predict_on_batch([self.start[i], self.goal[i]])
        frames = np.asarray(ep["states"])[:, 1:][np.asarray(ep["alive"])[:, 1:] > 0]
        if not len(frames):
            return
        fakes = frames[self.rng.choice(len(frames), size=n, replace=len(frames) < n)]
        j = self.rng.integers(2 * len(self.start), size=n)
        reals = np.where(
            (j < len(self.start))[:, None, None, None], self.start[j % len(self.start)], self.goal[j % len(self.start)]
        )
        x = np.concatenate([reals, fakes])
        y = np.concatenate([np.ones(n, np.float32), np.zeros(n, np.float32)])
        for _ in range(model.config.discriminator_steps):
            model.discriminator.train_on_batch(x, y)


def compile_agent(model: InterpolationAgent, learning_rate: float = 3e-3) -> InterpolationAgent:
    """Compile ``model`` as :func:`train_agent` trains it: Adam, gradient norm clipped at 1, no XLA (on a 2-core
    CPU, XLA compiled the 15-step episode 2x slower and ran it no faster). Returns ``model``."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0), jit_compile=False)
    return model


def train_agent(
    model: InterpolationAgent,
    start: np.ndarray | ImageRows,
    goal: np.ndarray | ImageRows,
    *,
    epochs: int,
    batch_size: int = 32,
    learning_rate: float = 3e-3,
    checkpoint_dir: str | Path | None = None,
    init_from: str | Path | None = None,
    verbose: int | str = "auto",
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> dict[str, list[float]]:
    """Compile ``model`` (:func:`compile_agent`, unless it is compiled already) and train it on the pairs (arrays,
    or the :class:`~latentlab.batching.ImageRows` of ``make_pairs(lazy=True)``) with
    :func:`latentlab.models.fit` (resumable; a NaN loss raises :class:`~latentlab.errors.TrainingError`).
    Returns the per-epoch history: loss, return, final_distance, steps, value_loss, disc_loss, realism,
    policy_std. An agent with ``discriminator_lr`` gets its discriminator updates from a
    :class:`DiscriminatorUpdates` callback on these pairs. ``init_from`` (another agent's checkpoint folder, same
    settings) starts an empty ``checkpoint_dir`` from that run's state, to train it further. Training runs with
    deterministic kernels, so the same seed gives the same agent. When training ends, the functions Keras traced for
    it are dropped (:func:`latentlab.memory.drop_traced`): a notebook keeps its agents, not each one's graphs."""
    if len(start) != len(goal):
        raise ParameterError(f"{len(start)} starts and {len(goal)} goals: give one goal per start.")
    if not model.compiled:
        compile_agent(model, learning_rate)
    own = (
        []
        if model.config.discriminator_lr is None
        else [DiscriminatorUpdates(start, goal, batch_size, model.config.seed)]
    )
    try:
        with deterministic_ops(model.config.seed):  # same seed, same agent: see config.deterministic_ops
            return fit(
                model,
                [start, goal],
                epochs=epochs,
                batch_size=batch_size,
                checkpoint_dir=checkpoint_dir,
                init_from=init_from,
                verbose=verbose,
                n_samples=len(start),
                callbacks=[*own, *callbacks],
            )
    finally:  # its traced episode and gradients: about 200 MB for 15 steps, kept while the agent lives
        drop_traced(model)
        give_back()  # again: fit trimmed the heap before these graphs were freed
