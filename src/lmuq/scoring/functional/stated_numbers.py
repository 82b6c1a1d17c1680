"""Numbers a model states in text, read as probabilities (verbalised confidence, a judge's
score).

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

import re
from dataclasses import dataclass

__all__ = ["CONFIDENCE_CUE", "SCORE_CUE", "StatedNumber", "pick_number", "whole_number"]

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
CONFIDENCE_CUE = re.compile(rf"\b(?:{_CONFIDENCE_WORDS})\b{_GAP}(?=[-+]?\.?\d)", re.IGNORECASE)
SCORE_CUE = re.compile(rf"\b(?:{_SCORE_WORDS})\b{_GAP}(?=[-+]?\.?\d)", re.IGNORECASE)
# A text that is one number and nothing else (markdown emphasis, quotes, a final period ok).
_WHOLE = re.compile(r"[\s*_\"'`]*(?P<body>.*?)[\s*_\"'`.!]*", re.DOTALL)


@dataclass(frozen=True)
class StatedNumber:
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


def _numbers(text: str) -> list[StatedNumber]:
    out = []
    for m in _NUMBER.finditer(text):
        den = m.group("den")
        out.append(
            StatedNumber(
                start=m.start(),
                end=m.end(),
                value=float(m.group("num")),
                percent=m.group("pct") is not None,
                denominator=None if den is None else float(den),
            )
        )
    return out


def _cued(numbers: list[StatedNumber], text: str, cue: re.Pattern[str]) -> list[StatedNumber]:
    """The numbers that start where a cue (keyword + separators) ends."""
    ends = [m.end() for m in cue.finditer(text)]
    return [n for n in numbers if any(n.start <= e < n.end for e in ends)]


def whole_number(text: str) -> StatedNumber | None:
    """The number, when the text is one number and nothing else."""
    body = _WHOLE.fullmatch(text)
    core = body.group("body") if body else text.strip()
    nums = _numbers(core)
    if len(nums) == 1 and nums[0].start == 0 and nums[0].end == len(core):
        return nums[0]
    return None


def pick_number(text: str, cue: re.Pattern[str]) -> tuple[bool, float | None]:
    """(found, probability): the cued number's probability, by the tiers documented above.

    ``found`` is False when no number qualifies at all, so callers can fall back to labels.
    """
    numbers = _numbers(text)
    for tier in (_cued(numbers, text, cue), [n for n in numbers if n.has_unit]):
        if tier:
            return True, tier[-1].probability()
    whole = whole_number(text)
    if whole is not None:
        return True, whole.probability()
    return False, None
