"""Semantic clustering and the entropies built on it, as pure functions.

Responses are indexed 0..n−1 (by convention 0 is the answer being judged and 1..m the
samples). Clustering takes an equivalence *relation* as a callable, so the same code serves
NLI-based bidirectional entailment and the non-NLI fallbacks (normalised match, numeric
equality, embedding similarity).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy.special import logsumexp

__all__ = [
    "check_labels",
    "cluster_responses",
    "largest_cluster_member",
    "normalized_semantic_negentropy",
    "semantic_entropy_discrete",
    "semantic_entropy_weighted",
    "semantic_sets_confidence",
]


def cluster_responses(n: int, equivalent: Callable[[int, int], bool]) -> list[int]:
    """Greedy clustering against cluster representatives.

    Response i is compared, in cluster order, with the *representative* (first member) of
    each existing cluster and joins the first one it is equivalent to; otherwise it founds a
    new cluster. Each response joins exactly one cluster; the result is deterministic given
    the order and never chains through non-representatives (unlike LUQ) nor reassigns a
    member later (unlike some reference code). ``equivalent(i, j)`` is called with
    i = the new response and j = a representative; for bidirectional entailment it checks
    both directions itself.

    The comparisons are made representative by representative: every still-unassigned
    response is compared with the newest representative (the smallest unassigned index)
    before the next one is chosen. Each response meets the representatives in the same
    order as in the one-response-at-a-time formulation, so the clusters and the set of
    comparisons are identical; but when ``equivalent`` has a ``prefetch(pairs)`` method it
    is told all comparisons with a representative at once, which lets NLI run them in one
    batch.

    Returns cluster labels 0..K−1 in order of first appearance.
    """
    if n < 1:
        raise ValueError(f"need at least one response to cluster, got n={n}")
    prefetch = getattr(equivalent, "prefetch", None)
    labels = [-1] * n
    unassigned = list(range(n))
    cluster = 0
    while unassigned:
        rep, *rest = unassigned
        labels[rep] = cluster
        if prefetch is not None and rest:
            prefetch([(i, rep) for i in rest])
        unassigned = []
        for i in rest:
            if equivalent(i, rep):
                labels[i] = cluster
            else:
                unassigned.append(i)
        cluster += 1
    return labels


def check_labels(labels: Sequence[int]) -> np.ndarray:
    """Cluster labels as an int array; a ``ValueError`` naming ``labels`` when they are
    empty, not whole numbers, or negative (labels are 0..K-1, as
    :func:`cluster_responses` returns them)."""
    if isinstance(labels, (str, bytes)):
        raise TypeError("labels must be a sequence of ints (cluster ids), not a str")
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D sequence of cluster ids, got {labels!r}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.mod(arr, 1) == 0):
            raise ValueError(f"labels must be whole numbers (cluster ids), got {labels!r}")
        arr = arr.astype(int)
    if (arr < 0).any():
        raise ValueError(
            f"labels must be cluster ids >= 0 (0..K-1, as cluster_responses returns), got "
            f"{sorted(set(arr[arr < 0].tolist()))[:5]} among {labels!r}"
        )
    return arr.astype(int)


def _cluster_sizes(labels: Sequence[int]) -> np.ndarray:
    return np.bincount(check_labels(labels))


def semantic_entropy_discrete(labels: Sequence[int]) -> float:
    """Discrete semantic entropy (Farquhar et al. 2024; Kuhn et al. 2023):
    SE = −Σ_C (|C|/n) log(|C|/n) over all n clustered responses. Nats; range [0, log n]."""
    sizes = _cluster_sizes(labels)
    p = sizes[sizes > 0] / sizes.sum()
    return float(-(p * np.log(p)).sum())


def normalized_semantic_negentropy(labels: Sequence[int]) -> float:
    """UQLM's normalised semantic negentropy: 1 − SE / log n, with n the number of responses
    clustered (UQLM's paper writes log m; its code divides by the count used, as here).
    Confidence; range [0, 1]; 1 when n = 1."""
    n = len(labels)
    if n == 1:
        return 1.0
    return min(1.0, max(0.0, 1.0 - semantic_entropy_discrete(labels) / math.log(n)))


def semantic_sets_confidence(labels: Sequence[int]) -> float:
    """UQLM's semantic-sets confidence (n − K) / (n − 1) for K clusters among n responses.
    Confidence; range [0, 1]; 1 when n = 1."""
    n = len(labels)
    k = int(_cluster_sizes(labels).astype(bool).sum())
    return 1.0 if n == 1 else (n - k) / (n - 1)


def semantic_entropy_weighted(labels: Sequence[int], log_likelihoods: Sequence[float]) -> float:
    """Probability-weighted semantic entropy (Kuhn et al. 2023; Farquhar et al. 2024).

    log p(C) = logsumexp_{i∈C} ℓ_i − logsumexp_j ℓ_j, SE = −Σ_C p(C) log p(C), with ℓ_i the
    (length-normalised, in Farquhar et al.) log-likelihood of response i. All in log space.
    Nats; range [0, log K].
    """
    ll = np.asarray(log_likelihoods, dtype=np.float64)
    lab = check_labels(labels)
    if ll.shape != lab.shape:
        raise ValueError(f"{lab.size} labels but {ll.size} log-likelihoods")
    if np.isnan(ll).any():
        raise ValueError("log-likelihoods contain NaN")
    total = logsumexp(ll)
    if not np.isfinite(total):
        raise ValueError("every response has zero probability; cannot weight clusters")
    log_pc = np.array([logsumexp(ll[lab == c]) for c in np.unique(lab)]) - total
    pc = np.exp(log_pc)
    return float(-np.where(pc > 0, pc * np.where(pc > 0, log_pc, 0.0), 0.0).sum())


def largest_cluster_member(labels: Sequence[int], prefer: int = 0) -> int:
    """Index of a response from the largest cluster (UQLM's ``use_best``).

    Ties between equally large clusters go to the cluster containing ``prefer`` (the
    original answer), else to the earliest cluster; the chosen member is ``prefer`` if it is
    in that cluster, else the cluster's first member (its representative).
    """
    lab = check_labels(labels)
    if not 0 <= prefer < lab.size:
        raise ValueError(f"prefer must index one of the {lab.size} responses, got {prefer}")
    sizes = np.bincount(lab)
    best = np.flatnonzero(sizes == sizes.max())
    cluster = lab[prefer] if lab[prefer] in best else int(best[0])
    return prefer if lab[prefer] == cluster else int(np.flatnonzero(lab == cluster)[0])
