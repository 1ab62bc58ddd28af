"""Latent graphs and "surfing the manifold" (Surfing the manifold, section 4.3): connect nearby codes,
find the shortest path between two codes with Dijkstra, and interpolate linearly along it.

Two graphs: the k-nearest-neighbour graph with the smallest k that connects it (the paper's), and the
epsilon-ball graph (every pair closer than epsilon; the paper's suggestion in 5.1.3), by default with
the smallest epsilon that connects it. Both are symmetric ``scipy.sparse`` matrices of Euclidean edge
lengths, built with a KD-tree: fine for 2-3-d codes up to 10^5 points and more (benchmarks/bench_graph.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from latentlab.errors import ParameterError
from latentlab.latent.paths import convex_combinations

_TINY = 1e-12  # stands in for zero-length edges (duplicate codes), which sparse matrices would drop


@dataclasses.dataclass
class LatentGraph:
    """A symmetric graph over n codes: ``matrix`` (n, n) CSR of edge lengths, how it was built
    (``kind`` "knn" with ``param`` k, or "epsilon" with ``param`` the radius) and its components."""

    matrix: sparse.csr_matrix
    kind: str
    param: float
    n_components: int
    labels: np.ndarray

    @property
    def connected(self) -> bool:
        return self.n_components == 1

    @property
    def n_edges(self) -> int:
        return self.matrix.nnz // 2

    def edges(self) -> np.ndarray:
        """Each undirected edge once: (m, 2) node indices i < j."""
        upper = sparse.triu(self.matrix, k=1).tocoo()
        return np.stack([upper.row, upper.col], 1)

    def describe(self) -> str:
        """One line: the kind, its parameter, nodes, edges and components."""
        what = f"k = {int(self.param)}" if self.kind == "knn" else f"epsilon = {self.param:.4g}"
        return (
            f"{self.kind} graph, {what}: {self.matrix.shape[0]} nodes, {self.n_edges} edges, "
            f"{self.n_components} component{'s' if self.n_components != 1 else ''}"
        )


def _whole(value: int, name: str, low: int) -> int:
    """``value`` as an int, or :class:`ParameterError` for a bool, a fraction or a number below ``low``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)):
        raise ParameterError(f"{name}={value!r}: give a whole number >= {low}.")
    if not np.isfinite(value) or value != int(value) or value < low:
        raise ParameterError(f"{name}={value!r}: give a whole number >= {low}.")
    return int(value)


def _node(graph_or_n: LatentGraph | int, node: int, name: str) -> int:
    n = graph_or_n.matrix.shape[0] if isinstance(graph_or_n, LatentGraph) else int(graph_or_n)
    if (
        isinstance(node, bool)
        or not isinstance(node, (int, np.integer, float, np.floating))
        or not np.isfinite(node)
        or node != int(node)
        or not 0 <= int(node) < n
    ):
        raise ParameterError(f"{name}={node!r} is not a node of this graph (0..{n - 1}).")
    return int(node)


def _codes(z: ArrayLike) -> np.ndarray:
    try:
        z = np.asarray(z, np.float64)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"codes are not an array of numbers ({err}); give codes (n, d).") from None
    if z.ndim != 2 or len(z) < 2:
        raise ParameterError(f"codes have shape {z.shape}; give (n, d) with n >= 2 points.")
    if not np.isfinite(z).all():
        raise ParameterError("codes contain NaN or inf; check the encoder's output.")
    return z


def _graph(rows: np.ndarray, cols: np.ndarray, dist: np.ndarray, n: int, kind: str, param: float) -> LatentGraph:
    keep = rows != cols
    rows, cols, dist = rows[keep], cols[keep], np.maximum(dist[keep], _TINY)
    m = sparse.coo_matrix((dist, (rows, cols)), shape=(n, n)).tocsr()
    m = m.maximum(m.T).tocsr()
    count, labels = csgraph.connected_components(m, directed=False)
    return LatentGraph(m, kind, param, int(count), labels)


def _knn(tree: cKDTree, z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    dist, idx = tree.query(z, k=k + 1, workers=-1)
    keep = idx != np.arange(len(z))[:, None]  # drop the point itself (not always column 0 among duplicates)
    keep[keep.all(1), -1] = False
    return dist[keep].reshape(len(z), k), idx[keep].reshape(len(z), k)


def _knn_from(dist: np.ndarray, idx: np.ndarray, k: int) -> LatentGraph:
    n = len(dist)
    return _graph(np.repeat(np.arange(n), k), idx[:, :k].ravel(), dist[:, :k].ravel(), n, "knn", k)


def knn_graph(z: ArrayLike, k: int | None = None) -> LatentGraph:
    """The symmetric k-nearest-neighbour graph of codes (n, d) (i and j joined when either is among the
    other's k nearest). ``k=None`` picks the smallest k for which the graph is connected (paper 5.1.1:
    k = 4): doubling, then bisection, over neighbours queried once (more only if 8 do not suffice)."""
    z = _codes(z)
    n = len(z)
    tree = cKDTree(z)
    if k is not None:
        k = _whole(k, "k", 1)
        if not k < n:
            raise ParameterError(f"k={k}: give 1 <= k < n = {n}.")
        return _knn_from(*_knn(tree, z, k), k)
    k_query, lo, hi = min(8, n - 1), 0, None
    while hi is None:  # the complete graph (k = n - 1) is connected, so this ends
        dist, idx = _knn(tree, z, k_query)
        probe = lo + 1
        while hi is None and lo < k_query:
            if _knn_connected(idx, probe):
                hi = probe
            else:
                lo, probe = probe, min(2 * probe, k_query)
        k_query = min(4 * k_query, n - 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _knn_connected(idx, mid) else (mid, hi)
    return _knn_from(dist, idx, hi)


def _knn_connected(idx: np.ndarray, k: int) -> bool:
    n = len(idx)
    links = sparse.csr_matrix((np.ones(n * k, np.int8), idx[:, :k].ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))
    return csgraph.connected_components(links, directed=True, connection="weak", return_labels=False) == 1


def epsilon_graph(z: ArrayLike, eps: float | None = None, max_edges: int = 20_000_000) -> LatentGraph:
    """The epsilon-ball graph of codes (n, d): every pair closer than ``eps`` joined. ``eps=None`` uses
    :func:`connecting_epsilon`, the smallest radius at which the graph is connected. Raises
    :class:`ParameterError` rather than build more than ``max_edges`` edges (uneven densities: one
    isolated code forces a radius that joins whole dense regions pairwise)."""
    z = _codes(z)
    max_edges = _whole(max_edges, "max_edges", 1)
    if eps is not None and (isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating))):
        raise ParameterError(f"eps={eps!r}: the radius must be a finite number > 0 (or None for the connecting one).")
    eps = connecting_epsilon(z) if eps is None else float(eps)
    if not (eps > 0 and np.isfinite(eps)):
        raise ParameterError(f"eps={eps}: the radius must be a finite number > 0 (or None for the connecting one).")
    tree = cKDTree(z)
    radius = eps * (1 + 1e-9)
    n_edges = (int(tree.count_neighbors(tree, radius)) - len(z)) // 2
    if n_edges > max_edges:
        raise ParameterError(
            f"an epsilon graph with eps = {eps:.4g} would have {n_edges:,} edges (> max_edges = {max_edges:,}): "
            "the codes' density is very uneven. Use knn_graph, pass a smaller eps (isolated codes then stay "
            "unconnected), or raise max_edges if memory allows (~24 bytes an edge)."
        )
    pairs = tree.query_pairs(radius, output_type="ndarray")
    dist = np.linalg.norm(z[pairs[:, 0]] - z[pairs[:, 1]], axis=1)
    return _graph(pairs[:, 0], pairs[:, 1], dist, len(z), "epsilon", eps)


def connecting_epsilon(z: ArrayLike) -> float:
    """The smallest epsilon whose epsilon-ball graph is connected: the longest edge of the Euclidean
    minimum spanning tree, computed exactly without building a dense graph. Start from the MST of the
    minimal kNN graph; cut its longest edge; if the two sides have a closer pair (a KD-tree query), add
    that edge and repeat. When no closer pair exists, the longest edge is the bottleneck of every
    spanning tree, so it is the answer."""
    z = _codes(z)
    n = len(z)
    base = knn_graph(z).matrix.tocoo()
    rows, cols, dist = [base.row], [base.col], [base.data]
    for _ in range(n):  # each round moves one cut's crossing edge; n rounds bound any input
        graph = sparse.coo_matrix(
            (np.concatenate(dist), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
        ).tocsr()
        tree = csgraph.minimum_spanning_tree(graph).tocoo()
        longest = int(tree.data.argmax())
        cut = sparse.coo_matrix(
            (np.delete(tree.data, longest), (np.delete(tree.row, longest), np.delete(tree.col, longest))), shape=(n, n)
        )
        _, side = csgraph.connected_components(cut, directed=False)
        a = np.flatnonzero(side == side[tree.row[longest]])
        b = np.flatnonzero(side != side[tree.row[longest]])
        small, large = (a, b) if len(a) <= len(b) else (b, a)
        d, j = cKDTree(z[large]).query(z[small], k=1, workers=-1)
        i = int(d.argmin())
        if max(d[i], _TINY) >= tree.data[longest] * (1 - 1e-9):
            return float(tree.data[longest])
        rows.append(np.array([small[i]])), cols.append(np.array([large[j[i]]]))
        dist.append(np.array([max(d[i], _TINY)]))
    return float(tree.data[longest])


def shortest_path(graph: LatentGraph, start: int, goal: int) -> tuple[np.ndarray, float]:
    """Dijkstra's shortest path from node ``start`` to node ``goal``: its nodes (m,) from start to goal
    and its length. Raises :class:`ParameterError` for identical or out-of-range nodes, or when the two
    lie in different components of the graph."""
    start, goal = _node(graph, start, "start"), _node(graph, goal, "goal")
    if start == goal:
        raise ParameterError(
            f"start and goal are the same node ({start}): there is nothing to interpolate; pick two different images."
        )
    if graph.labels[start] != graph.labels[goal]:
        grow = (
            "a larger k (knn_graph(z) finds the smallest connecting one)"
            if graph.kind == "knn"
            else "a larger epsilon (epsilon_graph(z) finds the smallest connecting one)"
        )
        raise ParameterError(f"start {start} and goal {goal} are not connected: the {graph.describe()}. Use {grow}.")
    dist, pred = csgraph.dijkstra(graph.matrix, directed=False, indices=start, return_predecessors=True)
    nodes = [goal]
    while nodes[-1] != start:
        nodes.append(int(pred[nodes[-1]]))
    return np.array(nodes[::-1]), float(dist[goal])


def surf(z: ArrayLike, nodes: ArrayLike, n_frames: int) -> np.ndarray:
    """Codes at ``n_frames`` evenly spaced arc-length positions along the polyline through ``z[nodes]``
    (linear interpolation between consecutive path nodes, constant speed): (n_frames, d)."""
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 2:
        raise ParameterError(f"n_frames={n_frames!r}: a path needs at least its two end points (a whole number >= 2).")
    z = _codes(z)
    nodes = np.asarray(nodes)
    if nodes.ndim != 1 or len(nodes) == 0 or not np.issubdtype(nodes.dtype, np.integer):
        raise ParameterError(f"nodes {nodes!r}: give the path's node indices (m,) as whole numbers.")
    if nodes.min() < 0 or nodes.max() >= len(z):
        raise ParameterError(f"nodes must lie in 0..{len(z) - 1} (there are {len(z)} codes).")
    pts = z[nodes]
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] == 0:
        return np.repeat(pts[:1], n_frames, 0).astype(np.float32)
    t = np.linspace(0.0, s[-1], n_frames)
    out = np.stack([np.interp(t, s, pts[:, j]) for j in range(pts.shape[1])], 1)
    return out.astype(np.float32)


def _fits(z: ArrayLike, graph: LatentGraph) -> np.ndarray:
    z = _codes(z)
    if len(z) != graph.matrix.shape[0]:
        raise ParameterError(
            f"{len(z)} codes but the graph has {graph.matrix.shape[0]} nodes: build the graph from these codes."
        )
    return z


def surfing_path(
    z: ArrayLike, graph: LatentGraph, start: int, goal: int, n_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """Surf from code ``start`` to code ``goal``: Dijkstra on ``graph``, then :func:`surf`. Returns the
    codes (n_frames, d) and the path's nodes (m,)."""
    z = _fits(z, graph)
    nodes, _ = shortest_path(graph, start, goal)
    return surf(z, nodes, n_frames), nodes


def detour_ratio(z: ArrayLike, graph: LatentGraph, start: int, goal: int) -> float:
    """Length of the graph's shortest path from ``start`` to ``goal`` over their straight distance:
    1 when the straight line follows the graph, large when it cuts across a gap in the codes."""
    z = _fits(z, graph)
    _, length = shortest_path(graph, start, goal)
    return length / max(float(np.linalg.norm(z[int(start)] - z[int(goal)])), _TINY)


def interpolation_codes(
    z: ArrayLike, start: int, goal: int, n_frames: int, graphs: dict[str, LatentGraph]
) -> dict[str, np.ndarray]:
    """Codes of each interpolation from ``z[start]`` to ``z[goal]``: ``linear`` (the straight line in
    the latent space) and ``<name> surfing`` for each graph: ``{method: (n_frames, d)}``."""
    z = _codes(z).astype(np.float32)
    start, goal = _node(len(z), start, "start"), _node(len(z), goal, "goal")
    codes = {"linear": convex_combinations(z[start], z[goal], n_frames)}
    for name, graph in graphs.items():
        codes[f"{name} surfing"] = surfing_path(z, graph, start, goal, n_frames)[0]
    return codes


def most_detoured_pair(
    z: ArrayLike, graph: LatentGraph, n_candidates: int, rng: np.random.Generator
) -> tuple[int, int]:
    """Of ``n_candidates`` random pairs of distinct codes, the one whose shortest path on ``graph`` is the
    longest relative to the straight line (:func:`detour_ratio`): where straight interpolation leaves the
    codes the most, as in the paper's showcase figures."""
    z = _fits(z, graph)
    n_candidates = _whole(n_candidates, "n_candidates", 1)
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(f"rng={rng!r}: pass a numpy Generator, np.random.default_rng(seed).")
    cand = rng.choice(len(z), size=(n_candidates, 2))
    cand = cand[cand[:, 0] != cand[:, 1]]
    if not len(cand):
        raise ParameterError("no pair of distinct codes among the candidates: ask for more candidates.")
    best = int(np.argmax([detour_ratio(z, graph, i, j) for i, j in cand]))
    return int(cand[best, 0]), int(cand[best, 1])
