"""Claim-graph centralities (Jiang et al. 2024) as pure functions of an entailment matrix.

Jiang, Ruan, Huang, Liao, Sun, Ghosh, Duan, Xing, Yu, Tan 2024, *Graph-based Uncertainty
Metrics for Long-form Language Model Outputs* (NeurIPS 2024, arXiv:2410.20783); UQLM's
``LongTextGraph``. The m responses to a prompt y_1..y_m (the answer and its samples) are
split into claims, and the union of their distinct claims s_1..s_n forms a bipartite graph
G with node set V = {s_i} ∪ {y_j}: an edge joins s_i and y_j when the entailment
probability w_ij = p_e(y_j ⊨ s_i) is at least a threshold τ (0.5), with weight w_ij.

For claim node s (N = n + m nodes; dist is the unweighted path length, ∞ when
unreachable; N(s) its neighbours; d(v) = Σ_u w_uv the weighted degree):

* degree:      C_D(s) = (1/m) Σ_j w_sj [w_sj ≥ τ]
* betweenness: C_B(s) = (1/B_max) Σ_{u ≠ v ≠ s} σ_uv(s)/σ_uv over unordered pairs, with
  the bipartite maximum B_max = ½[m²(p+1)² + m(p+1)(2t−p−1) − t(2p−t+3)],
  p, t = divmod(n − 1, m) (Borgatti & Halgin 2011); 0 when B_max = 0
* closeness:   C_C(s) = min(1, (m + 2(n−1)) / Σ_{v reachable} dist(s, v) · (r − 1)/(N − 1)),
  r the number of nodes reachable from s (itself included); 0 for an isolated claim
* harmonic:    C_H(s) = Σ_{v ≠ s} 1/dist(s, v) / (m + (n − 1)/2)
* Laplacian:   C_L(s) = (E_L(G) − E_L(G − s)) / E_L(G), E_L = Σ_i λ_i² = ‖L‖_F² for the
  weighted Laplacian L = D − W (Qi et al. 2012); G − s keeps the other nodes' degrees
  minus their edges to s; 0 for every node of a graph without edges
* PageRank:    C_PR = the stationary distribution of the walk that follows an edge with
  probability proportional to its weight w.p. d = 0.85 and restarts uniformly otherwise
  (a node without edges restarts always) — solved exactly: (I − d Pᵀ) π = (1 − d)/N · 1

These are the definitions networkx computes (``bipartite.betweenness_centrality``,
``bipartite.closeness_centrality``, ``harmonic_centrality``, ``laplacian_centrality``
normalised, ``pagerank``); the tests check both against hand values and networkx.
"""

from __future__ import annotations

from collections import deque

import numpy as np

__all__ = ["CENTRALITIES", "DEFAULT_EDGE_THRESHOLD", "PAGERANK_DAMPING", "claim_centralities"]

#: The centralities, in UQLM's names.
CENTRALITIES = (
    "degree_centrality",
    "betweenness_centrality",
    "closeness_centrality",
    "page_rank",
    "laplacian_centrality",
    "harmonic_centrality",
)
#: An edge needs p_e ≥ this (UQLM's ``binary_edge_threshold``).
DEFAULT_EDGE_THRESHOLD = 0.5
PAGERANK_DAMPING = 0.85


def _weights(biadjacency: np.ndarray, threshold: float) -> np.ndarray:
    w = np.asarray(biadjacency, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] < 1:
        raise ValueError(f"biadjacency must be (claims, responses) with both >= 1, got {w.shape}")
    if not np.all(np.isfinite(w)) or w.min() < 0 or w.max() > 1:
        raise ValueError("biadjacency values must be entailment probabilities in [0, 1]")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"edge threshold must be in [0, 1], got {threshold}")
    # an edge needs a positive weight as well (a zero entry is no edge)
    return np.where((w >= threshold) & (w > 0), w, 0.0)


def _adjacency(w: np.ndarray) -> np.ndarray:
    n, m = w.shape
    a = np.zeros((n + m, n + m))
    a[:n, n:] = w
    a[n:, :n] = w.T
    return a


def _bfs(neighbours: list[list[int]], source: int) -> tuple[list[int], list[float], list[int]]:
    """Unweighted distances from ``source`` (-1 unreachable), shortest-path counts σ, and
    the visit order."""
    dist = [-1] * len(neighbours)
    sigma = [0.0] * len(neighbours)
    dist[source], sigma[source] = 0, 1.0
    order, queue = [], deque([source])
    while queue:
        v = queue.popleft()
        order.append(v)
        for u in neighbours[v]:
            if dist[u] < 0:
                dist[u] = dist[v] + 1
                queue.append(u)
            if dist[u] == dist[v] + 1:
                sigma[u] += sigma[v]
    return dist, sigma, order


def _betweenness(neighbours: list[list[int]]) -> np.ndarray:
    """Raw betweenness over unordered pairs (Brandes 2001, unweighted)."""
    size = len(neighbours)
    out = np.zeros(size)
    for s in range(size):
        dist, sigma, order = _bfs(neighbours, s)
        delta = [0.0] * size
        for w in reversed(order):
            for v in neighbours[w]:
                if dist[v] == dist[w] - 1:
                    delta[v] += sigma[v] / sigma[w] * (1.0 + delta[w])
            if w != s:
                out[w] += delta[w]
    return out / 2.0  # each unordered pair was counted from both ends


def _pagerank(a: np.ndarray, damping: float) -> np.ndarray:
    size = a.shape[0]
    out_weight = a.sum(axis=1)
    p = np.where(out_weight[:, None] > 0, a / np.where(out_weight > 0, out_weight, 1)[:, None], 0)
    p[out_weight == 0] = 1.0 / size  # a node without edges restarts uniformly
    rhs = np.full(size, (1.0 - damping) / size)
    pi = np.linalg.solve(np.eye(size) - damping * p.T, rhs)
    return pi / pi.sum()


def _laplacian(a: np.ndarray) -> np.ndarray:
    lap = np.diag(a.sum(axis=1)) - a
    full = float(np.sum(lap**2))
    if full == 0.0:
        return np.zeros(a.shape[0])
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        rest = [k for k in range(a.shape[0]) if k != i]
        sub = a[np.ix_(rest, rest)]
        sub_lap = np.diag(sub.sum(axis=1)) - sub
        out[i] = (full - float(np.sum(sub_lap**2))) / full
    return out


def claim_centralities(
    biadjacency: np.ndarray,
    threshold: float = DEFAULT_EDGE_THRESHOLD,
    damping: float = PAGERANK_DAMPING,
) -> dict[str, np.ndarray]:
    """Every centrality of every claim node (see the module docstring).

    Args:
        biadjacency: ``(n claims, m responses)`` entailment probabilities p_e(y_j ⊨ s_i).
        threshold: an edge needs p_e at least this.
        damping: PageRank's d.

    Returns:
        ``{name: (n,) array}`` for each of :data:`CENTRALITIES`.

    >>> c = claim_centralities(np.array([[0.9, 0.8], [0.9, 0.1]]))
    >>> [round(float(x), 3) for x in c["degree_centrality"]]
    [0.85, 0.45]
    """
    w = _weights(biadjacency, threshold)
    n, m = w.shape
    size = n + m
    a = _adjacency(w)
    neighbours = [list(np.flatnonzero(a[v] > 0)) for v in range(size)]
    dists = [_bfs(neighbours, s)[0][:] for s in range(n)]

    degree = w.sum(axis=1) / m

    p, t = divmod(n - 1, m)
    b_max = (m**2 * (p + 1) ** 2 + m * (p + 1) * (2 * t - p - 1) - t * (2 * p - t + 3)) / 2.0
    raw_b = _betweenness(neighbours)[:n]
    betweenness = raw_b / b_max if b_max > 0 else np.zeros(n)

    closeness = np.zeros(n)
    harmonic = np.zeros(n)
    h_max = m + (n - 1) / 2.0
    for i, dist in enumerate(dists):
        reach = [d for d in dist if d > 0]
        total = float(sum(reach))
        if total > 0 and size > 1:
            closeness[i] = min(1.0, (m + 2 * (n - 1)) / total * len(reach) / (size - 1))
        harmonic[i] = sum(1.0 / d for d in reach) / h_max

    return {
        "degree_centrality": degree,
        "betweenness_centrality": betweenness,
        "closeness_centrality": closeness,
        "page_rank": _pagerank(a, damping)[:n],
        "laplacian_centrality": _laplacian(a)[:n],
        "harmonic_centrality": harmonic,
    }
