"""The objective of each training scheme of the agent (Ganin, section 4.4), one small function per mode.

Each takes the episode (the dict :meth:`InterpolationAgent.call` returns), the per-step rewards ``r``
(n, T + 1), the advantage ``G_t - V(s_t)`` (n, T + 1, no gradient) and the agent's :class:`AgentConfig`, and
returns the scalar the optimizer minimises (the value network's and the discriminator's losses are added by
the agent itself):

* ``bptt``: minus the return, backpropagated through every state;
* ``pg``: REINFORCE, ``-log pi(a_t) (G_t - V_t)``, for pi's action and T's sampled flow;
* ``hybrid``: both, BPTT reaching T through the states and REINFORCE reaching pi through its sampled actions;
* ``bptt_stop``: BPTT, plus REINFORCE for the STOP unit alone and an entropy bonus that keeps it exploring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keras import ops

from latentlab.agent.networks import bernoulli_entropy

if TYPE_CHECKING:
    from latentlab.agent.model import AgentConfig

Tensor = Any  # a backend tensor (or anything keras.ops converts to one)


def returns_to_go(rewards: Tensor) -> Tensor:
    """G_t = sum of the rewards from step t on: (n, T) -> (n, T)."""
    return ops.flip(ops.cumsum(ops.flip(rewards, axis=1), axis=1), axis=1)


def _return(rewards: Tensor) -> Tensor:
    return ops.mean(ops.sum(rewards, axis=1))


def _reinforce(log_probs: Tensor, advantage: Tensor, mask: Tensor | None = None) -> Tensor:
    terms = log_probs * advantage[:, : ops.shape(log_probs)[1]]
    return -ops.mean(ops.sum(terms if mask is None else mask * terms, axis=1))


def bptt_loss(episode: dict[str, Tensor], rewards: Tensor, advantage: Tensor, config: AgentConfig) -> Tensor:
    """Minus the batch-averaged return: every reward is differentiable through the states."""
    return -_return(rewards)


def pg_loss(episode: dict[str, Tensor], rewards: Tensor, advantage: Tensor, config: AgentConfig) -> Tensor:
    """REINFORCE with the value baseline on the log-likelihood of every sampled action (and flow)."""
    return _reinforce(episode["log_probs"], advantage)


def hybrid_loss(episode: dict[str, Tensor], rewards: Tensor, advantage: Tensor, config: AgentConfig) -> Tensor:
    """T by BPTT (the return through the states), pi by REINFORCE on its sampled, fixed actions."""
    return -_return(rewards) + _reinforce(episode["log_probs"], advantage)


def stop_loss(episode: dict[str, Tensor], rewards: Tensor, advantage: Tensor, config: AgentConfig) -> Tensor:
    """BPTT for pi's action and T, REINFORCE for the STOP unit while the episode runs, minus
    ``config.stop_entropy`` times the STOP unit's entropy (keeps it from stopping at once for good)."""
    alive = episode["alive"][:, :-1]
    entropy = ops.mean(ops.sum(alive * bernoulli_entropy(episode["stop_logits"][:, :-1]), axis=1))
    return (
        -_return(rewards)
        + _reinforce(episode["stop_log_probs"][:, :-1], advantage, alive)
        - config.stop_entropy * entropy
    )


LOSSES = {"bptt": bptt_loss, "pg": pg_loss, "hybrid": hybrid_loss, "bptt_stop": stop_loss}
