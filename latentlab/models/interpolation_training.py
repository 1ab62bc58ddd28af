"""Training the interpolation agent (Ganin, section 4.4): BPTT, policy gradients, BPTT+STOP.

:class:`InterpolationAgent` is a ``keras.Model`` whose ``call`` unrolls one episode from ``start``
to ``goal`` and whose ``compute_loss`` turns the episode into the objective of its ``mode``, so
Keras's own ``train_step`` computes the gradients on any backend:

* ``"bptt"``: a fixed number of steps, actions by the reparametrisation trick, the return
  (realism along the path + closeness to the goal at the end) maximised by backpropagation through time;
* ``"pg"``: the same episode with sampled actions for pi and T and no gradient through the states;
  REINFORCE, ``-log_prob * stop_gradient(G_t - V_t)``, with the value network V as baseline trained
  by MSE. The transformer's flow noise can be drawn at low resolution and bilinearly upsampled
  (the stochastic-transformer trick, eq. 8; ``noise_resolution``);
* ``"hybrid"``: the scheme the paper found unstable (4.4, Fig. 3): T trained by BPTT through the
  states, pi by REINFORCE on its sampled (``stop_gradient``-ed) actions with the value baseline;
* ``"bptt_stop"``: BPTT with a Bernoulli STOP unit and a step budget: the STOP unit alone is trained
  by REINFORCE with the baseline, everything else by BPTT; each step and running out of the budget
  are penalised; an entropy bonus on the STOP unit (``stop_entropy``) keeps it exploring, so the
  agent can leave the early "stop at the first step" phase the paper describes.

The discriminator is trained in the same step (real images vs the agent's states, which are
``stop_gradient``-ed), and the agent's realism reward reads it through ``stateless_call`` with
``stop_gradient``-ed weights, so the two objectives do not leak into each other. With
``discriminator_lr`` it has an optimizer of its own instead (Adam with beta_1 = 0.5, as in DCGAN) and
:func:`train_agent` updates it after every agent batch on fresh episodes (:class:`DiscriminatorUpdates`):
on 32 x 32 faces the jointly trained one stayed at chance and its realism reward said nothing.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from latentlab.errors import ParameterError
from latentlab.metrics import detail_energy, nearest_distances
from latentlab.models import interpolation_agent as agent
from latentlab.models.training import fit

MODES = ("bptt", "pg", "hybrid", "bptt_stop")


class InterpolationAgent(keras.Model):
    """pi, T, V and D trained together on ``[start, goal]`` batches (n, h, w, c) in [0, 1].

    ``n_steps`` is the fixed episode length (``bptt``, ``pg``, ``hybrid``) or the step budget (``bptt_stop``).
    ``call`` returns the episode as a dict: ``states`` (n, n_steps + 1, h, w, c) (state 0 is the
    start), ``final`` (n, h, w, c), ``steps`` (n,) transformations applied, ``alive`` (n, n_steps + 1)
    1 while the episode runs (``bptt_stop``; else all ones), ``values`` (n, n_steps + 1) of V,
    ``policy_std`` (n, n_steps) the mean standard deviation of pi's action at each step, and the
    log-probabilities the policy-gradient terms need (``log_probs``, ``stop_log_probs``, ``stop_logits``).
    In inference (``training=False``) actions are the means and STOP fires when its probability > 0.5.
    Closeness to the goal is ``distance`` ``"l2"`` or ``"l1"`` in pixels, or ``"perceptual"``: the squared
    difference of a frozen feature network's outputs, ``features`` (e.g.
    :func:`latentlab.models.classifier.digit_features`). The tracked ``final_distance`` is always the
    per-pixel MSE, so agents trained with different distances compare.

    ``discriminator_lr`` gives D its own Adam optimizer and ``discriminator_steps`` updates after every
    agent batch (run by :func:`train_agent`) instead of the joint update; ``None`` (default) trains D
    jointly with the agent's optimizer.
    """

    def __init__(self, image_shape=(28, 28, 1), mode: str = "bptt", n_steps: int = 5, action_dim: int = 16,
                 transformations=("warp",), width: int = 16, max_flow: float = 3.0, noise_resolution: int | None = 7,
                 goal_scale: float = 10.0, realism_weight: float = 0.01, per_step: float = 0.02,
                 over_budget: float = 1.0, stop_entropy: float = 0.05, distance: str = "l2", features=None,
                 discriminator_lr: float | None = None, discriminator_steps: int = 1,
                 seed: int = 0, name: str | None = None, **kwargs):
        if mode not in MODES:
            raise ParameterError(f"mode={mode!r}: choose one of {MODES}.")
        if distance not in agent.DISTANCES:
            raise ParameterError(f"distance={distance!r}: choose one of {agent.DISTANCES}.")
        if (distance == "perceptual") != (features is not None):
            raise ParameterError("distance='perceptual' and features=<frozen feature model> go together: pass both "
                                 "(e.g. latentlab.models.classifier.digit_features) or neither.")
        if features is not None and features.trainable_weights:
            raise ParameterError("the feature network of the perceptual reward has trainable weights, which the agent's "
                                 "loss would change: set features.trainable = False first.")
        if discriminator_lr is not None and not (discriminator_lr > 0 and discriminator_steps >= 1):
            raise ParameterError(f"discriminator_lr={discriminator_lr}, discriminator_steps={discriminator_steps}: give "
                                 "a positive learning rate and at least one step (or discriminator_lr=None).")
        if noise_resolution is not None and image_shape[0] % noise_resolution:
            raise ParameterError(f"noise_resolution={noise_resolution} must divide the image size {image_shape[0]}.")
        super().__init__(name=name or f"agent_{mode}", **kwargs)
        self.image_shape, self.mode, self.n_steps = tuple(image_shape), mode, int(n_steps)
        self.noise_resolution, self.distance, self.features = noise_resolution, distance, features
        self.goal_scale, self.realism_weight = goal_scale, realism_weight
        self.per_step, self.over_budget, self.stop_entropy = per_step, over_budget, stop_entropy
        self.policy = agent.build_policy(image_shape, action_dim, width)
        self.transformer = agent.build_transformer(image_shape, action_dim, transformations, width, max_flow)
        self.value = agent.build_value(image_shape, width)
        self.discriminator = agent.build_discriminator(image_shape, width)
        self.discriminator_lr, self.discriminator_steps = discriminator_lr, int(discriminator_steps)
        if discriminator_lr is not None:  # its own optimizer; the joint loss then gives D exactly zero gradients
            self.discriminator.compile(optimizer=keras.optimizers.Adam(discriminator_lr, beta_1=0.5),
                                       loss=keras.losses.BinaryCrossentropy(from_logits=True), jit_compile=False)
        self.seed, self.seed_generator = seed, keras.random.SeedGenerator(seed)
        self.built = True  # its sub-models are built and it has no weights of its own (checkpoints load at once)
        # heads the mode never uses stay frozen (no "gradients do not exist" warnings)
        self.policy.get_layer("policy_stop").trainable = mode == "bptt_stop"
        self.transformer.get_layer("transformer_flow_log_std").trainable = mode == "pg"
        self.trackers = {k: keras.metrics.Mean(name=k) for k in
                         ("return", "final_distance", "steps", "value_loss", "disc_loss", "realism", "policy_std")}

    def _sample_flow(self, params):
        """Flow of the stochastic transformer and its log-likelihood (eq. 7 or the low-resolution eq. 8)."""
        mean, log_std = params["flow"], params["flow_log_std"]
        h, w = self.image_shape[:2]
        if self.noise_resolution is None:
            noise = ops.exp(log_std) * keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        else:
            k = h // self.noise_resolution
            sigma = ops.average_pool(ops.exp(log_std), k, strides=k, padding="valid")
            eps = keras.random.normal(ops.shape(sigma), seed=self.seed_generator)
            noise = ops.image.resize(sigma * eps, (h, w), interpolation="bilinear")
        flow = ops.stop_gradient(mean + noise)
        # per-pixel mean log-likelihood (a constant rescaling of eq. 6 that keeps T's and pi's terms comparable)
        return flow, agent.gaussian_log_prob(flow, mean, log_std) / float(h * w * 2)

    def _realism_logits(self, states):
        """D's logits with D's weights held fixed (the agent's reward must not train D)."""
        frozen = [ops.stop_gradient(v) for v in self.discriminator.trainable_variables]
        logits, _ = self.discriminator.stateless_call(frozen, self.discriminator.non_trainable_variables, states)
        return logits

    def call(self, inputs, training=False):
        start, goal = inputs
        s, n = start, ops.shape(start)[0]
        states, alive_list, stop_logps, stop_logits, logps, stds = [start], [], [], [], [], []
        alive = ops.ones((n,), start.dtype)
        final = ops.zeros_like(start)
        for t in range(self.n_steps + 1):
            p = self.policy([s, goal])
            if self.mode == "bptt_stop":
                if t == self.n_steps:
                    stop = ops.ones((n,), start.dtype)
                elif training:
                    u = keras.random.uniform((n,), seed=self.seed_generator)
                    stop = ops.cast(u < ops.sigmoid(p["stop_logit"]), start.dtype)
                else:
                    stop = ops.cast(p["stop_logit"] > 0, start.dtype)
                stop_logps.append(agent.bernoulli_log_prob(stop, p["stop_logit"]))
                stop_logits.append(p["stop_logit"])
                alive_list.append(alive)
                final = final + (alive * stop)[:, None, None, None] * s
                alive = alive * (1.0 - stop)
            else:
                alive_list.append(ops.ones((n,), start.dtype))
            if t == self.n_steps:
                break
            std = ops.exp(p["log_std"])
            stds.append(ops.mean(std, axis=1))
            eps = keras.random.normal(ops.shape(p["mean"]), seed=self.seed_generator) if training else 0.0
            if self.mode == "hybrid":  # pi's action is sampled and fixed; T and the states stay differentiable
                a = ops.stop_gradient(p["mean"] + std * eps)
                logps.append(agent.gaussian_log_prob(a, p["mean"], p["log_std"]))
                s = agent.apply_transformations(s, self.transformer([s, a]))
            elif self.mode == "pg":
                a = ops.stop_gradient(p["mean"] + std * eps)
                params = self.transformer([s, a])
                if training:
                    flow, flow_logp = self._sample_flow(params)
                else:
                    flow, flow_logp = params["flow"], 0.0
                logps.append(agent.gaussian_log_prob(a, p["mean"], p["log_std"]) + flow_logp)
                s = ops.stop_gradient(agent.apply_transformations(s, params, flow))
            else:
                s = agent.apply_transformations(s, self.transformer([s, p["mean"] + std * eps]))
            states.append(s)
        if self.mode != "bptt_stop":
            final = s
        alive_steps = ops.stack(alive_list, axis=1)
        steps = ops.sum(alive_steps[:, 1:], axis=1)
        stacked = ops.stack(states, axis=1)
        flat_goals = ops.reshape(ops.repeat(goal[:, None], self.n_steps + 1, axis=1), (-1, *self.image_shape))
        values = self.value([ops.stop_gradient(ops.reshape(stacked, (-1, *self.image_shape))), flat_goals])
        out = {"states": stacked, "final": final, "steps": steps, "alive": alive_steps,
               "values": ops.reshape(values, (n, self.n_steps + 1)), "policy_std": ops.stack(stds, axis=1)}
        if logps:
            out["log_probs"] = ops.stack(logps, axis=1)
        if stop_logps:
            out["stop_log_probs"] = ops.stack(stop_logps, axis=1)
            out["stop_logits"] = ops.stack(stop_logits, axis=1)
        return out

    def rewards(self, episode, start, goal):
        """Per-step rewards (n, n_steps + 1): step penalty and realism of each new state while the
        episode runs, closeness to the goal where it ends, the budget penalty if it never stopped."""
        states, alive = episode["states"], episode["alive"]
        n, T = ops.shape(start)[0], self.n_steps
        new_states = ops.reshape(states[:, 1:], (-1, *self.image_shape))
        realism = ops.reshape(agent.realism_reward(self._realism_logits(new_states)), (n, T))
        moved = alive[:, 1:]  # the episode was still running when state t + 1 was made
        step_r = moved * (agent.step_penalty(1.0, self.per_step) + self.realism_weight * realism)
        step_r = ops.concatenate([step_r, ops.zeros((n, 1), step_r.dtype)], axis=1)
        goal_r = agent.goal_reward(episode["final"], goal, self.distance, self.goal_scale, self.features)
        if self.mode == "bptt_stop":
            over = alive[:, T]
            end_r = goal_r + agent.budget_penalty(over, self.over_budget)
            # the goal reward goes to the step at which the episode stopped
            stopped_at = alive - ops.concatenate([alive[:, 1:], ops.zeros((n, 1), alive.dtype)], axis=1)
        else:
            end_r = goal_r
            stopped_at = ops.concatenate([ops.zeros((n, T), alive.dtype), ops.ones((n, 1), alive.dtype)], axis=1)
        return step_r + stopped_at * end_r[:, None], moved * realism

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        start, goal = x
        ep = y_pred
        r, realism = self.rewards(ep, start, goal)
        returns_to_go = ops.flip(ops.cumsum(ops.flip(r, axis=1), axis=1), axis=1)
        G = ops.stop_gradient(returns_to_go)
        V = ep["values"]
        alive = ep["alive"]
        value_loss = ops.mean(ops.sum(alive * ops.square(V - G), axis=1))
        advantage = ops.stop_gradient(G - V)
        if self.mode == "pg":
            agent_loss = -ops.mean(ops.sum(ep["log_probs"] * advantage[:, :-1], axis=1))
        elif self.mode == "bptt":
            agent_loss = -ops.mean(ops.sum(r, axis=1))
        elif self.mode == "hybrid":
            agent_loss = (-ops.mean(ops.sum(r, axis=1))
                          - ops.mean(ops.sum(ep["log_probs"] * advantage[:, :-1], axis=1)))
        else:
            stop_pg = -ops.mean(ops.sum(alive[:, :-1] * ep["stop_log_probs"][:, :-1] * advantage[:, :-1], axis=1))
            logit = ep["stop_logits"][:, :-1]
            entropy = -(ops.sigmoid(logit) * ops.log_sigmoid(logit) + ops.sigmoid(-logit) * ops.log_sigmoid(-logit))
            agent_loss = (-ops.mean(ops.sum(r, axis=1)) + stop_pg
                          - self.stop_entropy * ops.mean(ops.sum(alive[:, :-1] * entropy, axis=1)))
        fakes = ops.stop_gradient(ops.reshape(ep["states"][:, 1:], (-1, *self.image_shape)))
        reals = ops.concatenate([start, goal], axis=0)
        disc_loss = (ops.mean(ops.softplus(-self.discriminator(reals)))
                     + ops.mean(ops.softplus(self.discriminator(fakes))))
        for key, value in (("return", ops.mean(ops.sum(r, axis=1))), ("value_loss", value_loss),
                           ("final_distance", ops.mean(agent.goal_distance(ep["final"], goal))),  # pixel MSE
                           ("steps", ops.mean(ep["steps"])), ("disc_loss", disc_loss),
                           ("policy_std", ops.sum(alive[:, :-1] * ep["policy_std"]) / ops.maximum(ops.sum(alive[:, :-1]), 1.0)),
                           ("realism", ops.sum(realism) / ops.maximum(ops.sum(alive[:, 1:]), 1.0))):
            self.trackers[key].update_state(value)
        return agent_loss + value_loss + (0.0 if self.discriminator_lr is not None else 1.0) * disc_loss

    def interpolate(self, start, goal, batch_size: int = 256) -> dict[str, np.ndarray]:
        """Run deterministic episodes (mean actions, STOP at p > 0.5) on numpy arrays (n, h, w, c):
        ``states`` (n, n_steps + 1, h, w, c), ``final`` (n, h, w, c), ``steps`` (n,), ``alive`` (n, n_steps + 1)."""
        parts = []
        for i in range(0, len(start), batch_size):
            ep = self([ops.convert_to_tensor(start[i:i + batch_size]), ops.convert_to_tensor(goal[i:i + batch_size])],
                      training=False)
            parts.append({k: ops.convert_to_numpy(ep[k]) for k in ("states", "final", "steps", "alive")})
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def transformation_usage(model: InterpolationAgent, states: np.ndarray, goal: np.ndarray, alive: np.ndarray | None = None,
                         batch_size: int = 256) -> dict[str, np.ndarray]:
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
    sums: dict[str, np.ndarray] = {}
    for t in range(k - 1):
        for i in range(0, n, batch_size):
            s, g = ops.convert_to_tensor(states[i:i + batch_size, t]), ops.convert_to_tensor(goal[i:i + batch_size])
            live = alive[i:i + batch_size, t + 1] > 0
            if not live.any():
                continue
            params = model.transformer([s, model.policy([s, g])["mean"]])
            per_image = {"flow": ops.sqrt(ops.sum(ops.square(params["flow"]), axis=-1))}
            if "recolor_alpha" in params:
                per_image["recolor"] = 1.0 - params["recolor_alpha"]
            if "blend_alpha" in params:
                per_image["synthesis"] = 1.0 - params["blend_alpha"]
            for key, value in per_image.items():
                means = ops.convert_to_numpy(value).reshape(len(live), -1).mean(axis=1)[live]
                sums.setdefault(key, np.zeros((2, k - 1)))[:, t] += (means.sum(), len(means))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {key: total / count for key, (total, count) in sums.items()}


def make_pairs(images: np.ndarray, n_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` random (start, goal) pairs of distinct images from ``images`` (n, h, w[, c]) uint8 or
    float: two float32 arrays (n_pairs, h, w, c) in [0, 1]."""
    x = np.asarray(images)
    x = (x / 255.0 if x.dtype == np.uint8 else x).astype(np.float32)
    x = x[..., None] if x.ndim == 3 else x
    i = rng.integers(len(x), size=n_pairs)
    j = (i + rng.integers(1, len(x), size=n_pairs)) % len(x)
    return x[i], x[j]


class DiscriminatorUpdates(keras.callbacks.Callback):
    """After every agent batch, ``model.discriminator_steps`` updates of the agent's discriminator with
    its own optimizer: ``2 * batch_size`` real images (drawn from ``start`` and ``goal``) against as many
    states of the current agent's deterministic episodes on ``2 * batch_size`` random training pairs
    (the frames after the start, while the episode runs). Draws are seeded by ``seed``. D's optimizer
    state is saved in the agent's checkpoints (:func:`latentlab.models.fit`) and restored on resume."""

    def __init__(self, start: np.ndarray, goal: np.ndarray, batch_size: int, seed: int = 0):
        super().__init__()
        self.start, self.goal, self.batch_size = start, goal, int(batch_size)
        self.rng = np.random.default_rng(seed)

    def on_train_batch_end(self, batch, logs=None):
        model, n = self.model, 2 * self.batch_size
        i = self.rng.integers(len(self.start), size=n)
        ep = model.predict_on_batch([self.start[i], self.goal[i]])
        frames = np.asarray(ep["states"])[:, 1:][np.asarray(ep["alive"])[:, 1:] > 0]
        if not len(frames):
            return
        fakes = frames[self.rng.choice(len(frames), size=n, replace=len(frames) < n)]
        j = self.rng.integers(2 * len(self.start), size=n)
        reals = np.where((j < len(self.start))[:, None, None, None], self.start[j % len(self.start)],
                         self.goal[j % len(self.start)])
        x = np.concatenate([reals, fakes])
        y = np.concatenate([np.ones(n, np.float32), np.zeros(n, np.float32)])
        for _ in range(model.discriminator_steps):
            model.discriminator.train_on_batch(x, y)


def train_agent(model: InterpolationAgent, start: np.ndarray, goal: np.ndarray, *, epochs: int, batch_size: int = 32,
                learning_rate: float = 3e-3, checkpoint_dir=None, verbose=2) -> dict[str, list[float]]:
    """Compile ``model`` (Adam, gradient norm clipped at 1, no XLA) and train it on the pairs with
    :func:`latentlab.models.fit` (resumable; a NaN loss raises :class:`~latentlab.errors.TrainingError`).
    Returns the per-epoch history: loss, return, final_distance, steps, value_loss, disc_loss, realism,
    policy_std. An agent with ``discriminator_lr`` gets its discriminator updates from a
    :class:`DiscriminatorUpdates` callback on these pairs."""
    if not model.compiled:  # no XLA: on a 2-core CPU it compiled the 15-step episode 2x slower and ran no faster
        model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0), jit_compile=False)
    callbacks = [] if model.discriminator_lr is None else [DiscriminatorUpdates(start, goal, batch_size, model.seed)]
    return fit(model, [start, goal], epochs=epochs, batch_size=batch_size, checkpoint_dir=checkpoint_dir,
               verbose=verbose, n_samples=len(start), callbacks=callbacks)


def cross_dissolve(start: np.ndarray, goal: np.ndarray, n_frames: int) -> np.ndarray:
    """Pixel cross-dissolve: (n, h, w, c) pairs -> (n, n_frames, h, w, c), ``(1 - t) start + t goal``."""
    t = np.linspace(0.0, 1.0, n_frames, dtype=np.float32)[None, :, None, None, None]
    return (1 - t) * start[:, None] + t * goal[:, None]


def latent_interpolation(encode, decode, start: np.ndarray, goal: np.ndarray, n_frames: int) -> np.ndarray:
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


def path_scores(paths: np.ndarray, goals: np.ndarray, discriminator: keras.Model, references: np.ndarray,
                alive: np.ndarray | None = None, classifier: keras.Model | None = None) -> dict[str, float]:
    """Score interpolation paths (n, k, h, w, c) whose last live frame is the end point, against
    ``goals`` (n, h, w, c). ``alive`` (n, k) marks the frames that exist (default: all). Returns the
    mean ``final_distance`` (per-pixel MSE of the end point to the goal), ``realism`` (mean
    discriminator probability of the frames after the first), ``nearest_real`` (mean Euclidean distance of
    those frames to the nearest of ``references`` (m, h, w, c), lower = closer to real images),
    ``detail`` (their mean :func:`~latentlab.metrics.detail_energy`, to compare with real images') and
    ``steps`` (mean number of frames after the first); with a ``classifier`` (images -> class scores),
    also ``reads_as_goal``: the share of paths whose end point it assigns the class it assigns the goal."""
    paths = np.asarray(paths, np.float32)
    n, k = paths.shape[:2]
    alive = np.ones((n, k), np.float32) if alive is None else np.asarray(alive, np.float32)
    last = alive.sum(1).astype(int) - 1
    final = paths[np.arange(n), last]
    inner = paths[:, 1:][alive[:, 1:] > 0]
    if len(inner) == 0:
        inner = final
    prob = ops.convert_to_numpy(ops.sigmoid(discriminator.predict(inner, batch_size=512, verbose=0)))
    nearest = nearest_distances(inner.reshape(len(inner), -1), references.reshape(len(references), -1))[0]
    scores = {"final_distance": float(((final - goals) ** 2).mean()), "realism": float(prob.mean()),
              "nearest_real": float(nearest.mean()), "detail": float(detail_energy(inner).mean()),
              "steps": float(last.mean())}
    if classifier is not None:
        read = [np.argmax(classifier.predict(x, batch_size=512, verbose=0), axis=-1) for x in (final, goals)]
        scores["reads_as_goal"] = float((read[0] == read[1]).mean())
    return scores

