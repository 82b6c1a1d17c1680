"""UQLM's long-form front doors (LongTextUQ, LongTextGraph, LongTextQA), the claim-graph
centralities and LLM-as-NLI.

Every expected value is worked out by hand in the comments (NLI premise = response,
hypothesis = claim), and the centralities are also checked against networkx.
"""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

import lmuq
from lmuq.backends import FakeBackend
from lmuq.compat.uqlm_longform import LongTextGraph, LongTextQA, LongTextUQ
from lmuq.constants import CONTRADICTION, ENTAILMENT, NEUTRAL
from lmuq.scoring.functional.claim_graph import CENTRALITIES, claim_centralities
from lmuq.statistics.llm_nli import LLMNLI, parse_nli_label
from nli_fakes import RuleNLI, TableNLI

ANSWER = "Paris is big. Paris is old."
SAMPLES = ["Paris is big and old.", "Lyon is big."]
TABLE = {
    ("Paris is big and old.", "Paris is big."): (0.9, 0.05, 0.05),
    ("Paris is big and old.", "Paris is old."): (0.8, 0.1, 0.1),
    ("Lyon is big.", "Paris is big."): (0.1, 0.2, 0.7),
    ("Lyon is big.", "Paris is old."): (0.1, 0.8, 0.1),
}


# ------------------------------------------------------------------ centralities


def test_centralities_by_hand_on_a_path():
    # claims c0, c1; responses r0, r1; edges (p_e >= 0.5): c0-r0 0.9, c0-r1 0.8, c1-r0 0.9
    # (c1-r1 0.1 is below the threshold): the path r1 - c0 - r0 - c1.
    c = claim_centralities(np.array([[0.9, 0.8], [0.9, 0.1]]))
    assert c["degree_centrality"] == pytest.approx([1.7 / 2, 0.9 / 2])
    # c0 is on the shortest paths r1-r0 and r1-c1; B_max for n=2, m=2: p, t = 0, 1 ->
    # (4·1 + 2·1·(2−0−1) − 1·(0−1+3)) / 2 = 2
    assert c["betweenness_centrality"] == pytest.approx([2 / 2, 0.0])
    # c0: distances 1, 1, 2 -> (m + 2(n−1)) / 4 = 4/4; c1: 1, 2, 3 -> 4/6
    assert c["closeness_centrality"] == pytest.approx([1.0, 4 / 6])
    # c0: (1 + 1 + 1/2) / (m + (n−1)/2 = 2.5); c1: (1 + 1/2 + 1/3) / 2.5
    assert c["harmonic_centrality"] == pytest.approx([2.5 / 2.5, (11 / 6) / 2.5])
    # E_L = Σ d² + 2 Σ w² = (1.7² + 0.9² + 1.8² + 0.8²) + 2(0.9² + 0.8² + 0.9²) = 12.1;
    # without c0 only c1-r0 is left: 0.81 + 0.81 + 2·0.81 = 3.24; without c1:
    # 1.7² + 0.9² + 0.8² + 2(0.81 + 0.64) = 7.24
    assert c["laplacian_centrality"] == pytest.approx([(12.1 - 3.24) / 12.1, (12.1 - 7.24) / 12.1])


def test_pagerank_is_uniform_on_a_regular_graph_and_edgeless_graphs_score_zero():
    c = claim_centralities(np.full((2, 2), 0.9))  # K(2,2), equal weights: every node 1/4
    assert c["page_rank"] == pytest.approx([0.25, 0.25])
    none = claim_centralities(np.array([[0.2, 0.1], [0.0, 0.4]]))  # no edge reaches 0.5
    for name in CENTRALITIES:
        expected = [1 / 4, 1 / 4] if name == "page_rank" else [0.0, 0.0]
        assert none[name] == pytest.approx(expected), name
    with pytest.raises(ValueError, match="entailment probabilities"):
        claim_centralities(np.array([[1.5]]))


def test_centralities_agree_with_networkx_on_random_graphs():
    import networkx as nx  # the dev extra's reference implementation
    from scipy import sparse

    rng = np.random.default_rng(7)
    for _ in range(60):
        n, m = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        w = rng.random((n, m))
        w[rng.random((n, m)) < 0.3] = 0.0
        g = nx.bipartite.from_biadjacency_matrix(sparse.csr_matrix(np.where(w >= 0.5, w, 0)))
        top = set(range(n))
        mine = claim_centralities(w)
        degree = dict(g.degree(weight="weight"))
        assert mine["degree_centrality"] == pytest.approx([degree[i] / m for i in range(n)])
        p, t = divmod(n - 1, m)
        b_max = (m**2 * (p + 1) ** 2 + m * (p + 1) * (2 * t - p - 1) - t * (2 * p - t + 3)) / 2
        raw = nx.betweenness_centrality(g, normalized=False, weight=None)
        expected = [raw[i] / b_max if b_max else 0.0 for i in range(n)]
        assert mine["betweenness_centrality"] == pytest.approx(expected)
        if b_max and n > 1:  # networkx divides the response side too (0 when n = 1)
            b = nx.bipartite.betweenness_centrality(g, top)
            assert mine["betweenness_centrality"] == pytest.approx([b[i] for i in range(n)])
        cl = nx.bipartite.closeness_centrality(g, top)
        assert mine["closeness_centrality"] == pytest.approx([min(1, cl[i]) for i in range(n)])
        pr = nx.pagerank(g, weight="weight", max_iter=1000, tol=1e-12)
        assert mine["page_rank"] == pytest.approx([pr[i] for i in range(n)], abs=1e-9)
        if g.number_of_edges():
            lap = nx.laplacian_centrality(g, weight="weight", normalized=True)
            assert mine["laplacian_centrality"] == pytest.approx([lap[i] for i in range(n)])
        h = nx.harmonic_centrality(g)
        h_max = m + (n - 1) / 2
        assert mine["harmonic_centrality"] == pytest.approx([h[i] / h_max for i in range(n)])


# --------------------------------------------------------------------- LongTextUQ


def test_longtextuq_unit_response_sentences_by_hand_with_uqlm_names():
    ltuq = LongTextUQ(
        granularity="sentence",
        scorers=["entailment", "noncontradiction"],
        nli_model=TableNLI(TABLE, default=None),
    )
    result = asyncio.run(ltuq.score([ANSWER], [SAMPLES]))  # a coroutine, as in UQLM
    # "Paris is big.": p_e (0.9, 0.1) -> 0.5, p_c (0.05, 0.7) -> 0.625;
    # "Paris is old.": p_e (0.8, 0.1) -> 0.45, p_c (0.1, 0.1) -> 0.9
    assert result.columns["entailment"][0] == pytest.approx(0.475)
    assert result.columns["noncontradiction"][0] == pytest.approx((0.625 + 0.9) / 2)
    assert "prompt" not in result.columns
    first = result.columns["claims_data"][0][0]
    assert first["sentence"] == "Paris is big." and first["removed"] is False
    assert first["entailment"] == pytest.approx(0.5)
    assert (first["start"], first["end"], first["span"]) == (0, 13, "exact")
    assert result.metadata["mode"] == "unit_response"
    assert result.metadata["num_responses"] == 2
    assert list(result.to_df()["entailment"]) == pytest.approx([0.475])


def test_longtextuq_claims_with_refinement_through_the_decomposition_llm():
    def respond(prompt: str, params, j: int) -> str:
        if "Facts" in prompt:
            return "Ann lives in Oslo."
        return "### Ann lives in Oslo.\n### Ann is a doctor."

    llm = FakeBackend(respond)
    ltuq = LongTextUQ(
        llm=llm,
        scorers=["entailment"],
        response_refinement=True,
        claim_filtering_scorer="entailment",
        nli_model=RuleNLI(),
    )
    result = ltuq.score_sync(
        ["Ann lives in Oslo, where she is a doctor."],
        [["Ann lives in Oslo."]],
        response_refinement_threshold=0.5,
    )
    # RuleNLI: the sample is the first claim itself (p_e 1.0 after normalising); the
    # second is neutral to it (p_e 0.1): mean 0.55; refinement keeps the first only
    assert result.columns["entailment"][0] == pytest.approx(0.55)
    claims = result.columns["claims_data"][0]
    assert [c["claim"] for c in claims] == ["Ann lives in Oslo.", "Ann is a doctor."]
    assert [c["removed"] for c in claims] == [False, True]
    assert result.columns["refined_response"] == ["Ann lives in Oslo."]
    assert result.columns["refined_entailment"][0] == pytest.approx(1.0)
    assert result.metadata["response_refinement_threshold"] == 0.5


def test_longtextuq_validates_like_uqlm():
    with pytest.raises(ValueError, match="Invalid scorers"):
        LongTextUQ(granularity="sentence", scorers=["cosine_sim"], nli_model=RuleNLI())
    with pytest.raises(ValueError, match="Invalid mode"):
        LongTextUQ(granularity="sentence", mode="pairs")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs an LLM to extract claims"):
        LongTextUQ(nli_model=RuleNLI())
    with pytest.raises(ValueError, match="response_refinement needs granularity='claim'"):
        LongTextUQ(granularity="sentence", response_refinement=True, nli_model=RuleNLI())
    ok = LongTextUQ(granularity="sentence", mode="matched_unit", scorers=["entailment"])
    assert ok.uq.scorer_names == ["claim_entailment_matched"]
    assert lmuq.LongTextUQ is LongTextUQ and lmuq.LongTextGraph is LongTextGraph
    assert lmuq.LongTextQA is LongTextQA


# ------------------------------------------------------------------ LongTextGraph

GRAPH_TABLE = {
    ("A is red. B is big.", "A is red."): (0.9, 0.05, 0.05),
    ("A is red. B is big.", "B is big."): (0.9, 0.05, 0.05),
    ("A is red. B is big.", "C is hot."): (0.1, 0.8, 0.1),
    ("A is red. C is hot.", "A is red."): (0.9, 0.05, 0.05),
    ("A is red. C is hot.", "B is big."): (0.2, 0.7, 0.1),
    ("A is red. C is hot.", "C is hot."): (0.9, 0.05, 0.05),
}


def test_longtextgraph_by_hand_on_sentence_claims():
    nli = TableNLI(GRAPH_TABLE, default=None)
    ltg = LongTextGraph(
        scorers=["degree_centrality", "closeness_centrality", "betweenness_centrality"],
        granularity="sentence",
        nli_model=nli,
    )
    result = ltg.score_sync(["A is red. B is big."], [["A is red. C is hot."]])
    # claims A, B (the answer's) and C (the sample's); responses r0 (answer), r1 (sample);
    # edges A-r0, A-r1, B-r0, C-r1 (0.9 each): the path B - r0 - A - r1 - C.
    # degree: A 1.8/2, B 0.9/2 -> mean over the answer's claims 0.675
    assert result.columns["degree_centrality"][0] == pytest.approx(0.675)
    # closeness (m + 2(n−1) = 6): A distances 1,1,2,2 -> 6/6; B 1,2,3,4 -> 6/10
    assert result.columns["closeness_centrality"][0] == pytest.approx((1.0 + 0.6) / 2)
    # betweenness: A is on r0-r1, r0-C, B-r1, B-C = 4 of B_max = (16 − 8)/2 = 4; B on none
    assert result.columns["betweenness_centrality"][0] == pytest.approx(0.5)
    claims = result.columns["claims_data"][0]
    assert [(c["claim"], c["original_response"]) for c in claims] == [
        ("A is red.", True),
        ("B is big.", True),
        ("C is hot.", False),
    ]
    assert claims[2]["degree_centrality"] == pytest.approx(0.45)
    assert claims[2]["start"] == -1
    assert nli.pairs_run == 6  # the distinct (response, claim) pairs, once for 3 scorers


# --------------------------------------------------------------------- LLM-as-NLI


def test_parse_nli_label_reads_json_then_words():
    assert parse_nli_label('{"label": "entailment"}') == ENTAILMENT
    assert parse_nli_label('Sure! {"label": "Neutral"}') == NEUTRAL
    assert parse_nli_label("This is a contradiction.") == CONTRADICTION
    assert parse_nli_label('{"label": "maybe"} it entails') == ENTAILMENT
    assert parse_nli_label("I cannot tell.") is None


def _judge(prompt: str, params, j: int) -> str:
    if "Premise: Paris is big and old.\nHypothesis: Paris is big." in prompt:
        return '{"label": "entailment"}'
    if "Premise: Paris is big and old." in prompt:
        return '{"label": "neutral"}'
    if "Hypothesis: Paris is big." in prompt:
        return "That is a contradiction."
    return "I cannot tell."


def test_llm_as_nli_judge_is_batched_cached_and_scores_by_hand():
    judge = FakeBackend(_judge)
    ltuq = LongTextUQ(
        granularity="sentence", scorers=["entailment", "noncontradiction"], nli_llm=judge
    )
    result = ltuq.score_sync([ANSWER], [SAMPLES])
    # big: entailed by S1, contradicted by S2 -> p_e (1, 0), p_c (0, 1);
    # old: neutral (S1), unreadable -> neutral (S2) -> p_e (0, 0), p_c (0, 0)
    assert result.columns["entailment"][0] == pytest.approx((0.5 + 0.0) / 2)
    assert result.columns["noncontradiction"][0] == pytest.approx((0.5 + 1.0) / 2)
    model = ltuq.uq.statistics.nli.model
    assert isinstance(model, LLMNLI) and model.unparsed == 1
    assert result.metadata["nli_model"] == "llm-nli:fake"  # labelled as an LLM judge
    assert len(judge.calls) == 1 and len(judge.calls[0].prompts) == 4
    ltuq.score_sync([ANSWER], [SAMPLES])
    assert len(judge.calls) == 1  # every pair's verdict is cached
    with pytest.raises(TypeError, match="needs an lmuq backend"):
        LLMNLI(object())


# ----------------------------------------------------------------------- LongTextQA


def test_longtextqa_asks_a_question_per_claim_and_scores_the_answers():
    def respond(prompt: str, params, j: int) -> str:
        if prompt.startswith("Break") or "Text:" in prompt:  # decomposition
            return "### Ann lives in Oslo.\n### Ann is a doctor."
        if prompt.startswith("Write a question"):
            return "Where does Ann live?" if "Oslo" in prompt else "What is Ann's job?"
        if "Where does Ann live?" in prompt:
            return "Oslo"  # the answer and every sample agree
        # the job question: answer "Doctor" (greedy), samples alternate
        return "Doctor" if params.temperature == 0 else ("Doctor" if j % 2 == 0 else "Nurse")

    llm = FakeBackend(respond)
    qa = LongTextQA(llm=llm, scorers=["exact_match"], nli_model=RuleNLI())
    result = qa.score_sync(
        ["Tell me about Ann."],
        ["Ann lives in Oslo, where she is a doctor."],
        num_claim_qa_responses=4,
    )
    claims = result.columns["claims_data"][0]
    assert [c["claim"] for c in claims] == ["Ann lives in Oslo.", "Ann is a doctor."]
    assert claims[0]["claim_questions"] == ["Where does Ann live?"]
    # exact match: the share of the 4 samples equal to the answer: 4/4 and 2/4
    assert claims[0]["exact_match"] == pytest.approx(1.0)
    assert claims[1]["exact_match"] == pytest.approx(0.5)
    assert result.columns["exact_match"][0] == pytest.approx(0.75)
    assert claims[1]["claim_qa_responses"] == ["Doctor"]
    assert sorted(claims[1]["claim_qa_sampled_responses"][0]) == [
        "Doctor",
        "Doctor",
        "Nurse",
        "Nurse",
    ]
    assert not math.isnan(result.columns["exact_match"][0])


def test_longtextqa_refinement_drops_the_inconsistent_claim_and_rebuilds_the_answer():
    asked_to_refine: list[str] = []

    def respond(prompt: str, params, j: int) -> str:
        if "Facts:" in prompt:  # the refinement request
            asked_to_refine.append(prompt)
            return "Ann lives in Oslo."
        if prompt.startswith("Break") or "Text:" in prompt:
            return "### Ann lives in Oslo.\n### Ann is a doctor."
        if prompt.startswith("Write a question") or "Fact:" in prompt:
            return "Where does Ann live?" if "Oslo" in prompt else "What is Ann's job?"
        if "Where does Ann live?" in prompt:
            return "Oslo"
        return "Doctor" if params.temperature == 0 else ("Doctor" if j % 2 == 0 else "Nurse")

    qa = LongTextQA(
        llm=FakeBackend(respond),
        scorers=["exact_match"],
        response_refinement=True,
        nli_model=RuleNLI(),
    )
    result = qa.score_sync(
        ["Tell me about Ann."],
        ["Ann lives in Oslo, where she is a doctor."],
        num_claim_qa_responses=4,
        response_refinement_threshold=0.6,
    )
    claims = result.columns["claims_data"][0]
    # exact match 4/4 = 1.0 keeps the first claim; 2/4 = 0.5 is not above 0.6
    assert [(c["claim"], c["removed"]) for c in claims] == [
        ("Ann lives in Oslo.", False),
        ("Ann is a doctor.", True),
    ]
    # the rebuild is asked with the kept claim only, and the question
    assert len(asked_to_refine) == 1
    assert "- Ann lives in Oslo." in asked_to_refine[0]
    assert "Ann is a doctor" not in asked_to_refine[0]
    assert "Tell me about Ann." in asked_to_refine[0]
    assert result.columns["refined_response"] == ["Ann lives in Oslo."]
    # before: mean(1.0, 0.5); after refinement: the kept claim's 1.0
    assert result.columns["exact_match"][0] == pytest.approx(0.75)
    assert result.columns["refined_exact_match"][0] == pytest.approx(1.0)
    assert result.metadata["response_refinement_threshold"] == 0.6
    assert qa.response_refinement_threshold == 0.6


def test_generate_and_score_draws_answer_and_samples_then_scores():
    llm = FakeBackend(
        lambda p, params, j: "A is red. B is big." if params.temperature == 0 else "A is red."
    )
    ltuq = LongTextUQ(llm=llm, granularity="sentence", nli_model=RuleNLI())
    result = ltuq.generate_and_score_sync(["Describe A."], num_responses=2)
    # the sample "A is red." is the first sentence itself (identical texts: p_e 1) and
    # RuleNLI finds it neutral to "B is big." (p_e 0.1): (1 + 0.1) / 2
    assert result.columns["entailment"][0] == pytest.approx(0.55)
    assert result.columns["prompt"] == ["Describe A."]
    assert result.columns["sampled_responses"] == [["A is red.", "A is red."]]
    temps = sorted(c.params.temperature for c in llm.calls)
    assert temps == [0.0, 1.0] and {c.params.max_new_tokens for c in llm.calls} == {256}
    assert result.metadata["num_responses"] == 2
