"""UQLM 0.6's ``SemanticEntropy`` and ``SemanticDensity`` classes on lmuq, against the
definitions computed by hand on a rule NLI model ("q?\\nParis" vs "q?\\nLyon" is a
contradiction, (0.1, 0.1, 0.8); identical texts entail each other)."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from lmuq import SemanticDensity, SemanticEntropy
from lmuq.backends.fake import FakeBackend
from lmuq.types import Generation, SamplingParams
from nli_fakes import RuleNLI

LN4 = math.log(4)
ANSWER_LP = [-0.1, -0.3]
SAMPLE_TEXTS = ["Paris", "Lyon", "Paris"]
SAMPLE_LPS = [[-0.2, -0.2], [-1.0], [-0.5, -0.1]]


def records(lps):
    return [{"token": f"t{i}", "logprob": lp} for i, lp in enumerate(lps)]


def entropy(p) -> float:
    p = np.asarray(p, float) / np.sum(p)
    return float(-(p * np.log(p)).sum())


def test_discrete_semantic_entropy_with_uqlm_column_names():
    se = SemanticEntropy(nli_model=RuleNLI())
    result = se.score(prompts=["q?"], responses=["Paris"], sampled_responses=[SAMPLE_TEXTS])
    h = entropy([3, 1])  # clusters {Paris x3}, {Lyon}
    assert result.columns["discrete_entropy_values"][0] == pytest.approx(h)
    assert result.columns["discrete_confidence_scores"][0] == pytest.approx(1 - h / LN4)
    assert result.columns["num_semantic_sets"][0] == 2
    assert "tokenprob_confidence_scores" not in result.columns


def test_tokenprob_semantic_entropy_from_logprob_records():
    se = SemanticEntropy(nli_model=RuleNLI())
    result = se.score(
        prompts=["q?"],
        responses=["Paris"],
        sampled_responses=[SAMPLE_TEXTS],
        logprobs_results=[records(ANSWER_LP)],
        sampled_logprobs_results=[[records(lp) for lp in SAMPLE_LPS]],
    )
    p = [math.exp(-0.2) + math.exp(-0.2) + math.exp(-0.3), math.exp(-1.0)]  # exp(ℓ/L)
    assert result.columns["tokenprob_entropy_values"][0] == pytest.approx(entropy(p))
    assert result.columns["tokenprob_confidence_scores"][0] == pytest.approx(1 - entropy(p) / LN4)


def test_use_best_swaps_in_the_most_repeated_text_of_the_largest_cluster():
    se = SemanticEntropy(nli_model=RuleNLI())
    result = se.score(prompts=["q?"], responses=["Lyon"], sampled_responses=[["Paris"] * 3])
    assert result.columns["response"] == ["Paris"]
    assert result.columns["original_response"] == ["Lyon"]
    off = SemanticEntropy(nli_model=RuleNLI(), use_best=False)
    got = off.score(prompts=["q?"], responses=["Lyon"], sampled_responses=[["Paris"] * 3])
    assert got.columns["response"] == ["Lyon"]


def test_tokenprob_best_response_selection_weighs_clusters_by_probability():
    # clusters {Lyon, Lyon} (the answer founds it) and {Paris, Paris}: by count a tie, so
    # the first cluster (Lyon) wins; by probability Paris's (2·e^-0.1 vs 2·e^-3) does
    se = SemanticEntropy(nli_model=RuleNLI(), best_response_selection="tokenprob")
    result = se.score(
        prompts=["q?"],
        responses=["Lyon"],
        sampled_responses=[["Paris", "Lyon", "Paris"]],
        logprobs_results=[records([-3.0])],
        sampled_logprobs_results=[[records([-0.1]), records([-3.0]), records([-0.1])]],
    )
    assert result.columns["response"] == ["Paris"]
    discrete = SemanticEntropy(nli_model=RuleNLI()).score(
        prompts=["q?"], responses=["Lyon"], sampled_responses=[["Paris", "Lyon", "Paris"]]
    )
    assert discrete.columns["response"] == ["Lyon"]


def test_generate_and_score_generates_with_logprobs():
    def respond(prompt: str, params: SamplingParams, j: int) -> Generation:
        if params.temperature == 0:
            return Generation("Paris", logprobs=ANSWER_LP)
        return Generation(SAMPLE_TEXTS[j], logprobs=SAMPLE_LPS[j])

    se = SemanticEntropy(llm=FakeBackend(respond), nli_model=RuleNLI())
    result = asyncio.run(se.generate_and_score(["q?"], num_responses=3))
    assert "tokenprob_confidence_scores" in result.columns
    assert result.columns["discrete_confidence_scores"][0] == pytest.approx(
        1 - entropy([3, 1]) / LN4
    )


def test_semantic_density_counts_every_sample_weighted_by_its_probability():
    sd = SemanticDensity(nli_model=RuleNLI())
    result = sd.score(
        prompts=["q?"],
        responses=["Paris"],
        sampled_responses=[SAMPLE_TEXTS],
        sampled_logprobs_results=[[records(lp) for lp in SAMPLE_LPS]],
    )
    w = [math.exp(-0.2), math.exp(-1.0), math.exp(-0.3)]
    k = [1.0, 1 - 0.8 - 0.1 / 2, 1.0]  # K = 1 − p_c − p_n / 2
    expected = sum(a * b for a, b in zip(w, k, strict=True)) / sum(w)
    assert result.columns["semantic_density_values"][0] == pytest.approx(expected)
    unnormalised = SemanticDensity(nli_model=RuleNLI(), length_normalize=False).score(
        prompts=["q?"],
        responses=["Paris"],
        sampled_responses=[SAMPLE_TEXTS],
        sampled_logprobs_results=[[records(lp) for lp in SAMPLE_LPS]],
    )
    w = [math.exp(-0.4), math.exp(-1.0), math.exp(-0.6)]
    expected = sum(a * b for a, b in zip(w, k, strict=True)) / sum(w)
    assert unnormalised.columns["semantic_density_values"][0] == pytest.approx(expected)
    with pytest.raises(ValueError, match="sampled_logprobs_results"):
        sd.score(prompts=["q?"], responses=["Paris"], sampled_responses=[SAMPLE_TEXTS])
