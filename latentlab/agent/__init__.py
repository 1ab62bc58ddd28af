"""Ganin's transformation-based interpolation agent (notebook 05).

:mod:`~latentlab.agent.transformations` (warp, recolour, blend), :mod:`~latentlab.agent.networks` (pi, T, V, D),
:mod:`~latentlab.agent.rewards`, :mod:`~latentlab.agent.losses` (one objective per training scheme),
:mod:`~latentlab.agent.model` (:class:`AgentConfig`, :class:`InterpolationAgent`),
:mod:`~latentlab.agent.training` (pairs, :func:`compile_agent`, :func:`train_agent`) and
:mod:`~latentlab.agent.scoring` (paths scored against the goal, real images, a discriminator and a classifier;
the reference paths).
"""

from __future__ import annotations

from latentlab.agent.model import MODES, AgentConfig, InterpolationAgent
from latentlab.agent.scoring import (
    cross_dissolve,
    latent_interpolation,
    path_scores,
    step_distances,
    transformation_usage,
)
from latentlab.agent.training import DiscriminatorUpdates, compile_agent, make_pairs, train_agent

__all__ = [
    "MODES",
    "AgentConfig",
    "DiscriminatorUpdates",
    "InterpolationAgent",
    "compile_agent",
    "cross_dissolve",
    "latent_interpolation",
    "make_pairs",
    "path_scores",
    "step_distances",
    "train_agent",
    "transformation_usage",
]
