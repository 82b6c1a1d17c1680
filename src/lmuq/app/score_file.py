"""Score responses generated elsewhere: JSONL in, scores out, no LLM calls.

Each input line is a JSON object::

    {"prompt": "...", "response": "...", "sampled_responses": ["...", ...],
     "logprobs": [...], "sampled_logprobs": [[...], ...], "id": ...}

``response`` and ``sampled_responses`` are required (``sampled_responses`` may be left out
when ``context`` is given: passages, or one passage, given with the prompt, which the
long-form scorer ``claim_context_support`` checks each claim against); ``prompt`` is
needed for question conditioning; the log-prob fields enable the white-box scorers
(``logprobs`` are the response's token log-probs, ``sampled_logprobs`` one list per
sample). Every other field is copied to the output unchanged.

The file is read and scored in chunks of ``chunk_size`` lines, so memory stays bounded on
large files; the output is written to a fresh temporary file beside it (an unpredictable
name, created exclusively: no symlink is followed) and renamed into place when every line
is scored, so the output is never half-written. The NLI and embedding caches live across
chunks.

Every bad line is refused with its number and field: invalid UTF-8, invalid JSON, the
non-standard ``NaN`` / ``Infinity`` literals, strings with lone surrogates (not Unicode
text), non-numeric log-probs, and input fields that bear the name of an output field (a
scorer, its raw columns, ``score_errors``, ``best_response``), which would be overwritten:
rename them, or pass ``prefix`` (``--prefix``) to write the scores under prefixed names.

Long-form scorers (``claim_*``) give each response its aggregate like any scorer, and with
``claims_path`` (``--claims FILE``) a claim-level table: one record per claim with the
input ``line`` (and ``id`` when the input has one), ``claim_index``, the claim, its
character span in the response, each long-form scorer's value and, for grounding, the
context verdict (``.jsonl``, ``.csv`` or ``.parquet`` by the file's suffix). With
``claims_report`` (``--claims-report FILE``) an HTML page shows each answer with its claims
highlighted by one long-form scorer's confidence
(:func:`lmuq.reporting.claims_html.write_claims_report`); input records that carry
``claim_labels`` (one ``true`` / ``false`` / ``null`` per claim, in the claim table's
order) add the claim- and response-level AUROC / PRR to it.
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
from lmuq.storage.files import atomic_write, write_records
from lmuq.uq.longform import claims_data
from lmuq.uq.scorer import UQScorer

__all__ = ["ScoreFileSummary", "read_records", "score_jsonl", "score_jsonl_with_policy"]


@dataclass(frozen=True)
class ScoreFileSummary:
    rows: int
    output: Path
    scorers: list[str]
    rows_with_errors: int


def _no_constant(name: str) -> Any:
    raise ValueError(
        f"the literal {name} is not JSON (write null for a missing number, or leave the field out)"
    )


def _check_text(value: Any, where: str) -> None:
    """Refuse strings with lone surrogates anywhere in a record (not Unicode text)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"{where} holds a lone surrogate ({value[exc.start]!r} at character "
                f"{exc.start}): not valid Unicode text"
            ) from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_text(k, f"{where} (a key)")
            _check_text(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_text(v, f"{where}[{i}]")


def read_records(path: str | Path, chunk_size: int) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """Yield chunks of (line number, record); a bad line raises with its number and field."""
    chunk: list[tuple[int, dict[str, Any]]] = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{where}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at position "
                    f"{exc.start})"
                ) from None
            if not line.strip():
                continue
            try:
                rec = json.loads(line, parse_constant=_no_constant)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not valid JSON ({exc.msg})") from None
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            if not isinstance(rec, dict):
                raise ValueError(f"{where}: each line must be a JSON object")
            for key, value in rec.items():
                _check_text(value, f"{where}: field {key}")
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
    nli_model: Any = None,
    equivalence: Equivalence = "nli",
    use_best: bool = False,
    strict_entailment: bool = True,
    condition_on_question: bool = False,
    chunk_size: int = 512,
    prefix: str = "",
    progress: bool = True,
    claims_path: str | Path | None = None,
    claims_report: str | Path | None = None,
    claims_report_scorer: str | None = None,
    n_boot: int = 1000,
) -> ScoreFileSummary:
    """Score every line of ``input_path`` and write JSONL to ``output_path``.

    Each output line is the input record plus one field per scorer (confidence in [0, 1];
    ``null`` where the score is undefined), the scorers' raw-value fields, and
    ``score_errors`` (scorer -> reason) for the undefined ones; every added field's name
    starts with ``prefix``. An input field with the name of an added field is refused.
    ``nli_model`` is a hub id or folder, or a ready NLI model (or cache). With
    ``claims_path``, the long-form scorers' claims go to that table, and with
    ``claims_report`` to an HTML page of ``claims_report_scorer``'s claim confidences
    (default: the first long-form scorer; ``n_boot`` resamples for its evaluation); see the
    module docstring.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    scorers = list(scorers)
    from lmuq.scoring.registry import get_scorer

    longform = [n for n in scorers if get_scorer(n).family == "long-form"]
    if (claims_path is not None or claims_report is not None) and not longform:
        raise ValueError("a claim table or report needs at least one long-form scorer (claim_*)")
    if claims_report_scorer is not None and claims_report is None:
        raise ValueError(
            "claims_report_scorer (--claims-scorer) needs claims_report (--claims-report)"
        )
    page_scorer = claims_report_scorer
    if claims_report is not None:
        page_scorer = page_scorer or longform[0]
        if page_scorer not in longform:
            raise ValueError(
                f"claims_report_scorer {page_scorer!r} is not one of the long-form scorers "
                f"being run ({', '.join(longform)})"
            )
    claim_rows: list[dict[str, Any]] = []
    page = _ClaimsPage(page_scorer) if claims_report is not None else None
    scorer = UQScorer(
        scorers,
        use_best=use_best,
        nli_model_name=nli_model if isinstance(nli_model, str) or nli_model is None else None,
        nli_model=None if isinstance(nli_model, str) else nli_model,
        equivalence=equivalence,
        strict_entailment=strict_entailment,
        condition_on_question=condition_on_question,
    )

    out = Path(output_path)
    rows = errors = 0
    with (
        atomic_write(out) as fh,
        tqdm(desc="Scoring", unit="row", disable=not progress) as bar,
    ):
        for chunk in read_records(input_path, chunk_size):
            sets = [sample_set_from_record(rec, f"line {lineno}") for lineno, rec in chunk]
            result = scorer.score(sets)
            results = result.score_fields()
            if claims_path is not None or page is not None:
                chunk_claims = claims_data(result, longform)
                if claims_path is not None:
                    claim_rows.extend(_claim_rows(chunk, chunk_claims))
                if page is not None:
                    page.add(input_path, chunk, sets, chunk_claims, result.columns[page_scorer])
            for (lineno, rec), fields in zip(chunk, results, strict=True):
                added = {f"{prefix}{k}": _clean(v) for k, v in fields.items()}
                clash = sorted(set(rec) & set(added))
                if clash:
                    raise ValueError(
                        f"{input_path}:{lineno}: input field(s) {clash} have the name of a "
                        "field scoring adds and would be overwritten; rename them, or pass "
                        "--prefix (prefix=) to write the scores under other names"
                    )
                errors += bool(fields["score_errors"])
                fh.write(json.dumps({**rec, **added}, ensure_ascii=False, allow_nan=False))
                fh.write("\n")
            rows += len(chunk)
            bar.update(len(chunk))
        if rows == 0:
            raise ValueError(f"{input_path} has no records")
    if claims_path is not None:
        write_records(claim_rows, claims_path)
    if page is not None:
        from lmuq.reporting.claims_html import write_claims_report

        write_claims_report(
            page,
            page_scorer,
            claims_report,
            labels=page.labels if page.has_labels else None,
            n_boot=n_boot,
        )
    return ScoreFileSummary(rows=rows, output=out, scorers=scorers, rows_with_errors=errors)


class _ClaimsPage:
    """What the claims page needs from every scored row (``columns`` as a result has
    them): the prompt, the response, its claims, the page scorer's value and the labels."""

    def __init__(self, scorer: str) -> None:
        self.scorer = scorer
        self.columns: dict[str, list[Any]] = {
            "prompt": [],
            "response": [],
            "claims_data": [],
            scorer: [],
        }
        self.labels: list[list[bool | None]] = []
        self.has_labels = False

    def add(
        self,
        input_path: str | Path,
        chunk: list[tuple[int, dict[str, Any]]],
        sets: Sequence[Any],
        claims: list[list[dict[str, Any]]],
        values: Sequence[Any],
    ) -> None:
        for (lineno, rec), ss, row, value in zip(chunk, sets, claims, values, strict=True):
            self.columns["prompt"].append(ss.prompt)
            self.columns["response"].append(ss.answer.text)
            self.columns["claims_data"].append(row)
            self.columns[self.scorer].append(value)
            self.labels.append(_claim_labels(rec.get("claim_labels"), len(row), input_path, lineno))
            self.has_labels |= "claim_labels" in rec


def _claim_labels(value: Any, n: int, input_path: str | Path, lineno: int) -> list[bool | None]:
    if value is None:
        return [None] * n
    where = f"{input_path}:{lineno}: field claim_labels"
    if not isinstance(value, list) or any(v is not None and not isinstance(v, bool) for v in value):
        raise ValueError(f"{where} must be a list of true / false / null, one per claim")
    if len(value) != n:
        raise ValueError(
            f"{where} has {len(value)} labels for the {n} claims this response was split "
            "into; label the claims of the claim table (--claims), in its order"
        )
    return list(value)


def score_jsonl_with_policy(
    input_path: str | Path,
    output_path: str | Path,
    policy: Any,
    *,
    chunk_size: int = 512,
    progress: bool = True,
) -> ScoreFileSummary:
    """Apply a :class:`~lmuq.evaluation.policy.TrustPolicy` to every line of
    ``input_path``: its scorers with its scoring options, then its confidence and decision.

    Each output line is the input record plus ``"lmuq": {"policy_id", "confidence",
    "decision" ("accept" or "flag"), "scores": {scorer: value}, "score_errors"}``, the
    object the gateway attaches to each answer. Lines are read as by :func:`score_jsonl`;
    nested lines (a run folder's ``results.jsonl``, an ``lmuq export`` JSONL) keep their
    top-k log-probs. An input field named ``lmuq`` is refused.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    scorer = policy.scorer()
    out = Path(output_path)
    rows = errors = 0
    with (
        atomic_write(out) as fh,
        tqdm(desc="Scoring", unit="row", disable=not progress) as bar,
    ):
        for chunk in read_records(input_path, chunk_size):
            sets = [sample_set_from_record(rec, f"line {lineno}") for lineno, rec in chunk]
            applied = policy.score(sets, scorer=scorer)
            score_errors = applied["result"].columns["score_errors"]
            for i, (lineno, rec) in enumerate(chunk):
                if "lmuq" in rec:
                    raise ValueError(
                        f"{input_path}:{lineno}: the input has a field 'lmuq', which the "
                        "policy's output would overwrite; rename it"
                    )
                conf = float(applied["confidence"][i])
                added = {
                    "policy_id": policy.id,
                    "confidence": _clean(conf),
                    "decision": "accept" if applied["accept"][i] else "flag",
                    "scores": {
                        s: _clean(float(applied["scores"][i, j]))
                        for j, s in enumerate(policy.scorers)
                    },
                    "score_errors": score_errors[i] or {},
                }
                errors += bool(score_errors[i])
                fh.write(json.dumps({**rec, "lmuq": added}, ensure_ascii=False, allow_nan=False))
                fh.write("\n")
            rows += len(chunk)
            bar.update(len(chunk))
        if rows == 0:
            raise ValueError(f"{input_path} has no records")
    return ScoreFileSummary(
        rows=rows, output=out, scorers=list(policy.scorers), rows_with_errors=errors
    )


def _claim_rows(
    chunk: list[tuple[int, dict[str, Any]]], claims: list[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    out = []
    for (lineno, rec), row in zip(chunk, claims, strict=True):
        for j, claim in enumerate(row):
            head: dict[str, Any] = {"line": lineno}
            if "id" in rec:
                head["id"] = rec["id"]
            head["claim_index"] = j
            out.append({**head, **{k: _clean(v) for k, v in claim.items() if k != "removed"}})
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
