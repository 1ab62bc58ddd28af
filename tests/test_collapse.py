"""Notebook 03's fine-tuning with the paper's loss, probed after every epoch, on frames of the offline ATD-12K
stand-in (a real clip) through a tiny AutoencoderKL."""

import warnings

import keras
import numpy as np
import pytest

from latentlab import metrics
from latentlab.data import atd12k
from latentlab.data.frame_cache import CropBatches
from latentlab.errors import ParameterError
from latentlab.experiments.collapse import PROBE, collapse_probe, finetune_with_probes, mean_frame_mse
from latentlab.models import AutoencoderKL, AutoencoderKLConfig

SIZE = 16


@pytest.fixture(scope="module")
def frames(atd12k_offline, tmp_path_factory):
    chosen = atd12k.select(atd12k_offline, {"train": 2, "test": 2})
    cache = atd12k.cache_frames(chosen, tmp_path_factory.mktemp("cache") / "f.npy", SIZE, verbose=False)
    split = np.array([t.split for t in chosen])
    train, test = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    held = atd12k.to_model_range(cache.read(test).reshape(-1, SIZE, SIZE, 3))
    mean_frame = atd12k.to_model_range(cache.mean(train).mean(0))
    return cache, train, held, mean_frame


def _vae(weights=None):
    keras.utils.set_random_seed(0)
    vae = AutoencoderKL(
        AutoencoderKLConfig(block_out_channels=(4, 8), layers_per_block=1, norm_num_groups=2),
        kl_weight=1.0,
        seed=0,
        name="vae",  # the same name every time: a checkpoint is resumed only by a model of its name
    )
    vae.compile(optimizer=keras.optimizers.Adam(3e-3), run_eagerly=True)  # no tracing: fast for a tiny model
    if weights is not None:
        vae.set_weights(weights)
    return vae


class _Average:
    """A VAE whose every output is the same frame: what the paper's fine-tuning drifts towards."""

    def __init__(self, frame):
        self.frame = frame

    def encode(self, x, batch_size=8):
        return np.zeros((len(x), 2, 2, 4), np.float32), np.zeros((len(x), 2, 2, 4), np.float32)

    def decode(self, z, batch_size=8):
        return np.repeat(self.frame[None], len(z), 0)


def test_the_probe_tells_an_input_dependent_model_from_one_that_outputs_the_mean_frame(frames):
    _, _, held, mean_frame = frames
    numbers, out = collapse_probe(_vae(), held, mean_frame, batch_size=4, keep_first=5)
    assert list(numbers) == list(PROBE) and out.shape == (5, *held.shape[1:])
    assert all(np.isfinite(list(numbers.values())))
    assert numbers["output spread / input spread"] > 0 and numbers["KL per image"] > 0
    collapsed, out = collapse_probe(_Average(mean_frame), held, mean_frame)
    assert collapsed["output spread / input spread"] == 0 and collapsed["MSE to the mean frame"] == 0
    assert collapsed["KL per image"] == 0, "a posterior equal to the prior costs no KL"
    assert collapsed["MSE ([-1, 1])"] == pytest.approx(np.mean((held - mean_frame) ** 2), rel=1e-6)
    assert mean_frame_mse(held, mean_frame) == pytest.approx(np.mean((held - mean_frame) ** 2), rel=1e-6)
    with pytest.raises(ParameterError, match="mean frame"):
        collapse_probe(_vae(), held, mean_frame[:8])
    with pytest.raises(ParameterError, match="at least 2 frames"):
        collapse_probe(_vae(), held[:1], mean_frame)
    with pytest.raises(ParameterError, match="keep_first"):
        collapse_probe(_vae(), held, mean_frame, keep_first=-1)


def test_the_probe_batch_by_batch_gives_the_numbers_of_the_whole_batch(frames):
    cache, train, held, mean_frame = frames
    vae = _vae()
    mean, logvar = vae.encode(held, batch_size=64)
    out = vae.decode(mean, batch_size=64)
    whole = {
        PROBE[0]: np.mean((out - held) ** 2, dtype=np.float64),
        PROBE[1]: (0.5 * (mean**2 + np.exp(logvar) - 1 - logvar).sum((1, 2, 3))).mean(),
        PROBE[2]: metrics.across_image_variance(out) / metrics.across_image_variance(held),
        PROBE[3]: np.mean((out - mean_frame) ** 2, dtype=np.float64),
    }
    test = np.setdiff1d(np.arange(len(cache)), train)
    raw = cache.read(test).reshape(held.shape)  # the same frames as the cache holds them, uint8
    for given in (held, raw):  # floats in [-1, 1], or uint8 brought there a batch at a time
        numbers, kept = collapse_probe(vae, given, mean_frame, batch_size=3, keep_first=4)
        assert numbers == pytest.approx(whole, rel=1e-5)
        np.testing.assert_allclose(kept, out[:4], atol=1e-5)


def test_fine_tuning_is_probed_after_every_epoch_and_a_rerun_resumes_each_epoch(frames, tmp_path):
    cache, train, held, mean_frame = frames
    start = _vae().get_weights()
    whole = CropBatches(cache, train, SIZE, None, 6, seed=0, transform=atd12k.to_model_range)
    assert whole.n_samples == 3 * len(train) and not whole.pos.any(), "whole frames: one crop per frame, at (0, 0)"

    def run(vae, root, epochs):
        return finetune_with_probes(
            vae, whole, epochs, lambda: collapse_probe(vae, held, mean_frame, 6)[0], root, verbose=0
        )

    vae = _vae(start)
    history, probes = run(vae, tmp_path / "ft", 2)
    assert len(probes) == 3 and all(len(v) == 2 for v in history.values())
    assert probes[0] == collapse_probe(_vae(start), held, mean_frame, 6)[0], "the first probe is before training"
    assert probes[2]["MSE ([-1, 1])"] != probes[0]["MSE ([-1, 1])"], "the model was trained"
    assert sorted(p.name for p in (tmp_path / "ft").iterdir()) == ["epoch1", "epoch2"]
    again = _vae(start)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checkpoint set aside (and training from scratch) would warn
        history2, probes2 = run(again, tmp_path / "ft", 2)
    assert probes2 == probes and history2 == history, "a rerun resumes both epochs and probes the same weights"
    assert int(again.optimizer.iterations) == int(vae.optimizer.iterations), "and takes the optimizer's state too"
    with pytest.raises(ParameterError, match="epochs"):
        run(_vae(start), tmp_path / "other", 0)


def test_without_checkpoints_each_epoch_trains_once(frames):
    cache, train, held, mean_frame = frames
    whole = CropBatches(cache, train, SIZE, None, 6, seed=0, transform=atd12k.to_model_range)
    vae = _vae()
    history, probes = finetune_with_probes(vae, whole, 2, lambda: {"steps": int(vae.optimizer.iterations)}, None, 0)
    steps = int(np.ceil(whole.n_samples / 6))
    assert [p["steps"] for p in probes] == [0, steps, 2 * steps] and len(history["loss"]) == 2
