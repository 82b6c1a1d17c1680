"""Semantic clustering and the entropies built on it, as pure functions.

Responses are indexed 0..n−1 (by convention 0 is the answer being judged and 1..m the
samples). Clustering takes an equivalence *relation* as a callable, so the same code serves
NLI-based bidirectional entailment and the non-NLI fallbacks (normalised match, numeric
equality, embedding similarity).

Two clustering rules, named where the scorers take them (``ScoringContext.clustering``):

* ``"first_match"`` (lmuq's default, :func:`cluster_responses`): each response joins the
  first cluster whose representative it is equivalent to; the clusters partition the
  responses (Kuhn et al. 2023, Algorithm 1; Farquhar et al. 2024).
* ``"uqlm"`` (:func:`cluster_responses_every_match`): UQLM 0.6's rule; a response joins
  *every* cluster whose representative it matches, so clusters can overlap, and a cluster's
  share is its membership count over the total membership count.

A cluster set is written as *memberships*: one list of response indices per cluster, in
order of foundation (:func:`memberships_from_labels` turns partition labels into them). The
entropies over memberships (:func:`cluster_probabilities`, :func:`membership_entropy`) equal
the label-based ones on a partition.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from scipy.special import logsumexp

__all__ = [
    "certain_comparisons",
    "check_labels",
    "check_memberships",
    "cluster_levels",
    "cluster_probabilities",
    "cluster_responses",
    "cluster_responses_every_match",
    "largest_cluster_member",
    "largest_membership_member",
    "membership_entropy",
    "memberships_from_labels",
    "most_repeated_or_longest",
    "normalized_semantic_negentropy",
    "semantic_entropy_discrete",
    "semantic_entropy_weighted",
    "semantic_sets_confidence",
    "settled_largest_member",
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

    The comparisons are made representative by representative (:func:`cluster_levels`):
    every still-unassigned response is compared with the newest representative (the
    smallest unassigned index) before the next one is chosen. Each response meets the
    representatives in the same order as in the one-response-at-a-time formulation, so the
    clusters and the set of comparisons are identical; but when ``equivalent`` has a
    ``prefetch(pairs)`` method it is told all comparisons with a representative at once,
    which lets NLI run them in one batch.

    Returns cluster labels 0..K−1 in order of first appearance.
    """
    *_, labels = cluster_levels(n, equivalent)
    return labels


def cluster_levels(
    n: int, equivalent: Callable[[int, int], bool], lookahead: bool = True
) -> Iterator[list[int]]:
    """:func:`cluster_responses` one representative at a time: after the k-th cluster is
    complete, yield the labels so far (clusters 0..k−1 final, −1 for the responses not yet
    assigned). The last labels yielded are :func:`cluster_responses`'s.

    A caller that can decide from the first clusters stops iterating, and the comparisons
    with later representatives are never made (:func:`settled_largest_member`); such a
    caller passes ``lookahead=False``.

    With ``lookahead`` and an ``equivalent`` that has ``prefetch`` and ``settled(i, j)``
    (the verdict when the statistics behind it are already available, else None), each
    prefetch also announces the later comparisons that are already certain: when the
    verdicts known now put every response below the next representative in the current
    cluster, that representative is known, and so are its comparisons with the responses
    already known to be in none of the clusters so far (:func:`certain_comparisons`). They
    would be made anyway; announcing them early lets a planner batch them with this
    cluster's.
    """
    if n < 1:
        raise ValueError(f"need at least one response to cluster, got n={n}")
    prefetch = getattr(equivalent, "prefetch", None)
    settled = getattr(equivalent, "settled", None) if lookahead else None
    labels = [-1] * n
    unassigned = list(range(n))
    cluster = 0
    while unassigned:
        rep, *rest = unassigned
        labels[rep] = cluster
        if prefetch is not None and rest:
            prefetch(
                certain_comparisons(rest, rep, settled)
                if settled is not None
                else [(i, rep) for i in rest]
            )
        unassigned = []
        for i in rest:
            if equivalent(i, rep):
                labels[i] = cluster
            else:
                unassigned.append(i)
        cluster += 1
        yield list(labels)


def certain_comparisons(
    rest: Sequence[int], rep: int, settled: Callable[[int, int], bool | None]
) -> list[tuple[int, int]]:
    """The comparisons :func:`cluster_responses` makes from the cluster of ``rep`` on that
    the verdicts known now (``settled(i, j)``: True, False, or None when not known yet)
    already make certain: every (i, rep) for i in ``rest``, then, while the next
    representative is known, its comparisons with the responses known to be outside every
    cluster so far.

    The next representative is the smallest response outside the current cluster; it is
    known when every response below it is known to be inside. A response whose verdict is
    unknown blocks every representative above it, since it could found a cluster first.

    >>> verdicts = {(1, 0): True, (2, 0): False, (3, 0): False, (3, 2): None}
    >>> certain_comparisons([1, 2, 3], 0, lambda i, j: verdicts.get((i, j)))
    [(1, 0), (2, 0), (3, 0), (3, 2)]
    """
    out: list[tuple[int, int]] = []
    level, r = list(rest), rep
    blocked = math.inf  # the smallest response whose cluster is not known yet
    while level:
        out.extend((i, r) for i in level)
        verdicts = [settled(i, r) for i in level]
        unknown = [i for i, v in zip(level, verdicts, strict=True) if v is None]
        if unknown:
            blocked = min(blocked, unknown[0])
        outside = [i for i, v in zip(level, verdicts, strict=True) if v is False]
        if not outside or outside[0] > blocked:
            break
        r, *level = outside
    return out


def settled_largest_member(labels: Sequence[int], prefer: int = 0) -> int | None:
    """:func:`largest_cluster_member` of the finished clustering, computed from the first
    clusters (partial labels, −1 = not yet assigned, as :func:`cluster_levels` yields
    them) when they already decide it; None when a later cluster could still win.

    The R unassigned responses form the later clusters, each of at most R members, and a
    later cluster is founded after every known one. So with M the size of the largest
    known cluster, a later cluster cannot win when M > R, nor when M = R and ``prefer`` is
    assigned: a tie goes to the cluster holding ``prefer`` (known), else to the earliest
    (a known one). Then the answer is the known clusters' own largest member.
    """
    lab = np.asarray(labels, dtype=np.int64)
    if lab.ndim != 1 or lab.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D sequence of cluster ids, got {labels!r}")
    if not 0 <= prefer < lab.size:
        raise ValueError(f"prefer must index one of the {lab.size} responses, got {prefer}")
    known = lab[lab >= 0]
    if known.size == 0:
        return None
    remaining = lab.size - known.size
    largest = int(np.bincount(known).max())
    if remaining == 0 or largest > remaining or (largest == remaining and lab[prefer] >= 0):
        return _largest_member(lab, prefer)
    return None


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
    return _largest_member(lab, prefer)


def _largest_member(lab: np.ndarray, prefer: int) -> int:
    """The tie rule of :func:`largest_cluster_member` over the assigned labels (>= 0) of
    ``lab``: the largest cluster, ties to ``prefer``'s, else the earliest; ``prefer`` when
    it is a member, else the cluster's first member."""
    sizes = np.bincount(lab[lab >= 0])
    best = np.flatnonzero(sizes == sizes.max())
    cluster = lab[prefer] if lab[prefer] in best else int(best[0])
    return prefer if lab[prefer] == cluster else int(np.flatnonzero(lab == cluster)[0])


# ------------------------------------------------------------------ memberships (overlapping)


def cluster_responses_every_match(
    n: int, equivalent: Callable[[int, int], bool]
) -> list[list[int]]:
    """UQLM 0.6's greedy clustering, where a response may join several clusters.

    Response 0 founds cluster 0. Each later response i is compared, in cluster order, with
    the representative (founding member) of *every* cluster that exists when its turn
    comes, and joins each one it is equivalent to; a response that matches none founds a
    new cluster. ``equivalent(i, j)`` is called with i = the new response and j = a
    representative. When ``equivalent`` has ``prefetch(pairs)``, it is told each
    response's comparisons together (one NLI batch per response).

    This is what ``uqlm.nli.cluster.SemanticClusterer.cluster_responses`` (0.6) computes;
    with UQLM's relation (either direction's arg-max label is entailment) a response that
    entails two representatives that do not entail each other counts in both clusters. lmuq
    keeps it as a named option (``clustering="uqlm"``) so a UQLM result can be reproduced;
    :func:`cluster_responses` is the default.

    Returns memberships: one list of indices per cluster (founder first, then in index
    order), clusters in order of foundation.
    """
    if n < 1:
        raise ValueError(f"need at least one response to cluster, got n={n}")
    prefetch = getattr(equivalent, "prefetch", None)
    clusters: list[list[int]] = [[0]]
    for i in range(1, n):
        reps = [c[0] for c in clusters]
        if prefetch is not None:
            prefetch([(i, r) for r in reps])
        joined = [c for c, r in zip(clusters, reps, strict=True) if equivalent(i, r)]
        for c in joined:
            c.append(i)
        if not joined:
            clusters.append([i])
    return clusters


def memberships_from_labels(labels: Sequence[int]) -> list[list[int]]:
    """Partition labels 0..K−1 as memberships (one list of indices per cluster)."""
    lab = check_labels(labels)
    return [np.flatnonzero(lab == c).tolist() for c in range(int(lab.max()) + 1)]


def check_memberships(memberships: Sequence[Sequence[int]], n: int | None = None) -> None:
    """A ``ValueError`` naming the problem when ``memberships`` are not non-empty lists of
    response indices covering every response 0..n−1 (``n``: the largest index + 1)."""
    if isinstance(memberships, (str, bytes)) or len(memberships) == 0:
        raise ValueError("memberships must be a non-empty list of clusters (lists of indices)")
    seen: set[int] = set()
    for k, members in enumerate(memberships):
        if isinstance(members, (str, bytes)) or len(members) == 0:
            raise ValueError(f"memberships[{k}] must be a non-empty list of response indices")
        for i in members:
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 0:
                raise ValueError(f"memberships[{k}] has {i!r}, not a response index >= 0")
            seen.add(int(i))
    size = max(seen) + 1 if n is None else n
    missing = sorted(set(range(size)) - seen)
    if missing or max(seen) >= size:
        raise ValueError(
            f"memberships must cover the responses 0..{size - 1} exactly; missing {missing[:5]}"
        )


def cluster_probabilities(
    memberships: Sequence[Sequence[int]], log_weights: Sequence[float] | None = None
) -> np.ndarray:
    """Each cluster's share: p(C) = Σ_{i∈C} w_i / Σ_{C'} Σ_{i∈C'} w_i.

    With ``log_weights`` None every response weighs the same, so p(C) = |C| / Σ_{C'} |C'|
    (the discrete form); with log weights ℓ_i (e.g. length-normalised log-likelihoods) it is
    the probability-weighted form of Kuhn et al. 2023, computed with ``logsumexp``. A
    response in several clusters (UQLM's rule) counts in each; on a partition the
    denominator is Σ_i w_i.
    """
    check_memberships(memberships)
    n = max(max(c) for c in memberships) + 1
    if log_weights is None:
        ll = np.zeros(n)
    else:
        ll = np.asarray(log_weights, dtype=np.float64)
        if ll.shape != (n,):
            raise ValueError(f"{n} responses are clustered but {ll.size} log-weights were given")
        if np.isnan(ll).any():
            raise ValueError("log-weights contain NaN")
    log_mass = np.array([logsumexp(ll[list(c)]) for c in memberships])
    total = logsumexp(log_mass)
    if not np.isfinite(total):
        raise ValueError("every response has zero probability; cannot weight clusters")
    return np.exp(log_mass - total)


def membership_entropy(
    memberships: Sequence[Sequence[int]], log_weights: Sequence[float] | None = None
) -> float:
    """SE = −Σ_C p(C) log p(C) with p from :func:`cluster_probabilities`. Nats."""
    p = cluster_probabilities(memberships, log_weights)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def largest_membership_member(memberships: Sequence[Sequence[int]], prefer: int = 0) -> int:
    """:func:`largest_cluster_member` on memberships: the largest cluster (ties: the one
    holding ``prefer``, else the earliest); ``prefer`` when it is a member, else the
    cluster's first member (its representative)."""
    check_memberships(memberships)
    sizes = np.array([len(c) for c in memberships])
    tied = np.flatnonzero(sizes == sizes.max())
    holding = [k for k in tied if prefer in memberships[k]]
    cluster = memberships[holding[0] if holding else int(tied[0])]
    return prefer if prefer in cluster else int(cluster[0])


def most_repeated_or_longest(
    memberships: Sequence[Sequence[int]],
    texts: Sequence[str],
    cluster_probs: Sequence[float] | None = None,
) -> int:
    """UQLM 0.6's ``use_best`` choice: in the most probable cluster (the first on ties;
    by size when ``cluster_probs`` is None), the most repeated text when some text repeats
    (the first one met on ties), else the longest (the first on ties); returned as the index
    of that text's first occurrence among all the responses."""
    check_memberships(memberships, len(texts))
    weights = (
        np.array([len(c) for c in memberships], dtype=float)
        if cluster_probs is None
        else np.asarray(cluster_probs, dtype=float)
    )
    if weights.shape != (len(memberships),):
        raise ValueError("cluster_probs needs one value per cluster")
    members = [texts[i] for i in memberships[int(np.argmax(weights))]]
    text, count = Counter(members).most_common(1)[0]
    if count == 1:
        text = max(members, key=len)  # max keeps the first of equally long texts
    return list(texts).index(text)
