"""Fewer planning rounds for semantic clustering, with the same clusters and the same pairs.

Two exact shortcuts: clustering announces the comparisons with the next representative
as soon as the known verdicts fix it (``cluster_levels(lookahead=True)``), and ``use_best``
stops clustering once the first clusters decide the largest (``settled_largest_member``).
Hand examples count the rounds; random ones check the clusters and the set of comparisons
against the one-response-at-a-time definition (Kuhn et al. 2023, Algorithm 1).
"""

from __future__ import annotations

import math
import random

import pytest

from lmuq.scoring import score
from lmuq.scoring.context import ScoringContext
from lmuq.scoring.functional import semantic as SF
from lmuq.statistics.nli_cache import CachedNLI
from lmuq.types import Generation, SampleSet
from nli_fakes import TableNLI

ENT, CON = (0.8, 0.15, 0.05), (0.05, 0.05, 0.9)


class _Missing(Exception):
    def __init__(self, keys: list[tuple[int, int]]) -> None:
        self.keys = keys


class PlannedRelation:
    """Strict bidirectional entailment over a table of directed verdicts, read the way
    the planner reads NLI: ``prefetch`` raises with every direction it lacks (a
    comparison's first direction, or its second once the first entailed), ``settled``
    says what the known directions decide, and every direction asked is recorded."""

    def __init__(self, entails: dict[tuple[int, int], bool]) -> None:
        self.entails = entails
        self.known: dict[tuple[int, int], bool] = {}
        self.asked: list[tuple[int, int]] = []

    def settled(self, i: int, j: int) -> bool | None:
        if (i, j) not in self.known:
            return None
        if not self.known[i, j]:
            return False
        return self.known.get((j, i))

    def prefetch(self, pairs: list[tuple[int, int]]) -> None:
        need = []
        for i, j in pairs:
            if (i, j) not in self.known:
                need.append((i, j))
            elif self.known[i, j] and (j, i) not in self.known:
                need.append((j, i))
        if need:
            raise _Missing(list(dict.fromkeys(need)))

    def __call__(self, i: int, j: int) -> bool:
        return self.known[i, j] and self.known[j, i]

    def fill(self, keys: list[tuple[int, int]]) -> None:
        for k in keys:
            self.known[k] = self.entails[k]
            self.asked.append(k)


def planned_clusters(n: int, rel: PlannedRelation, lookahead: bool) -> tuple[list[int], int]:
    """Replay the clustering round by round, as the scoring engine does: (labels, rounds)."""
    rounds = 0
    while True:
        try:
            return SF.cluster_responses(n, rel) if lookahead else _no_lookahead(n, rel), rounds
        except _Missing as exc:
            rel.fill(exc.keys)
            rounds += 1


def _no_lookahead(n: int, rel: PlannedRelation) -> list[int]:
    *_, labels = SF.cluster_levels(n, rel, lookahead=False)
    return labels


def algorithm_1(n: int, entails: dict[tuple[int, int], bool]) -> tuple[list[int], set]:
    """One response at a time against each representative; the directions it reads."""
    asked: set[tuple[int, int]] = set()
    labels, reps = [0], [0]
    for i in range(1, n):
        for c, r in enumerate(reps):
            asked.add((i, r))
            if entails[i, r]:
                asked.add((r, i))
                if entails[r, i]:
                    labels.append(c)
                    break
        else:
            labels.append(len(reps))
            reps.append(i)
    return labels, asked


def test_the_next_representative_is_asked_as_soon_as_it_is_known():
    # 0 = A, 1 = C, 2 = B, 3 = D: {A, B} and {C, D}. After the first round C (1) is known
    # to be outside A's cluster and nothing below it is open, so C is the next
    # representative: D -> C joins round 2 with A -> B, and C -> D is round 3 (not 4).
    both = {(2, 0), (0, 2), (3, 1), (1, 3)}
    entails = {(i, j): (i, j) in both for i in range(4) for j in range(4) if i != j}
    rel = PlannedRelation(entails)
    labels, rounds = planned_clusters(4, rel, lookahead=True)
    assert labels == [0, 1, 0, 1]
    assert rounds == 3
    assert rel.asked == [(1, 0), (2, 0), (3, 0), (0, 2), (3, 1), (1, 3)]
    slow = PlannedRelation(entails)
    assert planned_clusters(4, slow, lookahead=False) == ([0, 1, 0, 1], 4)
    assert sorted(slow.asked) == sorted(rel.asked)


def test_an_open_verdict_below_blocks_the_next_representative():
    # 0 = A, 1 = B, 2 = C: B's second direction is still open after round 1, and B < C,
    # so B could still found the next cluster: nothing is asked ahead.
    entails = {(1, 0): True, (0, 1): False, (2, 0): False, (2, 1): True, (1, 2): True}
    entails |= {(0, 2): False}
    rel = PlannedRelation(entails)
    labels, rounds = planned_clusters(3, rel, lookahead=True)
    # B fails its second direction and founds cluster 1; C joins it
    assert labels == [0, 1, 1]
    assert rel.asked == [(1, 0), (2, 0), (0, 1), (2, 1), (1, 2)]
    assert rounds == 4


@pytest.mark.parametrize("seed", range(40))
def test_lookahead_keeps_the_clusters_and_the_comparisons_of_algorithm_1(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 9)
    p = rng.choice([0.3, 0.6, 0.9])
    entails = {(i, j): rng.random() < p for i in range(n) for j in range(n) if i != j}
    labels, asked = algorithm_1(n, entails)
    fast, slow = PlannedRelation(entails), PlannedRelation(entails)
    got_fast, rounds_fast = planned_clusters(n, fast, lookahead=True)
    got_slow, rounds_slow = planned_clusters(n, slow, lookahead=False)
    assert got_fast == got_slow == labels
    assert set(fast.asked) == set(slow.asked) == asked
    assert len(fast.asked) == len(set(fast.asked))  # each direction once
    assert rounds_fast <= rounds_slow


# ---------------------------------------------------------------- the largest cluster, early


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([0, 0, 0, -1, -1], 0),  # 3 members; the other two can hold at most 2
        ([0, 0, -1, -1], 0),  # a later cluster of 2 would tie, and ties go to the answer's
        ([0, -1, -1], None),  # a later cluster of 2 would win
        ([0, 1, 1, 1, -1, -1, -1], 1),  # a later tie (3) loses to the earlier cluster 1
        ([0, 1, 1, -1, -1, -1], None),  # a later cluster of 3 would win
        ([0, 1, 1, 0, 2], 0),  # finished: the tie between 0 and 1 goes to the answer's
        ([0, 1, 1, 2], 1),  # finished: cluster 1's first member
    ],
)
def test_settled_largest_member_by_hand(labels, expected):
    assert SF.settled_largest_member(labels) == expected


@pytest.mark.parametrize("seed", range(30))
def test_settled_largest_member_never_contradicts_the_finished_clustering(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 10)
    labels: list[int] = []
    for _ in range(n):  # labels in order of first appearance
        labels.append(rng.randint(0, max(labels, default=-1) + 1))
    truth = SF.largest_cluster_member(labels)
    k = max(labels) + 1
    for level in range(1, k + 1):  # the partial labels after each cluster is complete
        partial = [c if c < level else -1 for c in labels]
        got = SF.settled_largest_member(partial)
        assert got is None or got == truth
    assert SF.settled_largest_member(labels) == truth


def test_use_best_asks_the_judged_answers_pairs_before_clustering_ends():
    # A, B, C agree; D and E agree with each other and contradict A. After the first
    # cluster ({A, B, C}: 3 of 5) the answer's cluster is the largest whatever D and E do,
    # so noncontradiction's A -> D and A -> E join the second cluster's round.
    texts = ["A", "B", "C", "D", "E"]
    table = {}
    for x in "BC":
        table[x, "A"] = table["A", x] = ENT
    for x in "DE":
        table[x, "A"] = table["A", x] = CON
    table["E", "D"] = table["D", "E"] = ENT
    ss = SampleSet("Q?", Generation("A"), [Generation(t) for t in texts[1:]])
    nli = TableNLI(table, default=None)
    res = score(
        [ss],
        ["noncontradiction", "semantic_negentropy"],
        ScoringContext(nli=CachedNLI(nli), use_best=True),
    )
    # rounds: B,C,D,E -> A | A -> B, A -> C | E -> D, A -> D, A -> E | D -> E
    assert nli.calls == 4
    assert sorted(nli.seen) == sorted(table)
    # judged A: 1 - (p_c(A->s) + p_c(s->A)) / 2 over B, C, D, E
    assert res.columns["noncontradiction"][0] == pytest.approx((2 * 0.95 + 2 * 0.1) / 4)
    assert res.columns["num_semantic_sets"][0] == 2
    se = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))
    assert res.columns["semantic_negentropy"][0] == pytest.approx(1 - se / math.log(5))

    # noncontradiction alone needs the clusters only to choose the judged response: D and
    # E are never compared with each other
    alone = TableNLI(table, default=None)
    res = score([ss], ["noncontradiction"], ScoringContext(nli=CachedNLI(alone), use_best=True))
    assert sorted(alone.seen) == sorted(k for k in table if "A" in k)
    assert res.columns["noncontradiction"][0] == pytest.approx((2 * 0.95 + 2 * 0.1) / 4)
