"""LLM-as-a-judge as pure functions: the grading prompt, the verdict read from the reply, and
a panel's aggregate.

A (possibly different) model grades the answer on a binary, ternary or continuous scale. The
ternary scale follows UQLM's ``LLMJudge`` (Bouchard & Chauhan 2025, after Chen & Mueller
2023): correct = 1, partially correct / uncertain = 0.5, incorrect = 0. A *panel* of judges
(Verga et al. 2024, "Replacing Judges with Juries") aggregates the members' scores with
:func:`panel_aggregate`. Numbers in a reply are read by the rules of
:mod:`lmuq.scoring.functional.stated_numbers`.
"""

from __future__ import annotations

import ast
import json
import math
import numbers
import re
import statistics
from collections.abc import Mapping, Sequence
from typing import Literal

from lmuq.scoring.functional.stated_numbers import (
    SCORE_CUE,
    StatedNumber,
    pick_number,
    whole_number,
)
from lmuq.types import check_str

__all__ = [
    "EXPLANATION_INSTRUCTION",
    "JudgeScale",
    "PanelAggregate",
    "judge_prompt",
    "keyword_score",
    "likert_value",
    "panel_aggregate",
    "parse_explanation",
    "parse_judge_output",
]

JudgeScale = Literal["binary", "ternary", "continuous", "likert"]
PanelAggregate = Literal["mean", "median", "min", "max"]

_SCALES: tuple[str, ...] = ("binary", "ternary", "continuous", "likert")
_AGGREGATES: tuple[str, ...] = ("mean", "median", "min", "max")

_SCALE_INSTRUCTIONS: dict[str, str] = {
    "binary": (
        "Decide whether the proposed answer is correct. Reply with exactly one word: "
        "Correct or Incorrect."
    ),
    "ternary": (
        "Decide whether the proposed answer is correct. Reply with exactly one of: "
        "Correct, Partially correct, Incorrect."
    ),
    "continuous": (
        "Rate how likely the proposed answer is to be correct, as a number between 0.0 "
        "(certainly wrong) and 1.0 (certainly right). Reply only in this format:\n"
        "Score: <number between 0.0 and 1.0>"
    ),
    "likert": (
        "Rate the correctness of the proposed answer on a scale from 1 to 5: 1 = completely "
        "incorrect, 2 = mostly incorrect, 3 = partially correct, 4 = mostly correct, 5 = "
        "completely correct. Reply only in this format:\nScore: <1, 2, 3, 4 or 5>"
    ),
}

#: Asked for after the verdict when explanations are wanted (read by
#: :func:`parse_explanation`).
EXPLANATION_INSTRUCTION = (
    "Then, on a new line, briefly explain your verdict in this format:\n"
    "Explanation: <one or two sentences>"
)


def _check_scale(scale: str) -> str:
    if scale not in _SCALES:
        raise ValueError(f"scale must be one of {_SCALES}, got {scale!r}")
    return scale


def judge_prompt(
    question: str,
    answer: str,
    reference: str | None = None,
    scale: JudgeScale = "binary",
    *,
    explanations: bool = False,
    context: str | None = None,
    instruction: str | None = None,
) -> str:
    """The prompt asking a judge to grade ``answer`` to ``question`` on ``scale``.

    Formats asked for (what :func:`parse_judge_output` reads best): ``binary`` → one word,
    ``Correct`` / ``Incorrect``; ``ternary`` → ``Correct`` / ``Partially correct`` /
    ``Incorrect``; ``continuous`` → ``Score: <0.0–1.0>``; ``likert`` → ``Score: <1–5>``
    (UQLM's Likert template, read as (s − 1) / 4). With a ``reference`` answer the judge is
    told to compare against it; ``explanations`` asks for an ``Explanation: ...`` line after
    the verdict; ``context`` (UQLM's ``additional_context``) opens the prompt;
    ``instruction`` (a custom template's instruction) replaces the scale's.
    """
    check_str(question, "question")
    check_str(answer, "answer")
    _check_scale(scale)
    lines = ["You are grading an answer to a question."]
    if context is not None:
        lines.append(f"Context: {check_str(context, 'context').strip()}")
    lines.append(f"Question: {question.strip()}")
    if reference is not None:
        lines.append(f"Reference answer: {check_str(reference, 'reference').strip()}")
    lines.append(f"Proposed answer: {answer.strip()}")
    if reference is not None:
        lines.append("Judge the proposed answer against the reference answer.")
    lines.append(_SCALE_INSTRUCTIONS[scale] if instruction is None else instruction)
    if explanations:
        lines.append(EXPLANATION_INSTRUCTION)
    return "\n".join(lines)


_EXPLANATION = re.compile(r"explanation\s*[:=]\s*(.+)", re.IGNORECASE | re.DOTALL)


def parse_explanation(text: str) -> str | None:
    """The explanation a judge gave: the text after ``Explanation:`` (stripped), or the
    value of an ``"explanation"`` JSON key; ``None`` when there is none."""
    check_str(text, "text")
    for obj in _json_objects(text):
        for k, v in obj.items():
            if str(k).strip().lower() == "explanation" and isinstance(v, str) and v.strip():
                return v.strip()
    m = _EXPLANATION.search(text)
    if m is None:
        return None
    out = m.group(1).strip().strip('"').strip()
    return out or None


_LIKERT_CUE = re.compile(r"\b(?:score|rating|grade)\s*[:=]?\s*\(?\s*([1-5])(?:\s*/\s*5)?\b", re.I)
_LIKERT_ALONE = re.compile(r"^\s*\(?([1-5])\)?(?:[.\-:)\s]|$)")
_LIKERT_PHRASES = (
    ("completely incorrect", 0.0),
    ("mostly incorrect", 0.25),
    ("partially correct", 0.5),
    ("mostly correct", 0.75),
    ("completely correct", 1.0),
)


def keyword_score(text: str, keywords_to_scores: Mapping[float, Sequence[str]]) -> float | None:
    """A custom template's verdict: the score of the keyword found in ``text`` (UQLM's
    ``keywords_to_scores_dict``, e.g. ``{0.0: ["incorrect"], 1.0: ["correct"]}``).

    Keywords are matched case-insensitively as whole words, longest first, so "not
    correct" wins over "correct" and "incorrect" never matches "correct"; the verdict line
    (before any ``Explanation:``) is read. ``None`` when no keyword occurs."""
    check_str(text, "text")
    verdict = _EXPLANATION.split(text, maxsplit=1)[0].lower()
    pairs = sorted(
        ((str(k).lower().strip(), float(v)) for v, ks in keywords_to_scores.items() for k in ks),
        key=lambda kv: -len(kv[0]),
    )
    for keyword, value in pairs:
        if keyword and re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", verdict):
            return value
    return None


def likert_value(text: str) -> float | None:
    """A 1–5 Likert verdict as (s − 1) / 4 (UQLM's 0, 0.25, 0.5, 0.75, 1), or ``None``.

    Read, in order: a JSON ``score`` / ``rating`` of 1–5; a cued number (``Score: 4``,
    ``Rating: 4/5``); a reply that opens with the number; one of the scale's phrases
    (``"mostly correct"``: 0.75; two different phrases: ``None``)."""
    check_str(text, "text")
    for obj in _json_objects(text):
        keys = {str(k).strip().lower(): v for k, v in obj.items()}
        for key in ("score", "rating", "grade"):
            v = keys.get(key)
            if isinstance(v, str) and v.strip().isdigit():
                v = int(v.strip())
            if isinstance(v, numbers.Real) and not isinstance(v, bool) and v in (1, 2, 3, 4, 5):
                return (float(v) - 1) / 4
            if key in keys:
                return None
    for pattern in (_LIKERT_CUE, _LIKERT_ALONE):
        m = pattern.search(text)
        if m is not None:
            return (int(m.group(1)) - 1) / 4
    low = text.lower()
    found = {v for phrase, v in _LIKERT_PHRASES if re.search(rf"\b{phrase}\b", low)}
    return found.pop() if len(found) == 1 else None


# Verdict phrases, by category. Longer phrases are tried first, so "not correct" and
# "partially correct" win over "correct", and \b keeps "correct" out of "incorrect".
_CORRECT, _PARTIAL, _UNSURE, _INCORRECT = "correct", "partial", "uncertain", "incorrect"
_STRONG_PHRASES: dict[str, str] = {
    "partially correct": _PARTIAL,
    "partly correct": _PARTIAL,
    "partially right": _PARTIAL,
    "somewhat correct": _PARTIAL,
    "not entirely correct": _PARTIAL,
    "not fully correct": _PARTIAL,
    "not completely correct": _PARTIAL,
    "partially": _PARTIAL,
    "partial": _PARTIAL,
    "not sure": _UNSURE,
    "not certain": _UNSURE,
    "unsure": _UNSURE,
    "uncertain": _UNSURE,
    "not correct": _INCORRECT,
    "not right": _INCORRECT,
    "not accurate": _INCORRECT,
    "incorrect": _INCORRECT,
    "inaccurate": _INCORRECT,
    "wrong": _INCORRECT,
    "correct": _CORRECT,
    "accurate": _CORRECT,
}
# Common words that are verdicts only at the start of the reply or right after a cue.
_WEAK_PHRASES: dict[str, str] = {
    "yes": _CORRECT,
    "true": _CORRECT,
    "right": _CORRECT,
    "no": _INCORRECT,
    "false": _INCORRECT,
}


def _phrase_regex(phrases: Sequence[str]) -> str:
    ordered = sorted(phrases, key=len, reverse=True)
    return r"\b(?:" + "|".join(p.replace(" ", r"\s+") for p in ordered) + r")\b"


_ALL_PHRASES = {**_STRONG_PHRASES, **_WEAK_PHRASES}
_LABEL_ANY = re.compile(_phrase_regex(list(_ALL_PHRASES)), re.IGNORECASE)
_LABEL_STRONG = re.compile(_phrase_regex(list(_STRONG_PHRASES)), re.IGNORECASE)
# A label opening the reply, possibly after a key ("Verdict:", "Correct:"); a label that is
# itself followed by a colon is a key, not a verdict ("Correct: the capital is Paris").
_LABEL_AT_START = re.compile(
    r"[\s*_#>\"'`\-]*(?:(?:final\s+)?(?:answer|verdict|judg(?:e)?ment|grade|label"
    r"|correct(?:ness)?)\s*[*_]*\s*[:=]\s*[\s*_\"'`]*)?(?P<label>"
    + _phrase_regex(list(_ALL_PHRASES))
    + r")(?![*_\s]*[:=])",
    re.IGNORECASE,
)
_VERDICT_CUE = re.compile(
    r"\b(?:verdict|judg(?:e)?ment|label|grade|assessment|evaluation|decision|conclusion"
    r"|classification|correctness)\b[*_]*\s*(?:is\s*)?[:=\-–]?[\s*_\"'`]*(?P<label>"
    + _phrase_regex(list(_ALL_PHRASES))
    + ")",
    re.IGNORECASE,
)
_PHRASAL_CUE = re.compile(
    r"\b(?:answer|response|it|this|that)\s+is\s+(?:(?:therefore|thus|so|definitely|clearly"
    r"|indeed)\s+)?(?P<label>" + _phrase_regex(list(_ALL_PHRASES)) + ")",
    re.IGNORECASE,
)


def _category(phrase: str) -> str:
    return _ALL_PHRASES[" ".join(phrase.lower().split())]


def _find_label(text: str) -> str | None:
    """The verdict category of ``text`` (see :func:`parse_judge_output`), or None."""
    cued = list(_VERDICT_CUE.finditer(text))
    if cued:
        return _category(cued[-1].group("label"))
    start = _LABEL_AT_START.match(text)
    if start:
        return _category(start.group("label"))
    phrasal = list(_PHRASAL_CUE.finditer(text))
    if phrasal:
        return _category(phrasal[-1].group("label"))
    found = {_category(m.group(0)) for m in _LABEL_STRONG.finditer(text)}
    return found.pop() if len(found) == 1 else None


_LABEL_VALUES: dict[str, dict[str, float]] = {
    "binary": {_CORRECT: 1.0, _INCORRECT: 0.0},
    "ternary": {_CORRECT: 1.0, _PARTIAL: 0.5, _UNSURE: 0.5, _INCORRECT: 0.0},
    "likert": {},
    "continuous": {_CORRECT: 1.0, _PARTIAL: 0.5, _UNSURE: 0.5, _INCORRECT: 0.0},
}
_ALLOWED_NUMBERS: dict[str, tuple[float, ...] | None] = {
    "binary": (0.0, 1.0),
    "ternary": (0.0, 0.5, 1.0),
    "likert": (0.0, 0.25, 0.5, 0.75, 1.0),
    "continuous": None,
}


def _on_scale(value: float | None, scale: str) -> float | None:
    allowed = _ALLOWED_NUMBERS[scale]
    if value is None or allowed is None:
        return value
    for a in allowed:
        if math.isclose(value, a, abs_tol=1e-9):
            return a
    return None


def _label_value(text: str, scale: str) -> float | None:
    category = _find_label(text)
    return None if category is None else _LABEL_VALUES[scale].get(category)


_JSON_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)
#: JSON keys read, in priority order (matched case-insensitively).
_JSON_KEYS = (
    "score",
    "confidence",
    "probability",
    "correct",
    "is_correct",
    "correctness",
    "verdict",
    "judgment",
    "judgement",
    "label",
    "grade",
    "rating",
    "result",
    "answer",
)


def _json_objects(text: str) -> list[dict]:
    out = []
    for m in _JSON_OBJECT.finditer(text):
        raw = m.group(0)
        for attempt in (raw, raw.replace("'", '"')):
            try:
                obj = json.loads(attempt)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
            break
        else:
            try:  # Python-literal dicts: {'correct': True}
                obj = ast.literal_eval(raw)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def _json_value(text: str, scale: str) -> tuple[bool, float | None]:
    """(found, value) from the first JSON object with a recognised key."""
    for obj in _json_objects(text):
        keys = {str(k).strip().lower(): v for k, v in obj.items()}
        for key in _JSON_KEYS:
            if key not in keys:
                continue
            value = keys[key]
            if isinstance(value, bool):
                return True, 1.0 if value else 0.0
            if isinstance(value, numbers.Real):
                num = StatedNumber(0, 0, float(value), percent=False, denominator=None)
                return True, _on_scale(num.probability(), scale)
            if isinstance(value, str):
                whole = whole_number(value)
                if whole is not None:
                    return True, _on_scale(whole.probability(), scale)
                return True, _label_value(value, scale)
            return True, None
    return False, None


def parse_judge_output(text: str, scale: JudgeScale = "binary") -> float | None:
    """Read a judge's verdict from ``text`` as a score in [0, 1], or ``None``.

    Formats read, in this order:

    1. **JSON** (also inside a ```` ```json ```` fence, or a Python-style dict): the first
       object with one of the keys ``score``, ``confidence``, ``probability``, ``correct``,
       ``is_correct``, ``correctness``, ``verdict``, ``judgment``, ``label``, ``grade``,
       ``rating``, ``result``, ``answer`` (in that priority). ``true``/``false`` → 1/0; a
       number is read by the number rules; a string is read as a number or a label. A
       recognised key with an unreadable value gives ``None`` (no guessing from the rest).
    2. For ``continuous``: a number after ``Score:`` / ``Rating:`` / ``Confidence:`` …
       (``"Score: 0.8"`` → 0.8, ``"Score: 80%"`` → 0.8, ``"Score: 4/5"`` → 0.8), else a
       number with a unit, else a reply that is one number; then a label as below.
    3. For ``binary`` / ``ternary``: a **label** — ``correct`` / ``accurate`` (1),
       ``partially correct`` / ``partly correct`` / ``not entirely correct`` (0.5),
       ``uncertain`` / ``unsure`` / ``not sure`` (0.5, UQLM's ternary "uncertain"),
       ``incorrect`` / ``not correct`` / ``wrong`` / ``inaccurate`` (0); and ``yes`` /
       ``true`` / ``right`` (1), ``no`` / ``false`` (0) when they open the reply or follow
       a cue. The label is taken from, in order: the last ``Verdict: …`` / ``Judgment: …``
       / ``Grade: …`` cue; the start of the reply (``"Incorrect. The capital is Paris."``,
       also after a key: ``"Correct: No"`` → 0);
       the last "the answer is …" phrase; otherwise the one category that the strong
       phrases name (two different ones → ``None``, ambiguous). Then a cued number.

    Scale checks: ``binary`` accepts only 0 or 1 (a partial verdict or ``Score: 0.8`` →
    ``None``); ``ternary`` accepts 0, 0.5, 1; ``continuous`` accepts any value in [0, 1].
    """
    check_str(text, "text")
    _check_scale(scale)
    if scale == "likert":
        return likert_value(text)
    found, value = _json_value(text, scale)
    if found:
        return value
    if scale == "continuous":
        found, value = pick_number(text, SCORE_CUE)
        if found:
            return value
        return _label_value(text, scale)
    category = _find_label(text)
    if category is not None:  # a label off the scale ("partially correct" on binary): None
        return _LABEL_VALUES[scale].get(category)
    found, value = pick_number(text, SCORE_CUE)
    return _on_scale(value, scale) if found else None


def panel_aggregate(scores: Sequence[float | None], how: PanelAggregate = "mean") -> float:
    """Combine a panel's scores: ``mean``, ``median``, ``min`` or ``max`` of the valid ones.

    ``None`` and NaN (a judge whose output could not be read, or whose call failed) are
    left out; when no valid score remains the result is NaN. Panels of judges: Verga et al.
    2024; UQLM's ``LLMPanel`` reports the same four aggregates.
    """
    if how not in _AGGREGATES:
        raise ValueError(f"how must be one of {_AGGREGATES}, got {how!r}")
    if isinstance(scores, (str, bytes)):
        raise TypeError("scores must be a sequence of numbers or None")
    valid = []
    for i, s in enumerate(scores):
        if s is None:
            continue
        if isinstance(s, bool) or not isinstance(s, numbers.Real):
            raise TypeError(f"scores[{i}] is a {type(s).__name__}, expected a number or None")
        if not math.isnan(s):
            valid.append(float(s))
    if not valid:
        return math.nan
    if how == "mean":
        return math.fsum(valid) / len(valid)
    if how == "median":
        return float(statistics.median(valid))
    return min(valid) if how == "min" else max(valid)
