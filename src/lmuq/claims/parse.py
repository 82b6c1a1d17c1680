"""Reading claims out of an LLM's reply (untrusted text), and placing them in the answer.

:func:`parse_claims` reads, in order of preference: lines starting with ``###`` (the format
every preset asks for; ``### NONE`` means no claim), else bulleted or numbered lines, else
the reply's sentences (a small model often ignores the format; the result says which
format was read). :func:`align_claims` finds each claim's character span in the response
it came from: the claim itself when it occurs verbatim, else the sentence that holds most
of its words. :func:`drop_prompt_echoes` removes the claims a small decomposer copied
from the prompt's own examples instead of reading them from the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lmuq.claims.sentences import Span, split_sentences

__all__ = [
    "ClaimSpan",
    "ParsedClaims",
    "align_claims",
    "drop_prompt_echoes",
    "parse_claims",
    "parse_listed",
]

ClaimFormat = Literal["###", "list", "sentences", "none"]

_HASH_NONE = re.compile(r"^\s*#{2,}\s*none\b", re.IGNORECASE)
_HASHES = re.compile(r"#{2,}")
_LISTED = re.compile(r"^\s*(?:[-*•–]|\d{1,3}[.)])\s+(.+)$")
_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    {
        *("a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "of", "in"),
        *("on", "at", "to", "for", "by", "with", "and", "or", "as", "its", "it", "this"),
        *("that", "these", "those", "has", "have", "had", "from", "which", "who"),
    }
)


@dataclass(frozen=True)
class ParsedClaims:
    """The claims read from a reply, and the format they were read from."""

    claims: tuple[str, ...]
    format: ClaimFormat


def _clean(text: str) -> str:
    return " ".join(text.split()).strip(" -*•\"'")


def _unique(items: Sequence[str]) -> tuple[str, ...]:
    kept = [c for c in (_clean(i) for i in items) if any(ch.isalnum() for ch in c)]
    return tuple(dict.fromkeys(kept))


def parse_claims(reply: str) -> ParsedClaims:
    """The claims of a decomposition reply (see the module docstring).

    >>> parse_claims("### Paris is in France.\\n### Paris is a city.").claims
    ('Paris is in France.', 'Paris is a city.')
    >>> parse_claims("### NONE").claims
    ()
    """
    if not isinstance(reply, str):
        raise TypeError(f"reply must be a str, got {type(reply).__name__}")
    if "##" in reply:
        pieces = [p for p in _HASHES.split(reply)[1:] if not _HASH_NONE.match("##" + p)]
        claims = _unique([line for p in pieces for line in p.splitlines()[:1]])
        if claims or _HASH_NONE.search(reply):
            return ParsedClaims(claims, "###" if claims else "none")
    listed = [m.group(1) for m in map(_LISTED.match, reply.splitlines()) if m]
    if listed:
        return ParsedClaims(_unique(listed), "list")
    sentences = _unique([s.text for s in split_sentences(reply)])
    return ParsedClaims(sentences, "sentences" if sentences else "none")


def _folded(text: str) -> str:
    return " ".join(text.lower().split())


def drop_prompt_echoes(claims: Sequence[str], prompt: str, response: str) -> tuple[str, ...]:
    """``claims`` less those copied from the decomposition prompt's own text.

    A claim that occurs verbatim (case and spacing aside, final period ignored) in the
    prompt outside the response it embeds, and not in the response, came from the
    prompt's worked examples or instructions, not from the answer: a small model given a
    few-shot prompt often repeats its examples (SmolLM2-135M listed "The Danube flows
    through Vienna." for every country it described). Exact string containment, so a claim
    the answer itself states is always kept.

    >>> prompt = "Example: The Danube flows through Vienna. Now the text: Rome is old."
    >>> claims = ["The Danube flows through Vienna.", "Rome is old."]
    >>> drop_prompt_echoes(claims, prompt, "Rome is old.")
    ('Rome is old.',)
    """
    folded_response = _folded(response)
    # the prompt with the response cut out: what the decomposer was shown besides the answer
    outside = _folded(prompt).replace(folded_response, "\n") if folded_response else _folded(prompt)
    kept = []
    for claim in claims:
        needle = _folded(claim).rstrip(".").strip()
        if needle and needle in outside and needle not in folded_response:
            continue
        kept.append(claim)
    return tuple(kept)


def parse_listed(reply: str) -> tuple[str, ...]:
    """The ``- `` / ``* `` / numbered lines of a reply (a claim-merge reply's new claims);
    a reply saying NONE, or with no such line, lists nothing."""
    if not isinstance(reply, str):
        raise TypeError(f"reply must be a str, got {type(reply).__name__}")
    return _unique([m.group(1) for m in map(_LISTED.match, reply.splitlines()) if m])


@dataclass(frozen=True)
class ClaimSpan:
    """Where a claim sits in its response: ``kind`` is ``"exact"`` (the claim's own text),
    ``"sentence"`` (the sentence that holds most of its words) or ``"none"`` (no sentence
    holds half of them; ``start == end == -1``)."""

    start: int
    end: int
    kind: Literal["exact", "sentence", "none"]


def _content(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def align_claims(
    response: str, claims: Sequence[str], sentences: Sequence[Span] | None = None
) -> list[ClaimSpan]:
    """Each claim's span in ``response``: verbatim (case-insensitive, final period
    ignored) when it occurs, else the sentence holding the largest share of the claim's
    content words when that share is at least one half, else none."""
    sentences = split_sentences(response) if sentences is None else list(sentences)
    lower = response.lower()
    out = []
    for claim in claims:
        needle = claim.strip().rstrip(".").lower()
        at = lower.find(needle) if needle else -1
        if at >= 0:
            out.append(ClaimSpan(at, at + len(needle), "exact"))
            continue
        words = _content(claim)
        best, share = None, 0.0
        for s in sentences:
            got = len(words & _content(s.text)) / len(words) if words else 0.0
            if got > share:
                best, share = s, got
        if best is not None and share >= 0.5:
            out.append(ClaimSpan(best.start, best.end, "sentence"))
        else:
            out.append(ClaimSpan(-1, -1, "none"))
    return out
