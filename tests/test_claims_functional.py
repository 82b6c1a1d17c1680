"""Long answers as units, and the claim scores as pure functions: values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmuq.claims import (
    DECOMPOSITION_PROMPTS,
    Span,
    align_claims,
    claim_merge_prompt,
    claim_question_prompt,
    drop_prompt_echoes,
    parse_claims,
    parse_listed,
    refinement_prompt,
    resolve_decomposition_prompt,
    split_sentences,
)
from lmuq.scoring.functional import claims as F

# ----------------------------------------------------------------------------- sentences


def _texts(text: str) -> list[str]:
    spans = split_sentences(text)
    for s in spans:
        assert text[s.start : s.end] == s.text
    return [s.text for s in spans]


def test_sentences_split_on_final_punctuation_and_keep_exact_spans():
    text = "Dr. Smith lives in Paris. He is 3.5 m tall! Is he? Yes."
    assert _texts(text) == ["Dr. Smith lives in Paris.", "He is 3.5 m tall!", "Is he?", "Yes."]
    spans = split_sentences(text)
    assert (spans[1].start, spans[1].end) == (26, 43)


def test_sentences_do_not_split_abbreviations_initials_or_lowercase_continuations():
    assert _texts("J. R. R. Tolkien wrote books. It costs approx. 5 dollars.") == [
        "J. R. R. Tolkien wrote books.",
        "It costs approx. 5 dollars.",
    ]
    assert _texts("See e.g. the report. The U.S. Army agreed.") == [
        "See e.g. the report.",
        "The U.S. Army agreed.",
    ]
    assert _texts("It was big... and then small.") == ["It was big... and then small."]
    assert _texts('"Hello." She left.') == ['"Hello."', "She left."]


def test_newlines_end_units_and_list_markers_are_not_part_of_them():
    text = "France is in Europe.\n- The currency is the euro.\n1. It borders Spain. Also Italy.\n"
    assert _texts(text) == [
        "France is in Europe.",
        "The currency is the euro.",
        "It borders Spain.",
        "Also Italy.",
    ]
    spans = split_sentences(text)
    assert spans[1].start == text.index("The currency")


def test_texts_without_a_boundary_or_without_words():
    assert _texts("no final stop") == ["no final stop"]
    assert _texts("   ") == []
    assert _texts("---\n***") == []
    with pytest.raises(TypeError, match="text must be a str"):
        split_sentences(None)  # type: ignore[arg-type]


def test_a_span_checks_its_own_coordinates():
    with pytest.raises(ValueError, match="covers"):
        Span("abc", 0, 2)
    with pytest.raises(ValueError, match="start <= end"):
        Span("", 3, 2)


# ------------------------------------------------------------------------- parse / align


def test_parse_claims_reads_hash_lines_first():
    reply = "Here you go:\n### Paris is in France.\n### Paris is a city. ### Paris is old.\n"
    parsed = parse_claims(reply)
    assert parsed.claims == ("Paris is in France.", "Paris is a city.", "Paris is old.")
    assert parsed.format == "###"
    assert parse_claims("### NONE").claims == ()
    assert parse_claims("### none\n").format == "none"
    # duplicates and empty markers are dropped
    assert parse_claims("### A is B.\n###\n### A is B.").claims == ("A is B.",)


def test_parse_claims_falls_back_to_lists_then_sentences():
    assert parse_claims("1. Paris is in France.\n2) Lyon is too.").claims == (
        "Paris is in France.",
        "Lyon is too.",
    )
    fallback = parse_claims("Paris is in France. It has 2 million people.")
    assert fallback.format == "sentences"
    assert fallback.claims == ("Paris is in France.", "It has 2 million people.")
    assert parse_claims("").claims == ()
    assert parse_listed("- A new claim.\nNONE\n* Another.") == ("A new claim.", "Another.")
    assert parse_listed("NONE") == ()


def test_align_claims_exact_then_best_sentence_then_none():
    response = "France is a country in Europe. Its capital is Paris, a large city."
    spans = align_claims(
        response,
        ["its capital is Paris.", "The capital of France is Paris.", "Germany brews beer."],
    )
    assert (spans[0].start, spans[0].end, spans[0].kind) == (31, 51, "exact")
    # content words {capital, france, paris}: sentence 2 holds 2 of 3 (>= 1/2)
    assert (spans[1].start, spans[1].end, spans[1].kind) == (31, 66, "sentence")
    assert (spans[2].start, spans[2].kind) == (-1, "none")


@pytest.mark.parametrize("name", sorted(DECOMPOSITION_PROMPTS))
def test_claims_copied_from_the_prompts_examples_are_dropped_unless_the_answer_states_them(name):
    response = "Colombia is in South America. Its capital is Bogota."
    prompt = resolve_decomposition_prompt(name)(response)
    # what SmolLM2-135M replied to zhang_2025: the worked example first, cut off once
    few_shot = "The Danube ends in the Black Sea." in prompt  # farquhar_2024 is zero-shot
    echoed = ["The Danube flows through Vienna.", "the danube  ends in the"] if few_shot else []
    own = ["Colombia is in South America.", "its capital is Bogota"]
    assert drop_prompt_echoes([*echoed, *own], prompt, response) == tuple(own)
    # a claim that is in the examples and in the answer is the answer's
    danube = "The Danube flows through Vienna."
    prompt = resolve_decomposition_prompt(name)(danube)
    assert drop_prompt_echoes([danube], prompt, danube) == (danube,)


# ------------------------------------------------------------------------------ prompts


@pytest.mark.parametrize("name", sorted(DECOMPOSITION_PROMPTS))
def test_every_preset_embeds_the_response_and_asks_for_hash_lines(name):
    prompt = resolve_decomposition_prompt(name)("Paris is the capital of France.")
    assert "Paris is the capital of France." in prompt
    assert "###" in prompt and "### NONE" in prompt


def test_prompt_resolution_takes_a_callable_and_names_the_choices():
    def mine(response: str) -> str:
        return f"split: {response}"

    assert resolve_decomposition_prompt(mine)("x") == "split: x"
    with pytest.raises(ValueError, match="zhang_2025, farquhar_2024, mohri_2024, jiang_2024"):
        resolve_decomposition_prompt("smith_2023")
    with pytest.raises(TypeError, match="preset name or a callable"):
        resolve_decomposition_prompt(3)  # type: ignore[arg-type]


def test_refinement_question_and_merge_prompts_carry_their_inputs():
    p = refinement_prompt(["Paris is in France.", "Paris is big."], question="Tell me of Paris")
    assert "- Paris is in France.\n- Paris is big." in p and "Tell me of Paris" in p
    assert "Fact: Paris is big." in claim_question_prompt("Paris is big.")
    assert "3 different" in claim_question_prompt("Paris is big.", 3)
    merge = claim_merge_prompt(["A is B."], ["C is D."])
    assert "Known claims:\n- A is B." in merge and "New claims:\n- C is D." in merge


# --------------------------------------------------------------------------- claim scores

# Three samples against one claim (premise = sample, hypothesis = claim).
PROBS = [(0.8, 0.15, 0.05), (0.1, 0.2, 0.7), (0.0, 1.0, 0.0)]


def test_unit_response_scores_by_hand():
    got = F.unit_response_scores(PROBS)
    assert got["entailment"] == pytest.approx((0.8 + 0.1 + 0.0) / 3)
    assert got["noncontradiction"] == pytest.approx((0.95 + 0.3 + 1.0) / 3)
    # pure neutral (0, 1, 0) has p_e + p_c = 0: it counts 1/2
    assert got["contrasted_entailment"] == pytest.approx((0.8 / 0.85 + 0.1 / 0.8 + 0.5) / 3)


def test_matched_unit_scores_take_each_measures_best_unit_and_zero_for_an_empty_sample():
    per_sample = [
        np.array([(0.8, 0.15, 0.05), (0.3, 0.3, 0.4)]),
        np.zeros((0, 3)),
        np.array([(0.2, 0.1, 0.7)]),
    ]
    got = F.matched_unit_nli_scores(per_sample)
    assert got["entailment"] == pytest.approx((0.8 + 0.0 + 0.2) / 3)
    assert got["noncontradiction"] == pytest.approx((0.95 + 0.0 + 0.3) / 3)
    assert got["contrasted_entailment"] == pytest.approx((0.8 / 0.85 + 0.0 + 0.2 / 0.9) / 3)
    assert F.matched_unit_similarity([[0.2, 0.9], [], [0.5]]) == pytest.approx(1.4 / 3)


def test_claim_scores_refuse_bad_inputs():
    with pytest.raises(ValueError, match="at least one sampled response"):
        F.unit_response_scores(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        F.unit_response_scores([[0.5, 0.5]])
    with pytest.raises(ValueError, match="probabilities"):
        F.unit_response_scores([[1.5, 0.0, -0.5]])
    with pytest.raises(ValueError, match="at least one sampled response"):
        F.matched_unit_similarity([])
    with pytest.raises(ValueError, match="similarities in"):
        F.matched_unit_similarity([[1.7]])


def test_aggregation_mean_min_and_no_claims():
    assert F.aggregate_claim_scores([0.2, 0.8, 0.5]) == pytest.approx(0.5)
    assert F.aggregate_claim_scores([0.2, 0.8, 0.5], "min") == pytest.approx(0.2)
    assert F.aggregate_claim_scores([0.2, math.nan], "mean") == pytest.approx(0.2)
    with pytest.raises(ValueError, match="no scored claim"):
        F.aggregate_claim_scores([])
    with pytest.raises(ValueError, match="aggregation must be one of"):
        F.aggregate_claim_scores([0.5], "median")  # type: ignore[arg-type]


def test_refinement_keeps_scores_strictly_above_the_threshold():
    assert F.kept_claims([0.9, 1 / 3, 0.2, math.nan, 0.34], 1 / 3) == [
        True,
        False,
        False,
        False,
        True,
    ]
    with pytest.raises(ValueError, match="threshold must be in"):
        F.kept_claims([0.5], 1.5)


def test_rebuild_from_spans_keeps_the_original_wording():
    text = "Ann is tall. Cy is red.\nEve is kind. Gus is shy."
    spans = [(s.start, s.end) for s in split_sentences(text)]
    assert len(spans) == 4
    keep = F.rebuild_from_spans(text, spans, [True, False, True, True])
    assert keep == "Ann is tall.\nEve is kind. Gus is shy."
    odd = F.rebuild_from_spans(text, spans, [False, True, False, True])
    assert odd == "Cy is red.\nGus is shy."
    first = F.rebuild_from_spans(text, spans, [True, True, False, False])
    assert first == "Ann is tall. Cy is red."
    assert F.rebuild_from_spans(text, spans, [False] * 4) == ""


def test_context_support_verdicts_by_hand():
    neutral, contra, entail = (0.1, 0.8, 0.1), (0.2, 0.1, 0.7), (0.6, 0.3, 0.1)
    got = F.context_support([neutral, contra, entail])
    assert (got.label, got.passage) == ("entailed", 2)
    assert (got.entailment, got.contradiction) == pytest.approx((0.6, 0.7))
    got = F.context_support([neutral, contra])
    assert (got.label, got.passage, got.entailment) == ("contradicted", 1, pytest.approx(0.2))
    got = F.context_support([neutral])
    assert (got.label, got.passage) == ("not_addressed", -1)
    with pytest.raises(ValueError, match="at least one passage"):
        F.context_support(np.zeros((0, 3)))
