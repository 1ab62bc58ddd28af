"""Notebook 03's streamed passes (latentlab.experiments.triplet_passes) give what the same analysis gives with
every frame in memory, on real frames of the offline ATD-12K stand-in and a small AutoencoderKL, whatever the
number of triplets per chunk."""

import numpy as np
import pytest

from latentlab import metrics
from latentlab.data import atd12k
from latentlab.errors import ParameterError
from latentlab.experiments.triplet_passes import GUESSES, guess_middle_frames, reconstruct
from latentlab.latent.paths import slerp
from latentlab.latent.triplets import path_geometry, triplet_structure

SIZE = 32


def held_bytes(arrays):
    """Bytes of memory the arrays keep alive: each one's own buffer or, for a view, the whole array it views."""
    owners = {}
    for a in arrays:
        while isinstance(a.base, np.ndarray):
            a = a.base
        owners[id(a)] = a.nbytes
    return sum(owners.values())


@pytest.fixture(scope="module")
def setting(atd12k_offline, tmp_path_factory):
    from latentlab.models import AutoencoderKL, AutoencoderKLConfig

    chosen = atd12k.select(atd12k_offline, {"train": 3, "test": 4})
    cache = atd12k.cache_frames(chosen, tmp_path_factory.mktemp("cache") / "f.npy", SIZE, verbose=False)
    vae = AutoencoderKL(AutoencoderKLConfig(block_out_channels=(4, 8, 8, 8), layers_per_block=1, norm_num_groups=2))
    return chosen, cache, vae, atd12k.load_frames(chosen, SIZE)


@pytest.fixture(scope="module")
def passed(setting, tmp_path_factory):
    chosen, cache, vae, _ = setting
    dest = tmp_path_factory.mktemp("latents")
    return reconstruct(vae, cache, chosen, dest, batch_size=4, keep=[1, 5], chunk=2, progress=False), dest


def test_reconstruct_scores_and_writes_what_the_whole_batch_gives(setting, passed):
    chosen, _, vae, frames = setting
    out, dest = passed
    flat = frames.reshape(-1, SIZE, SIZE, 3)
    z, _ = vae.encode(atd12k.to_model_range(flat), batch_size=64)
    recon = atd12k.to_unit_range(vae.decode(z, batch_size=64))
    truth = flat.astype(np.float32) / 255
    whole = metrics.image_quality(truth, recon)
    for m in ("mse", "psnr", "ssim"):
        np.testing.assert_allclose(out.quality[m], whole[m], rtol=1e-3, atol=1e-4)
    assert out.mean_squared_error == pytest.approx(np.mean((truth - recon) ** 2), rel=1e-4)
    assert out.mean_squared_error == pytest.approx(out.quality["mse"].mean(), rel=1e-4)
    assert len(out.latent_files) == 3 * len(chosen) and all(p.is_relative_to(dest) for p in out.latent_files)
    written = atd12k.read_triplet_latents(dest, chosen)
    np.testing.assert_allclose(written, z.reshape(len(chosen), 3, *z.shape[1:]), rtol=1e-4, atol=1e-5)
    for got, want in zip(out.pixel_path, path_geometry(frames.reshape(len(chosen), 3, -1))):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert sorted(out.kept) == [1, 5]
    np.testing.assert_array_equal(out.kept[5][0], truth[15:18])
    np.testing.assert_allclose(out.kept[5][1], recon[15:18], atol=1e-4)
    images = [a for pair in out.kept.values() for a in pair]  # not views that keep their chunks' frames alive
    assert held_bytes(images) == sum(a.nbytes for a in images)


def test_middle_frame_guesses_match_the_in_memory_ones(setting, passed):
    chosen, cache, vae, frames = setting
    _, dest = passed
    test = [i for i, t in enumerate(chosen) if t.split == "test"]
    scores, kept = guess_middle_frames(
        vae, cache, chosen, test, dest, batch_size=4, keep=[test[-1]], chunk=3, progress=False
    )
    truth = frames[test].astype(np.float32) / 255
    z = atd12k.read_triplet_latents(dest, [chosen[i] for i in test])
    z1, z3 = z[:, 0].reshape(len(test), -1), z[:, 2].reshape(len(test), -1)

    def decode(codes):
        return atd12k.to_unit_range(vae.decode(codes.reshape(-1, *z.shape[2:]), batch_size=64))

    expected = [truth[:, 0], (truth[:, 0] + truth[:, 2]) / 2, decode((z1 + z3) / 2), decode(slerp(z1, z3, 0.5))]
    assert list(scores) == list(GUESSES)
    for name, images in zip(GUESSES, expected):
        want = metrics.image_quality(truth[:, 1], images)
        for m in ("mse", "ssim"):
            np.testing.assert_allclose(scores[name][m], want[m], rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(kept[test[-1]][name], images[-1], atol=1e-4)
    assert held_bytes(kept[test[-1]].values()) == sum(a.nbytes for a in kept[test[-1]].values())
    assert scores["frame 1 (no motion)"]["mse"].shape == (len(test),)


def test_pixel_path_measures_replace_the_frames(setting):
    _, _, _, frames = setting
    zt = np.random.default_rng(0).normal(size=(len(frames), 3, 8))
    by_frames = triplet_structure(zt, frames)
    assert triplet_structure(zt, pixel_path=path_geometry(frames)) == by_frames
    assert "frame 2 off the midpoint (pixels)" not in triplet_structure(zt)
    with pytest.raises(ParameterError, match="not both"):
        triplet_structure(zt, frames, pixel_path=path_geometry(frames))


def test_a_cache_of_other_triplets_is_refused(setting, tmp_path):
    chosen, cache, vae, _ = setting
    with pytest.raises(ParameterError, match="same list"):
        reconstruct(vae, cache, chosen[:-1], tmp_path, progress=False)
    with pytest.raises(ParameterError, match="chunk"):
        reconstruct(vae, cache, chosen, tmp_path, chunk=0, progress=False)
