"""The interpolation agent as one Keras model (Ganin, section 4.4), configured by :class:`AgentConfig`.

:class:`InterpolationAgent` is a ``keras.Model`` whose ``call`` unrolls one episode from ``start`` to ``goal``
step by step (:meth:`~InterpolationAgent.step`) and whose ``compute_loss`` turns the episode into the objective
of its mode (:mod:`latentlab.agent.losses`), so Keras's own ``train_step`` computes the gradients on any
backend. The modes:

* ``"bptt"``: a fixed number of steps, actions by the reparametrisation trick, the return (realism along the
  path + closeness to the goal at the end) maximised by backpropagation through time;
* ``"pg"``: the same episode with sampled actions for pi and T and no gradient through the states; REINFORCE
  with the value network V as baseline, trained by MSE. T's flow noise can be drawn at low resolution and
  bilinearly upsampled (the stochastic-transformer trick, eq. 8; ``noise_resolution``; ``None`` draws it at
  full resolution, eq. 7);
* ``"hybrid"``: the scheme the paper found unstable (4.4, Fig. 3): T trained by BPTT through the states, pi
  by REINFORCE on its sampled (``stop_gradient``-ed) actions with the value baseline;
* ``"bptt_stop"``: BPTT with a Bernoulli STOP unit and a step budget: the STOP unit alone is trained by
  REINFORCE with the baseline, everything else by BPTT; each step and running out of the budget are
  penalised; an entropy bonus on the STOP unit (``stop_entropy``) keeps it exploring.

The discriminator is trained in the same step (real images against the agent's ``stop_gradient``-ed states),
and the agent's realism reward reads it through ``stateless_call`` with ``stop_gradient``-ed weights, so the
two objectives do not leak into each other. With ``discriminator_lr`` it has an optimizer of its own instead
(Adam with beta_1 = 0.5, as in DCGAN) and :func:`latentlab.agent.training.train_agent` updates it after every
agent batch on fresh episodes (:class:`~latentlab.agent.training.DiscriminatorUpdates`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from latentlab.agent import networks, rewards
from latentlab.agent.losses import LOSSES, returns_to_go
from latentlab.batching import map_batches
from latentlab.errors import ParameterError

MODES = tuple(LOSSES)
EPISODE_BYTES = 16 * 2**20
"""A batch of :meth:`InterpolationAgent.interpolate` holds at most this many bytes of episode frames (and at most 256
pairs) unless asked otherwise: 56 pairs of 64 x 64 faces over 5 steps, whose default batch of 256 needed 1 GB more
while it ran (notebook 05's face agent in ``full``: none at 64); 28 px digits over up to 15 steps keep 256."""
TRACKED = ("return", "final_distance", "steps", "value_loss", "disc_loss", "realism", "policy_std")
Tensor = Any  # a backend tensor (or anything keras.ops converts to one)


def _whole(name: str, value: Any, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ParameterError(f"{name}={value!r}: give a whole number >= {least}.")
    return int(value)


def _number(name: str, value: Any, low: float = 0.0, strict: bool = False) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not np.isfinite(value)
        or (value <= low if strict else value < low)
    ):
        raise ParameterError(f"{name}={value!r}: give a finite number {'>' if strict else '>='} {low}.")
    return float(value)


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """Everything that defines an :class:`InterpolationAgent` but its feature network.

    ``image_shape`` (h, w, c) of the images (h, w divisible by 4); ``mode`` one of :data:`MODES`; ``n_steps``
    the fixed episode length, or the step budget of ``"bptt_stop"``; ``action_dim`` the size of pi's Gaussian
    command; ``transformations`` ``"warp"`` plus any of ``"recolor"``, ``"blend"``; ``width`` the networks'
    base number of filters; ``max_flow`` the largest displacement of one step in pixels; ``step_share`` the
    largest share of a pixel one step may recolour or paint over (1: no limit); ``noise_resolution`` the
    side of T's flow noise in ``"pg"`` (eq. 8; ``None``: full resolution, eq. 7). Rewards: ``goal_scale``
    times the ``distance`` (``"l2"``, ``"l1"`` or ``"perceptual"``) at the end, ``realism_weight`` times
    log D of each state, ``per_step`` per step and ``over_budget`` for running out of the budget
    (``"bptt_stop"``); ``stop_entropy`` the STOP unit's entropy bonus. ``score_clip`` is eq. 9's threshold tau,
    the longest pi's score (the gradient of log pi w.r.t. its action's mean, and w.r.t. its standard deviation)
    may be in REINFORCE (``"pg"``, ``"hybrid"``; ``None``: not clipped). ``discriminator_lr`` gives D its own
    Adam optimizer and ``discriminator_steps`` updates after every agent batch (``None``: D trains jointly).
    ``seed`` seeds the episodes' sampling. ``recompute`` (gradient checkpointing, ``keras.remat``) keeps only the
    state and action of each differentiable step (``"bptt"``, ``"bptt_stop"``, ``"hybrid"``) for the backward
    pass and runs T and its transformations again there, instead of keeping their activations for every step:
    less memory for large images, at the cost of T's forward pass once more (``benchmarks/bench_agent_step.py``
    measures both). The gradients are the same up to float rounding.
    """

    image_shape: tuple[int, int, int] = (28, 28, 1)
    mode: str = "bptt"
    n_steps: int = 5
    action_dim: int = 16
    transformations: tuple[str, ...] = ("warp",)
    width: int = 16
    max_flow: float = 3.0
    step_share: float = 1.0
    noise_resolution: int | None = 7
    goal_scale: float = 10.0
    realism_weight: float = 0.01
    per_step: float = 0.02
    over_budget: float = 1.0
    stop_entropy: float = 0.05
    score_clip: float | None = None
    distance: str = "l2"
    discriminator_lr: float | None = None
    discriminator_steps: int = 1
    seed: int = 0
    recompute: bool = False

    def __post_init__(self) -> None:
        shape = tuple(self.image_shape)
        if len(shape) != 3 or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in shape):
            raise ParameterError(f"image_shape={self.image_shape!r}: give (height, width, channels), e.g. (28, 28, 1).")
        object.__setattr__(self, "image_shape", tuple(int(d) for d in shape))
        object.__setattr__(self, "transformations", tuple(self.transformations))
        if self.mode not in MODES:
            raise ParameterError(f"mode={self.mode!r}: choose one of {MODES}.")
        if self.distance not in rewards.DISTANCES:
            raise ParameterError(f"distance={self.distance!r}: choose one of {rewards.DISTANCES}.")
        for name in ("n_steps", "action_dim", "width"):
            _whole(name, getattr(self, name))
        _whole("seed", self.seed, 0)
        if not isinstance(self.recompute, (bool, np.bool_)):
            raise ParameterError(f"recompute={self.recompute!r}: give True or False.")
        _number("max_flow", self.max_flow, strict=True)
        for name in ("goal_scale", "realism_weight", "per_step", "over_budget", "stop_entropy"):
            _number(name, getattr(self, name))
        if self.noise_resolution is not None and (
            _whole("noise_resolution", self.noise_resolution) and self.image_shape[0] % self.noise_resolution
        ):
            raise ParameterError(
                f"noise_resolution={self.noise_resolution} must divide the image size "
                f"{self.image_shape[0]} (or be None for full-resolution noise)."
            )
        if self.score_clip is not None:
            _number("score_clip", self.score_clip, strict=True)
        if self.discriminator_lr is not None:
            _number("discriminator_lr", self.discriminator_lr, strict=True)
            _whole("discriminator_steps", self.discriminator_steps)

    def replace(self, **changes: Any) -> AgentConfig:
        """A copy with ``changes`` (checked like the original)."""
        return dataclasses.replace(self, **changes)


class InterpolationAgent(keras.Model):
    """pi, T, V and D trained together on ``[start, goal]`` batches (n, h, w, c) in [0, 1].

    Built from an :class:`AgentConfig` (``InterpolationAgent(AgentConfig(mode="pg"))``; keyword arguments
    replace its fields: ``InterpolationAgent(mode="pg")``) and, for ``distance="perceptual"``, a frozen
    ``features`` network (e.g. :func:`latentlab.models.classifier.digit_features`).

    ``call`` returns the episode as a dict: ``states`` (n, n_steps + 1, h, w, c) (state 0 is the start),
    ``final`` (n, h, w, c), ``steps`` (n,) transformations applied, ``alive`` (n, n_steps + 1) 1 while the
    episode runs (``bptt_stop``; else all ones), ``values`` (n, n_steps + 1) of V, ``policy_std``
    (n, n_steps) the mean standard deviation of pi's action at each step, and the log-probabilities the
    policy-gradient terms need (``log_probs``, ``stop_log_probs``, ``stop_logits``). In inference
    (``training=False``) actions are the means and STOP fires when its probability > 0.5. The tracked
    ``final_distance`` is always the per-pixel MSE, so agents trained with different distances compare.
    """

    def __init__(
        self,
        config: AgentConfig | None = None,
        features: keras.Model | None = None,
        name: str | None = None,
        **changes: Any,
    ) -> None:
        fields = {f.name for f in dataclasses.fields(AgentConfig)}
        unknown = set(changes) - fields
        if unknown:
            raise ParameterError(f"unknown agent setting(s) {sorted(unknown)}; AgentConfig has {sorted(fields)}.")
        config = (config or AgentConfig()).replace(**changes)
        if (config.distance == "perceptual") != (features is not None):
            raise ParameterError(
                "distance='perceptual' and features=<frozen feature model> go together: pass both "
                "(e.g. latentlab.models.classifier.digit_features) or neither."
            )
        if features is not None and features.trainable_weights:
            raise ParameterError(
                "the feature network of the perceptual reward has trainable weights, which the "
                "agent's loss would change: set features.trainable = False first."
            )
        super().__init__(name=name or f"agent_{config.mode}")
        self.config, self.features = config, features
        c = config
        self.policy = networks.build_policy(c.image_shape, c.action_dim, c.width)
        self.transformer = networks.build_transformer(
            c.image_shape, c.action_dim, c.transformations, c.width, c.max_flow, c.step_share
        )
        self.value = networks.build_value(c.image_shape, c.width)
        self._transition = keras.remat(self._transform)
        self.discriminator = networks.build_discriminator(c.image_shape, c.width)
        if c.discriminator_lr is not None:  # its own optimizer; the joint loss then gives D exactly zero gradients
            self.discriminator.compile(
                optimizer=keras.optimizers.Adam(c.discriminator_lr, beta_1=0.5),
                loss=keras.losses.BinaryCrossentropy(from_logits=True),
                jit_compile=False,
            )
        self.seed_generator = keras.random.SeedGenerator(c.seed)
        self.built = True  # its sub-models are built and it has no weights of its own (checkpoints load at once)
        # heads the mode never uses stay frozen (no "gradients do not exist" warnings)
        self.policy.get_layer("policy_stop").trainable = c.mode == "bptt_stop"
        self.transformer.get_layer("transformer_flow_log_std").trainable = c.mode == "pg"
        self.trackers = {k: keras.metrics.Mean(name=k) for k in TRACKED}

    def _transform(self, weights: list[Tensor], frozen: list[Tensor], state: Tensor, action: Tensor) -> Tensor:
        """The next state: T's transformations for ``action`` applied to ``state``, with T's trainable and
        non-trainable weights passed in (a pure function, as ``keras.remat`` wants on JAX)."""
        params, _ = self.transformer.stateless_call(weights, frozen, [state, action])
        return networks.apply_transformations(state, params)

    def _next_state(self, state: Tensor, action: Tensor) -> Tensor:
        """The next state for ``action``; with ``recompute``, :meth:`_transform` under ``keras.remat``."""
        t = self.transformer
        if not self.config.recompute:
            return networks.apply_transformations(state, t([state, action]))
        weights = [v.value for v in t.trainable_variables], [v.value for v in t.non_trainable_variables]
        return self._transition(*weights, state, action)

    def _sample_flow(self, params: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Flow of the stochastic transformer and its log-likelihood (eq. 7, or the low-resolution eq. 8)."""
        mean, log_std = params["flow"], params["flow_log_std"]
        h, w = self.config.image_shape[:2]
        if self.config.noise_resolution is None:
            noise = ops.exp(log_std) * keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        else:
            k = h // self.config.noise_resolution
            sigma = ops.average_pool(ops.exp(log_std), k, strides=k, padding="valid")
            eps = keras.random.normal(ops.shape(sigma), seed=self.seed_generator)
            noise = ops.image.resize(sigma * eps, (h, w), interpolation="bilinear")
        flow = ops.stop_gradient(mean + noise)
        # per-pixel mean log-likelihood (a constant rescaling of eq. 6 that keeps T's and pi's terms comparable)
        return flow, networks.gaussian_log_prob(flow, mean, log_std) / float(h * w * 2)

    def _realism_logits(self, states: Tensor) -> Tensor:
        """D's logits with D's weights held fixed (the agent's reward must not train D)."""
        frozen = [ops.stop_gradient(v) for v in self.discriminator.trainable_variables]
        logits, _ = self.discriminator.stateless_call(frozen, self.discriminator.non_trainable_variables, states)
        return logits

    def _stop(self, logit: Tensor, last: bool, training: bool) -> Tensor:
        """The STOP decision (n,): sampled in training, p > 0.5 in inference, always at the end of the budget."""
        if last:
            return ops.ones_like(logit)
        if training:
            u = keras.random.uniform(ops.shape(logit), seed=self.seed_generator)
            return ops.cast(u < ops.sigmoid(logit), logit.dtype)
        return ops.cast(logit > 0, logit.dtype)

    def step(
        self, state: Tensor, goal: Tensor, pi: dict[str, Tensor], training: bool = False
    ) -> tuple[Tensor, Tensor | None, Tensor]:
        """One transition from ``state`` with pi's output ``pi`` (its action distribution for this state):
        returns the next state, the log-likelihood of the sampled action (``None`` where the mode trains pi
        by BPTT) and the mean standard deviation of the action (n,)."""
        mode = self.config.mode
        std = ops.exp(pi["log_std"])
        eps = keras.random.normal(ops.shape(pi["mean"]), seed=self.seed_generator) if training else 0.0
        if mode in ("bptt", "bptt_stop"):  # the reparametrisation trick: gradients flow into pi's mean and std
            return self._next_state(state, pi["mean"] + std * eps), None, ops.mean(std, axis=1)
        action = ops.stop_gradient(pi["mean"] + std * eps)
        if self.config.score_clip is None:
            log_prob = networks.gaussian_log_prob(action, pi["mean"], pi["log_std"])
        else:  # eq. 9: the score clipped to score_clip
            log_prob = networks.clipped_score_surrogate(action, pi["mean"], pi["log_std"], self.config.score_clip)
        if mode == "hybrid":  # T and the states stay differentiable
            return self._next_state(state, action), log_prob, ops.mean(std, axis=1)
        params = self.transformer([state, action])
        flow, flow_log_prob = self._sample_flow(params) if training else (params["flow"], 0.0)
        next_state = ops.stop_gradient(networks.apply_transformations(state, params, flow))
        return next_state, log_prob + flow_log_prob, ops.mean(std, axis=1)

    def call(self, inputs: Sequence[Tensor], training: bool = False) -> dict[str, Tensor]:
        start, goal = (ops.convert_to_tensor(x) for x in inputs)
        n, stopping = ops.shape(start)[0], self.config.mode == "bptt_stop"
        state, alive, final = start, ops.ones((n,), start.dtype), ops.zeros_like(start)
        states, alive_at, log_probs, stds, stop_log_probs, stop_logits = [start], [], [], [], [], []
        for t in range(self.config.n_steps + 1):
            pi = self.policy([state, goal])
            alive_at.append(alive)
            if stopping:
                stop = self._stop(pi["stop_logit"], t == self.config.n_steps, training)
                stop_log_probs.append(networks.bernoulli_log_prob(stop, pi["stop_logit"]))
                stop_logits.append(pi["stop_logit"])
                final = final + (alive * stop)[:, None, None, None] * state
                alive = alive * (1.0 - stop)
            if t == self.config.n_steps:
                break
            state, log_prob, std = self.step(state, goal, pi, training)
            states.append(state)
            stds.append(std)
            if log_prob is not None:
                log_probs.append(log_prob)
        stacked = ops.stack(states, axis=1)
        flat = (-1, *self.config.image_shape)
        goals = ops.reshape(ops.repeat(goal[:, None], self.config.n_steps + 1, axis=1), flat)
        values = self.value([ops.stop_gradient(ops.reshape(stacked, flat)), goals])
        alive_steps = ops.stack(alive_at, axis=1)
        out = {
            "states": stacked,
            "final": final if stopping else state,
            "steps": ops.sum(alive_steps[:, 1:], axis=1),
            "alive": alive_steps,
            "values": ops.reshape(values, (n, self.config.n_steps + 1)),
            "policy_std": ops.stack(stds, axis=1),
        }
        if log_probs:
            out["log_probs"] = ops.stack(log_probs, axis=1)
        if stopping:
            out["stop_log_probs"], out["stop_logits"] = (
                ops.stack(stop_log_probs, axis=1),
                ops.stack(stop_logits, axis=1),
            )
        return out

    def rewards(self, episode: dict[str, Tensor], start: Tensor, goal: Tensor) -> tuple[Tensor, Tensor]:
        """Per-step rewards (n, n_steps + 1): step penalty and realism of each new state while the episode
        runs, closeness to the goal where it ends, the budget penalty if it never stopped; and the realism
        reward of each new state (n, n_steps), 0 after the episode ended."""
        c, states, alive = self.config, episode["states"], episode["alive"]
        n, T = ops.shape(start)[0], c.n_steps
        new_states = ops.reshape(states[:, 1:], (-1, *c.image_shape))
        realism = ops.reshape(rewards.realism_reward(self._realism_logits(new_states)), (n, T))
        moved = alive[:, 1:]  # the episode was still running when state t + 1 was made
        step_r = moved * (rewards.step_penalty(1.0, c.per_step) + c.realism_weight * realism)
        step_r = ops.concatenate([step_r, ops.zeros((n, 1), step_r.dtype)], axis=1)
        end_r = rewards.goal_reward(episode["final"], goal, c.distance, c.goal_scale, self.features)
        if c.mode == "bptt_stop":
            end_r = end_r + rewards.budget_penalty(alive[:, T], c.over_budget)
            # the goal reward goes to the step at which the episode stopped
            ended_at = alive - ops.concatenate([alive[:, 1:], ops.zeros((n, 1), alive.dtype)], axis=1)
        else:
            ended_at = ops.concatenate([ops.zeros((n, T), alive.dtype), ops.ones((n, 1), alive.dtype)], axis=1)
        return step_r + ended_at * end_r[:, None], moved * realism

    def discriminator_loss(self, start: Tensor, goal: Tensor, episode: dict[str, Tensor]) -> Tensor:
        """D's loss: real ``start`` and ``goal`` images against the agent's (``stop_gradient``-ed) new states."""
        fakes = ops.stop_gradient(ops.reshape(episode["states"][:, 1:], (-1, *self.config.image_shape)))
        reals = ops.concatenate([start, goal], axis=0)
        return ops.mean(ops.softplus(-self.discriminator(reals))) + ops.mean(ops.softplus(self.discriminator(fakes)))

    def compute_loss(
        self,
        x: Sequence[Tensor] | None = None,
        y: Tensor | None = None,
        y_pred: dict[str, Tensor] | None = None,
        sample_weight: Tensor | None = None,
        training: bool = True,
    ) -> Tensor:
        start, goal = (ops.convert_to_tensor(v) for v in x)
        episode, alive = y_pred, y_pred["alive"]
        r, realism = self.rewards(episode, start, goal)
        G, V = ops.stop_gradient(returns_to_go(r)), episode["values"]
        value_loss = ops.mean(ops.sum(alive * ops.square(V - G), axis=1))
        agent_loss = LOSSES[self.config.mode](episode, r, ops.stop_gradient(G - V), self.config)
        disc_loss = self.discriminator_loss(start, goal, episode)
        running = ops.maximum(ops.sum(alive[:, :-1]), 1.0)
        for key, value in (
            ("return", ops.mean(ops.sum(r, axis=1))),
            ("value_loss", value_loss),
            ("final_distance", ops.mean(rewards.goal_distance(episode["final"], goal))),  # pixel MSE
            ("steps", ops.mean(episode["steps"])),
            ("disc_loss", disc_loss),
            ("policy_std", ops.sum(alive[:, :-1] * episode["policy_std"]) / running),
            ("realism", ops.sum(realism) / ops.maximum(ops.sum(alive[:, 1:]), 1.0)),
        ):
            self.trackers[key].update_state(value)
        joint = 0.0 if self.config.discriminator_lr is not None else 1.0
        return agent_loss + value_loss + joint * disc_loss

    def interpolate(self, start: np.ndarray, goal: np.ndarray, batch_size: int | None = None) -> dict[str, np.ndarray]:
        """Run deterministic episodes (mean actions, STOP at p > 0.5) on arrays (n, h, w, c) in [0, 1]:
        ``states`` (n, n_steps + 1, h, w, c), ``final`` (n, h, w, c), ``steps`` (n,), ``alive`` (n, n_steps + 1).
        ``batch_size`` pairs at a time; by default as many as keep a batch's frames within :data:`EPISODE_BYTES`."""
        if batch_size is None:
            frames = 4 * (self.config.n_steps + 1) * int(np.prod(self.config.image_shape))  # float32, one pair
            batch_size = max(1, min(256, EPISODE_BYTES // frames))

        def episode(s: np.ndarray, g: np.ndarray) -> dict[str, Tensor]:
            ep = self([s, g], training=False)
            return {k: ep[k] for k in ("states", "final", "steps", "alive")}

        return map_batches(episode, np.asarray(start, np.float32), np.asarray(goal, np.float32), batch_size=batch_size)
