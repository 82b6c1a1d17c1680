"""Grade short factual answers against a list of accepted aliases.

The grader is deliberately lexical: a response is right when it *mentions* an accepted answer
as a whole-word phrase, after :func:`~lmuq.grading.normalize.normalize_text`. It does not try
to understand negation or hedging ("not Paris" still mentions Paris), and a response that
lists several candidates is right as soon as one of them is accepted. What it does guard
against is the response scoring by repeating the question: alias occurrences that are part of
the question's *subject* are discounted (see :func:`grade_short_answer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lmuq.grading.normalize import normalize_text

if TYPE_CHECKING:
    from lmuq.types import Question

__all__ = ["grade_question", "grade_short_answer"]

# An alias equal to the subject does not count when introduced by one of these words:
# "the capital of Djibouti is ...", "... located in Singapore".
_ECHO_PREPOSITIONS = frozenset({"of", "in"})


def _occurrences(tokens: Sequence[str], phrase: Sequence[str]) -> list[int]:
    """Start indices of every occurrence of ``phrase`` as a contiguous run of ``tokens``."""
    k = len(phrase)
    return [i for i in range(len(tokens) - k + 1) if list(tokens[i : i + k]) == list(phrase)]


def _is_subject_echo(tokens: Sequence[str], start: int, length: int) -> bool:
    """Whether the subject mention at ``tokens[start:start+length]`` reads as the question's.

    Used only when the alias *is* the subject (city-states: Djibouti, Singapore, Monaco). Such
    a mention is an echo of the question when it is

    * introduced by "of" or "in" ("the capital of Djibouti ...", "... in Djibouti"), except
      after "city of" not preceded by "capital" ("it is the city of Djibouti" is an answer,
      "the capital city of Djibouti is ..." is not); or
    * possessive ("Djibouti's capital ..." normalises to "djibouti s capital ...").
    """
    before = tokens[start - 1] if start >= 1 else None
    after = tokens[start + length] if start + length < len(tokens) else None
    if after == "s":
        return True
    if before not in _ECHO_PREPOSITIONS:
        return False
    city_of = before == "of" and start >= 2 and tokens[start - 2] == "city"
    return not (city_of and (start < 3 or tokens[start - 3] != "capital"))


def _validate_aliases(aliases: Sequence[str]) -> list[list[str]]:
    """Check ``aliases`` and return each one's normalised tokens, duplicates removed."""
    if isinstance(aliases, str) or not isinstance(aliases, Sequence):
        raise ValueError(
            "aliases must be a sequence of strings (e.g. a list or tuple), "
            f"got {type(aliases).__name__}"
        )
    if len(aliases) == 0:
        raise ValueError("aliases must not be empty")
    phrases: list[list[str]] = []
    for i, alias in enumerate(aliases):
        if not isinstance(alias, str):
            raise ValueError(f"aliases[{i}] must be a str, got {type(alias).__name__}")
        tokens = normalize_text(alias).split()
        if not tokens:
            raise ValueError(f"aliases[{i}] = {alias!r} is empty after normalisation")
        if tokens not in phrases:
            phrases.append(tokens)
    return phrases


def grade_short_answer(response: str, aliases: Sequence[str], subject: str | None = None) -> bool:
    """Whether ``response`` gives one of the accepted ``aliases``.

    Both sides are normalised with :func:`~lmuq.grading.normalize.normalize_text` (accents,
    case, punctuation and articles do not matter). The response is **right** iff some alias
    occurs in it as a whole-word phrase -- on token boundaries, so "Tunis" does not match inside
    "Tunisia" -- and that occurrence is not discounted by the question's ``subject``:

    * An alias occurrence lying strictly inside an occurrence of the subject phrase does not
      count: for Guinea-Bissau, "The capital of Guinea-Bissau is Porto Alegre" is wrong for
      alias "Bissau". An alias *longer* than the subject is not inside it, so "Mexico City" is
      right for Mexico.
    * When an alias equals the subject (city-states such as Djibouti, Singapore or Monaco),
      a mention counts unless it reads as the question being repeated:
      introduced by "of" or "in" (but "the city of Djibouti" does count, while "the capital
      city of Djibouti" does not), or possessive ("Djibouti's"). So "The capital of Djibouti
      is Paris" is wrong and "The capital of Djibouti is Djibouti" is right. This is a
      heuristic: "Paris, not Djibouti" is still graded right, like any negated mention.

    Without a ``subject`` every whole-word occurrence counts. An empty response is wrong.

    Args:
        response: the model's answer text.
        aliases: accepted answers, e.g. ``("Paris",)``; a non-empty sequence of non-empty
            strings (a bare string is rejected, to catch ``grade_short_answer(r, "Paris")``).
        subject: what the question asks about, e.g. ``"France"``, or ``None``.

    Raises:
        TypeError: if ``response`` is not a ``str``, or ``subject`` is neither ``str`` nor
            ``None``.
        ValueError: if ``aliases`` is not a non-empty sequence of strings, or an alias is
            empty after normalisation (e.g. ``""``, ``"the"`` or ``"?!"``).
    """
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    if subject is not None and not isinstance(subject, str):
        raise TypeError(f"subject must be a str or None, got {type(subject).__name__}")
    phrases = _validate_aliases(aliases)

    tokens = normalize_text(response).split()
    subject_tokens = normalize_text(subject).split() if subject else []
    m = len(subject_tokens)
    subject_starts = _occurrences(tokens, subject_tokens) if m else []

    for phrase in phrases:
        k = len(phrase)
        for i in _occurrences(tokens, phrase):
            if phrase == subject_tokens:
                if not _is_subject_echo(tokens, i, k):
                    return True
            elif not any(s <= i and i + k <= s + m for s in subject_starts):
                return True
    return False


def grade_question(response: str, question: Question) -> bool:
    """Grade ``response`` to ``question``: its aliases, with its subject discounted.

    Shorthand for ``grade_short_answer(response, question.aliases, question.subject)``.
    """
    return grade_short_answer(response, question.aliases, question.subject)
