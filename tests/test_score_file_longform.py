"""``lmuq score`` on long answers: per-response aggregates, a claim table, and the
context-only grounding check (no samples). Values are worked out by hand from the NLI
table (premise = sample or passage, hypothesis = sentence of the response)."""

from __future__ import annotations

import csv
import json
import math

import pytest

from lmuq.app.cli import main
from lmuq.app.score_file import score_jsonl
from nli_fakes import TableNLI

ANSWER = "Paris is big. Paris is old."
TABLE = {
    ("Paris is big and old.", "Paris is big."): (0.9, 0.05, 0.05),
    ("Paris is big and old.", "Paris is old."): (0.8, 0.1, 0.1),
    ("Lyon is big.", "Paris is big."): (0.1, 0.2, 0.7),
    ("Lyon is big.", "Paris is old."): (0.1, 0.8, 0.1),
}
RECORDS = [
    {
        "id": "a",
        "prompt": "Tell me about Paris.",
        "response": ANSWER,
        "sampled_responses": ["Paris is big and old.", "Lyon is big."],
        "context": ["Paris is big and old."],
    },
    {"id": "b", "response": "Paris is old.", "context": "Lyon is big."},  # no samples
]


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_long_form_jsonl_scores_rows_and_writes_a_claim_table(tmp_path):
    src = _write(tmp_path / "in.jsonl", RECORDS)
    out, claims = tmp_path / "out.jsonl", tmp_path / "claims.jsonl"
    summary = score_jsonl(
        src,
        out,
        ["claim_entailment", "claim_context_support"],
        nli_model=TableNLI(TABLE, default=None),
        progress=False,
        claims_path=claims,
    )
    assert summary.rows == 2 and summary.rows_with_errors == 1
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    # row a: entailment by the samples (0.9+0.1)/2, (0.8+0.1)/2 -> mean 0.475; support by
    # the passage 0.9 and 0.8 -> 0.85
    assert rows[0]["claim_entailment"] == pytest.approx(0.475)
    assert rows[0]["claim_context_support"] == pytest.approx(0.85)
    assert rows[0]["context"] == ["Paris is big and old."]  # input fields kept
    # row b: no samples, so no sample score; the passage is neutral (p_e 0.1)
    assert rows[1]["claim_entailment"] is None
    assert "at least one sampled response" in rows[1]["score_errors"]["claim_entailment"]
    assert rows[1]["claim_context_support"] == pytest.approx(0.1)
    table = [json.loads(x) for x in claims.read_text().splitlines()]
    assert [(t["line"], t["id"], t["claim_index"], t["claim"]) for t in table] == [
        (1, "a", 0, "Paris is big."),
        (1, "a", 1, "Paris is old."),
        (2, "b", 0, "Paris is old."),
    ]
    assert (table[1]["start"], table[1]["end"]) == (14, 27)
    assert table[0]["claim_entailment"] == pytest.approx(0.5)
    assert table[0]["context_label"] == "entailed"
    assert table[2]["context_label"] == "not_addressed"
    assert table[2]["claim_entailment"] is None
    assert table[2]["context_entailment"] == pytest.approx(0.1)


def test_claim_table_as_csv_and_refusals(tmp_path):
    src = _write(tmp_path / "in.jsonl", RECORDS[:1])
    claims = tmp_path / "claims.csv"
    score_jsonl(
        src,
        tmp_path / "o.jsonl",
        ["claim_entailment"],
        nli_model=TableNLI(TABLE, default=None),
        progress=False,
        claims_path=claims,
    )
    with open(claims, newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert [t["claim"] for t in table] == ["Paris is big.", "Paris is old."]
    assert float(table[1]["claim_entailment"]) == pytest.approx(0.45)
    with pytest.raises(ValueError, match="needs at least one long-form scorer"):
        score_jsonl(src, tmp_path / "x.jsonl", ["exact_match"], claims_path=claims)
    with pytest.raises(ValueError, match="must be a string or a list of strings"):
        score_jsonl(
            _write(tmp_path / "bad.jsonl", [{"response": "x", "context": [1]}]),
            tmp_path / "y.jsonl",
            ["claim_entailment"],
            nli_model=TableNLI(TABLE),
            progress=False,
        )


def test_cli_score_long_form_with_embeddings_writes_claims(tmp_path, capsys):
    # the sample repeats the answer: every sentence's closest sample unit is itself,
    # cosine 1 -> (1 + 1)/2 = 1
    src = _write(tmp_path / "in.jsonl", [{"response": ANSWER, "sampled_responses": [ANSWER]}])
    out, claims = tmp_path / "o.jsonl", tmp_path / "c.jsonl"
    argv = ["score", str(src), "-o", str(out), "--scorers", "claim_cosine_sim"]
    assert main([*argv, "--claims", str(claims), "--no-progress"]) == 0
    assert "Claims -> " in capsys.readouterr().out
    row = json.loads(out.read_text())
    assert row["claim_cosine_sim"] == pytest.approx(1.0, abs=1e-6)
    table = [json.loads(x) for x in claims.read_text().splitlines()]
    assert [t["claim"] for t in table] == ["Paris is big.", "Paris is old."]
    assert all(math.isclose(t["claim_cosine_sim"], 1.0, abs_tol=1e-6) for t in table)


def test_claims_report_highlights_every_answer_and_evaluates_the_labels(tmp_path):
    hostile = {
        **RECORDS[0],
        "prompt": "<img src=x onerror=alert(1)>",
        "claim_labels": [True, False],
    }
    src = _write(tmp_path / "in.jsonl", [hostile, RECORDS[1]])
    page = tmp_path / "claims.html"
    score_jsonl(
        src,
        tmp_path / "out.jsonl",
        ["claim_entailment", "claim_context_support"],
        nli_model=TableNLI(TABLE, default=None),
        progress=False,
        claims_report=page,
        n_boot=50,
    )
    html = page.read_text(encoding="utf-8")
    # the first long-form scorer by default; its claim values 0.5 and 0.45 -> band 2
    assert '<mark class="b2" title="claim_entailment 0.500">Paris is big.</mark>' in html
    assert '<mark class="b2" title="claim_entailment 0.450">Paris is old.</mark>' in html
    # the response's aggregate (0.475) heads its answer; row b has no sample score
    assert "Answer 0 — claim_entailment 0.475" in html and "Answer 1</h2>" in html
    # labelled: the right claim (0.5) outranks the wrong one (0.45), AUROC 1
    assert "<td>1.000 [1.000, 1.000]</td>" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html
    # another scorer on request, and without labels no evaluation
    score_jsonl(
        _write(tmp_path / "in2.jsonl", RECORDS),
        tmp_path / "out2.jsonl",
        ["claim_entailment", "claim_context_support"],
        nli_model=TableNLI(TABLE, default=None),
        progress=False,
        claims_report=page,
        claims_report_scorer="claim_context_support",
    )
    html = page.read_text(encoding="utf-8")
    assert '<mark class="b4" title="claim_context_support 0.900">Paris is big.</mark>' in html
    assert "Claim-level evaluation" not in html


@pytest.mark.parametrize(
    ("labels", "scorers", "options", "message"),
    [
        (
            [True],
            ["claim_entailment"],
            {},
            r"in\.jsonl:1: field claim_labels has 1 labels for the 2",
        ),
        (["yes", None], ["claim_entailment"], {}, "must be a list of true / false / null"),
        (
            None,
            ["claim_entailment", "exact_match"],
            {"claims_report_scorer": "exact_match"},
            "'exact_match' is not one of the long-form scorers",
        ),
        (
            None,
            ["claim_entailment"],
            {"claims_report": None, "claims_report_scorer": "claim_entailment"},
            r"--claims-scorer\) needs claims_report",
        ),
        (None, ["exact_match"], {}, "a claim table or report needs at least one long-form"),
    ],
)
def test_claims_report_refusals_name_the_fix(tmp_path, labels, scorers, options, message):
    record = dict(RECORDS[0]) if labels is None else {**RECORDS[0], "claim_labels": labels}
    src = _write(tmp_path / "in.jsonl", [record])
    kwargs = {"claims_report": tmp_path / "p.html", **options}
    with pytest.raises(ValueError, match=message):
        score_jsonl(
            src,
            tmp_path / "o.jsonl",
            scorers,
            nli_model=TableNLI(TABLE, default=None),
            progress=False,
            **kwargs,
        )


def test_cli_writes_the_claims_report(tmp_path, capsys):
    src = _write(tmp_path / "in.jsonl", [{"response": ANSWER, "sampled_responses": [ANSWER]}])
    page = tmp_path / "c.html"
    argv = ["score", str(src), "-o", str(tmp_path / "o.jsonl"), "--scorers", "claim_cosine_sim"]
    assert main([*argv, "--claims-report", str(page), "--no-progress"]) == 0
    assert "Claims report -> " in capsys.readouterr().out
    html = page.read_text(encoding="utf-8")
    # cosine 1 -> (1 + 1)/2 = 1 -> the top band
    assert '<mark class="b4" title="claim_cosine_sim 1.000">Paris is big.</mark>' in html
