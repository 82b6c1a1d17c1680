"""FActScore-style long-form sets with human-labelled atomic facts, through ``datasets``.

FActScore (Min et al. 2023, *FActScore: Fine-grained Atomic Evaluation of Factual
Precision in Long Form Text Generation*, EMNLP) releases, per model, JSONL records::

    {"input": "Question: Tell me a bio of X.", "output": "...", "topic": "X",
     "annotations": [{"text": "<sentence>", "is-relevant": true,
                      "human-atomic-facts": [{"text": "<fact>", "label": "S"}, ...],
                      "model-atomic-facts": [...]}, ...]}

with labels ``S`` (supported), ``NS`` (not supported) and ``IR`` (irrelevant). The loader
reads such records from a local file or a hub dataset id (both through
``datasets.load_dataset``; a hub id needs the network) and returns one
:class:`LongFormExample` per record: the prompt, the response and its labelled claims
(``S`` -> True, ``NS`` -> False, ``IR`` -> None). Records without annotations (the model
abstained) keep an empty claim list.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lmuq.extras import require

__all__ = ["FACTSCORE_LABELS", "LabeledClaim", "LongFormExample", "claim_texts", "load_factscore"]

#: FActScore's labels -> lmuq's claim labels.
FACTSCORE_LABELS: dict[str, bool | None] = {"S": True, "NS": False, "IR": None}


@dataclass(frozen=True)
class LabeledClaim:
    """An atomic fact of a response, its label, and the sentence it came from."""

    text: str
    label: bool | None
    sentence: str


@dataclass(frozen=True)
class LongFormExample:
    """One long answer with its labelled claims."""

    prompt: str
    response: str
    topic: str
    claims: tuple[LabeledClaim, ...]


def _records(source: str | os.PathLike, split: str) -> list[dict[str, Any]]:
    datasets = require("datasets", "datasets", "hub long-form sets")
    path = Path(source)
    if path.suffix.lower() in (".json", ".jsonl") or path.exists():
        ds = datasets.load_dataset("json", data_files=str(path), split="train")
    else:
        ds = datasets.load_dataset(str(source), split=split)
    return [dict(r) for r in ds]


def load_factscore(
    source: str | os.PathLike,
    n: int | None = None,
    *,
    split: str = "train",
    annotations: Literal["human", "model"] = "human",
) -> list[LongFormExample]:
    """FActScore-style records as :class:`LongFormExample` s.

    Args:
        source: a local ``.jsonl`` / ``.json`` file, or a hub dataset id with the same
            fields.
        n: the first ``n`` records (None: all).
        split: the hub split (ignored for a local file).
        annotations: ``"human"`` (``human-atomic-facts``) or ``"model"``
            (``model-atomic-facts``).
    """
    if annotations not in ("human", "model"):
        raise ValueError(f"annotations must be 'human' or 'model', got {annotations!r}")
    if n is not None and n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    key = f"{annotations}-atomic-facts"
    out = []
    for i, rec in enumerate(_records(source, split)):
        if n is not None and len(out) == n:
            break
        for field_name in ("input", "output"):
            if not isinstance(rec.get(field_name), str):
                raise ValueError(f"{source} record {i}: {field_name!r} must be a string")
        claims: list[LabeledClaim] = []
        for ann in rec.get("annotations") or []:
            for fact in ann.get(key) or []:
                label = fact.get("label")
                if label not in FACTSCORE_LABELS:
                    raise ValueError(
                        f"{source} record {i}: label {label!r} is not one of "
                        f"{sorted(FACTSCORE_LABELS)}"
                    )
                claims.append(LabeledClaim(fact["text"], FACTSCORE_LABELS[label], ann["text"]))
        out.append(
            LongFormExample(
                prompt=_prompt(rec["input"]),
                response=rec["output"],
                topic=str(rec.get("topic") or ""),
                claims=tuple(claims),
            )
        )
    return out


def _prompt(text: str) -> str:
    return text.removeprefix("Question:").strip()


def claim_texts(examples: Sequence[LongFormExample]) -> list[list[str]]:
    """Per example, its claims' texts (to score them as given units)."""
    return [[c.text for c in ex.claims] for ex in examples]
