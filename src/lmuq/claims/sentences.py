"""A sentence splitter that needs no model and keeps each sentence's character span.

Long-form scorers judge an answer one unit at a time (a sentence, or an atomic claim) and
report where in the answer each unit sits, so a report can highlight it and refinement can
keep the original wording. :func:`split_sentences` returns :class:`Span` s with
``text == response[start:end]`` exactly.

Rules, in order:

* a newline always ends a unit (list items and paragraphs are units of their own);
* a run of ``.``, ``!``, ``?`` or ``…`` (closing quotes and brackets after it included)
  followed by whitespace ends a sentence when the next character is not a lowercase
  letter, unless the run is a single ``.`` after a known abbreviation (``Dr.``, ``e.g.``,
  ``U.S.``, ``approx.``, …) or after a single capital letter (an initial: ``J. R. R. Tolkien``);
* a decimal point (``3.5``) or a dot inside a word (``example.com``) is never a boundary,
  since no whitespace follows it;
* list markers at the start of a unit (``-``, ``*``, ``•``, ``1.``, ``2)``, ``#``) are
  not part of it; surrounding whitespace is trimmed; a unit with no letter or digit
  (``---``) is dropped.

UQLM's splitter (a regex on ``.!?`` + whitespace + capital letter with a fixed abbreviation
list) gives the same sentences on ordinary prose; it keeps list markers, splits no
newlines and returns no offsets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ABBREVIATIONS", "Span", "split_sentences"]

#: Words that end with a dot without ending a sentence (compared lowercased, without the
#: final dot).
ABBREVIATIONS = frozenset(
    {
        *("mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "ft", "rev", "hon"),
        *("gen", "col", "lt", "sgt", "capt", "cmdr", "gov", "pres", "sen", "rep"),
        *("vs", "etc", "inc", "ltd", "co", "corp", "bros", "no", "nos", "vol", "fig"),
        *("figs", "approx", "est", "dept", "univ", "ave", "blvd", "rd", "al", "cf", "ca"),
        *("e.g", "i.e", "u.s", "u.k", "u.n", "e.u", "a.m", "p.m", "ph.d", "m.d", "b.a"),
        *("m.a", "d.c", "n.y", "l.a", "jan", "feb", "mar", "apr", "jun", "jul", "aug"),
        *("sep", "sept", "oct", "nov", "dec", "b.c", "a.d"),
    }
)

_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)")
_MARKER = re.compile(r"(?:[-*•–]|\d{1,3}[.)]|#{1,6})\s+")
_WORD_BEFORE = re.compile(r"(\S+)$")


@dataclass(frozen=True)
class Span:
    """A unit of a text and where it is: ``text == source[start:end]``."""

    text: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if not (0 <= self.start <= self.end):
            raise ValueError(f"a span needs 0 <= start <= end, got {self.start}, {self.end}")
        if len(self.text) != self.end - self.start:
            raise ValueError(
                f"span text has {len(self.text)} characters but covers {self.end - self.start}"
            )


def _is_boundary(line: str, match: re.Match[str]) -> bool:
    rest = line[match.end() :].lstrip()
    if not rest or rest[0].islower():
        return not rest  # the end of the line is a boundary anyway; lowercase is not
    run = match.group(0).rstrip("\"'”’»)]")
    if run != ".":
        return True  # "?", "!", "...", "?!" end a sentence
    before = _WORD_BEFORE.search(line[: match.start()])
    if before is None:
        return True
    word = before.group(1).lstrip("(\"'“‘«[")
    if word.lower() in ABBREVIATIONS:
        return False
    return not (len(word) == 1 and word.isupper())  # an initial, "J. R. R. Tolkien"


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    marker = _MARKER.match(text, start, end)
    if marker is not None and marker.end() < end:
        start = marker.end()
    piece = text[start:end]
    if not any(ch.isalnum() for ch in piece):
        return None
    return Span(piece, start, end)


def split_sentences(text: str) -> list[Span]:
    """The sentences (and list items) of ``text`` with their character spans, in order.

    See the module docstring for the rules. A text without a boundary is one unit; a text
    with no letter or digit has none.

    >>> [s.text for s in split_sentences("Dr. Smith lives in Paris. He is 3.5 m tall!")]
    ['Dr. Smith lives in Paris.', 'He is 3.5 m tall!']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    spans: list[Span] = []
    offset = 0
    for line in text.split("\n"):
        # a list marker ("1. ", "- ") opens the line; its dot ends no sentence
        marker = _MARKER.match(line, len(line) - len(line.lstrip()))
        start = 0 if marker is None else marker.end()
        for match in _END.finditer(line, start):
            if _is_boundary(line, match):
                span = _trimmed(text, offset + start, offset + match.end())
                if span is not None:
                    spans.append(span)
                start = match.end()
        span = _trimmed(text, offset + start, offset + len(line))
        if span is not None:
            spans.append(span)
        offset += len(line) + 1
    return spans
