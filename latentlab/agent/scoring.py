"""Scoring interpolation paths (Ganin, measured beyond the paper): what each step of an agent did, and how a
path of any method compares with the goal, with real images and with a discriminator's and a classifier's
judgement; plus the two reference paths, the pixel cross-dissolve and linear interpolation in an
autoencoder's code space."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

from latentlab.agent.model import InterpolationAgent
from latentlab.batching import batch_slices, map_batches, predict
from latentlab.errors import ParameterError
from latentlab.metrics import CHUNK_BYTES, detail_energy, nearest_distances

Tensor = Any  # a backend tensor (or anything keras.ops converts to one)


def transformation_usage(
    model: InterpolationAgent,
    states: np.ndarray,
    goal: np.ndarray,
    alive: np.ndarray | None = None,
    batch_size: int = 256,
) -> dict[str, np.ndarray]:
    """How much each step of deterministic episodes (``states`` (n, T + 1, h, w, c) from
    :meth:`InterpolationAgent.interpolate`, towards ``goal`` (n, h, w, c)) moves, recolours and paints.

    Re-runs pi and T on every state with the mean action, as the episode did, and returns arrays (T,)
    over the episodes still running at that step (``alive``, default all; NaN where none is):
    ``flow`` the mean displacement in pixels, ``recolor`` the mean of 1 - alpha_AR (the share of each
    pixel taken from the recoloured image), ``synthesis`` the mean of 1 - alpha_D (the share painted
    by direct synthesis rather than carried over from the previous state); the last two are absent
    when the transformer has no such transformation."""
    states, goal = np.asarray(states, np.float32), np.asarray(goal, np.float32)
    n, k = states.shape[:2]
    alive = np.ones((n, k), np.float32) if alive is None else np.asarray(alive, np.float32)
    keys = ["flow"] + [
        key for key, t in (("recolor", "recolor"), ("synthesis", "blend")) if t in model.config.transformations
    ]

    def per_image(s: np.ndarray, g: np.ndarray) -> dict[str, Tensor]:
        s, g = ops.convert_to_tensor(s), ops.convert_to_tensor(g)
        params = model.transformer([s, model.policy([s, g])["mean"]])
        maps = {
            "flow": ops.sqrt(ops.sum(ops.square(params["flow"]), axis=-1)),
            "recolor": 1.0 - params.get("recolor_alpha", 1.0),
            "synthesis": 1.0 - params.get("blend_alpha", 1.0),
        }
        return {key: ops.mean(ops.reshape(maps[key], (ops.shape(s)[0], -1)), axis=1) for key in keys}

    usage = {key: np.full(k - 1, np.nan) for key in keys}
    for t in range(k - 1):
        live = alive[:, t + 1] > 0
        if live.any():
            for key, means in map_batches(per_image, states[live, t], goal[live], batch_size=batch_size).items():
                usage[key][t] = means.mean()
    return usage


def step_distances(states: np.ndarray, start: np.ndarray, goal: np.ndarray) -> dict[str, np.ndarray]:
    """Mean per-pixel MSE of each frame after the start (``states`` (n, T + 1, h, w, c)) to the start and to the
    goal (n, h, w, c): ``{"to start": (T,), "to goal": (T,)}``. A gradual path is near the start early and
    near the goal late; a repaint is as far from the start as the goal is from step 1 on."""
    frames = np.asarray(states, np.float32)[:, 1:]
    return {
        name: ((frames - np.asarray(ref, np.float32)[:, None]) ** 2).mean(axis=(0, 2, 3, 4))
        for name, ref in (("to start", start), ("to goal", goal))
    }


def cross_dissolve(start: np.ndarray, goal: np.ndarray, n_frames: int) -> np.ndarray:
    """Pixel cross-dissolve: (n, h, w, c) pairs -> (n, n_frames, h, w, c), ``(1 - t) start + t goal``, written frame
    by frame (memory holds the result and two frames' temporaries, not three arrays of the result's size)."""
    start, goal = np.asarray(start), np.asarray(goal)
    t = np.linspace(0.0, 1.0, n_frames, dtype=np.float32)
    out = np.empty((len(start), n_frames, *start.shape[1:]), np.result_type(t, start, goal))
    for i, ti in enumerate(t):
        out[:, i] = (1 - ti) * start + ti * goal
    return out


def latent_interpolation(
    encode: Callable[[np.ndarray], Tensor],
    decode: Callable[[np.ndarray], Tensor],
    start: np.ndarray,
    goal: np.ndarray,
    n_frames: int,
) -> np.ndarray:
    """Linear interpolation in an autoencoder's code space, as a path comparable to an agent's:
    ``encode`` maps images (n, h, w, c) to codes (n, d), ``decode`` codes to images (any shape that
    reshapes to (n, h, w, c)). Returns (n, n_frames, h, w, c): frame 0 is the start image itself (where
    the agent starts), frames 1 .. n_frames - 1 decode (1 - t) z_start + t z_goal, ending at the goal's
    reconstruction."""
    if n_frames < 2:
        raise ParameterError(f"n_frames={n_frames}: a path needs at least its two end points.")
    start, goal = np.asarray(start, np.float32), np.asarray(goal, np.float32)
    z0, z1 = np.asarray(encode(start), np.float32), np.asarray(encode(goal), np.float32)
    t = np.linspace(0.0, 1.0, n_frames, dtype=np.float32)[None, :, None]
    codes = ((1 - t) * z0[:, None] + t * z1[:, None]).reshape(-1, z0.shape[1])
    frames = np.asarray(decode(codes), np.float32).reshape(len(start), n_frames, *start.shape[1:])
    frames[:, 0] = start
    return frames


def path_scores(
    paths: np.ndarray,
    goals: np.ndarray,
    discriminator: keras.Model,
    references: np.ndarray,
    alive: np.ndarray | None = None,
    classifier: keras.Model | None = None,
    chunk: int = 2048,
) -> dict[str, float]:
    """Score interpolation paths (n, k, h, w, c) whose last live frame is the end point, against
    ``goals`` (n, h, w, c). ``alive`` (n, k) marks the frames that exist (default: all). Returns the
    mean ``final_distance`` (per-pixel MSE of the end point to the goal), ``realism`` (mean
    discriminator probability of the frames after the first), ``nearest_real`` (mean Euclidean distance of
    those frames to the nearest of ``references`` (m, h, w, c): floats in [0, 1], or uint8 images, read as they are
    (a memory map of them is not copied), lower = closer to real images),
    ``detail`` (their mean :func:`~latentlab.metrics.detail_energy`, to compare with real images') and
    ``steps`` (mean number of frames after the first); with a ``classifier`` (images -> class scores),
    also ``reads_as_goal``: the share of paths whose end point it assigns the class it assigns the goal.

    The frames after the first are scored about ``chunk`` at a time (whole paths per chunk; fewer where their
    float32 copy would pass :data:`~latentlab.metrics.CHUNK_BYTES`, as for 64 x 64 x 3 faces), so memory holds one
    chunk's copies beside the paths, not a copy of them all (notebook 05's face paths in ``full`` are 0.3 GB each)."""
    paths = paths if isinstance(paths, np.ndarray) else np.asarray(paths, np.float32)  # an array is not copied
    n, k = paths.shape[:2]
    alive = np.ones((n, k), np.float32) if alive is None else np.asarray(alive, np.float32)
    last = alive.sum(1).astype(int) - 1
    final = np.asarray(paths[np.arange(n), last], np.float32)
    live = alive[:, 1:] > 0
    flat_references = np.asarray(references).reshape(len(references), -1)

    def nearest(frames: np.ndarray) -> np.ndarray:
        """Each frame's distance to its nearest reference; to r / 255 for uint8 references r: |255 q - r| / 255."""
        flat = frames.reshape(len(frames), -1)
        if flat_references.dtype == np.uint8:
            return nearest_distances(flat * np.float32(255), flat_references)[0] / 255
        return nearest_distances(flat, flat_references)[0]

    if live.any():
        frames_per_chunk = min(chunk, CHUNK_BYTES // (4 * max(int(np.prod(paths.shape[2:])), 1)))
        rows_per_chunk = max(1, frames_per_chunk // (k - 1))
        chunks = (np.asarray(paths[rows, 1:], np.float32)[live[rows]] for rows in batch_slices(n, rows_per_chunk))
    else:
        chunks = iter([final])  # no frame after the first anywhere: the end points are what is scored
    parts = [
        (
            ops.convert_to_numpy(ops.sigmoid(predict(discriminator, inner, batch_size=512))).reshape(-1),
            nearest(inner),
            detail_energy(inner),
        )
        for inner in chunks
        if len(inner)
    ]
    prob, nearest, detail = (np.concatenate(values) for values in zip(*parts))
    scores = {
        "final_distance": float(((final - np.asarray(goals, np.float32)) ** 2).mean()),
        "realism": float(prob.mean()),
        "nearest_real": float(nearest.mean()),
        "detail": float(detail.mean()),
        "steps": float(last.mean()),
    }
    if classifier is not None:
        read = [np.argmax(predict(classifier, x, batch_size=512), axis=-1) for x in (final, goals)]
        scores["reads_as_goal"] = float((read[0] == read[1]).mean())
    return scores
