"""Latent graphs, Dijkstra paths and surfing, on point sets whose answers are known."""

import numpy as np
import pytest
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist

from latentlab.errors import ParameterError
from latentlab.experiments.surfing import compare_interpolations
from latentlab.latent import graph


def two_rows():
    """Ten points 0..9 and ten points 100..109 on a line: a gap of 91."""
    x = np.concatenate([np.arange(10.0), 100 + np.arange(10.0)])
    return np.stack([x, np.zeros_like(x)], 1)


def test_minimal_k_connects_and_k_minus_one_does_not():
    z = two_rows()
    g = graph.knn_graph(z)
    assert g.kind == "knn" and g.param == 10 and g.connected  # point 9 needs its 10th neighbour, 100
    assert graph.knn_graph(z, 9).n_components == 2
    rng = np.random.default_rng(0)
    for d in (2, 3):
        cloud = rng.normal(size=(500, d)) * [1, 3, 0.5][:d]
        k = int(graph.knn_graph(cloud).param)
        assert graph.knn_graph(cloud, k).connected and (k == 1 or not graph.knn_graph(cloud, k - 1).connected)


def test_duplicate_codes_keep_their_k_neighbours():
    z = np.repeat(np.arange(6.0)[:, None] * [1.0, 0.0], 3, axis=0)  # every code three times
    g = graph.knn_graph(z, 2)
    assert (g.matrix.getnnz(axis=1) >= 2).all() and not g.matrix.diagonal().any()
    assert graph.knn_graph(z).connected


def test_knn_graph_is_symmetric_with_euclidean_weights():
    z = np.random.default_rng(1).random((200, 2))
    m = graph.knn_graph(z, 3).matrix
    assert (m != m.T).nnz == 0
    rows, cols = m.nonzero()
    assert np.allclose(m[rows, cols].A1, np.linalg.norm(z[rows] - z[cols], axis=1))
    assert (m.getnnz(axis=1) >= 3).all()


def test_connecting_epsilon_is_the_longest_euclidean_mst_edge():
    assert graph.connecting_epsilon(two_rows()) == pytest.approx(91)
    rng = np.random.default_rng(2)
    for z in (
        rng.random((300, 2)),
        rng.normal(size=(300, 3)),
        np.concatenate([rng.random((150, 2)), 5 + rng.random((150, 2))]),
    ):
        exact = minimum_spanning_tree(cdist(z, z)).data.max()
        eps = graph.connecting_epsilon(z)
        assert eps == pytest.approx(exact, rel=1e-9)
        assert graph.epsilon_graph(z).connected and not graph.epsilon_graph(z, 0.999 * eps).connected


def test_epsilon_graph_joins_exactly_the_pairs_within_epsilon():
    z = np.random.default_rng(3).random((150, 2))
    g = graph.epsilon_graph(z, 0.1)
    close = (cdist(z, z) <= 0.1) & ~np.eye(150, dtype=bool)
    assert np.array_equal(g.matrix.toarray() > 0, close) and g.kind == "epsilon" and g.param == 0.1


def test_epsilon_graph_refuses_to_build_a_huge_graph():
    z = np.concatenate([np.zeros((300, 2)), [[1000.0, 0.0]]])
    with pytest.raises(ParameterError, match="would have .* edges.*knn_graph"):
        graph.epsilon_graph(z, max_edges=1000)


def test_shortest_path_follows_the_manifold_not_the_chord():
    t = np.linspace(0, np.pi, 40)
    z = np.stack([np.cos(t), np.sin(t)], 1)  # a half circle: its ends are 2 apart in a straight line
    g = graph.knn_graph(z)
    nodes, length = graph.shortest_path(g, 0, 39)
    arc = np.linalg.norm(np.diff(z, axis=0), axis=1).sum()
    assert nodes[0] == 0 and nodes[-1] == 39 and np.all(np.diff(nodes) > 0), "the path walks along the arc"
    assert length == pytest.approx(np.linalg.norm(np.diff(z[nodes], axis=0), axis=1).sum())
    assert 0.99 * arc <= length <= arc
    assert graph.detour_ratio(z, g, 0, 39) == pytest.approx(length / 2)


def test_surfing_interpolates_at_constant_speed_along_the_path():
    z = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 3.0]])
    frames = graph.surf(z, [0, 1, 2], 9)
    assert frames.shape == (9, 2) and np.allclose(frames[[0, -1]], z[[0, 2]])
    assert np.allclose(np.linalg.norm(np.diff(frames, axis=0), axis=1), 0.5)
    assert np.allclose(frames[2], [1.0, 0.0])  # the corner is passed, not cut
    codes = graph.interpolation_codes(z, 0, 2, 5, {"kNN": graph.knn_graph(z, 1)})
    assert list(codes) == ["linear", "kNN surfing"]
    assert np.allclose(codes["linear"][2], [0.5, 1.5]) and np.allclose(codes["kNN surfing"][1], [1.0, 0.0])


def test_path_errors_say_what_to_do():
    z = two_rows()
    knn = graph.knn_graph(z, 3)
    with pytest.raises(ParameterError, match="not connected.*2 components.*larger k"):
        graph.shortest_path(knn, 0, 15)
    with pytest.raises(ParameterError, match="larger epsilon"):
        graph.surfing_path(z, graph.epsilon_graph(z, 5.0), 0, 15, 10)
    with pytest.raises(ParameterError, match="same node"):
        graph.shortest_path(knn, 4, 4)
    with pytest.raises(ParameterError, match="not a node"):
        graph.shortest_path(knn, 0, 20)
    with pytest.raises(ParameterError, match="NaN"):
        graph.knn_graph(np.array([[0.0, 1.0], [np.nan, 0.0]]))
    with pytest.raises(ParameterError, match="k=20"):
        graph.knn_graph(z, 20)


def test_compare_interpolations_scores_every_method():
    t = np.linspace(0, np.pi, 30)
    z = np.stack([np.cos(t), np.sin(t)], 1).astype(np.float32)
    images = z[:, :, None, None] * np.ones((1, 1, 4, 4), np.float32) / 2 + 0.5  # "decoder": codes as images

    def decode(c):
        return np.asarray(c)[:, :, None, None] * np.ones((1, 1, 4, 4), np.float32) / 2 + 0.5

    table = compare_interpolations(decode, z, images, [(0, 29), (3, 20)], 12, {"kNN": graph.knn_graph(z)})
    assert len(table) == 4 and set(table["method"]) == {"linear", "kNN surfing"}
    by = table.set_index(["start", "method"])
    assert by.loc[(0, "kNN surfing"), "interpolationMSE"] < by.loc[(0, "linear"), "interpolationMSE"]
    assert by.loc[(0, "kNN surfing"), "latent length"] == pytest.approx(np.pi, rel=0.01)
