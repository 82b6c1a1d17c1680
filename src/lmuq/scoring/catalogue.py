"""The scorer catalogue, written from the registry: the README's tables are this output.

``python -m lmuq.scoring.catalogue README.md`` rewrites every block between
``<!-- scorers:FAMILY -->`` and ``<!-- /scorers -->`` in the file with
:func:`markdown_table` of that family; a test fails when the README differs, so the tables
cannot drift from the declarations.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from lmuq.scoring.registry import scorers_of
from lmuq.scoring.spec import FAMILIES, Family, ScorerSpec

__all__ = ["markdown_table", "update_tables"]

_BLOCK = re.compile(
    r"(<!-- scorers:(?P<family>[a-z-]+) -->\n)(?P<body>.*?)(<!-- /scorers -->)", re.DOTALL
)
_NEEDS = {
    "answer": "answer",
    "answer_logprobs": "answer log-probs",
    "answer_top_logprobs": "answer top-k log-probs",
    "answer_tokens": "answer tokens",
    "sample_logprobs": "sample log-probs",
    "sample_tokens": "sample tokens",
    "answer_internals": "answer's attention (local model)",
    "sample_internals": "samples' hidden states (local model)",
    "samples": "samples",
    "nli": "NLI model",
    "embeddings": "sentence embedder",
    "bertscore": "BERTScore encoder",
    "bleurt": "BLEURT",
    "judge": "judge model",
    "token_decoder": "token decoder",
    "context": "context passages",
}
_ORDER = list(_NEEDS)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _raw(spec: ScorerSpec) -> str:
    if not spec.raw_columns:
        return ""
    arrow = "↑ confident" if spec.raw_direction == "confidence" else "↑ uncertain"
    lo, hi = spec.raw_range
    return f"{', '.join(f'`{c}`' for c in spec.raw_columns)} ({arrow}, in [{lo:g}, {hi:g}])"


def markdown_table(family: Family) -> str:
    """The family's scorers as a Markdown table: name, what it measures, the confidence
    formula, raw columns (direction and range), inputs and the paper."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    lines = [
        "| scorer | measures | confidence | raw columns | needs | source |",
        "|---|---|---|---|---|---|",
    ]
    for name, spec in scorers_of(family).items():
        needs = ", ".join(_NEEDS[n] for n in sorted(spec.needs, key=_ORDER.index))
        cells = [
            f"`{name}`",
            spec.summary,
            spec.confidence_map,
            _raw(spec),
            needs,
            spec.reference,
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def update_tables(text: str) -> str:
    """``text`` with every ``<!-- scorers:FAMILY -->`` block replaced by that table."""

    def replace(match: re.Match[str]) -> str:
        family = match.group("family")
        return match.group(1) + markdown_table(family) + match.group(4)

    return _BLOCK.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    """Rewrite the scorer tables of the files named on the command line."""
    for name in argv if argv is not None else sys.argv[1:]:
        path = Path(name)
        old = path.read_text(encoding="utf-8")
        new = update_tables(old)
        if new != old:
            path.write_text(new, encoding="utf-8")
            print(f"updated the scorer tables of {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
