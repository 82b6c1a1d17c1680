"""Self-judged and LLM-judged confidence as pure functions: prompts in, parsed numbers out.

No function here calls a model. Each judged scorer is split into

1. a *prompt builder* (question, answer → the text sent to the judge), and
2. a *reader* that turns what the judge returned (token log-probs, or its text) into a
   confidence in [0, 1], or ``None`` when the output cannot be read,

and :mod:`lmuq.uq.judged` is the thin orchestrator that sends the prompts to a backend.

Scorers:

* **P(True)** — Kadavath et al. 2022, "Language Models (Mostly) Know What They Know": the
  model sees its own answer (optionally with brainstormed samples) and a two-way choice
  "(A) True / (B) False"; the confidence is

      P(True) = p(A) / (p(A) + p(B)) = σ(log p(A) − log p(B)),

  computed in log space from the log-probabilities of the two option continuations.
* **Verbalised confidence** — Xiong et al. 2024, "Can LLMs Express Their Uncertainty? An
  Empirical Evaluation of Confidence Elicitation in LLMs" (ICLR 2024): the model is asked to
  state how likely the answer is to be correct, and the number is read from its text.
* **LLM-as-a-judge** — a (possibly different) model grades the answer on a binary, ternary
  or continuous scale. The ternary scale follows UQLM's ``LLMJudge`` (Bouchard & Chauhan
  2025, after Chen & Mueller 2023): correct = 1, partially correct / uncertain = 0.5,
  incorrect = 0. A *panel* of judges (Verga et al. 2024, "Replacing Judges with Juries")
  aggregates the members' scores with :func:`panel_aggregate`.

Reading numbers (shared by :func:`parse_verbalized_confidence` and the continuous judge)
-------------------------------------------------------------------------------------------
A number is read as a probability by its written form:

* ``80%``, ``80 %``, ``80 percent`` → 0.8 (must lie in [0, 100]);
* ``8/10``, ``8 out of 10`` → 0.8 (denominator > 0, numerator in [0, denominator]);
* a plain number in [0, 1] is the probability itself: ``0.8`` → 0.8 (never 0.08), ``.9`` →
  0.9, ``1`` → 1.0; a trailing sentence period is not a decimal (``0.8.`` → 0.8);
* a plain number in (10, 100] is read as a percentage (``Confidence: 85`` → 0.85), the
  0–100 scale of Xiong et al.'s prompts;
* a plain number in (1, 10] is ambiguous (a malformed probability? a 0–10 rating? a
  percentage?) and gives ``None``; so does anything negative or above the ranges above.

When the text holds several numbers, the one attached to a cue wins, in this order (the
last match within a tier): a number right after a confidence keyword (``confidence``,
``confident``, ``certainty``, ``probability``, ``likelihood``; for the judge also
``score``, ``rating``, ``grade``) with only separators between (``:``, ``=``, ``is``,
``of``, ``level``, ``about``, ``**`` …, and an optional parenthesis such as ``(0-1)``);
then a number with a unit (``%``, ``percent``, ``/10``, ``out of 10``); then a text that is
nothing but one number. Bare numbers inside prose are never guessed at: in "The answer 1912
is correct with confidence 0.7" the value is 0.7, and "The answer 1912 is correct" gives
``None``. The chosen number is never swapped for another when it is out of range:
``Confidence: 1.5`` gives ``None``.
"""

from __future__ import annotations

import ast
import json
import math
import numbers
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from lmuq.constants import LOGPROB_TOLERANCE

__all__ = [
    "P_FALSE_OPTIONS",
    "P_TRUE_OPTIONS",
    "JudgeScale",
    "PanelAggregate",
    "judge_prompt",
    "p_true_from_logprobs",
    "p_true_prompt",
    "panel_aggregate",
    "parse_judge_output",
    "parse_verbalized_confidence",
    "verbalized_confidence_prompt",
]

JudgeScale = Literal["binary", "ternary", "continuous"]
PanelAggregate = Literal["mean", "median", "min", "max"]

_SCALES: tuple[str, ...] = ("binary", "ternary", "continuous")
_AGGREGATES: tuple[str, ...] = ("mean", "median", "min", "max")


def _check_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    return value


# =========================================================================== P(True)

#: The option continuations P(True) reads by default: the letter of the "(A) True" choice
#: and the word itself, and likewise for "(B) False".
P_TRUE_OPTIONS: tuple[str, ...] = ("A", "True")
P_FALSE_OPTIONS: tuple[str, ...] = ("B", "False")


def p_true_prompt(question: str, answer: str, samples: Sequence[str] | None = None) -> str:
    """The P(True) self-evaluation prompt of Kadavath et al. 2022 (Sec. 3).

    ::

        Question: {question}
        Here are some brainstormed ideas:        <- only when samples are given
        {sample 1}
        ...
        Possible answer: {answer}
        Is the possible answer:
         (A) True
         (B) False
        The possible answer is:

    With ``samples`` (the paper's "brainstormed" answers, which they found improve
    self-evaluation), each sample is listed on its own line (internal whitespace, including
    newlines, collapsed to single spaces). An empty list is the same as ``None``.
    """
    _check_str(question, "question")
    _check_str(answer, "answer")
    lines = [f"Question: {question.strip()}"]
    if samples is not None:
        if isinstance(samples, str):
            raise TypeError("samples must be a sequence of str, not a single str")
        ideas = [" ".join(_check_str(s, f"samples[{j}]").split()) for j, s in enumerate(samples)]
        if ideas:
            lines.append("Here are some brainstormed ideas:")
            lines.extend(ideas)
    lines += [
        f"Possible answer: {answer.strip()}",
        "Is the possible answer:",
        " (A) True",
        " (B) False",
        "The possible answer is:",
    ]
    return "\n".join(lines)


def _option_key(token: str) -> str:
    """A token's text with whitespace and enclosing punctuation removed: ``" (A)"`` → ``A``."""
    return token.strip().lstrip("([").rstrip(")].:,").strip()


def _matches(token: str, options: Sequence[str]) -> bool:
    key = _option_key(token)
    for opt in options:
        target = _option_key(opt)
        # Single letters are case-sensitive: " a" is far more often the English article.
        if (key == target) if len(target) == 1 else (key.lower() == target.lower()):
            return True
    return False


def _logaddexp(a: float, b: float) -> float:
    m = max(a, b)
    if m == -math.inf:
        return -math.inf
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def p_true_from_logprobs(
    option_logprobs: Mapping[str, float],
    *,
    true_options: Sequence[str] = P_TRUE_OPTIONS,
    false_options: Sequence[str] = P_FALSE_OPTIONS,
    missing_logprob: float | None = None,
) -> float:
    """P(True) = p(True) / (p(True) + p(False)), from the option continuations' log-probs.

    Args:
        option_logprobs: continuation text → log-probability, e.g. the first generated
            token's top-k (``{" A": -0.3, " B": -1.6, " The": -3.0}``) or teacher-forced
            log-probs of the two options. Keys are matched after stripping whitespace and
            enclosing punctuation (``" A"``, ``"A"``, ``"(A"``, ``"A)"`` all read as ``A``);
            single-letter options match case-sensitively (``" a"`` is the article, not the
            option), word options case-insensitively (``"true"`` = ``"True"``). Keys that
            match neither side (``" The"``) are ignored. Several keys on one side are
            distinct tokens, i.e. disjoint events, so their probabilities add:
            log p(True) = logsumexp over the matching keys.
        true_options / false_options: which continuations count for each side; by default
            the letter and the word of Kadavath et al.'s choices, ``("A", "True")`` and
            ``("B", "False")``.
        missing_logprob: the log-probability given to a side with no matching key. ``None``
            (default) gives it probability zero, so P(True) is 1.0 when only True-side keys
            are present and 0.0 when only False-side ones are. With top-k log-probs, pass
            the smallest top-k log-prob: an absent option can be at most that likely, so
            the result is the least extreme value consistent with the top-k.

    Computed in log space as σ(ℓ_T − ℓ_F), so it is exact even when both log-probs are very
    negative. Raises ``ValueError`` when neither side is present, when both have
    probability zero, or on NaN / positive log-probs.
    """
    if isinstance(option_logprobs, (str, bytes)) or not isinstance(option_logprobs, Mapping):
        raise TypeError("option_logprobs must be a mapping of continuation text to log-prob")
    if set(map(_option_key, true_options)) & set(map(_option_key, false_options)):
        raise ValueError(f"true_options {true_options} and false_options {false_options} overlap")
    sides: dict[bool, float | None] = {True: None, False: None}
    for token, value in option_logprobs.items():
        _check_str(token, "an option_logprobs key")
        lp = float(value)
        if math.isnan(lp):
            raise ValueError(f"log-prob of {token!r} is NaN")
        if lp > LOGPROB_TOLERANCE:
            raise ValueError(
                f"log-prob of {token!r} is {lp:.4g} > 0: pass log-probabilities, not "
                "probabilities or logits"
            )
        lp = min(lp, 0.0)
        for side, options in ((True, true_options), (False, false_options)):
            if _matches(token, options):
                prev = sides[side]
                sides[side] = lp if prev is None else _logaddexp(prev, lp)
    if sides[True] is None and sides[False] is None:
        raise ValueError(
            f"neither a True option {tuple(true_options)} nor a False option "
            f"{tuple(false_options)} is among the continuations {sorted(option_logprobs)}"
        )
    if missing_logprob is not None and not float(missing_logprob) <= 0.0:
        raise ValueError(f"missing_logprob must be a log-probability <= 0, got {missing_logprob}")
    fill = -math.inf if missing_logprob is None else float(missing_logprob)
    lt = fill if sides[True] is None else sides[True]
    lf = fill if sides[False] is None else sides[False]
    if lt == -math.inf and lf == -math.inf:
        raise ValueError("both options have probability zero; P(True) is undefined")
    d = lt - lf  # P(True) = σ(d), evaluated without overflow
    if d >= 0:
        return 1.0 / (1.0 + math.exp(-d))
    e = math.exp(d)
    return e / (1.0 + e)


# =========================================================================== numbers

_NUM = r"[-+]?(?:\d+(?:\.\d+)?|\.\d+)"
# A number not glued to letters, digits or a decimal point (so "v2", "1.2.3", "3rd" are not
# read), with an optional unit: a percent sign/word, or a denominator ("/10", "out of 10").
# A sentence period after the number is not a decimal ("0.8." reads 0.8).
_NUMBER = re.compile(
    rf"(?<![\w.])(?P<num>{_NUM})(?!\w|\.\d)"
    r"(?:\s*(?P<pct>%|percent\b|per\s*cent\b)"
    r"|\s*(?:/|\bout\s+of\b)\s*(?P<den>\d+(?:\.\d+)?)(?!\w|\.\d))?",
    re.IGNORECASE,
)
# What may stand between a cue word and its number.
_GAP = (
    r"(?:\s*\([^()]*\))?"  # "Confidence (0-1): 0.8"
    r"(?:\s*(?:[:=\-–—*\"'`]|\b(?:is|of|level|score|about|around|approximately|roughly"
    r"|at|would\s+be|be|estimate|estimated|value|rating)\b))*\s*"
)
_CONFIDENCE_WORDS = r"confidence|confident|certainty|probability|likelihood"
_SCORE_WORDS = r"score|rating|grade|" + _CONFIDENCE_WORDS
_CONFIDENCE_CUE = re.compile(rf"\b(?:{_CONFIDENCE_WORDS})\b{_GAP}(?=[-+]?\.?\d)", re.IGNORECASE)
_SCORE_CUE = re.compile(rf"\b(?:{_SCORE_WORDS})\b{_GAP}(?=[-+]?\.?\d)", re.IGNORECASE)
# A text that is one number and nothing else (markdown emphasis, quotes, a final period ok).
_WHOLE = re.compile(r"[\s*_\"'`]*(?P<body>.*?)[\s*_\"'`.!]*", re.DOTALL)


@dataclass(frozen=True)
class _Number:
    start: int
    end: int
    value: float
    percent: bool
    denominator: float | None

    def probability(self) -> float | None:
        """The number read as a probability by the rules in the module docstring."""
        v = self.value
        if self.percent:
            return v / 100.0 if 0.0 <= v <= 100.0 else None
        if self.denominator is not None:
            d = self.denominator
            return v / d if d > 0 and 0.0 <= v <= d else None
        if 0.0 <= v <= 1.0:
            return v
        if 10.0 < v <= 100.0:
            return v / 100.0
        return None

    @property
    def has_unit(self) -> bool:
        return self.percent or self.denominator is not None


def _numbers(text: str) -> list[_Number]:
    out = []
    for m in _NUMBER.finditer(text):
        den = m.group("den")
        out.append(
            _Number(
                start=m.start(),
                end=m.end(),
                value=float(m.group("num")),
                percent=m.group("pct") is not None,
                denominator=None if den is None else float(den),
            )
        )
    return out


def _cued(numbers: list[_Number], text: str, cue: re.Pattern[str]) -> list[_Number]:
    """The numbers that start where a cue (keyword + separators) ends."""
    ends = [m.end() for m in cue.finditer(text)]
    return [n for n in numbers if any(n.start <= e < n.end for e in ends)]


def _whole_number(text: str) -> _Number | None:
    """The number, when the text is one number and nothing else."""
    body = _WHOLE.fullmatch(text)
    core = body.group("body") if body else text.strip()
    nums = _numbers(core)
    if len(nums) == 1 and nums[0].start == 0 and nums[0].end == len(core):
        return nums[0]
    return None


def _pick_number(text: str, cue: re.Pattern[str]) -> tuple[bool, float | None]:
    """(found, probability): the cued number's probability, by the tiers documented above.

    ``found`` is False when no number qualifies at all, so callers can fall back to labels.
    """
    numbers = _numbers(text)
    for tier in (_cued(numbers, text, cue), [n for n in numbers if n.has_unit]):
        if tier:
            return True, tier[-1].probability()
    whole = _whole_number(text)
    if whole is not None:
        return True, whole.probability()
    return False, None


# =========================================================================== verbalised


def verbalized_confidence_prompt(question: str, answer: str) -> str:
    """Ask the model for its confidence that ``answer`` is correct (Xiong et al. 2024).

    The reply format asked for is ``Confidence: <probability between 0.0 and 1.0>``;
    :func:`parse_verbalized_confidence` also reads percentages and fractions.
    """
    _check_str(question, "question")
    _check_str(answer, "answer")
    return (
        f"Question: {question.strip()}\n"
        f"Proposed answer: {answer.strip()}\n"
        "How likely is the proposed answer to be correct? Give your confidence as a "
        "probability between 0.0 and 1.0. Reply only in this format:\n"
        "Confidence: <number between 0.0 and 1.0>"
    )


def parse_verbalized_confidence(text: str) -> float | None:
    """Read a stated confidence from ``text`` as a probability in [0, 1], or ``None``.

    Follows the number-reading rules in the module docstring. Examples: ``"Confidence:
    0.8"`` → 0.8, ``"0.8."`` → 0.8, ``"Confidence: .9"`` → 0.9, ``"confidence = 1"`` → 1.0,
    ``"80%"`` / ``"90 %"`` / ``"I am 75 percent sure"`` → 0.8 / 0.9 / 0.75, ``"8/10"`` →
    0.8, ``"Confidence: 85"`` → 0.85, ``"The answer 1912 is correct with confidence 0.7"``
    → 0.7; ``"150%"``, ``"Confidence: 1.5"``, ``"Confidence: -0.2"``, ``"Confidence: 7"``
    (ambiguous) and text with no usable number → ``None``.
    """
    _check_str(text, "text")
    return _pick_number(text, _CONFIDENCE_CUE)[1]


# =========================================================================== LLM judge

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
}


def _check_scale(scale: str) -> str:
    if scale not in _SCALES:
        raise ValueError(f"scale must be one of {_SCALES}, got {scale!r}")
    return scale


def judge_prompt(
    question: str,
    answer: str,
    reference: str | None = None,
    scale: JudgeScale = "binary",
) -> str:
    """The prompt asking a judge to grade ``answer`` to ``question`` on ``scale``.

    Formats asked for (what :func:`parse_judge_output` reads best): ``binary`` → one word,
    ``Correct`` / ``Incorrect``; ``ternary`` → ``Correct`` / ``Partially correct`` /
    ``Incorrect``; ``continuous`` → ``Score: <0.0–1.0>``. With a ``reference`` answer the
    judge is told to compare against it.
    """
    _check_str(question, "question")
    _check_str(answer, "answer")
    _check_scale(scale)
    lines = [
        "You are grading an answer to a question.",
        f"Question: {question.strip()}",
    ]
    if reference is not None:
        lines.append(f"Reference answer: {_check_str(reference, 'reference').strip()}")
    lines.append(f"Proposed answer: {answer.strip()}")
    if reference is not None:
        lines.append("Judge the proposed answer against the reference answer.")
    lines.append(_SCALE_INSTRUCTIONS[scale])
    return "\n".join(lines)


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
    "continuous": {_CORRECT: 1.0, _PARTIAL: 0.5, _UNSURE: 0.5, _INCORRECT: 0.0},
}
_ALLOWED_NUMBERS: dict[str, tuple[float, ...] | None] = {
    "binary": (0.0, 1.0),
    "ternary": (0.0, 0.5, 1.0),
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
                num = _Number(0, 0, float(value), percent=False, denominator=None)
                return True, _on_scale(num.probability(), scale)
            if isinstance(value, str):
                whole = _whole_number(value)
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
    _check_str(text, "text")
    _check_scale(scale)
    found, value = _json_value(text, scale)
    if found:
        return value
    if scale == "continuous":
        found, value = _pick_number(text, _SCORE_CUE)
        if found:
            return value
        return _label_value(text, scale)
    category = _find_label(text)
    if category is not None:  # a label off the scale ("partially correct" on binary): None
        return _LABEL_VALUES[scale].get(category)
    found, value = _pick_number(text, _SCORE_CUE)
    return _on_scale(value, scale) if found else None


# =========================================================================== panel


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
