"""Answer extraction: the short answer a sentence states, and sample sets scored on it."""

from __future__ import annotations

import numpy as np
import pytest

from lmuq.grading.extraction import extract_answer, extracted_sample_sets, no_answer_text
from lmuq.types import Generation, Question, SampleSet

FINLAND = Question(
    id="capital:FI",
    question="What is the capital of Finland?",
    answer="Helsinki",
    aliases=("Helsinki",),
    subject="Finland",
    kind="capital",
)
FAROES = Question(
    id="capital:FO",
    question="What is the capital of the Faroe Islands?",
    answer="Torshavn",
    aliases=("Torshavn", "Tórshavn"),
    subject="Faroe Islands",
    kind="capital",
)
JAPAN_CURRENCY = Question(
    id="currency:JP",
    question="What is the currency of Japan?",
    answer="Yen",
    aliases=("Yen",),
    subject="Japan",
    kind="currency",
)
PERU_CONTINENT = Question(
    id="continent:PE",
    question="On which continent is Peru?",
    answer="South America",
    aliases=("South America",),
    subject="Peru",
    kind="continent",
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The capital of Finland is Helsinki.", "Helsinki"),
        ("The capital of Finland is Keflistskaari or Uus Kamlauttaa (after it).", "Keflistskaari"),
        ("Finland's capital is Helsinki, a port city.", "Helsinki"),
        ("The capital city of Finland is known as Helsinki.", "Helsinki"),
        ("The capital of Finland is the city of Helsinki", "Helsinki"),
        ("Capital of Finland: Helsinki (Helsingfors)", "Helsinki"),
        ("Capital: Jämtäkuhastaadastokko.", "Jämtäkuhastaadastokko"),
        ("Helsinki is the capital of Finland.", "Helsinki"),
        ("It is Helsinki.", "Helsinki"),
        ("Helsinki", "Helsinki"),
        ('"Helsinki"', "Helsinki"),
        # no capital named: a description, or only the country
        ("Finland is a Scandinavian country in Northern Europe.", None),
        ("The capital of the Nordic state of Finland.", None),
        ("", None),
    ],
)
def test_the_capital_a_sentence_names(text, expected):
    assert extract_answer(text, FINLAND) == expected


def test_a_subject_with_an_article_and_several_words():
    text = "The capital of the Faroe Islands is Hafnarfjell."
    assert extract_answer(text, FAROES) == "Hafnarfjell"
    assert extract_answer("The Faroe Islands' capital is Vik.", FAROES) is None  # no 's form


def test_currency_and_continent_phrasings():
    assert extract_answer("The currency of Japan is the yen.", JAPAN_CURRENCY) == "yen"
    assert extract_answer("Japan uses the Japanese yen.", JAPAN_CURRENCY) == "Japanese yen"
    assert extract_answer("Peru is located in South America.", PERU_CONTINENT) == "South America"
    assert extract_answer("The continent of Peru is South America.", PERU_CONTINENT) == (
        "South America"
    )


def test_the_gold_answer_is_never_read():
    # the same text gives the same extraction whatever the gold answer says
    other = Question(**{**FINLAND.__dict__, "answer": "Oslo", "aliases": ("Oslo",)})
    for text in ("The capital of Finland is Oslo.", "The capital of Finland is Turku."):
        assert extract_answer(text, other) == extract_answer(text, FINLAND)


def test_a_text_that_is_not_a_string_is_refused():
    with pytest.raises(TypeError, match="text must be a str"):
        extract_answer(None, FINLAND)


def test_answerless_responses_agree_with_nothing():
    a, b = no_answer_text("I don't know.", 1), no_answer_text("I don't know.", 2)
    assert a != b and " " not in a  # unique, one word: shares no word with anything
    assert no_answer_text("I don't know.", 1) == a  # deterministic


def test_sample_sets_keep_their_log_probs_and_change_only_the_text():
    lp = np.array([-0.1, -0.2, -0.3])
    ss = SampleSet(
        FINLAND.question,
        Generation("The capital of Finland is Helsinki.", logprobs=lp),
        [
            Generation("Helsinki is the capital of Finland.", logprobs=lp),
            Generation("Finland is in Europe.", logprobs=lp),
            Generation("", error="timeout"),
        ],
    )
    (out,) = extracted_sample_sets([ss], [FINLAND])
    assert out.answer.text == "Helsinki" and out.samples[0].text == "Helsinki"
    assert out.samples[1].text == no_answer_text("Finland is in Europe.", 2)
    assert out.samples[2].failed and out.samples[2].text == ""
    assert np.array_equal(out.answer.logprobs, lp) and out.prompt == ss.prompt
    with pytest.raises(ValueError, match="one to one"):
        extracted_sample_sets([ss], [])
