"""The agent's four reward signals (Ganin, section 3): a cost per step, a cost for running out of the step
budget, the discriminator's realism of each state, and closeness to the goal after the last step."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from latentlab.errors import ParameterError

DISTANCES = ("l2", "l1", "perceptual")
Tensor = Any  # a backend tensor (or anything keras.ops converts to one)


def goal_distance(states: Tensor, goals: Tensor, kind: str = "l2", features: keras.Model | None = None) -> Tensor:
    """Distance per image (n,): the mean squared (``"l2"``) or absolute (``"l1"``) pixel difference, or
    (``"perceptual"``) the mean squared difference of ``features(states)`` and ``features(goals)``,
    ``features`` a frozen Keras model such as :func:`latentlab.models.classifier.digit_features`."""
    if kind not in DISTANCES:
        raise ParameterError(f"distance={kind!r}: choose one of {DISTANCES}.")
    if kind == "perceptual":
        if features is None:
            raise ParameterError(
                "distance='perceptual' needs a feature network: pass features=<frozen keras.Model>, "
                "e.g. latentlab.models.classifier.digit_features(classifier, digits)."
            )
        states, goals = features(states), features(goals)
    diff = ops.reshape(states - goals, (ops.shape(states)[0], -1))
    return ops.mean(ops.abs(diff) if kind == "l1" else ops.square(diff), axis=1)


def goal_reward(
    states: Tensor, goals: Tensor, kind: str = "l2", scale: float = 10.0, features: keras.Model | None = None
) -> Tensor:
    """Closeness to the goal after the last step: ``-scale * distance`` (n,) (higher is closer)."""
    return -scale * goal_distance(states, goals, kind, features)


def realism_reward(logits: Tensor) -> Tensor:
    """Discriminator realism reward: ``log D(s)`` from D's logits (n,), 0 for an image D is sure is real."""
    return ops.log_sigmoid(logits)


def step_penalty(n_steps: float | Tensor, per_step: float = 0.05) -> float | Tensor:
    """The fixed negative reward per transition: ``-per_step * n_steps``."""
    return -per_step * n_steps


def budget_penalty(over_budget: Tensor, penalty: float = 1.0) -> Tensor:
    """The negative reward for running out of the step budget (``over_budget`` 0/1 per episode)."""
    return -penalty * over_budget
