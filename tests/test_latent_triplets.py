import numpy as np
import pytest

from latentlab.errors import ParameterError
from latentlab.latent.projection import embed, embed_all
from latentlab.latent.triplets import (
    frame_index_accuracy,
    path_shape,
    triplet_structure,
    within_between_ratio,
    within_share_of_variance,
)


def _scenes(n=60, d=16, step=0.1, seed=0):
    """Codes of n triplets: a random scene per triplet, frames 1-3 a small straight step apart."""
    rng = np.random.default_rng(seed)
    scene, direction = rng.normal(size=(n, 1, d)), rng.normal(size=(n, 1, d))
    return scene + step * direction * np.array([0.0, 1.0, 2.0])[None, :, None]


def test_straight_evenly_spaced_triplets_have_frame_2_at_the_midpoint():
    off, cos = path_shape(_scenes())
    assert off == pytest.approx(0.0, abs=1e-12) and cos == pytest.approx(1.0)
    bent = _scenes()
    bent[:, 1] += 5.0  # frame 2 far off the line
    assert path_shape(bent)[0] > 1 and path_shape(bent)[1] < 0.9


def test_codes_grouped_by_scene_hide_the_frame_index():
    zt = _scenes()
    assert within_between_ratio(zt) < 0.1 and within_share_of_variance(zt) < 0.01
    assert frame_index_accuracy(zt) < 0.6, "neighbours are the other frames of the scene, whatever their index"
    timed = zt.copy()
    timed[:, :, 0] += np.array([0.0, 50.0, 100.0])  # one component that tells time
    assert frame_index_accuracy(timed) > 0.95


def test_the_between_triplet_distance_is_subsampled_and_seeded():
    zt = _scenes(400)
    full = within_between_ratio(zt, max_items=1200)
    small = within_between_ratio(zt, max_items=300, seed=1)
    assert small == within_between_ratio(zt, max_items=300, seed=1) and small == pytest.approx(full, rel=0.1)
    assert set(triplet_structure(zt[:20], zt[:20])) >= {
        "frame 2 off the midpoint (pixels)",
        "within / between triplets, latent distance",
    }
    with pytest.raises(ParameterError):
        path_shape(np.zeros((5, 2, 3)))


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embeddings_keep_separate_scenes_apart(method):
    zt = _scenes(20, step=0.01)
    coords = embed(zt.reshape(60, -1), method, seed=0).reshape(20, 3, 2)
    within = np.linalg.norm(coords[:, 0] - coords[:, 2], axis=1).mean()
    between = np.linalg.norm(coords[:, None, 0] - coords[None, :, 0], axis=-1).mean()
    assert coords.shape == (20, 3, 2) and within < 0.2 * between
    with pytest.raises(ParameterError, match="choose one of"):
        embed(zt.reshape(60, -1), "lle")


def test_maps_made_in_turn_show_a_bar_and_unknown_methods_fail_before_any_map(capsys, monkeypatch):
    z = _scenes(20, step=0.01).reshape(60, -1)
    views = embed_all(z, ["pca", "tsne"], seed=0)
    assert list(views) == ["pca", "tsne"]
    for method, coords in views.items():
        np.testing.assert_array_equal(coords, embed(z, method, seed=0))
    assert "2-d maps of 60 codes" in capsys.readouterr().err
    assert list(embed_all(z, ["pca"], progress=False)) == ["pca"] and "2-d maps" not in capsys.readouterr().err
    made = []
    monkeypatch.setattr("latentlab.latent.projection.embed", lambda *a: made.append(a))
    with pytest.raises(ParameterError, match=r"\['lle'\]"):
        embed_all(z, ["pca", "lle"])
    assert made == []


def test_pca_map_of_wide_codes_is_the_covariance_pca(n=30):
    """Fewer codes than dimensions (SD latents: 4,096 numbers a frame) go through the (n, n) Gram matrix: the
    same two coordinates, up to each axis's sign, as projecting on the covariance's principal axes."""
    from latentlab.latent.projection import pca

    z = np.random.default_rng(n).normal(size=(n, 120)) * np.linspace(3.0, 0.1, 120)
    coords = embed(z, "pca")
    reference = pca(z).project(z, 2)
    assert coords.shape == (n, 2)
    np.testing.assert_allclose(np.abs(coords), np.abs(reference), rtol=1e-5, atol=1e-5)  # float32 codes
