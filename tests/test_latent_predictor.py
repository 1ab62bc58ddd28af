"""The middle-latent predictor the ATD-12K paper proposed as future work (latentlab.models.latent_predictor), its
stream of latents and its training (latentlab.experiments.triplet_passes), on the latents a small AutoencoderKL
writes for real frames of the offline ATD-12K stand-in."""

import shutil

import keras
import numpy as np
import pytest

from latentlab.data import atd12k
from latentlab.errors import DataFormatError, ParameterError
from latentlab.experiments import triplet_passes
from latentlab.experiments.triplet_passes import (
    GUESSES,
    LATENT_MSE,
    PREDICTED,
    LatentTriplets,
    guess_middle_frames,
    reconstruct,
    train_middle_latent_predictor,
)
from latentlab.latent.paths import slerp
from latentlab.models import build_middle_latent_predictor

SIZE = 16  # frames; the VAE below halves them once, so each latent is (8, 8, 4)


@pytest.fixture(scope="module")
def setting(atd12k_offline, tmp_path_factory):
    """(triplets, frame cache, VAE, latent folder, training rows, test rows), the latents written by reconstruct."""
    from latentlab.models import AutoencoderKL, AutoencoderKLConfig

    chosen = atd12k.select(atd12k_offline, {"train": 16, "test": 4})
    cache = atd12k.cache_frames(chosen, tmp_path_factory.mktemp("cache") / "f.npy", SIZE, verbose=False)
    keras.utils.set_random_seed(0)
    vae = AutoencoderKL(AutoencoderKLConfig(block_out_channels=(4, 8), layers_per_block=1, norm_num_groups=2))
    dest = tmp_path_factory.mktemp("latents")
    reconstruct(vae, cache, chosen, dest, batch_size=32, chunk=32, progress=False)
    train = [i for i, t in enumerate(chosen) if t.split == "train"]
    test = [i for i, t in enumerate(chosen) if t.split == "test"]
    return chosen, cache, vae, dest, train, test


def latents(setting, rows):
    chosen, _, _, dest, _, _ = setting
    return atd12k.read_triplet_latents(dest, [chosen[r] for r in rows])


def predictor(seed=0):
    keras.utils.set_random_seed(seed)
    return build_middle_latent_predictor((SIZE // 2, SIZE // 2, 4), width=8)


def test_the_untrained_predictor_is_exactly_the_midpoint(setting):
    z = latents(setting, setting[4])
    model = predictor()
    out = keras.ops.convert_to_numpy(model(np.concatenate([z[:, 0], z[:, 2]], -1)))
    assert out.shape == z[:, 1].shape == (16, 8, 8, 4)
    np.testing.assert_array_equal(out, (z[:, 0] + z[:, 2]) / 2)
    assert not np.array_equal(out, z[:, 1]), "the midpoint is not already frame 2's latent"
    assert model.get_layer("conv0").get_weights()[0].any(), "only the last layer starts at zero"
    for bad in ((8, 8), (8, 0, 4), (8, 8, 4.0), "884"):
        with pytest.raises(ParameterError, match="latent_shape"):
            build_middle_latent_predictor(bad)
    with pytest.raises(ParameterError, match="width"):
        build_middle_latent_predictor((8, 8, 4), width=0)


def test_the_stream_gives_seeded_pairs_a_batch_at_a_time(setting, monkeypatch, tmp_path):
    chosen, _, _, dest, train, _ = setting
    z = latents(setting, train)
    reads = []
    read = atd12k.read_triplet_latents
    monkeypatch.setattr(atd12k, "read_triplet_latents", lambda d, ts: reads.append(len(ts)) or read(d, ts))
    data = LatentTriplets(dest, chosen, train, batch_size=3, seed=1)
    assert data.n_samples == 16 and len(data) == 6 and data.latent_shape == (8, 8, 4)
    assert max(reads) == 1, "the fingerprint reads one triplet at a time"
    reads.clear()
    order = data.order()
    assert sorted(order) == list(range(16)) and order.tolist() != list(range(16))
    batches = [data[i] for i in range(len(data))]
    assert reads == [3, 3, 3, 3, 3, 1], "each batch reads its own triplets, never more"
    x, y = (np.concatenate(parts) for parts in zip(*batches))
    np.testing.assert_array_equal(x, np.concatenate([z[order, 0], z[order, 2]], -1))
    np.testing.assert_array_equal(y, z[order, 1])
    np.testing.assert_array_equal(LatentTriplets(dest, chosen, train, batch_size=3, seed=1).order(), order)
    assert not np.array_equal(LatentTriplets(dest, chosen, train, batch_size=3, seed=2).order(), order)
    data.on_epoch_end()
    assert data.epoch == 1 and not np.array_equal(data.order(), order)

    stream = LatentTriplets(dest, chosen, train, batch_size=3, seed=1)
    tf_batches = stream.stream()
    for epoch in (0, 1):
        got = [(a.numpy(), b.numpy()) for a, b in tf_batches]
        want = [stream[i] for i in range(len(stream))]
        assert stream.epoch == epoch and len(got) == 6, "a new pass over the stream is the next epoch"
        for (a, b), (c, d) in zip(got, want):
            np.testing.assert_array_equal(a, c)
            np.testing.assert_array_equal(b, d)
    stream.follow_epochs().on_epoch_begin(5)
    first = next(iter(tf_batches))[1].numpy()
    np.testing.assert_array_equal(first, z[stream.order(5)[:3], 1])
    assert stream.epoch == 5, "the epoch fit announces is the one streamed"

    assert LatentTriplets(dest, chosen, train, seed=1).fingerprint == data.fingerprint
    assert LatentTriplets(dest, chosen, train, seed=2).fingerprint != data.fingerprint
    assert LatentTriplets(dest, chosen, train[1:], seed=1).fingerprint != data.fingerprint
    changed = tmp_path / "latents"
    shutil.copytree(dest, changed)
    path = atd12k.latent_folder(changed, chosen[train[0]]) / "latent2.npy"
    np.save(path, np.load(path) + 1)
    assert LatentTriplets(changed, chosen, train, seed=1).fingerprint != data.fingerprint, "a latent changed"


def test_training_beats_the_midpoint_and_resumes_instead_of_retraining(setting, tmp_path, monkeypatch):
    chosen, cache, vae, dest, train, _ = setting
    args = dict(batch_size=4, seed=0, learning_rate=1e-2, verbose=0)
    whole = predictor()
    history = train_middle_latent_predictor(whole, dest, chosen, train, 6, **args)
    assert whole.compiled and len(history["loss"]) == 6 and history["loss"][-1] < history["loss"][0]

    scores, kept = guess_middle_frames(
        vae, cache, chosen, train, dest, 16, keep=[train[0]], progress=False, predictor=whole
    )
    z = latents(setting, train)
    predicted = whole.predict(np.concatenate([z[:, 0], z[:, 2]], -1), verbose=0)
    np.testing.assert_allclose(scores[PREDICTED][LATENT_MSE], ((predicted - z[:, 1]) ** 2).mean((1, 2, 3)), rtol=1e-5)
    assert scores[PREDICTED][LATENT_MSE].mean() < 0.95 * scores["latent midpoint"][LATENT_MSE].mean()
    decoded = atd12k.to_unit_range(vae.decode(predicted[:1]))[0]
    np.testing.assert_allclose(kept[train[0]][PREDICTED], decoded, atol=1e-5)

    def eager(model):  # compiled as the function would, run eagerly: no tracing for the checks below
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", run_eagerly=True)
        return model

    ckpt = tmp_path / "ckpt"
    train_middle_latent_predictor(eager(predictor()), dest, chosen, train, 3, checkpoint_dir=ckpt, **args)
    resumed = eager(predictor())
    again = train_middle_latent_predictor(resumed, dest, chosen, train, 6, checkpoint_dir=ckpt, **args)
    np.testing.assert_allclose(again["loss"], history["loss"], rtol=1e-4)
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-6, err_msg="epochs 4-6 saw the batches of an unbroken run")

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run trained again")

    monkeypatch.setattr(keras.Model, "fit", no_training)
    done = predictor(seed=1)
    assert train_middle_latent_predictor(done, dest, chosen, train, 6, checkpoint_dir=ckpt, **args) == again
    for a, b in zip(done.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_guesses_add_the_prediction_and_score_latent_guesses_in_the_latent(setting):
    chosen, cache, vae, dest, _, test = setting
    scores, kept = guess_middle_frames(
        vae, cache, chosen, test, dest, 4, keep=test, chunk=3, progress=False, predictor=predictor()
    )
    assert list(scores) == [*GUESSES, PREDICTED]
    z = latents(setting, test)
    z1, z2, z3 = (z[:, j].reshape(len(test), -1) for j in range(3))
    np.testing.assert_allclose(scores["latent midpoint"][LATENT_MSE], (((z1 + z3) / 2 - z2) ** 2).mean(1), rtol=1e-6)
    np.testing.assert_allclose(scores["latent slerp"][LATENT_MSE], ((slerp(z1, z3, 0.5) - z2) ** 2).mean(1), rtol=1e-5)
    for name in ("frame 1 (no motion)", "pixel average"):
        assert sorted(scores[name]) == ["mse", "psnr", "ssim"], "a pixel guess has no latent to score"
    for m in ("mse", "psnr", "ssim", LATENT_MSE):
        np.testing.assert_array_equal(scores[PREDICTED][m], scores["latent midpoint"][m], err_msg=m)
    np.testing.assert_array_equal(kept[test[-1]][PREDICTED], kept[test[-1]]["latent midpoint"])
    assert scores[PREDICTED]["mse"].shape == (len(test),)

    plain, _ = guess_middle_frames(vae, cache, chosen, test, dest, 4, progress=False)
    assert list(plain) == list(GUESSES) and LATENT_MSE in plain["latent slerp"]


def test_bad_arguments_say_what_to_give(setting, atd12k_offline):
    chosen, cache, vae, dest, train, test = setting
    model = predictor()
    for kwargs, what in (
        (dict(rows=[]), "at least one row"),
        (dict(rows=[0, len(chosen)]), "rows span"),
        (dict(rows=[0.5]), "whole row numbers"),
        (dict(epochs=0), "epochs"),
        (dict(epochs=2.0), "epochs"),
        (dict(batch_size=0), "batch_size"),
        (dict(learning_rate=0), "learning_rate"),
        (dict(seed=-1), "seed"),
        (dict(model=build_middle_latent_predictor((4, 4, 4))), "build_middle_latent_predictor"),
    ):
        call = dict(model=model, latent_dest=dest, triplets=chosen, rows=train, epochs=1, verbose=0) | kwargs
        with pytest.raises(ParameterError, match=what):
            train_middle_latent_predictor(**call)
    assert not model.compiled, "nothing was trained or compiled"
    for wrong in (build_middle_latent_predictor((8, 8, 3)), "a model"):
        with pytest.raises(ParameterError, match="build_middle_latent_predictor"):
            guess_middle_frames(vae, cache, chosen, test, dest, progress=False, predictor=wrong)
    unwritten = [t for t in atd12k_offline if t not in chosen][:1]
    with pytest.raises(DataFormatError, match="write the latents again"):
        LatentTriplets(dest, unwritten, [0])
    assert triplet_passes.LATENT_GUESSES == ("latent midpoint", "latent slerp", PREDICTED)
