"""The long-form claims page: claims highlighted by band, model output escaped, no script,
and the claim-level evaluation when labels are given (values by hand)."""

from __future__ import annotations

import dataclasses

import pytest
from markupsafe import escape

from lmuq.compat.uqlm_longform import LongTextUQ
from lmuq.evaluation.claims import claim_level_metrics
from lmuq.reporting.claims_html import CSP, claim_segments, render_claims_report
from nli_fakes import RuleNLI, TableNLI

ANSWER = "Paris is big. Paris is old."
SAMPLES = ["Paris is big and old.", "Lyon is big."]
TABLE = {
    ("Paris is big and old.", "Paris is big."): (0.9, 0.05, 0.05),
    ("Paris is big and old.", "Paris is old."): (0.8, 0.1, 0.1),
    ("Lyon is big.", "Paris is big."): (0.1, 0.2, 0.7),
    ("Lyon is big.", "Paris is old."): (0.1, 0.8, 0.1),
}


def test_segments_cut_the_answer_at_claim_spans_and_skip_overlaps():
    claims = [
        {"start": 0, "end": 13, "s": 0.5},
        {"start": 5, "end": 13, "s": 0.9},  # overlaps the first: table only
        {"start": 14, "end": 27, "s": 0.85, "removed": True},
        {"start": -1, "end": -1, "s": 0.1},  # no place in the answer
    ]
    segs = claim_segments(ANSWER, claims, "s")
    assert [(s["text"], s["band"]) for s in segs] == [
        ("Paris is big.", 2),  # int(0.5 · 5) = 2
        (" ", None),
        ("Paris is old.", 4),  # int(0.85 · 5) = 4
    ]
    assert segs[2]["removed"] is True and segs[0]["title"] == "s 0.500"


def test_page_highlights_claims_and_evaluates_with_labels():
    result = LongTextUQ(granularity="sentence", nli_model=TableNLI(TABLE, default=None)).score_sync(
        [ANSWER], [SAMPLES]
    )
    html = render_claims_report(result, "entailment", labels=[[True, False]], n_boot=50)
    # claim values 0.5 and 0.45 -> both band 2
    assert '<mark class="b2" title="entailment 0.500">Paris is big.</mark>' in html
    assert '<mark class="b2" title="entailment 0.450">Paris is old.</mark>' in html
    # the right claim (0.5) outranks the wrong one (0.45): AUROC 1; one response only
    assert "<td>1.000 [1.000, 1.000]</td>" in html
    assert f'content="{escape(CSP)}"' in html and "script-src 'none'" in CSP
    assert "<script" not in html


def test_model_output_is_escaped():
    hostile = 'Paris <script>alert("x")</script> is big. It is <b>old</b>.'
    result = LongTextUQ(granularity="sentence", nli_model=RuleNLI()).score_sync(
        [hostile], [["Paris is big."]]
    )
    html = render_claims_report(result, "entailment")
    assert "<script" not in html and "<b>old</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;b&gt;old&lt;/b&gt;" in html


def test_a_given_evaluation_is_shown_as_is_and_must_be_of_the_pages_scorer():
    result = LongTextUQ(granularity="sentence", nli_model=TableNLI(TABLE, default=None)).score_sync(
        [ANSWER], [SAMPLES]
    )
    labels = [[True, False]]
    ev = claim_level_metrics(
        result.columns["claims_data"], labels, "entailment", result.columns["entailment"], n_boot=50
    )
    # a marked copy: the page must show the evaluation it was given, not recompute it
    assert ev.claim_accuracy == 0.5  # one right claim of two
    marked = dataclasses.replace(ev, claim_accuracy=0.777)
    html = render_claims_report(result, "entailment", labels=labels, evaluation=marked)
    assert "78% of the labelled claims are right" in html
    with pytest.raises(ValueError, match="scorer 'entailment', the page shows 'cosine_sim'"):
        render_claims_report(result, "cosine_sim", labels=labels, evaluation=ev)
    with pytest.raises(ValueError, match="needs the labels"):
        render_claims_report(result, "entailment", evaluation=ev)
