"""Score responses generated elsewhere: JSONL in, scores out, no LLM calls.

Each input line is a JSON object::

    {"prompt": "...", "response": "...", "sampled_responses": ["...", ...],
     "logprobs": [...], "sampled_logprobs": [[...], ...], "id": ...}

``response`` and ``sampled_responses`` are required; ``prompt`` is needed for question
conditioning; the log-prob fields enable the white-box scorers (``logprobs`` are the
response's token log-probs, ``sampled_logprobs`` one list per sample). Every other field is
copied to the output unchanged.

The file is read and scored in chunks of ``chunk_size`` lines and each chunk is appended to
the output as soon as it is scored, so memory stays bounded on large files and a crash
keeps what was written. The NLI and embedding caches live across chunks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lmuq.codec import sample_set_from_record
from lmuq.scoring.context import Equivalence
from lmuq.uq.scorer import UQScorer

__all__ = ["ScoreFileSummary", "read_records", "score_jsonl"]


@dataclass(frozen=True)
class ScoreFileSummary:
    rows: int
    output: Path
    scorers: list[str]
    rows_with_errors: int


def read_records(path: str | Path, chunk_size: int) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """Yield chunks of (line number, record); a bad line raises with its number."""
    chunk: list[tuple[int, dict[str, Any]]] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(rec, dict):
                raise ValueError(f"{path}:{lineno}: each line must be a JSON object")
            chunk.append((lineno, rec))
            if len(chunk) >= chunk_size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def score_jsonl(
    input_path: str | Path,
    output_path: str | Path,
    scorers: Sequence[str],
    *,
    nli_model: str | None = None,
    equivalence: Equivalence = "nli",
    use_best: bool = False,
    strict_entailment: bool = True,
    condition_on_question: bool = False,
    chunk_size: int = 512,
    progress: bool = True,
) -> ScoreFileSummary:
    """Score every line of ``input_path`` and write JSONL to ``output_path``.

    Each output line is the input record plus one field per scorer (confidence in [0, 1];
    ``null`` where the score is undefined), the scorers' raw-value fields, and
    ``score_errors`` (scorer -> reason) for the undefined ones.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    scorers = list(scorers)
    scorer = UQScorer(
        scorers,
        use_best=use_best,
        nli_model_name=nli_model,
        equivalence=equivalence,
        strict_entailment=strict_entailment,
        condition_on_question=condition_on_question,
    )

    out = Path(output_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    rows = errors = 0
    with (
        open(tmp, "w", encoding="utf-8") as fh,
        tqdm(desc="Scoring", unit="row", disable=not progress) as bar,
    ):
        for chunk in read_records(input_path, chunk_size):
            sets = [sample_set_from_record(rec, f"line {lineno}") for lineno, rec in chunk]
            for (_, rec), fields in zip(chunk, scorer.score(sets).score_fields(), strict=True):
                line = {**rec, **{k: _clean(v) for k, v in fields.items()}}
                errors += bool(fields["score_errors"])
                fh.write(json.dumps(line, ensure_ascii=False, allow_nan=False) + "\n")
            fh.flush()
            rows += len(chunk)
            bar.update(len(chunk))
    if rows == 0:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"{input_path} has no records")
    tmp.replace(out)
    return ScoreFileSummary(rows=rows, output=out, scorers=scorers, rows_with_errors=errors)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
