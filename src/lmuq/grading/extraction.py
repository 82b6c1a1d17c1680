"""The short answer inside a sentence: "The capital of France is Paris." → ``"Paris"``.

The consistency scorers compare responses with each other. When every response is a sentence
that repeats the question ("The capital of X is ..."), they compare the shared wording as
much as the answers; scoring the extracted answers instead compares what was answered.

:func:`extract_answer` reads the answer of a geography question (capital, currency,
continent) from the phrasings a chat model uses, using only the question's *subject* and
*kind*, never its gold answer (so extraction cannot leak correctness into a score):

* "The capital of X is A", "X's capital is A", "Capital of X: A", "Capital: A";
* "A is the capital of X";
* for currencies "X uses A", for continents "X is (located) in A";
* "It is A", "The answer is A", or a reply of at most four words (the prompt asks for just
  the name).

The answer is cut at the first clause break (``.,;:!?()`` or a dash) or connective ("which",
"and", "or", "but", "also", "known", ...) and a leading article is dropped. ``None`` when no
pattern matches: the response gave no answer of that kind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Sequence

from lmuq.types import Question, SampleSet

__all__ = ["KIND_WORDS", "extract_answer", "extracted_sample_sets", "no_answer_text"]

#: How each question kind is named in a sentence.
KIND_WORDS: dict[str, str] = {
    "capital": r"capital(?:\s+city)?",
    "currency": r"(?:official\s+)?currency",
    "continent": r"continent",
}

_CUT = re.compile(
    r"\s*(?:[.,;:!?()\[\]\n]|\s[-–—]\s|(?:^|\s)(?:which|who|where|that|and|or|but|however|also|"
    r"known|located|situated|is|was|with|although|because|while|as|for|in|on)\b)",
    re.IGNORECASE,
)
_CALLED = r"(?:(?:known\s+as|called|named)\s+)?"
_LEAD = re.compile(r"^(?:(?:the|a|an)\s+)?(?:city\s+of\s+)?", re.IGNORECASE)
_QUOTES = "\"'“”‘’`*"
_MAX_WORDS = 6


def _subject(question: Question) -> str:
    return r"(?:the\s+)?" + r"\s+".join(re.escape(w) for w in question.subject.split())


def _patterns(question: Question) -> list[re.Pattern[str]]:
    attr = KIND_WORDS[question.kind]
    subj = _subject(question)
    forms = [
        rf"\b{attr}\s+of\s+{subj}\s+(?:is|was|would\s+be)\s+{_CALLED}(?P<a>.+)",
        rf"{subj}(?:'s|’s)\s+{attr}\s+(?:is|was)\s+{_CALLED}(?P<a>.+)",
        rf"\b{attr}(?:\s+of\s+{subj})?\s*:\s*(?P<a>.+)",
        rf"^\s*(?P<a>[^.,;:!?\n]+?)\s+is\s+the\s+{attr}\s+of\b",
    ]
    if question.kind == "currency":
        forms.append(rf"{subj}\s+uses\s+(?P<a>.+)")
    if question.kind == "continent":
        forms.append(rf"{subj}\s+(?:is|lies)\s+(?:located\s+|situated\s+)?(?:in|on)\s+(?P<a>.+)")
    forms.append(r"^\s*(?:it|the\s+answer)\s+is\s+(?P<a>.+)")
    return [re.compile(f, re.IGNORECASE) for f in forms]


def _clean(fragment: str) -> str | None:
    cut = _CUT.search(fragment)
    text = fragment[: cut.start()] if cut else fragment
    text = _LEAD.sub("", text.strip().strip(_QUOTES).strip())
    text = text.strip(_QUOTES).strip()
    if not text or len(text.split()) > _MAX_WORDS:
        return None
    return text


def extract_answer(text: str, question: Question) -> str | None:
    """The answer to ``question`` stated in ``text``, or ``None`` (see the module docstring).

    Raises:
        TypeError: ``text`` is not a str.
        ValueError: ``question.kind`` has no extraction rule.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if question.kind not in KIND_WORDS:
        raise ValueError(
            f"no answer extraction for questions of kind {question.kind!r}; "
            f"known: {', '.join(KIND_WORDS)}"
        )
    for pattern in _patterns(question):
        match = pattern.search(text)
        if match:
            found = _clean(match.group("a"))
            if found is not None:
                return found
    whole = text.strip().rstrip(".!").strip(_QUOTES).strip()
    if whole and len(whole.split()) <= 4 and not _CUT.search(whole):
        return _LEAD.sub("", whole)
    return None


def no_answer_text(text: str, position: int) -> str:
    """What a response without an answer is scored as: a token unique to it.

    No other response equals it or shares a word with it, so exact match and ROUGE-L count
    it as disagreeing with every response, another answerless one included (two answerless
    responses do not agree on an answer). Embedding and NLI scorers see an unrelated string.
    """
    digest = hashlib.sha256(f"{position}\x00{text}".encode()).hexdigest()[:12]
    return f"noanswer{digest}"


def extracted_sample_sets(
    sample_sets: Sequence[SampleSet], questions: Sequence[Question]
) -> list[SampleSet]:
    """Each sample set with every response's text replaced by its extracted answer.

    A response without an answer becomes :func:`no_answer_text` (unique to it, so it agrees
    with nothing). Log-probs, tokens and every other field stay those of the full response:
    the white-box part of a scorer still reads the model's probability of what it said.
    Failed generations are left as they are.

    Raises:
        ValueError: the two sequences differ in length.
    """
    if len(sample_sets) != len(questions):
        raise ValueError(
            f"sample_sets and questions must match one to one; got {len(sample_sets)} and "
            f"{len(questions)}"
        )
    out = []
    for ss, q in zip(sample_sets, questions, strict=True):
        gens = [ss.answer, *ss.samples]
        texts = []
        for j, g in enumerate(gens):
            found = None if g.failed else extract_answer(g.text, q)
            texts.append(g.text if g.failed else (found or no_answer_text(g.text, j)))
        new = [dataclasses.replace(g, text=t) for g, t in zip(gens, texts, strict=True)]
        out.append(dataclasses.replace(ss, answer=new[0], samples=new[1:]))
    return out
