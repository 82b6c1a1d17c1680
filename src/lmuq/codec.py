"""The one record codec: generations to and from JSON, and input records to sample sets.

* :func:`generation_to_json` / :func:`generation_from_json` store a
  :class:`~lmuq.types.Generation` exactly (non-finite log-probs included); the run store
  and exports use them.
* :func:`sample_set_from_record` reads one input record (a JSONL line, a DataFrame row) of
  the form ``{"prompt", "response", "sampled_responses", "logprobs", "sampled_logprobs"}``
  into a :class:`~lmuq.types.SampleSet`, with errors that name the record and the field;
  file scoring and Ray scoring use it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from lmuq.types import Generation, ModelInternals, SampleSet, SamplingParams

__all__ = [
    "INPUT_FIELDS",
    "generation_from_dict",
    "generation_from_json",
    "generation_to_json",
    "json_dumps",
    "plain",
    "sample_set_from_record",
]

#: The fields of an input record that :func:`sample_set_from_record` reads.
INPUT_FIELDS = frozenset(
    {"prompt", "response", "sampled_responses", "logprobs", "sampled_logprobs"}
)


def json_dumps(value: Any) -> str:
    """Compact JSON that refuses NaN (callers turn non-finite numbers into null first)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def generation_to_json(generation: Generation) -> str:
    """``Generation.to_dict()`` as JSON, plus the positions of any non-finite log-probs.

    ``to_dict`` writes NaN and ±inf as ``null``; ``"nonfinite"`` records them (as
    ``[index..., "nan" | "inf" | "-inf"]``) so that :func:`generation_from_json` rebuilds the
    arrays exactly.
    """
    data = generation.to_dict()
    nonfinite: dict[str, list[list[Any]]] = {}
    for name in ("logprobs", "top_logprobs"):
        arr = getattr(generation, name)
        if arr is not None and not np.isfinite(arr).all():
            nonfinite[name] = [
                [*map(int, pos), str(float(arr[tuple(pos)]))]
                for pos in np.argwhere(~np.isfinite(arr))
            ]
    if nonfinite:
        data["nonfinite"] = nonfinite
    return json_dumps(data)


def generation_from_json(text: str) -> Generation:
    """The :class:`Generation` stored by :func:`generation_to_json`."""
    return generation_from_dict(json.loads(text))


def generation_from_dict(data: Mapping[str, Any]) -> Generation:
    """The :class:`Generation` of a ``Generation.to_dict()`` (plus ``"nonfinite"``, see
    :func:`generation_to_json`): what exports and run folders write per generation."""
    arrays: dict[str, np.ndarray | None] = {}
    for name in ("logprobs", "top_logprobs"):
        values = data.get(name)
        arrays[name] = None if values is None else np.array(values, dtype=np.float64)
    for name, positions in (data.get("nonfinite") or {}).items():
        arr = arrays[name]
        if arr is not None:
            for *pos, value in positions:
                arr[tuple(pos)] = float(value)
    params = data.get("params")
    top_ids = data.get("top_token_ids")
    internals = data.get("internals")
    return Generation(
        text=data["text"],
        logprobs=arrays["logprobs"],
        token_ids=None if data.get("token_ids") is None else tuple(data["token_ids"]),
        tokens=None if data.get("tokens") is None else tuple(data["tokens"]),
        top_logprobs=arrays["top_logprobs"],
        top_token_ids=None if top_ids is None else np.array(top_ids, dtype=np.int64),
        finish_reason=data.get("finish_reason"),
        params=None if params is None else SamplingParams(**params),
        error=data.get("error"),
        internals=None if internals is None else ModelInternals(**internals),
    )


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return type(value).__name__ == "NAType"  # pandas.NA, without importing pandas


def plain(value: Any) -> Any:
    """NumPy arrays (Arrow list cells) as Python lists, recursively; missing values as None."""
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()] if value.dtype == object else value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if _is_missing(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _logprobs(value: Any, where: str, field: str) -> list[float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in value
    ):
        raise ValueError(f"{where}: {field!r} must be a list of numbers (token log-probs)")
    return value


def sample_set_from_record(record: Mapping[str, Any], where: str) -> SampleSet:
    """One input record as a :class:`~lmuq.types.SampleSet`.

    ``response`` (str) is required, and ``sampled_responses`` (a non-empty list of str)
    unless the record has ``context`` (a passage, or a list of passages given with the
    prompt: the context-only grounding check needs no samples); ``prompt`` (str) is
    optional; ``logprobs`` (the response's token log-probs) and
    ``sampled_logprobs`` (one list per sample) enable the white-box scorers. NumPy arrays
    and missing values (as in DataFrame rows) are accepted. ``where`` names the record in
    errors ("line 12", "batch row 3").

    A nested record (a run folder's ``results.jsonl`` or an ``lmuq export`` JSONL line:
    ``answer`` and ``samples`` as ``Generation.to_dict()`` objects, with their log-probs and
    top-k log-probs) is read in full when it has no ``sampled_responses``.

    Raises:
        ValueError: naming ``where`` and the field, for a missing or malformed field.
    """
    if "sampled_responses" not in record and isinstance(record.get("answer"), Mapping):
        return _nested_sample_set(record, where)
    response = plain(record.get("response"))
    samples = plain(record.get("sampled_responses"))
    if not isinstance(response, str):
        raise ValueError(f"{where}: 'response' must be a string")
    context = plain(record.get("context"))
    if isinstance(context, str):
        context = [context]
    if context is not None and (
        not isinstance(context, list) or not all(isinstance(c, str) for c in context)
    ):
        raise ValueError(f"{where}: 'context' must be a string or a list of strings")
    if samples is None and context:
        samples = []
    elif (
        not isinstance(samples, list) or not samples or not all(isinstance(s, str) for s in samples)
    ):
        raise ValueError(f"{where}: 'sampled_responses' must be a non-empty list of strings")
    prompt = plain(record.get("prompt"))
    prompt = "" if prompt is None else prompt
    if not isinstance(prompt, str):
        raise ValueError(f"{where}: 'prompt' must be a string")
    sample_lps = plain(record.get("sampled_logprobs"))
    if sample_lps is not None and (
        not isinstance(sample_lps, list) or len(sample_lps) != len(samples)
    ):
        raise ValueError(f"{where}: 'sampled_logprobs' needs one list per sampled response")
    try:
        answer = Generation(
            response, logprobs=_logprobs(plain(record.get("logprobs")), where, "logprobs")
        )
        gens = [
            Generation(
                s,
                logprobs=None
                if sample_lps is None
                else _logprobs(sample_lps[j], where, f"sampled_logprobs[{j}]"),
            )
            for j, s in enumerate(samples)
        ]
    except (TypeError, ValueError) as exc:
        if str(exc).startswith(where):
            raise
        raise ValueError(f"{where}: {exc}") from None
    return SampleSet(prompt, answer, gens, context=tuple(context or ()))


def _nested_sample_set(record: Mapping[str, Any], where: str) -> SampleSet:
    samples = record.get("samples")
    if not isinstance(samples, list) or not all(isinstance(s, Mapping) for s in samples):
        raise ValueError(f"{where}: 'samples' must be a list of generation objects")
    prompt = plain(record.get("prompt"))
    if prompt is not None and not isinstance(prompt, str):
        raise ValueError(f"{where}: 'prompt' must be a string")
    try:
        answer = generation_from_dict(record["answer"])
        gens = [generation_from_dict(s) for s in samples]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: unreadable generation ({exc})") from None
    return SampleSet(prompt or "", answer, gens)
