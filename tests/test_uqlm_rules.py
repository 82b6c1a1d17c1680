"""UQLM 0.6's clustering and ``use_best`` rules as named options (``clustering="uqlm"``,
``best_response="uqlm"``), against hand-computed values and against a direct
implementation of UQLM's definitions (written here from their description, on the same
NLI probabilities), with an asymmetric NLI model where the rules differ."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest

from lmuq import BlackBoxUQ, UQScorer
from lmuq.constants import ENTAILMENT
from lmuq.scoring import ScoringContext, score
from lmuq.scoring.blackbox import response_clusters, response_memberships
from lmuq.scoring.functional import semantic as SF
from lmuq.statistics.nli_cache import CachedNLI
from lmuq.types import Generation, SampleSet
from nli_fakes import RuleNLI, SubsetNLI, TableNLI


def sset(texts: list[str], prompt: str = "Q?") -> SampleSet:
    return SampleSet(prompt, Generation(texts[0]), [Generation(t) for t in texts[1:]])


# ------------------------------------------------------------- the reference definition


def uqlm_reference(texts: list[str], nli) -> dict:
    """UQLM 0.6's discrete semantic entropy and use_best choice, from their definition.

    Two texts match when they are identical or the arg-max label of either direction is
    entailment. Response 0 founds the first cluster; every later response is appended to
    each cluster whose first member it matches, or founds a new cluster. A cluster's
    probability is its member count over the total member count. The best response is
    the first text of the most probable cluster (the first on ties) after the cluster is
    ordered by "the most common text first, then alphabetically" when a text repeats,
    else "longest first" (stable); its index is its first occurrence among all texts.
    """

    def entails(a: str, b: str) -> bool:
        return a == b or int(np.argmax(nli(a, b))) == ENTAILMENT

    clusters: list[list[str]] = [[texts[0]]]
    for t in texts[1:]:
        hit = False
        for c in clusters:
            if entails(c[0], t) or entails(t, c[0]):
                c.append(t)
                hit = True
        if not hit:
            clusters.append([t])
    sizes = [len(c) for c in clusters]
    probs = [s / sum(sizes) for s in sizes]
    se = -sum(p * math.log(p) for p in probs)
    n = len(texts)
    ordered = []
    for c in clusters:
        mode, count = Counter(c).most_common(1)[0]
        if count > 1:
            ordered.append(sorted(c, key=lambda x, mode=mode: (x != mode, x)))
        else:
            ordered.append(sorted(c, key=len, reverse=True))
    best_text = ordered[probs.index(max(probs))][0]
    return {
        "semantic_negentropy": 1 - se / math.log(n),
        "semantic_sets_confidence": (n - len(clusters)) / (n - 1),
        "num_semantic_sets": len(clusters),
        "best_index": texts.index(best_text),
    }


def ctx(model, **kw) -> ScoringContext:
    return ScoringContext(nli=CachedNLI(model), **kw)


# ------------------------------------------------------------------------- by hand

TEXTS = ["Paris", "France", "Paris France", "Lyon"]


def test_uqlm_clusters_overlap_on_an_asymmetric_nli():
    # "Paris France" entails both "Paris" and "France" (one direction only), which do not
    # entail each other: UQLM puts it in both clusters -> [[0, 2], [1, 2], [3]]
    memberships = response_memberships(sset(TEXTS), ctx(SubsetNLI(), clustering="uqlm"))
    assert memberships == [[0, 2], [1, 2], [3]]
    # strict bidirectional entailment: four singletons; lenient (no contradiction): one
    strict = response_memberships(sset(TEXTS), ctx(SubsetNLI()))
    lenient = response_memberships(sset(TEXTS), ctx(SubsetNLI(), strict_entailment=False))
    assert strict == [[0], [1], [2], [3]]
    assert lenient == [[0, 1, 2, 3]]
    # labels keep each response's first cluster
    assert response_clusters(sset(TEXTS), ctx(SubsetNLI(), clustering="uqlm")) == [0, 1, 0, 2]


def test_semantic_entropy_over_overlapping_clusters_by_hand():
    # member counts 2, 2, 1 of 5: p = (0.4, 0.4, 0.2); n = 4 responses
    se = -(2 * 0.4 * math.log(0.4) + 0.2 * math.log(0.2))
    res = score(
        [sset(TEXTS)],
        ["semantic_negentropy", "semantic_sets_confidence"],
        ctx(SubsetNLI(), clustering="uqlm"),
    )
    assert res.columns["semantic_entropy_nats"][0] == pytest.approx(se, rel=1e-12)
    assert res.columns["semantic_negentropy"][0] == pytest.approx(1 - se / math.log(4), rel=1e-12)
    assert res.columns["num_semantic_sets"][0] == 3
    assert res.columns["semantic_sets_confidence"][0] == pytest.approx((4 - 3) / 3)
    assert res.metadata["clustering"] == "uqlm"
    # lmuq's strict default on the same responses: four singletons, SE = log 4
    strict = score([sset(TEXTS)], ["semantic_negentropy"], ctx(SubsetNLI()))
    assert strict.columns["semantic_negentropy"][0] == pytest.approx(0.0, abs=1e-12)


def test_probability_weighted_entropy_over_overlapping_clusters():
    # ℓ/L per response: log 0.4, log 0.1, log 0.3, log 0.2 (one token each)
    lps = [0.4, 0.1, 0.3, 0.2]
    gens = [Generation(t, logprobs=[math.log(p)]) for t, p in zip(TEXTS, lps, strict=True)]
    ss = SampleSet("Q?", gens[0], gens[1:])
    # cluster masses (0.4 + 0.3), (0.1 + 0.3), 0.2, over their total 1.3
    p = np.array([0.7, 0.4, 0.2]) / 1.3
    se = float(-(p * np.log(p)).sum())
    res = score([ss], ["semantic_entropy"], ctx(SubsetNLI(), clustering="uqlm"))
    assert res.columns["semantic_entropy_weighted_nats"][0] == pytest.approx(se, rel=1e-12)
    assert res.columns["semantic_entropy"][0] == pytest.approx(1 - se / math.log(4), rel=1e-12)


def test_uqlm_best_response_is_the_longest_of_the_largest_cluster():
    # the largest clusters are [0, 2] and [1, 2] (2 members each); the first wins; no text
    # repeats in it, so the longer "Paris France" (index 2) is judged
    kw = {"clustering": "uqlm", "use_best": True}
    uqlm = UQScorer(["semantic_negentropy"], nli_model=SubsetNLI(), best_response="uqlm", **kw)
    ours = UQScorer(["semantic_negentropy"], nli_model=SubsetNLI(), **kw)
    assert uqlm.score([sset(TEXTS)]).columns["best_response_index"] == [2]
    # lmuq's rule keeps the original answer, which is in that cluster
    assert ours.score([sset(TEXTS)]).columns["best_response_index"] == [0]


def test_uqlm_best_response_is_the_most_repeated_text():
    # RuleNLI: normalised-identical texts entail each other, so all four share a cluster;
    # "Paris" repeats (twice), so UQLM judges its first occurrence, index 1
    texts = ["Paris.", "Paris", "paris", "Paris"]
    bb = BlackBoxUQ(
        scorers=["semantic_negentropy", "exact_match_raw"],
        nli_model=RuleNLI(),
        use_best=True,
        best_response="uqlm",
    )
    res = bb.score([texts[0]], [texts[1:]])
    assert res.columns["best_response_index"] == [1]
    assert res.columns["response"] == ["Paris"]
    assert res.columns["original_response"] == ["Paris."]
    # exact_match_raw now compares "Paris" with the other three: one of them is identical
    assert res.columns["exact_match_raw"] == [pytest.approx(1 / 3)]
    assert res.metadata["best_response"] == "uqlm"


def test_prompts_in_nli_use_the_separator_asked_for():
    # UQLM's prompts_in_nli writes f"{prompt}\\n{response}"; a table keyed that way is found
    table = {("Q?\nParis", "Q?\nLyon"): (0.9, 0.05, 0.05)}
    c = ctx(
        TableNLI(table, default=(0.1, 0.8, 0.1)),
        clustering="uqlm",
        condition_on_question=True,
        question_separator="\n",
    )
    assert response_memberships(sset(["Paris", "Lyon"]), c) == [[0, 1]]
    assert ("Q?\nParis", "Q?\nLyon") in c.nli.model.seen


def test_the_options_are_validated_naming_the_argument():
    with pytest.raises(ValueError, match="clustering"):
        ScoringContext(clustering="every")
    with pytest.raises(ValueError, match="best_response"):
        UQScorer(["semantic_negentropy"], best_response="mode")
    with pytest.raises(TypeError, match="question_separator"):
        ScoringContext(question_separator=None)


def test_memberships_helpers_by_hand():
    assert SF.memberships_from_labels([0, 1, 0, 2]) == [[0, 2], [1], [3]]
    assert SF.cluster_probabilities([[0, 2], [1, 2], [3]]) == pytest.approx([0.4, 0.4, 0.2])
    # on a partition the weighted form is the old label-based one
    ll = [math.log(0.5), math.log(0.25), math.log(0.25)]
    assert SF.membership_entropy([[0, 1], [2]], ll) == pytest.approx(
        SF.semantic_entropy_weighted([0, 0, 1], ll)
    )
    with pytest.raises(ValueError, match="cover"):
        SF.cluster_probabilities([[0], [2]])
    # ties: the most repeated text met first; else the longest met first
    assert SF.most_repeated_or_longest([[0, 1, 2, 3]], ["b", "a", "a", "b"]) == 0
    assert SF.most_repeated_or_longest([[0, 1, 2]], ["ab", "cd", "e"]) == 0


# ------------------------------------------------ against the reference, many cases


def random_case(rng: random.Random, vocab: list[str]) -> tuple[list[str], dict]:
    n = rng.randint(2, 7)
    texts = [rng.choice(vocab) for _ in range(n)]
    table = {}
    for a in vocab:
        for b in vocab:
            if a != b:
                w = [rng.random() for _ in range(3)]
                table[(a, b)] = tuple(x / sum(w) for x in w)
    return texts, table


def test_uqlm_rules_match_the_reference_definition_on_random_asymmetric_nli():
    rng = random.Random(7)
    vocab = ["alpha", "beta", "gamma", "delta", "epsilon is long"]
    differs = {"strict": 0, "lenient": 0}
    for _ in range(150):
        texts, table = random_case(rng, vocab)
        ref = uqlm_reference(texts, lambda a, b, t=table: t[(a, b)])
        uq = UQScorer(
            ["semantic_negentropy", "semantic_sets_confidence"],
            nli_model=TableNLI(table, default=None),
            clustering="uqlm",
            best_response="uqlm",
            use_best=True,
        )
        res = uq.score([sset(texts)])
        assert res.columns["semantic_negentropy"][0] == pytest.approx(
            ref["semantic_negentropy"], abs=1e-12
        )
        assert res.columns["semantic_sets_confidence"][0] == pytest.approx(
            ref["semantic_sets_confidence"], abs=1e-12
        )
        assert res.columns["num_semantic_sets"][0] == ref["num_semantic_sets"]
        assert res.columns["best_response_index"][0] == ref["best_index"]
        for rule, strict in (("strict", True), ("lenient", False)):
            ours = UQScorer(
                ["semantic_negentropy"],
                nli_model=TableNLI(table, default=None),
                strict_entailment=strict,
            ).score([sset(texts)])
            value = ours.columns["semantic_negentropy"][0]
            differs[rule] += not math.isclose(value, ref["semantic_negentropy"], abs_tol=1e-9)
    # the case the rule exists for: neither of lmuq's own rules reproduces UQLM's
    assert differs["strict"] > 0 and differs["lenient"] > 0
