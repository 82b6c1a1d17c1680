"""LongFormUQ: claim scores through the one engine, batched NLI pairs, refinement.

Values are worked out by hand from the NLI tables below (premise = sample, hypothesis =
unit of the answer).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest

from lmuq.backends import FakeBackend
from lmuq.scoring import SCORERS, ScoringContext, score
from lmuq.scoring.longform import ClaimScores, Decomposition, claim_scorer, decompose
from lmuq.statistics.nli_cache import CachedNLI
from lmuq.types import Generation, SampleSet
from lmuq.uq.longform import LongFormUQ
from nli_fakes import RuleNLI, TableNLI

ANSWER = "Paris is big. Paris is old."
SAMPLES = ["Paris is big and old.", "Lyon is big."]
TABLE = {
    ("Paris is big and old.", "Paris is big."): (0.9, 0.05, 0.05),
    ("Paris is big and old.", "Paris is old."): (0.8, 0.1, 0.1),
    ("Lyon is big.", "Paris is big."): (0.1, 0.2, 0.7),
    ("Lyon is big.", "Paris is old."): (0.1, 0.8, 0.1),
}


def _set(answer: str, samples: list[str], prompt: str = "Tell me about Paris.") -> SampleSet:
    return SampleSet(prompt, Generation(answer), [Generation(s) for s in samples])


def test_registered_unit_response_scores_by_hand():
    ctx = ScoringContext(nli=CachedNLI(TableNLI(TABLE, default=None)))
    names = ["claim_entailment", "claim_noncontradiction", "claim_contrasted_entailment"]
    result = score([_set(ANSWER, SAMPLES)], names, ctx)
    # unit 1 "Paris is big.": p_e (0.9, 0.1), p_c (0.05, 0.7); unit 2: p_e (0.8, 0.1), p_c 0.1
    assert result.columns["claim_entailment"][0] == pytest.approx((0.5 + 0.45) / 2)
    assert result.columns["claim_noncontradiction"][0] == pytest.approx((0.625 + 0.9) / 2)
    c1 = (0.9 / 0.95 + 0.1 / 0.8) / 2
    c2 = (0.8 / 0.9 + 0.1 / 0.2) / 2
    assert result.columns["claim_contrasted_entailment"][0] == pytest.approx((c1 + c2) / 2)
    detail = result.details["claim_entailment"][0]
    assert isinstance(detail, ClaimScores)
    assert [c.text for c in detail.claims] == ["Paris is big.", "Paris is old."]
    assert [(c.start, c.end) for c in detail.claims] == [(0, 13), (14, 27)]
    assert detail.values == pytest.approx((0.5, 0.45))
    for name in names:
        assert SCORERS[name].family == "long-form"


def test_min_aggregation_and_orchestrator_claim_table():
    uq = LongFormUQ(
        ["claim_entailment", "claim_noncontradiction"],
        aggregation="min",
        nli_model=TableNLI(TABLE, default=None),
    )
    result = uq.score([_set(ANSWER, SAMPLES)])
    assert result.columns["claim_entailment"][0] == pytest.approx(0.45)
    assert result.columns["claim_noncontradiction"][0] == pytest.approx(0.625)
    claims = result.columns["claims_data"][0]
    assert [c["claim"] for c in claims] == ["Paris is big.", "Paris is old."]
    assert claims[0]["claim_entailment"] == pytest.approx(0.5)
    assert claims[1]["claim_noncontradiction"] == pytest.approx(0.9)
    assert claims[0]["removed"] is False and claims[0]["span"] == "exact"
    records = result.claim_records()
    assert [(r["row"], r["claim_index"]) for r in records] == [(0, 0), (0, 1)]
    assert records[0]["prompt"] == "Tell me about Paris."
    df = result.claims_df()
    assert list(df["claim_entailment"]) == pytest.approx([0.5, 0.45])
    assert result.metadata["granularity"] == "sentence"
    assert result.metadata["aggregation"] == "min"


def test_nli_pairs_are_the_distinct_claim_sample_pairs_batched_and_cached():
    # r1 units {A, B}, samples {A, C}; r2 units {A, D}, samples {C, A}; r3 unit {B}, sample {C}.
    # Pairs (sample, unit), a text never against itself: r1 (C,A) (A,B) (C,B);
    # r2 adds (C,D) (A,D) — (C,A) is r1's; r3's (C,B) is r1's. Five distinct pairs.
    a, b, c, d = "A is one.", "B is two.", "C is three.", "D is four."
    sets = [_set(f"{a} {b}", [a, c]), _set(f"{a} {d}", [c, a]), _set(b, [c])]
    model = RuleNLI()
    uq = LongFormUQ(
        ["claim_entailment", "claim_noncontradiction", "claim_contrasted_entailment"],
        nli_model=model,
    )
    uq.score(sets)
    assert model.calls == 1  # one batch across rows and scorers
    assert model.pairs_run == 5
    assert set(model.seen) == {(c, a), (a, b), (c, b), (c, d), (a, d)}
    uq.score(sets)  # the same texts again: every pair is cached
    assert (model.calls, model.pairs_run) == (1, 5)
    assert uq.statistics.nli.misses == 5


def test_claim_decomposition_is_one_batched_call_and_claims_get_spans():
    fake = FakeBackend(
        {
            "Text: Ann lives in Oslo": "### Ann lives in Oslo.\n### Ann is a doctor.",
            "Text: Bo lives in Rome": "### Bo lives in Rome.",
        }
    )
    sets = [
        _set("Ann lives in Oslo, where she is a doctor.", ["Ann lives in Oslo."]),
        _set("Bo lives in Rome.", ["Bo lives in Rome."]),
    ]
    uq = LongFormUQ(["claim_entailment"], granularity="claim", decomposer=fake, nli_model=RuleNLI())
    result = uq.score(sets)
    assert len(fake.calls) == 1 and len(fake.calls[0].prompts) == 2
    claims = result.columns["claims_data"][0]
    assert [c["claim"] for c in claims] == ["Ann lives in Oslo.", "Ann is a doctor."]
    assert (claims[0]["start"], claims[0]["end"], claims[0]["span"]) == (0, 17, "exact")
    # "Ann is a doctor." is not verbatim: placed on the sentence holding {ann, doctor}
    assert (claims[1]["start"], claims[1]["end"], claims[1]["span"]) == (0, 41, "sentence")
    # the sample "Ann lives in Oslo." is the first claim itself (entailment 1); RuleNLI finds
    # "Ann is a doctor." neutral to it (p_e 0.1)
    assert result.columns["claim_entailment"][0] == pytest.approx((1.0 + 0.1) / 2)
    assert result.columns["claim_entailment"][1] == pytest.approx(1.0)  # identical texts
    uq.score(sets)
    assert len(fake.calls) == 1  # the replies are cached


def test_decompose_draws_every_reply_in_one_call():
    fake = FakeBackend({"Text: X is": "### X is red.", "Text: Y is": "### NONE"})
    out = decompose(["X is red.", "Y is blue."], Decomposition("claim", fake))
    assert [[c.text for c in units] for units in out] == [["X is red."], []]
    assert len(fake.calls) == 1
    with pytest.raises(ValueError, match="granularity must be one of"):
        Decomposition("paragraph")  # type: ignore[arg-type]


def test_a_failed_or_empty_decomposition_is_nan_on_its_own_row():
    fake = FakeBackend(
        {"Text: Ann": RuntimeError("server down"), "Text: Bo": "### NONE", "Text: Cy": "### Cy."}
    )
    sets = [_set("Ann sings.", ["x"]), _set("Bo sings.", ["x"]), _set("Cy.", ["Cy."])]
    uq = LongFormUQ(["claim_entailment"], granularity="claim", decomposer=fake, nli_model=RuleNLI())
    result = uq.score(sets)
    values = result.columns["claim_entailment"]
    assert math.isnan(values[0]) and math.isnan(values[1]) and values[2] == pytest.approx(1.0)
    errors = result.columns["score_errors"]
    assert "claim decomposition failed" in errors[0]["claim_entailment"]
    assert "server down" in errors[0]["claim_entailment"]
    assert errors[1]["claim_entailment"] == "the decomposer found no claims"
    assert result.columns["claims_data"][1] == []


# Matched units: the samples are split too.
MATCHED = {
    ("Ann is rich.", "Ann is tall."): (0.1, 0.8, 0.1),
    ("Ann is short.", "Ann is tall."): (0.05, 0.05, 0.9),
    ("Ann is tall.", "Ann is kind."): (0.2, 0.7, 0.1),
    ("Ann is rich.", "Ann is kind."): (0.3, 0.6, 0.1),
    ("Ann is short.", "Ann is kind."): (0.1, 0.8, 0.1),
}
M_SET = _set("Ann is tall. Ann is kind.", ["Ann is tall. Ann is rich.", "Ann is short."])


def test_matched_unit_nli_scores_by_hand():
    ctx = ScoringContext(nli=CachedNLI(TableNLI(MATCHED, default=None)))
    names = ["claim_entailment_matched", "claim_noncontradiction_matched"]
    result = score([M_SET], names, ctx)
    # "Ann is tall.": sample 1's best unit is itself (1.0), sample 2 gives 0.05;
    # "Ann is kind.": best 0.3 in sample 1, 0.1 in sample 2
    assert result.columns["claim_entailment_matched"][0] == pytest.approx(
        ((1.0 + 0.05) / 2 + (0.3 + 0.1) / 2) / 2
    )
    assert result.columns["claim_noncontradiction_matched"][0] == pytest.approx(
        ((1.0 + 0.1) / 2 + (0.9 + 0.9) / 2) / 2
    )


class TableEmbedder:
    VECTORS: ClassVar[dict[str, tuple[float, float]]] = {
        "Ann is tall.": (1.0, 0.0),
        "Ann is rich.": (0.0, 1.0),
        "Ann is short.": (-1.0, 0.0),
        "Ann is kind.": (0.6, 0.8),
    }

    def encode(self, texts):
        return np.array([self.VECTORS[t] for t in texts])


class TableBERTScorer:
    F1: ClassVar[dict[tuple[str, str], float]] = {
        ("Ann is tall.", "Ann is tall."): 1.0,
        ("Ann is rich.", "Ann is tall."): 0.4,
    }

    def f1(self, candidates, references):
        return np.array(
            [self.F1.get((c, r), 0.2) for c, r in zip(candidates, references, strict=True)]
        )


def test_matched_similarity_scores_by_hand():
    ctx = ScoringContext(embedder=TableEmbedder(), bertscorer=TableBERTScorer())
    result = score([M_SET], ["claim_cosine_sim", "claim_bert_score"], ctx)
    # cosine mapped (c + 1)/2: "tall" best 1.0 in sample 1, 0.0 (cos -1) in sample 2;
    # "kind": best 0.9 (cos 0.8 with "rich") in sample 1, 0.2 (cos -0.6) in sample 2
    assert result.columns["claim_cosine_sim"][0] == pytest.approx(((1.0 + 0.0) / 2 + 0.55) / 2)
    # BERTScore: "tall" 1.0 then 0.2; "kind" 0.2 then 0.2
    assert result.columns["claim_bert_score"][0] == pytest.approx((0.6 + 0.2) / 2)


def test_sentence_refinement_rebuilds_from_the_answer_and_keeps_both():
    uq = LongFormUQ(["claim_entailment"], nli_model=TableNLI(TABLE, default=None))
    result = uq.score([_set(ANSWER, SAMPLES)])
    refined = uq.refine(result, threshold=0.47)
    assert refined.columns["response"] == [ANSWER]
    assert refined.columns["refined_response"] == ["Paris is big."]
    assert refined.columns["refined_claim_entailment"] == pytest.approx([0.5])
    assert [c["removed"] for c in refined.columns["claims_data"][0]] == [False, True]
    assert "refined_response" not in result.columns  # the input result is unchanged
    none_kept = uq.refine(result, threshold=0.5)  # 0.5 is not above 0.5: dropped too
    assert none_kept.columns["refined_response"] == [""]
    assert math.isnan(none_kept.columns["refined_claim_entailment"][0])
    assert none_kept.metadata["refine_threshold"] == 0.5


def test_claim_refinement_goes_through_the_refiner_in_one_call():
    decomposer = FakeBackend(
        {
            "Text: Ann lives": "### Ann lives in Oslo.\n### Ann is a doctor.",
            "Text: Bo lives": "### Bo lives in Rome.",
        }
    )
    refiner = FakeBackend(lambda prompt, params, j: "REBUILT " + str(prompt.count("\n- ")))
    sets = [
        _set("Ann lives in Oslo, where she is a doctor.", ["Ann lives in Oslo."]),
        _set("Bo lives in Rome.", ["Bo lives in Rome."]),
    ]
    uq = LongFormUQ(
        ["claim_entailment"],
        granularity="claim",
        decomposer=decomposer,
        nli_model=RuleNLI(),
        refine_threshold=0.5,
        refiner=refiner,
    )
    result = uq.score(sets)
    # row 0 keeps "Ann lives in Oslo." (1.0) and drops "Ann is a doctor." (0.1)
    assert [c["removed"] for c in result.columns["claims_data"][0]] == [False, True]
    assert len(refiner.calls) == 1 and len(refiner.calls[0].prompts) == 2
    assert "- Ann lives in Oslo." in refiner.calls[0].prompts[0]
    assert "Ann is a doctor." not in refiner.calls[0].prompts[0].split("Facts:")[1]
    assert result.columns["refined_response"] == ["REBUILT 1", "REBUILT 1"]
    assert result.columns["refinement_errors"] == [None, None]


def test_async_scoring_gives_the_same_values():
    import asyncio

    uq = LongFormUQ(["claim_entailment"], nli_model=TableNLI(TABLE, default=None))
    result = asyncio.run(uq.ascore([_set(ANSWER, SAMPLES)]))
    assert result.columns["claim_entailment"][0] == pytest.approx(0.475)


def test_validation_names_the_argument_and_the_fix():
    with pytest.raises(ValueError, match="unknown long-form scorer 'entailment'"):
        LongFormUQ(["entailment"])
    with pytest.raises(ValueError, match="needs a decomposer"):
        LongFormUQ(granularity="claim")
    with pytest.raises(ValueError, match="threshold must be in"):
        LongFormUQ(refine_threshold=2.0)
    with pytest.raises(ValueError, match="refine_scorer"):
        LongFormUQ(["claim_entailment"], refine_scorer="claim_noncontradiction")
    with pytest.raises(ValueError, match="aggregation must be one of"):
        claim_scorer("claim_entailment", aggregation="median")  # type: ignore[arg-type]
    uq = LongFormUQ(["claim_entailment"], nli_model=RuleNLI())
    result = uq.score([_set(ANSWER, SAMPLES)])
    with pytest.raises(ValueError, match="needs a threshold"):
        uq.refine(result)
