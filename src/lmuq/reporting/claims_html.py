"""An HTML page of long answers with their claims highlighted by confidence.

Each answer is shown with every claim that has a character span in it (``start`` / ``end``
of ``claims_data``) marked in one of five confidence bands of the chosen scorer, claims
removed by refinement struck through, and below it a table of all its claims (with labels
and the context verdict when there are any); with claim labels the page opens with the
claim- and response-level AUROC / PRR (:func:`lmuq.evaluation.claims.claim_level_metrics`).

Answers and claims are model output, so they are untrusted: the template escapes every
value (jinja2 autoescape), the page has no script at all, and its Content-Security-Policy
(``default-src 'none'; script-src 'none'``, inline styles only) would stop any markup that
slipped through from running code or loading anything.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lmuq.evaluation.claims import ClaimEvaluation, claim_level_metrics
from lmuq.extras import require
from lmuq.storage.files import atomic_write

__all__ = ["CSP", "claim_segments", "render_claims_report", "write_claims_report"]

CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)
_BANDS = ("< 0.2", "0.2–0.4", "0.4–0.6", "0.6–0.8", "≥ 0.8")


def _band(value: float) -> int:
    return min(4, max(0, int(value * 5)))


def claim_segments(
    text: str, claims: Sequence[dict[str, Any]], scorer: str
) -> list[dict[str, Any]]:
    """The answer cut into plain and claim segments, in order: a claim segment has its
    band (0–4), whether refinement removed it, and a title; claims without a span, or whose
    span overlaps an earlier claim's, are left out of the text.

    >>> segs = claim_segments("A b. C d.", [{"start": 0, "end": 4, "v": 0.9}], "v")
    >>> [(s["text"], s["band"]) for s in segs]
    [('A b.', 4), (' C d.', None)]
    """
    placed = []
    for c in claims:
        start, end = int(c.get("start", -1)), int(c.get("end", -1))
        if 0 <= start < end <= len(text):
            placed.append((start, end, c))
    placed.sort(key=lambda p: p[0])
    out: list[dict[str, Any]] = []
    pos = 0
    for start, end, c in placed:
        if start < pos:
            continue  # overlaps a claim already shown
        if start > pos:
            out.append({"text": text[pos:start], "band": None})
        value = float(c.get(scorer, math.nan))
        finite = math.isfinite(value)
        out.append(
            {
                "text": text[start:end],
                "band": _band(value) if finite else 0,
                "removed": bool(c.get("removed", False)),
                "title": f"{scorer} {value:.3f}" if finite else f"{scorer} undefined",
            }
        )
        pos = end
    if pos < len(text):
        out.append({"text": text[pos:], "band": None})
    return out


def _claim_text(c: dict[str, Any]) -> str:
    for key in ("claim", "sentence"):
        if key in c:
            return str(c[key])
    return ""


def render_claims_report(
    result: Any,
    scorer: str,
    *,
    labels: Sequence[Sequence[bool | None]] | None = None,
    title: str = "lmuq long-form claims",
    n_boot: int = 1000,
    evaluation: ClaimEvaluation | None = None,
) -> str:
    """The page for a long-form result (``result.columns`` with ``response`` and
    ``claims_data``) and one of its claim scorers; ``labels`` (per response, per claim:
    True / False / None) add the evaluation, computed here with ``n_boot`` resamples unless
    ``evaluation`` (that scorer's :func:`~lmuq.evaluation.claims.claim_level_metrics` on
    these labels) is given."""
    jinja2 = require("jinja2", "report", "HTML reports")
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lmuq.reporting", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    columns = result.columns
    claims_data = columns["claims_data"]
    if labels is not None and len(labels) != len(claims_data):
        raise ValueError("labels need one list per response")
    if evaluation is not None:
        if labels is None:
            raise ValueError("evaluation= needs the labels it was computed from (labels=)")
        if evaluation.scorer != scorer:
            raise ValueError(
                f"evaluation= is of scorer {evaluation.scorer!r}, the page shows {scorer!r}: "
                "pass that scorer's evaluation, or none to compute it here"
            )
    elif labels is not None and any(lab is not None for row in labels for lab in row):
        evaluation = claim_level_metrics(
            claims_data, labels, scorer, columns.get(scorer), n_boot=n_boot
        )
    rows = []
    for i, claims in enumerate(claims_data):
        score = columns.get(scorer, [None] * len(claims_data))[i]
        row_labels = labels[i] if labels is not None else [None] * len(claims)
        has_context = any("context_label" in c for c in claims)
        rows.append(
            {
                "index": i,
                "prompt": (columns.get("prompt") or [""] * len(claims_data))[i],
                "score": float(score) if score is not None and math.isfinite(score) else None,
                "segments": claim_segments(columns["response"][i], claims, scorer),
                "has_labels": labels is not None,
                "has_context": has_context,
                "claims": [
                    {
                        "text": _claim_text(c),
                        "value": f"{float(c.get(scorer, math.nan)):.3f}",
                        "label": {True: "right", False: "wrong", None: "unverifiable"}[lab],
                        "context": c.get("context_label", ""),
                    }
                    for c, lab in zip(claims, row_labels, strict=True)
                ],
            }
        )
    return env.get_template("claims.html.j2").render(
        title=title, scorer=scorer, rows=rows, bands=_BANDS, evaluation=evaluation, csp=CSP
    )


def write_claims_report(result: Any, scorer: str, path: str | os.PathLike, **kwargs: Any) -> Path:
    """:func:`render_claims_report` written to ``path`` (UTF-8); returns the path."""
    path = Path(path)
    html = render_claims_report(result, scorer, **kwargs)
    with atomic_write(path) as fh:
        fh.write(html)
    return path
