"""Pure judged-scoring functions: prompts, P(True) from log-probs, and the output readers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmuq.scoring.functional.llm_judge import judge_prompt, panel_aggregate, parse_judge_output
from lmuq.scoring.functional.p_true import p_true_from_logprobs, p_true_prompt
from lmuq.scoring.functional.verbalized_confidence import (
    parse_verbalized_confidence,
    verbalized_confidence_prompt,
)

# --------------------------------------------------------------------------- P(True) prompt


def test_p_true_prompt_exact_kadavath_format():
    assert p_true_prompt("  Who wrote Hamlet? ", " Shakespeare ") == (
        "Question: Who wrote Hamlet?\n"
        "Possible answer: Shakespeare\n"
        "Is the possible answer:\n"
        " (A) True\n"
        " (B) False\n"
        "The possible answer is:"
    )


def test_p_true_prompt_lists_brainstormed_samples_one_per_line():
    prompt = p_true_prompt("Q?", "Paris", ["Paris", "Lyon\nor maybe  Nice"])
    assert prompt == (
        "Question: Q?\n"
        "Here are some brainstormed ideas:\n"
        "Paris\n"
        "Lyon or maybe Nice\n"
        "Possible answer: Paris\n"
        "Is the possible answer:\n"
        " (A) True\n"
        " (B) False\n"
        "The possible answer is:"
    )
    # An empty sample list is the same as none.
    assert p_true_prompt("Q?", "Paris", []) == p_true_prompt("Q?", "Paris")


def test_p_true_prompt_rejects_bad_types():
    with pytest.raises(TypeError, match="question"):
        p_true_prompt(1, "a")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="single str"):
        p_true_prompt("q", "a", "one sample")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"samples\[1\]"):
        p_true_prompt("q", "a", ["ok", 3])  # type: ignore[list-item]


# --------------------------------------------------------------------------- P(True) value


def test_p_true_from_logprobs_hand_values():
    # p(A) = 0.6, p(B) = 0.2 -> 0.6 / 0.8 = 0.75; the unrelated " The" is ignored.
    lp = {" A": math.log(0.6), " B": math.log(0.2), " The": math.log(0.1)}
    assert p_true_from_logprobs(lp) == pytest.approx(0.75, abs=1e-12)
    # Words count too, case-insensitively: p(True)=0.1, p(false)=0.3 -> 0.25.
    assert p_true_from_logprobs({"True": math.log(0.1), " false": math.log(0.3)}) == (
        pytest.approx(0.25, abs=1e-12)
    )


def test_p_true_from_logprobs_variants_on_one_side_add_up():
    # " A" (0.3) and "(A" (0.1) are distinct tokens: p(True side) = 0.4; p(B) = 0.4 -> 0.5.
    lp = {" A": math.log(0.3), "(A": math.log(0.1), "B)": math.log(0.4)}
    assert p_true_from_logprobs(lp) == pytest.approx(0.5, abs=1e-12)


def test_p_true_from_logprobs_letters_are_case_sensitive():
    # " a" is the article, not option A: only B is present -> 0.
    assert p_true_from_logprobs({" a": -0.1, " B": -2.0}) == 0.0


def test_p_true_from_logprobs_is_stable_in_log_space():
    # exp(-1000) underflows to 0; the ratio σ(-1000 - (-1001)) = σ(1) does not.
    value = p_true_from_logprobs({"A": -1000.0, "B": -1001.0})
    assert value == pytest.approx(1 / (1 + math.exp(-1)), abs=1e-12)


def test_p_true_from_logprobs_only_one_option_present():
    assert p_true_from_logprobs({" A": -3.0, " The": -0.1}) == 1.0
    assert p_true_from_logprobs({" B": -3.0}) == 0.0
    # With a bound for the missing side: p(A) = e^-3 vs p(B) = e^-5 -> σ(2).
    value = p_true_from_logprobs({" A": -3.0}, missing_logprob=-5.0)
    assert value == pytest.approx(1 / (1 + math.exp(-2)), abs=1e-12)


def test_p_true_from_logprobs_custom_options():
    lp = {" Yes": math.log(0.9), " No": math.log(0.1), " A": 0.0}
    value = p_true_from_logprobs(lp, true_options=("Yes",), false_options=("No",))
    assert value == pytest.approx(0.9, abs=1e-12)


def test_p_true_from_logprobs_errors():
    with pytest.raises(ValueError, match="neither"):
        p_true_from_logprobs({" The": -0.1, " It": -2.0})
    with pytest.raises(ValueError, match="neither"):
        p_true_from_logprobs({})
    with pytest.raises(ValueError, match="NaN"):
        p_true_from_logprobs({"A": float("nan"), "B": -1.0})
    with pytest.raises(ValueError, match="> 0"):
        p_true_from_logprobs({"A": 0.5, "B": -1.0})
    with pytest.raises(ValueError, match="probability zero"):
        p_true_from_logprobs({"A": -math.inf, "B": -math.inf})
    with pytest.raises(ValueError, match="overlap"):
        p_true_from_logprobs({"A": -1.0}, true_options=("A",), false_options=(" A",))
    with pytest.raises(TypeError):
        p_true_from_logprobs([("A", -1.0)])  # type: ignore[arg-type]


def test_p_true_from_logprobs_accepts_numpy_and_rounding():
    # A log-prob of +1e-7 is float rounding of 0.
    assert p_true_from_logprobs({"A": np.float32(1e-7), "B": -math.inf}) == 1.0


# --------------------------------------------------------------------------- verbalised


def test_verbalized_confidence_prompt_contents():
    prompt = verbalized_confidence_prompt(" What is 2+2? ", " 4 ")
    assert prompt.startswith("Question: What is 2+2?\nProposed answer: 4\n")
    assert prompt.endswith("Confidence: <number between 0.0 and 1.0>")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Confidence: 0.8", 0.8),
        ("0.8", 0.8),  # not 0.08
        ("0.8.", 0.8),  # the period ends the sentence
        ("Confidence: .9", 0.9),
        ("confidence = 1", 1.0),
        ("80%", 0.8),
        ("90 %", 0.9),
        ("8/10", 0.8),
        ("8 out of 10", 0.8),
        ("I am 75 percent sure", 0.75),
        ("About 60 per cent.", 0.6),
        ("The answer 1912 is correct with confidence 0.7", 0.7),
        ("Confidence (0-1): 0.8", 0.8),
        ("**Confidence:** 0.35", 0.35),
        ("My confidence level is about 65%.", 0.65),
        ("Confidence: 80%.", 0.8),
        ("Confidence: 85", 0.85),  # a plain number in (10, 100] is a percentage
        ("Confidence: 3/4", 0.75),
        ("Confidence: 0", 0.0),
        ("confidence 0.7, and 100% of sources agree", 0.7),  # the keyword beats the unit
        ('"0.25"', 0.25),
        ("Answer: Paris (2 words). I'm 90% confident.", 0.9),
        ("Probability: 0.55", 0.55),
    ],
)
def test_parse_verbalized_confidence_reads(text, expected):
    assert parse_verbalized_confidence(text) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I am quite sure.",
        "The answer 1912 is correct",  # a bare number in prose is not guessed at
        "Confidence: 1.5",  # out of range, and not swapped for another number
        "Confidence: 7",  # (1, 10] is ambiguous
        "Confidence: 10",
        "150%",
        "Confidence: -0.2",
        "11/10",
        "Confidence: 250",
        "version v0.8",
        "1.2.3",
    ],
)
def test_parse_verbalized_confidence_none(text):
    assert parse_verbalized_confidence(text) is None


def test_parse_verbalized_confidence_rejects_non_str():
    with pytest.raises(TypeError):
        parse_verbalized_confidence(0.8)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- judge prompt


def test_judge_prompt_scales_and_reference():
    binary = judge_prompt("Capital of France?", "Paris")
    assert binary == (
        "You are grading an answer to a question.\n"
        "Question: Capital of France?\n"
        "Proposed answer: Paris\n"
        "Decide whether the proposed answer is correct. Reply with exactly one word: "
        "Correct or Incorrect."
    )
    ternary = judge_prompt("Q?", "A", scale="ternary")
    assert "Correct, Partially correct, Incorrect" in ternary
    cont = judge_prompt("Q?", "A", scale="continuous")
    assert cont.endswith("Score: <number between 0.0 and 1.0>")
    ref = judge_prompt("Q?", "A", reference="B")
    lines = ref.split("\n")
    assert lines[2] == "Reference answer: B"
    assert lines[3] == "Proposed answer: A"
    assert "against the reference answer" in ref
    with pytest.raises(ValueError, match="scale"):
        judge_prompt("Q?", "A", scale="stars")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- judge output


@pytest.mark.parametrize(
    ("text", "scale", "expected"),
    [
        # JSON
        ('{"score": 0.8}', "continuous", 0.8),
        ('{"Score": "0.8"}', "continuous", 0.8),
        ('{"score": 80}', "continuous", 0.8),
        ('{"correct": true}', "binary", 1.0),
        ('{"correct": false}', "ternary", 0.0),
        ('Here you go:\n```json\n{"verdict": "partially correct"}\n```', "ternary", 0.5),
        ("{'correct': True}", "binary", 1.0),
        ('{"reasoning": "it is right", "is_correct": "no"}', "binary", 0.0),
        ('{"score": 1}', "binary", 1.0),
        # "Score: x"
        ("Score: 0.8", "continuous", 0.8),
        ("Score: 80%", "continuous", 0.8),
        ("Score: 4/5", "continuous", 0.8),
        ("Rating = .3", "continuous", 0.3),
        ("0.8", "continuous", 0.8),
        ("Score: 1", "binary", 1.0),
        ("Score: 0.5", "ternary", 0.5),
        ("0", "binary", 0.0),
        # verdict words
        ("Correct", "binary", 1.0),
        ("correct.", "ternary", 1.0),
        ("Incorrect. The capital is Paris.", "binary", 0.0),
        ("**Incorrect**", "binary", 0.0),
        ("Partially correct", "ternary", 0.5),
        ("Partially correct: it names the city but not the country.", "ternary", 0.5),
        ("I am not sure.", "ternary", 0.5),
        ("Uncertain", "ternary", 0.5),
        ("Yes", "binary", 1.0),
        ("No, that is wrong.", "binary", 0.0),
        ("True", "binary", 1.0),
        ("The answer is incorrect because the correct answer is Paris.", "binary", 0.0),
        ("Paris is the capital, so the proposed answer is correct.", "binary", 1.0),
        ("The correct answer is Paris. Verdict: incorrect", "ternary", 0.0),
        ("Reasoning... **Verdict**: partially correct", "ternary", 0.5),
        ("Correct: No", "binary", 0.0),
        ("The response is not correct.", "binary", 0.0),
        ("It is wrong", "ternary", 0.0),
        ("I think it's correct", "binary", 1.0),
        ("correct", "continuous", 1.0),  # a verdict word on the continuous scale
        ("Incorrect", "continuous", 0.0),
    ],
)
def test_parse_judge_output_reads(text, scale, expected):
    assert parse_judge_output(text, scale) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("text", "scale"),
    [
        ("", "binary"),
        ("banana", "ternary"),
        ("Partially correct", "binary"),  # not on the binary scale
        ("I am not sure", "binary"),
        ("Score: 0.8", "binary"),  # binary accepts only 0 or 1
        ("Score: 0.3", "ternary"),
        ('{"score": 1.5}', "continuous"),  # recognised key, unreadable value: no guessing
        ('{"score": 0.7}', "binary"),
        ('{"score": null}', "continuous"),
        ("Score: 1.5", "continuous"),
        ("The city matches, the year is incorrect, the rest is correct", "binary"),  # conflict
        ("The capital of France is Paris.", "binary"),
    ],
)
def test_parse_judge_output_none(text, scale):
    assert parse_judge_output(text, scale) is None


def test_parse_judge_output_bad_scale():
    with pytest.raises(ValueError, match="scale"):
        parse_judge_output("Correct", "stars")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- panel


def test_panel_aggregate_each_rule_ignoring_missing():
    scores = [1.0, None, 0.5, float("nan"), 0.0, 0.25]  # valid: 1, 0.5, 0, 0.25
    assert panel_aggregate(scores, "mean") == pytest.approx(0.4375, abs=1e-12)
    assert panel_aggregate(scores, "median") == pytest.approx(0.375, abs=1e-12)
    assert panel_aggregate(scores, "min") == 0.0
    assert panel_aggregate(scores, "max") == 1.0
    assert panel_aggregate([0.2, 0.4, 0.9]) == pytest.approx(0.5, abs=1e-12)
    assert panel_aggregate([np.float32(0.5)], "median") == 0.5


def test_panel_aggregate_all_missing_is_nan():
    assert math.isnan(panel_aggregate([None, None]))
    assert math.isnan(panel_aggregate([None, float("nan")], "max"))
    assert math.isnan(panel_aggregate([]))


def test_panel_aggregate_errors():
    with pytest.raises(ValueError, match="how"):
        panel_aggregate([0.5], "mode")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        panel_aggregate([0.5, "0.7"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        panel_aggregate([True])  # type: ignore[list-item]


# --------------------------------------------------------------- likert, custom templates


def test_likert_verdicts_read_as_s_minus_1_over_4():
    from lmuq.scoring.functional.llm_judge import likert_value

    assert likert_value("Score: 4") == 0.75
    assert likert_value("Rating: 2/5") == 0.25
    assert likert_value("5 - completely correct") == 1.0
    assert likert_value('{"score": 1, "explanation": "wrong city"}') == 0.0
    assert likert_value("The answer is mostly correct.") == 0.75
    assert likert_value("partially correct") == 0.5
    assert likert_value("no idea") is None
    assert likert_value("mostly correct, or mostly incorrect") is None  # two verdicts
    assert parse_judge_output("Score: 3", "likert") == 0.5
    prompt = judge_prompt("Q?", "A", scale="likert", explanations=True, context="Be strict.")
    assert "1 to 5" in prompt and "Explanation:" in prompt and "Context: Be strict." in prompt


def test_keyword_scores_match_whole_words_longest_first():
    from lmuq.scoring.functional.llm_judge import keyword_score

    table = {0.0: ["incorrect", "not correct"], 0.5: ["unsure"], 1.0: ["correct"]}
    assert keyword_score("Correct", table) == 1.0
    assert keyword_score("This is not correct.", table) == 0.0
    assert keyword_score("Incorrect", table) == 0.0
    assert keyword_score("I am unsure\nExplanation: it is correct", table) == 0.5
    assert keyword_score("maybe", table) is None


def test_explanations_are_read_after_the_verdict():
    from lmuq.scoring.functional.llm_judge import parse_explanation

    assert parse_explanation("Score: 4\nExplanation: minor omission.") == "minor omission."
    assert parse_explanation('{"score": 2, "explanation": "wrong year"}') == "wrong year"
    assert parse_explanation("Correct") is None
