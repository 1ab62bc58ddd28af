"""Hostile inputs to latentlab.latent and latentlab.experiments (issue 18): degenerate classes, labels that were
never fitted, fractional counts and nodes, NaN codes, codes that do not match their graph: each a ParameterError
that names the problem, where they used to give a raw traceback or a silently wrong number."""

import numpy as np
import pytest

from latentlab.errors import ParameterError
from latentlab.experiments import gmm_sweep, grid_search, surfing
from latentlab.latent import ClassGaussian, ClassGMM, graph, paths, projection, sample_per_class, statistics, triplets


@pytest.fixture(scope="module")
def codes():
    """Three well separated 2-d clusters of 30 codes, labels 0, 1, 2."""
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(c, 0.3, (30, 2)) for c in ((0, 0), (4, 0), (0, 4))])
    return z, np.repeat([0, 1, 2], 30)


def test_a_class_with_one_code_is_refused_by_the_gaussian_sampler(codes):
    z, y = codes
    lonely = np.append(y[:-1], 7)
    with pytest.raises(ParameterError, match=r"classes \[7\] have a single code"):
        ClassGaussian().fit(z, lonely)  # np.cov of one row is NaN: sampling used to fail in eigh
    one_d = ClassGaussian().fit(z[:, :1], y)  # (n, 1) codes used to give 0-d covariances
    assert one_d.sample(1, 5, np.random.default_rng(0)).shape == (5, 1)


def test_labels_that_were_never_fitted_get_no_score(codes):
    z, y = codes
    gmm = ClassGMM(2, seed=0).fit(z[y < 2], y[y < 2])
    with pytest.raises(ParameterError, match=r"labels \[2\] were never fitted"):
        gmm.score(z, y)  # class 2's codes used to count in the mean for nothing
    with pytest.raises(ParameterError, match="never fitted"):
        gmm.bic(z, y)
    only_one = gmm.score(z[y == 1], y[y == 1])  # held-out codes of some fitted classes only: fine
    assert only_one == pytest.approx(gmm.mixtures_[1].score(z[y == 1]))
    with pytest.raises(ParameterError, match="components"):
        gmm.score(np.zeros((3, 5)), np.zeros(3, int))


def test_sampler_arguments_are_checked(codes):
    z, y = codes
    g = ClassGaussian().fit(z, y)
    rng = np.random.default_rng(0)
    for n in (-1, 2.5, True):
        with pytest.raises(ParameterError, match="n="):
            g.sample(0, n, rng)
    with pytest.raises(ParameterError, match="Generator"):
        g.sample(0, 3, 42)
    for bad in (dict(covariance_type="ful"), dict(reg_covar=-1.0), dict(max_iter=0), dict(n_components=2.5)):
        with pytest.raises(ParameterError):
            ClassGMM(**bad)
    with pytest.raises(ParameterError, match="not fitted"):
        sample_per_class(ClassGaussian(), 3, rng)
    with pytest.raises(ParameterError, match="n_per_class"):
        sample_per_class(g, 0, rng)
    with pytest.raises(ParameterError, match="labels contain NaN"):
        ClassGaussian().fit(z, np.where(y == 0, np.nan, y))
    with pytest.raises(ParameterError, match="cov_scale"):
        ClassGaussian("0.5")


def test_gmm_sweep_needs_ks_and_matching_fitted_mixtures(codes):
    z, y = codes
    with pytest.raises(ParameterError, match="ks is empty"):
        gmm_sweep.gmm_sweep(z, y, z, y, ks=[])
    with pytest.raises(ParameterError, match=r"fitted\[3\]"):
        gmm_sweep.gmm_sweep(z, y, z, y, ks=[3], fitted={3: ClassGMM(2)})


def test_graph_nodes_counts_and_codes_are_checked(codes):
    z, _ = codes
    g = graph.knn_graph(z, k=5)
    with pytest.raises(ParameterError, match="k=2.5"):
        graph.knn_graph(z, k=2.5)  # used to be truncated to 2
    for node in (1.5, -1, 90, True, float("nan")):
        with pytest.raises(ParameterError, match="not a node"):
            graph.shortest_path(g, node, 3)
    with pytest.raises(ParameterError, match="n_frames"):
        graph.surf(z, [0, 1], 2.5)
    with pytest.raises(ParameterError, match="nodes must lie"):
        graph.surf(z, [0, 200], 4)
    with pytest.raises(ParameterError, match="89 codes but the graph has 90 nodes"):
        graph.surfing_path(z[:-1], g, 0, 5, 4)
    with pytest.raises(ParameterError, match="Generator"):
        graph.most_detoured_pair(z, g, 10, rng=1)
    with pytest.raises(ParameterError, match="n_candidates"):
        graph.most_detoured_pair(z, g, -3, np.random.default_rng(0))
    with pytest.raises(ParameterError, match="start=90"):
        graph.interpolation_codes(z, 90, 1, 4, {"knn": g})
    for eps in (float("inf"), "0.5", 0.0):
        with pytest.raises(ParameterError, match="eps"):
            graph.epsilon_graph(z, eps=eps)
    nan = z.copy()
    nan[3, 1] = np.nan
    with pytest.raises(ParameterError, match="NaN"):
        graph.knn_graph(nan)


def test_paths_refuse_nan_fractional_steps_and_bad_axes():
    a, b = np.zeros(4), np.ones(4)
    with pytest.raises(ParameterError, match="n_steps=2.5"):
        paths.convex_combinations(a, b, 2.5)
    with pytest.raises(ParameterError, match="NaN"):
        paths.convex_combinations(a, np.full(4, np.nan), 3)
    for axes in ((0, 4), (-1, 2), (1.0, 2), (1,)):  # -1 used to pick the last component silently
        with pytest.raises(ParameterError, match="axes"):
            paths.plane_path(a, axes, (1.0, 1.0))
    with pytest.raises(ParameterError, match="t=2"):
        paths.slerp(a[None], b[None], 2)
    with pytest.raises(ParameterError, match="one shape"):
        paths.slerp(np.ones((2, 4)), np.ones((3, 4)), 0.5)
    with pytest.raises(ParameterError, match=r"points \(c, d\)"):
        paths.pairwise_paths(np.zeros((0, 3)), 3)


def test_pca_counts_are_bounded(codes):
    z, _ = codes
    p = projection.pca(z)
    assert projection.components_for_variance(p, 1.0) <= 2  # rounding used to give d + 1
    for fraction in (0, 1.5, float("nan"), "0.9"):
        with pytest.raises(ParameterError, match="fraction"):
            projection.components_for_variance(p, fraction)
    for k in (0, 3, 1.5):
        with pytest.raises(ParameterError, match="k="):
            p.project(z, k)
    with pytest.raises(ParameterError, match="fitted on 2"):
        p.project(np.zeros((3, 5)), 1)
    assert p.project(z[0], 1).shape == (1,)
    with pytest.raises(ParameterError, match="n >= 2"):
        projection.pca(z[:1])
    with pytest.raises(ParameterError, match="NaN"):
        projection.embed(np.full((5, 2), np.nan), "pca")
    with pytest.raises(ParameterError, match="no variance"):
        projection.components_for_variance(projection.pca(np.ones((4, 2))), 0.5)


def test_statistics_refuse_degenerate_scales_and_counts(codes):
    z, _ = codes
    rng = np.random.default_rng(0)
    for b in (0, -1.0, float("nan")):
        with pytest.raises(ParameterError, match="b="):
            statistics.uniform_radius_moments(b, 8)
    with pytest.raises(ParameterError, match="d=0"):
        statistics.uniform_radius_pdf(np.ones(3), 1.0, 0)
    stats = statistics.component_stats(z, bins=10)
    with pytest.raises(ParameterError, match="k=-1"):
        statistics.top_components(stats, -1)  # [:-1] used to drop the last component silently
    with pytest.raises(ParameterError, match="only 2 components"):
        statistics.top_components(stats, 5)
    with pytest.raises(ParameterError, match="bins"):
        statistics.component_stats(z, bins=0)
    with pytest.raises(ParameterError, match="swap them"):
        statistics.uniform_intervals(4, np.ones(2), np.zeros(2), rng)
    with pytest.raises(ParameterError, match="negative"):
        statistics.independent_gaussians(4, np.zeros(2), -np.ones(2), rng)
    with pytest.raises(ParameterError, match="Generator"):
        statistics.uniform_cube(4, 2, 1.0, rng=None)
    with pytest.raises(ParameterError, match="keep"):
        statistics.slice_mask(z, (0, 5))
    with pytest.raises(ParameterError, match="held-out latents coincide"):
        statistics.BulkReference(z, z[:10], k=1)  # kNN distance 0: every ratio would be inf
    bulk = statistics.BulkReference(z[::2], z[1::2], k=3)
    with pytest.raises(ParameterError, match=r"\(n, 2\)"):
        bulk.summary(np.zeros((4, 3)))
    with pytest.raises(ParameterError, match="encode\\(decode\\(z\\)\\) has shape"):
        statistics.reencoding_error(lambda x: x[:, :1], lambda c: c, z)
    with pytest.raises(ParameterError, match="stats describe"):
        statistics.statistical_generators(np.zeros((5, 3)) + np.arange(5)[:, None], stats)


def test_triplet_measures_refuse_nan_and_tiny_samples():
    zt = np.random.default_rng(0).normal(size=(6, 3, 4))
    with pytest.raises(ParameterError, match="max_items=1"):
        triplets.within_between_ratio(zt, max_items=1)  # used to be the mean of nothing: NaN
    with pytest.raises(ParameterError, match="folds=1"):
        triplets.frame_index_accuracy(zt, folds=1)
    bad = zt.copy()
    bad[2, 1, 0] = np.inf
    with pytest.raises(ParameterError, match="NaN or infinite"):
        triplets.path_shape(bad)
    with pytest.raises(ParameterError, match="no variance"):
        triplets.within_share_of_variance(np.ones((3, 3, 2)))
    with pytest.raises(ParameterError, match="frame triplets"):
        triplets.triplet_structure(zt, frames=np.zeros((5, 3, 2)))


def test_grid_points_are_checked_before_they_name_a_folder():
    point = grid_search.grid_points(grid_search.PAPER_GRID)[0]
    assert grid_search.point_name(point, 2) == "z2_bs4_re1_pe0_c64_gaussian0.1"
    for key, value in (("batch_size", "../../etc"), ("channels", 2.5), ("noise", "pink"), ("lambdas", (1.0,))):
        with pytest.raises(ParameterError, match=key if key != "noise" else "noise="):
            grid_search.point_name({**point, key: value}, 2)
    with pytest.raises(ParameterError, match="lacks"):
        grid_search.point_name({"batch_size": 4}, 2)
    with pytest.raises(ParameterError, match="latent_dim"):
        grid_search.point_name(point, 0)
    with pytest.raises(ParameterError, match="give a dict"):
        grid_search.grid_points({"batch_size": 4})


def test_compare_interpolations_checks_pairs_and_what_decode_returns(codes):
    z, _ = codes
    images = np.zeros((len(z), 2, 2, 1), np.float32)
    g = {"knn": graph.knn_graph(z, k=5)}
    decode = lambda c: np.zeros((len(c), 2, 2, 1), np.float32)
    with pytest.raises(ParameterError, match="pairs index images"):
        surfing.compare_interpolations(decode, z, images, [[0, 90]], 4, g)
    with pytest.raises(ParameterError, match=r"\(p, 2\)"):
        surfing.compare_interpolations(decode, z, images, [[0.0, 1.0]], 4, g)
    with pytest.raises(ParameterError, match="decode returned"):
        surfing.compare_interpolations(lambda c: np.zeros((len(c), 3)), z, images, [[0, 1]], 4, g)
    table = surfing.compare_interpolations(decode, z, images, [[0, 1]], 4, g)
    assert list(table["method"]) == ["linear", "knn surfing"]
