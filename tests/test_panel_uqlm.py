"""UQLM 0.6's ``LLMPanel`` on lmuq: UQLM's signature, templates (ternary, Likert, custom
keyword templates), explanations, and the four aggregates, on scripted judges."""

from __future__ import annotations

import asyncio
import math

import pytest

from lmuq import LLMPanel
from lmuq.backends.fake import FakeBackend
from lmuq.uq.judged import LLMJudge


def judges():
    correct = FakeBackend(lambda p, params, j: "Correct")
    likert = FakeBackend(lambda p, params, j: "Score: 4\nExplanation: minor slip.")
    unsure = FakeBackend(lambda p, params, j: "I am not sure")
    custom = LLMJudge(
        FakeBackend(lambda p, params, j: "yes"),
        instruction="Is the proposed answer right? Reply yes or no.",
        keywords_to_scores={1.0: ["yes"], 0.0: ["no"]},
    )
    return [correct, likert, unsure, custom]


def test_judges_templates_and_aggregates():
    panel = LLMPanel(
        judges=judges(),
        scoring_templates=["true_false_uncertain", "likert", "true_false_uncertain", "true_false"],
    )
    result = asyncio.run(panel.score(prompts=["Capital of France?"], responses=["Paris"]))
    scores = [1.0, 0.75, 0.5, 1.0]  # Likert 4 -> (4 - 1) / 4
    assert [result.columns[f"judge_{k}"][0] for k in range(1, 5)] == scores
    assert result.columns["avg"][0] == pytest.approx(sum(scores) / 4)
    assert result.columns["max"][0] == 1.0
    assert result.columns["min"][0] == 0.5
    assert result.columns["median"][0] == pytest.approx((0.75 + 1.0) / 2)
    assert "judge_1_explanation" not in result.columns


def test_explanations_and_additional_context_reach_the_judges():
    js = judges()
    panel = LLMPanel(
        judges=js,
        scoring_templates=["true_false_uncertain", "likert", "true_false_uncertain", "true_false"],
        explanations=True,
        additional_context="Answers are city names.",
    )
    result = asyncio.run(panel.score(["Capital of France?"], ["Paris"]))
    assert result.columns["judge_2_explanation"] == ["minor slip."]
    assert result.columns["judge_1_explanation"] == [None]
    sent = js[1].calls[0].prompts[0]
    assert "Context: Answers are city names." in sent
    assert "Explanation:" in sent and "1 to 5" in sent
    custom_prompt = js[3].backend.calls[0].prompts[0]
    assert "Reply yes or no." in custom_prompt and "Explanation:" in custom_prompt


def test_a_failed_judge_is_left_out_of_the_aggregates():
    bad = FakeBackend(lambda p, params, j: "hmm, let me think")
    panel = LLMPanel(judges=[FakeBackend(lambda p, params, j: "Incorrect"), bad])
    result = asyncio.run(panel.score(["q?"], ["a"]))
    assert result.columns["judge_1"] == [0.0]
    assert math.isnan(result.columns["judge_2"][0])
    assert result.columns["avg"] == [0.0]


def test_generate_and_score_answers_with_llm_first():
    llm = FakeBackend({"France": "Paris"})
    panel = LLMPanel(judges=[FakeBackend(lambda p, params, j: "Correct")], llm=llm)
    result = panel.generate_and_score_sync(["Capital of France?"])
    assert result.columns["response"] == ["Paris"]
    assert result.columns["avg"] == [1.0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="scoring_templates"):
        LLMPanel(judges=judges(), scoring_templates=["likert"])
    with pytest.raises(ValueError, match="unknown judge scale or template"):
        LLMPanel(judges=[FakeBackend({})], scoring_templates=["stars"])
    with pytest.raises(ValueError, match="judges"):
        LLMPanel(judges=[42])
