from __future__ import annotations

import json
import math

import pytest

from lmuq import BlackBoxUQ
from lmuq.app.cli import main
from lmuq.app.score_file import score_jsonl

RECORDS = [
    {
        "id": 1,
        "prompt": "Q1",
        "response": "Paris",
        "sampled_responses": ["paris", "Lyon"],
        "logprobs": [math.log(0.5)],
        "sampled_logprobs": [[math.log(0.5)], [math.log(0.25)]],
    },
    {
        "id": 2,
        "prompt": "Q2",
        "response": "145",
        "sampled_responses": ["145 \n", "146", "145"],
        "logprobs": [math.log(0.9)],
        "sampled_logprobs": [[-0.1], [-2.0], [-0.1]],
    },
    {"id": 3, "prompt": "Q3", "response": "x", "sampled_responses": ["y"], "extra": {"keep": True}},
]


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_scores_match_blackboxuq_and_chunking_does_not_matter(tmp_path):
    src = _write(tmp_path / "in.jsonl", RECORDS)
    scorers = ["exact_match", "rouge_l", "semantic_negentropy"]
    kw = dict(equivalence="normalized_match", progress=False)
    one = score_jsonl(src, tmp_path / "a.jsonl", scorers, chunk_size=100, **kw)
    two = score_jsonl(src, tmp_path / "b.jsonl", scorers, chunk_size=1, **kw)
    assert one.rows == two.rows == 3
    a = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert a == b
    direct = BlackBoxUQ(scorers=scorers, use_best=False, equivalence="normalized_match").score(
        [r["response"] for r in RECORDS], [r["sampled_responses"] for r in RECORDS]
    )
    for name in scorers:
        assert [row[name] for row in a] == pytest.approx(direct.columns[name])
    assert a[2]["extra"] == {"keep": True} and a[0]["id"] == 1  # input fields kept
    assert a[1]["exact_match"] == pytest.approx(2 / 3)  # "145 \n" equals "145" normalised


def test_logprobs_enable_whitebox_scorers_and_missing_ones_are_null_with_reason(tmp_path):
    src = _write(tmp_path / "in.jsonl", RECORDS)
    score_jsonl(
        src,
        tmp_path / "o.jsonl",
        ["sequence_probability", "monte_carlo_probability"],
        progress=False,
    )
    rows = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert rows[0]["sequence_probability"] == pytest.approx(0.5)
    assert rows[0]["monte_carlo_probability"] == pytest.approx((0.5 + 0.25) / 2)
    assert rows[2]["sequence_probability"] is None
    assert "log-prob" in rows[2]["score_errors"]["sequence_probability"]


def test_bad_line_is_named(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(RECORDS[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"in\.jsonl:2: not valid JSON"):
        score_jsonl(src, tmp_path / "o.jsonl", ["exact_match"], progress=False)
    assert not (tmp_path / "o.jsonl").exists()
    _write(src, [{"response": "a", "sampled_responses": []}])
    with pytest.raises(ValueError, match="line 1: 'sampled_responses' must be a non-empty list"):
        score_jsonl(src, tmp_path / "o.jsonl", ["exact_match"], progress=False)


def test_cli_score(tmp_path, capsys):
    src = _write(tmp_path / "in.jsonl", RECORDS)
    out = tmp_path / "o.jsonl"
    assert (
        main(["score", str(src), "-o", str(out), "--scorers", "exact_match_raw", "--no-progress"])
        == 0
    )
    assert "Scored 3 rows" in capsys.readouterr().out
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["exact_match_raw"] for r in rows] == pytest.approx([0.0, 1 / 3, 0.0])
    assert main(["score", str(tmp_path / "missing.jsonl"), "-o", str(out)]) == 2
    assert "No such file" in capsys.readouterr().err
