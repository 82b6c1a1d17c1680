"""The result of scoring many prompts: one row per prompt, one column per scorer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lmuq.types import SampleSet

__all__ = ["UQResult"]


@dataclass
class UQResult:
    """Scores for a list of prompts.

    ``columns`` maps a column name to one value per prompt, in prompt order. It has
    ``response`` and ``sampled_responses`` (and ``prompt`` when prompts were given); then
    one confidence column per scorer (named after it), its raw-value columns, and
    ``score_errors`` (per row, a dict scorer -> reason for every score that is NaN).

    Attributes:
        columns: the table.
        scorers: the scorer columns, in request order.
        sample_sets: the full generations (log-probs included), for export.
        metadata: how the scores were made (equivalence, NLI model, ...).
        raw_columns: each scorer's raw-value columns (what a store keeps with its score).
        details: per scorer that keeps them, one record per row (e.g. a judge's reply and
            the prompt it answered: :class:`~lmuq.scoring.judged.JudgedScore`).
    """

    columns: dict[str, list[Any]]
    scorers: list[str]
    sample_sets: list[SampleSet] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    raw_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    details: dict[str, list[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        for name in ("response", "prompt", "score_errors"):
            if name in self.columns:
                return len(self.columns[name])
        return len(next(iter(self.columns.values()), []))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.to_records())

    def to_records(self) -> list[dict[str, Any]]:
        names = list(self.columns)
        rows = zip(*(self.columns[n] for n in names), strict=True)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def score_fields(self) -> list[dict[str, Any]]:
        """Per row, what scoring adds to an input record: each scorer's confidence (NaN
        where undefined), the raw-value columns, ``best_response`` (the judged response,
        when ``use_best`` applied) and ``score_errors``."""
        names = [*self.scorers, *(c for s in self.scorers for c in self.raw_columns.get(s, ()))]
        names = [n for n in dict.fromkeys(names) if n in self.columns]
        best = self.columns.get("best_response_index")
        out = []
        for i in range(len(self)):
            row = {n: self.columns[n][i] for n in names}
            if best is not None:
                ss = self.sample_sets[i]
                row["best_response"] = [ss.answer.text, *ss.sample_texts][best[i]]
            row["score_errors"] = dict(self.columns["score_errors"][i])
            out.append(row)
        return out

    def to_df(self):
        """The columns as a pandas DataFrame (UQLM's ``UQResult.to_df`` shape)."""
        import pandas as pd

        return pd.DataFrame(self.columns)
