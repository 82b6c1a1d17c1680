"""LLM-as-NLI: any lmuq backend as the entailment judge.

Farquhar et al. 2024 (*Detecting hallucinations in large language models using semantic
entropy*, Nature 630) judged entailment with an LLM as well as with DeBERTa; UQLM's
``nli_llm`` does the same. :class:`LLMNLI` asks a backend, for each (premise, hypothesis)
pair, whether the premise entails, contradicts or is neutral towards the hypothesis, reads
the reply as a label, and returns it as a one-hot row in lmuq's order (entailment, neutral,
contradiction) — so every NLI scorer runs on it unchanged, and the pair cache
(:class:`~lmuq.statistics.nli_cache.CachedNLI`) keeps each pair's verdict like a model's.

Replies are read by :func:`parse_nli_label`: a JSON object ``{"label": ...}`` first, else
the first label word in the reply; a reply with no label (or a failed call) counts as
neutral — no evidence either way — and is counted in :attr:`LLMNLI.unparsed`. Every reply
is drawn once per (backend, decoding, prompt) and all pairs of one ``predict_proba`` call
go to the backend in one batched call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lmuq.backends.base import backend_name
from lmuq.constants import CONTRADICTION, ENTAILMENT, NEUTRAL
from lmuq.statistics.judges import JudgeReplies
from lmuq.types import SamplingParams

__all__ = ["LLMNLI", "LLM_NLI_PARAMS", "nli_prompt", "parse_nli_label"]

#: Greedy and short: the judge answers with one JSON object.
LLM_NLI_PARAMS = SamplingParams(temperature=0.0, max_new_tokens=24)

_LABELS = {"entailment": ENTAILMENT, "neutral": NEUTRAL, "contradiction": CONTRADICTION}
_WORD = re.compile(r"\b(entail\w*|contradict\w*|neutral)\b", re.IGNORECASE)


def nli_prompt(premise: str, hypothesis: str) -> str:
    """The question the judge answers for one pair."""
    return (
        "Decide whether the premise entails, contradicts, or is neutral towards the "
        "hypothesis.\n"
        f"Premise: {premise}\n"
        f"Hypothesis: {hypothesis}\n"
        'Answer with only a JSON object: {"label": "entailment"}, {"label": "neutral"} '
        'or {"label": "contradiction"}.'
    )


def _label_of(word: str) -> int | None:
    w = word.lower()
    if w.startswith("entail"):
        return ENTAILMENT
    if w.startswith("contradict"):
        return CONTRADICTION
    if w == "neutral":
        return NEUTRAL
    return None


def parse_nli_label(reply: str) -> int | None:
    """The label index a judge's reply names, or None.

    >>> parse_nli_label('{"label": "Contradiction"}') == CONTRADICTION
    True
    >>> parse_nli_label("The premise entails it.") == ENTAILMENT
    True
    >>> parse_nli_label("no idea") is None
    True
    """
    for match in re.finditer(r"\{[^{}]*\}", reply):
        try:
            obj = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("label"), str):
            label = _label_of(obj["label"].strip())
            if label is not None:
                return label
    found = _WORD.search(reply)
    return _label_of(found.group(1)) if found else None


class LLMNLI:
    """An :class:`~lmuq.statistics.nli.NLIModel` whose verdicts come from an LLM.

    Args:
        backend: any lmuq backend (``generate`` or ``agenerate``).
        params: its decoding settings (greedy by default).
        prompt: ``(premise, hypothesis) -> prompt`` (default :func:`nli_prompt`).

    Attributes:
        replies: the judge's replies, one per distinct prompt (reused across calls).
        unparsed: how many pairs got no readable label (counted as neutral).
    """

    def __init__(
        self,
        backend: Any,
        params: SamplingParams = LLM_NLI_PARAMS,
        prompt: Callable[[str, str], str] = nli_prompt,
    ) -> None:
        if not (
            callable(getattr(backend, "generate", None))
            or callable(getattr(backend, "agenerate", None))
        ):
            raise TypeError(f"LLMNLI needs an lmuq backend, got {type(backend).__name__}")
        self.backend = backend
        self.params = params
        self.prompt = prompt
        self.replies = JudgeReplies()
        self.unparsed = 0

    @property
    def name(self) -> str:
        return f"llm-nli:{backend_name(self.backend)}"

    def predict_proba(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """One-hot rows (entailment, neutral, contradiction), one per pair."""
        if len(premises) != len(hypotheses):
            raise ValueError(f"length mismatch: {len(premises)} vs {len(hypotheses)}")
        prompts = [self.prompt(p, h) for p, h in zip(premises, hypotheses, strict=True)]
        self.replies.fill([self.replies.key(self.backend, self.params, p) for p in prompts])
        out = np.zeros((len(prompts), 3))
        for i, p in enumerate(prompts):
            reply = self.replies.get(self.backend, self.params, p)
            label = None if reply is None or reply.failed else parse_nli_label(reply.text)
            if label is None:
                self.unparsed += 1
                label = NEUTRAL
            out[i, label] = 1.0
        return out
