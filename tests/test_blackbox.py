"""Black-box scorers and BlackBoxUQ on deterministic NLI fakes (hand-computed values)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmuq import BlackBoxUQ
from lmuq.scoring import score
from lmuq.scoring.context import ScoringContext
from lmuq.scoring.functional import nli_scores as NF
from lmuq.scoring.functional import semantic as SF
from lmuq.statistics.nli_cache import CachedNLI
from lmuq.types import Generation, SampleSet
from nli_fakes import RuleNLI, TableNLI

ENT, NEU, CON = (0.8, 0.15, 0.05), (0.1, 0.8, 0.1), (0.05, 0.05, 0.9)


def sset(answer: str, samples: list[str], prompt: str = "Q?") -> SampleSet:
    return SampleSet(prompt, Generation(answer), [Generation(s) for s in samples])


def ctx_with(model, **kw) -> ScoringContext:
    return ScoringContext(nli=CachedNLI(model), **kw)


# ---------------------------------------------------------------- clustering & entropy


def test_strict_and_lenient_clustering_differ_on_neutral_pairs():
    ss = sset("Paris", ["Paris.", "Lyon", "paris"])
    strict = score([ss], ["semantic_negentropy"], ctx_with(RuleNLI()))
    lenient = score([ss], ["semantic_negentropy"], ctx_with(RuleNLI(), strict_entailment=False))
    # strict: {Paris, Paris., paris} {Lyon}: SE = −(3/4 ln 3/4 + 1/4 ln 1/4)
    se = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert strict.columns["semantic_entropy_nats"][0] == pytest.approx(se)
    assert strict.columns["semantic_negentropy"][0] == pytest.approx(1 - se / math.log(4))
    assert strict.columns["num_semantic_sets"][0] == 2
    # lenient: "Lyon" vs "Paris" is neutral, not a contradiction, so everything merges
    assert lenient.columns["semantic_negentropy"][0] == pytest.approx(1.0)
    assert lenient.columns["num_semantic_sets"][0] == 1


def test_clustering_joins_first_matching_representative_only():
    # 0~1 and 1~2 but not 0~2: greedy against representatives puts 2 in its own cluster
    rel = {(0, 1), (1, 0), (1, 2), (2, 1)}
    labels = SF.cluster_responses(3, lambda i, j: (i, j) in rel)
    assert labels == [0, 0, 1]


def test_semantic_sets_confidence_and_weighted_entropy_by_hand():
    assert SF.semantic_sets_confidence([0, 0, 1, 2]) == pytest.approx((4 - 3) / 3)
    ll = [math.log(0.5), math.log(0.25), math.log(0.25)]
    # clusters {0,1} {2}: p = (0.75, 0.25) after renormalisation over the three
    se = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert SF.semantic_entropy_weighted([0, 0, 1], ll) == pytest.approx(se)
    # long answers: log-likelihoods of −900 would underflow in linear space
    assert SF.semantic_entropy_weighted([0, 0, 1], np.array(ll) - 900) == pytest.approx(se)


def test_semantic_entropy_scorer_uses_length_normalised_logprobs():
    ans = Generation("Paris", logprobs=[math.log(0.5), math.log(0.5)])  # ℓ/L = log 0.5
    s1 = Generation("paris", logprobs=[math.log(0.25)])  # ℓ/L = log 0.25
    s2 = Generation("Lyon", logprobs=[math.log(0.25), math.log(0.25), math.log(0.25)])
    ss = SampleSet("Q?", ans, [s1, s2])
    res = score([ss], ["semantic_entropy"], ctx_with(RuleNLI()))
    se = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert res.columns["semantic_entropy_weighted_nats"][0] == pytest.approx(se)
    assert res.columns["semantic_entropy"][0] == pytest.approx(1 - se / math.log(3))
    no_lp = score([sset("a", ["b"])], ["semantic_entropy"], ctx_with(RuleNLI()), on_error="nan")
    assert "log-prob" in no_lp.columns["score_errors"][0]["semantic_entropy"]


# ---------------------------------------------------------------- pairwise NLI scores


def test_noncontradiction_and_entailment_by_hand():
    table = {
        ("A", "B"): ENT,
        ("B", "A"): NEU,
        ("A", "C"): CON,
        ("C", "A"): CON,
    }
    res = score(
        [sset("A", ["B", "C"])], ["noncontradiction", "entailment"], ctx_with(TableNLI(table))
    )
    ncp = ((1 - (0.05 + 0.1) / 2) + (1 - (0.9 + 0.9) / 2)) / 2
    ent = ((0.8 + 0.1) / 2 + (0.05 + 0.05) / 2) / 2
    assert res.columns["noncontradiction"][0] == pytest.approx(ncp)
    assert res.columns["entailment"][0] == pytest.approx(ent)


def test_nli_pairs_run_are_exactly_the_union_needed_and_never_repeated():
    nli = RuleNLI()
    ctx = ctx_with(nli)
    ss = sset("alpha", ["alpha", "beta", "gamma"])
    score([ss, ss], ["semantic_negentropy", "noncontradiction"], ctx)
    # clustering (strict, one direction first): beta→alpha, gamma→alpha, gamma→beta;
    # noncontradiction: alpha↔beta, alpha↔gamma (alpha↔alpha is never sent: self-entailment).
    expected = {
        ("beta", "alpha"),
        ("gamma", "alpha"),
        ("gamma", "beta"),
        ("alpha", "beta"),
        ("alpha", "gamma"),
    }
    assert set(nli.seen) == expected
    assert nli.pairs_run == len(expected) == 5  # the second, identical prompt cost nothing


def test_pairs_batched_across_prompts_in_few_calls():
    nli = RuleNLI()
    sets = [sset(f"w{i}", [f"x{i}", f"y{i}", f"z{i}"]) for i in range(20)]
    score(sets, ["semantic_negentropy"], ctx_with(nli))
    # each prompt: x→w, y→w, y→x, z→w, z→x, z→y = 6 sequential pairs; 20 prompts batched
    assert nli.pairs_run == 120
    # one batched call per representative (w, x, y), for all 20 prompts at once
    assert nli.calls == 3


class BatchedRuleNLI(RuleNLI):
    """RuleNLI run in forward passes of ``batch_size`` pairs, as HFNLIModel runs them."""

    batch_size = 7

    def __init__(self) -> None:
        super().__init__()
        self.passes: list[int] = []

    def predict_proba(self, premises, hypotheses):
        n = len(premises)
        self.passes += [min(self.batch_size, n - s) for s in range(0, n, self.batch_size)]
        return super().predict_proba(premises, hypotheses)


def test_rounds_run_whole_model_batches_and_the_same_pairs_and_scores():
    sets = [sset(f"w{i}", [f"x{i}", f"y{i}", f"z{i}"]) for i in range(20)]
    scorers = ["semantic_negentropy", "noncontradiction"]
    each_round = BatchedRuleNLI()  # on a CPU: every round's pairs at once
    before = score(sets, scorers, ctx_with(each_round))
    nli = BatchedRuleNLI()
    after = score(sets, scorers, ScoringContext(nli=CachedNLI(nli, whole_batches=True)))
    assert sorted(nli.seen) == sorted(each_round.seen)  # the same pairs, each once
    # clustering 6 pairs a prompt (x→w, y→w, y→x, z→w, z→x, z→y), noncontradiction 3 more
    assert len(nli.seen) == len(set(nli.seen)) == 20 * (6 + 3)
    for name in before.columns:
        assert after.columns[name] == before.columns[name]
    # 180 pairs in passes of 7: the fewest passes, all full but the last (the round-by-round
    # fill ran a partial pass at the end of its rounds)
    assert nli.passes == [7] * 25 + [5]
    assert len(each_round.passes) > 26


def test_a_source_that_never_fills_is_an_error_not_an_endless_loop():
    class Forgetful(CachedNLI):  # computes, but its lookups never see the result
        def get(self, premise, hypothesis):
            return None

    ctx = ScoringContext(nli=Forgetful(RuleNLI()))
    with pytest.raises(RuntimeError, match=r"Forgetful was asked for the same 2 keys"):
        score([sset("a", ["b"])], ["noncontradiction"], ctx)


def test_question_conditioning_prefixes_both_texts():
    nli = RuleNLI()
    ctx = ctx_with(nli, condition_on_question=True)
    score([sset("a b", ["c d"], prompt="Why?")], ["noncontradiction"], ctx)
    assert ("Why? a b", "Why? c d") in nli.seen and ("Why? c d", "Why? a b") in nli.seen


# ---------------------------------------------------------------- graph family, KLE, LUQ


def _all(table_value):
    class Const(TableNLI):
        def predict_proba(self, premises, hypotheses):
            self.calls += 1
            self.pairs_run += len(premises)
            return np.tile(np.array(table_value, dtype=float), (len(premises), 1))

    return Const({}, name=f"const-{table_value}")


def test_graph_scores_at_the_extremes():
    agree = score(
        [sset("a", ["b", "c", "d"])],
        ["eigv", "degree", "eccentricity", "kernel_language_entropy"],
        ctx_with(_all((1.0, 0.0, 0.0))),
    )
    assert agree.columns["eigv"][0] == pytest.approx(1.0)
    assert agree.columns["eigv_uncertainty"][0] == pytest.approx(1.0)
    assert agree.columns["degree"][0] == pytest.approx(1.0)
    assert agree.columns["eccentricity"][0] == pytest.approx(1.0)
    # complete graph K4, t=1: L eigenvalues 0, 4, 4, 4 -> rho eigenvalues 1/(1+3e^-4), e^-4/(...)
    z = 1 + 3 * math.exp(-4)
    lam = np.array([1 / z] + [math.exp(-4) / z] * 3)
    kle = float(-(lam * np.log(lam)).sum())
    assert agree.columns["kernel_language_entropy_nats"][0] == pytest.approx(kle)
    apart = score(
        [sset("a", ["b", "c", "d"])],
        ["eigv", "degree", "kernel_language_entropy"],
        ctx_with(_all((0.0, 0.0, 1.0))),
    )
    assert apart.columns["eigv_uncertainty"][0] == pytest.approx(4.0)  # W = I: 4 sets
    assert apart.columns["eigv"][0] == pytest.approx(0.0)
    assert apart.columns["degree"][0] == pytest.approx(1 / 4)
    assert apart.columns["kernel_language_entropy_nats"][0] == pytest.approx(math.log(4))
    assert apart.columns["kernel_language_entropy"][0] == pytest.approx(0.0)


def test_luq_by_hand_over_sentences():
    table = {
        ("S1", "Paris is big."): ENT,
        ("S1", "It is old."): CON,
        ("S2", "Paris is big."): ENT,
        ("S2", "It is old."): NEU,
    }
    res = score(
        [sset("Paris is big. It is old.", ["S1", "S2"])], ["luq"], ctx_with(TableNLI(table))
    )
    r = lambda p: p[0] / (p[0] + p[2])  # noqa: E731
    expected = ((r(ENT) + r(CON)) / 2 + (r(ENT) + r(NEU)) / 2) / 2
    assert res.columns["luq"][0] == pytest.approx(expected)
    assert NF.split_sentences("One. Two!\nThree") == ["One.", "Two!", "Three"]


# ---------------------------------------------------------------- BlackBoxUQ


def test_score_columns_like_uqlm_and_exact_match_default_normalised():
    bb = BlackBoxUQ(scorers=["exact_match", "exact_match_raw"], use_best=False)
    res = bb.score(
        responses=["145", "Paris"], sampled_responses=[["145 \n", "146"], ["paris", "Paris"]]
    )
    df = res.to_df()
    assert list(df.columns[:4]) == [
        "response",
        "sampled_responses",
        "exact_match",
        "exact_match_raw",
    ]
    assert df["exact_match"].tolist() == [pytest.approx(0.5), pytest.approx(1.0)]
    assert df["exact_match_raw"].tolist() == [pytest.approx(0.0), pytest.approx(0.5)]
    with_prompts = bb.score(["a"], [["a"]], prompts=["Q"])
    assert with_prompts.to_df().columns[0] == "prompt"


def test_use_best_swaps_to_the_largest_cluster_and_records_it():
    bb = BlackBoxUQ(
        scorers=["exact_match", "semantic_sets_confidence"], use_best=True, nli_model=RuleNLI()
    )
    res = bb.score(["Lyon"], [["Paris", "Paris", "Paris"]])
    assert res.columns["response"] == ["Paris"]
    assert res.columns["original_response"] == ["Lyon"]
    assert res.columns["best_response_index"] == [1]
    assert res.columns["sampled_responses"] == [["Lyon", "Paris", "Paris"]]
    assert res.columns["exact_match"][0] == pytest.approx(2 / 3)


def test_use_best_applies_only_with_a_clustering_scorer_like_uqlm():
    # No clustering scorer: the original response is judged and no NLI model is needed
    # (nli_model_name=None would raise if one were).
    bb = BlackBoxUQ(scorers=["exact_match"], use_best=True, nli_model_name=None)
    res = bb.score(["Lyon"], [["Paris", "Paris", "Paris"]])
    assert res.columns["response"] == ["Lyon"] and "original_response" not in res.columns
    assert res.columns["exact_match"][0] == pytest.approx(0.0)


def test_no_nli_model_is_one_clear_message_and_fallback_equivalence_works():
    bb = BlackBoxUQ(scorers=["noncontradiction"], nli_model_name=None, use_best=False)
    with pytest.raises(ValueError, match="NLI model"):
        bb.score(["a"], [["b"]])
    fb = BlackBoxUQ(
        scorers=["semantic_negentropy", "semantic_sets_confidence"],
        nli_model_name=None,
        equivalence="normalized_match",
    )
    res = fb.score(["Paris"], [["paris.", " PARIS", "Lyon"]])
    assert res.columns["num_semantic_sets"] == [2]
    assert res.metadata["equivalence"] == "normalized_match"
    num = BlackBoxUQ(
        scorers=["semantic_sets_confidence"],
        nli_model_name=None,
        equivalence="numeric",
        use_best=False,
    )
    out = num.score(["The answer is 1,250."], [["1250", "$1250.00", "12"]])
    assert out.columns["num_semantic_sets"] == [2]


def test_postprocessor_max_length_and_raw_columns():
    bb = BlackBoxUQ(
        scorers=["exact_match_raw"], use_best=False, postprocessor=str.upper, max_length=3
    )
    res = bb.score(["paris"], [["PARxx", "lyon"]])
    assert res.columns["response"] == ["PAR"] and res.columns["raw_response"] == ["paris"]
    assert res.columns["exact_match_raw"] == [pytest.approx(0.5)]


@pytest.mark.parametrize(
    ("responses", "samples", "exc", "match"),
    [
        ([], [], ValueError, "empty"),
        (["a", "b"], [["a"]], ValueError, "2 items but sampled_responses has 1"),
        (["a"], [[]], ValueError, r"sampled_responses\[0\] is empty"),
        ([3], [["a"]], TypeError, r"responses\[0\]"),
        (["a"], [["a", None]], TypeError, r"sampled_responses\[0\]\[1\]"),
        ("abc", [["a"]], TypeError, "list of str"),
    ],
)
def test_score_rejects_bad_input(responses, samples, exc, match):
    with pytest.raises(exc, match=match):
        BlackBoxUQ(scorers=["exact_match"], use_best=False).score(responses, samples)


def test_constructor_validates():
    with pytest.raises(ValueError, match="unknown scorer"):
        BlackBoxUQ(scorers=["semantic_negentrpy"])
    with pytest.raises(ValueError, match="sampling_temperature"):
        BlackBoxUQ(sampling_temperature=0)
    with pytest.raises(ValueError, match="equivalence"):
        BlackBoxUQ(equivalence="vibes")


def test_a_result_scored_without_prompts_has_a_length_and_a_table():
    # issue 10 #8: len() of a result scored without prompts raised KeyError: 'prompt'
    result = BlackBoxUQ(scorers=["exact_match"]).score(
        responses=["Paris", "Rome", "Oslo"],
        sampled_responses=[["Paris", "paris"], ["Milan", "Rome"], ["Oslo", "Bergen"]],
    )
    assert len(result) == 3
    assert list(result.to_df()["exact_match"]) == [1.0, 0.5, 0.5]
