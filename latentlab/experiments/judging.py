"""Generated digits scored by an independent judge (MNIST paper, 3.2 and Fig. 4, measured in notebook 01): how
often a classifier reads them as the digit asked for, how varied and how new they are, and how many are
near-copies of a training image."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from latentlab.errors import ParameterError
from latentlab.latent.samplers import ClassGaussian, ClassGMM, sample_per_class
from latentlab.metrics import generation_scores, nearest_distances

Images = Callable[[np.ndarray], np.ndarray]


def copy_distance(real_images: ArrayLike, train_images: ArrayLike, share: float = 0.05) -> float:
    """The distance to the nearest training image that only ``share`` of ``real_images`` (held-out, never
    trained on) come closer than. A generated image nearer than this to a training image counts as a near-copy:
    by construction, ``share`` of real held-out images do."""
    if not 0 < share < 1:
        raise ParameterError(f"share={share}: give the fraction of real images counted as near-copies, e.g. 0.05.")
    distances, _ = nearest_distances(real_images, train_images)
    return float(np.quantile(distances, share))


def judge_images(
    images: np.ndarray,
    intended: np.ndarray,
    classify: Images,
    train_images: ArrayLike,
    near: float | None = None,
) -> dict[str, float]:
    """:func:`~latentlab.metrics.generation_scores` of ``images`` with the labels ``classify`` (images -> labels)
    gives them; ``near`` (see :func:`copy_distance`) adds the share of near-copies."""
    return generation_scores(images, intended, classify(images), train_images, copy_distance=near)


def judge_sampler(
    sampler: ClassGaussian | ClassGMM,
    n_per_class: int,
    decode: Images,
    classify: Images,
    train_images: ArrayLike,
    rng: np.random.Generator,
    near: float | None = None,
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Draw ``n_per_class`` codes of every class from a fitted ``sampler``, ``decode`` them and judge the images
    (:func:`judge_images`). Returns the scores, the images and their intended labels."""
    z, labels = sample_per_class(sampler, n_per_class, rng)
    images = decode(z)
    return judge_images(images, labels, classify, train_images, near), images, labels
