from __future__ import annotations

import json
import math
import os

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


# --------------------------------------------------------------------------- hostile input


def _score(tmp_path, text: bytes | str, **kw):
    src = tmp_path / "in.jsonl"
    if isinstance(text, str):
        src.write_text(text, encoding="utf-8")
    else:
        src.write_bytes(text)
    return score_jsonl(src, tmp_path / "out.jsonl", ["exact_match"], progress=False, **kw)


OK_LINE = '{"response": "a", "sampled_responses": ["a"]}\n'


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"response": "a", "sampled_responses": ["a"], "logprobs": [NaN]}', "literal NaN"),
        ('{"response": "a", "sampled_responses": ["a"], "logprobs": [-Infinity]}', "-Infinity"),
        ('{"response": "a", "sampled_responses": ["a"], "logprobs": ["x"]}', "list of numbers"),
        ('{"response": "\\ud800", "sampled_responses": ["a"]}', "field response holds a lone"),
        ('{"response": "a", "sampled_responses": ["a"], "note": {"k": "\\udfff"}}', "note.k"),
    ],
)
def test_bad_lines_are_refused_with_line_and_field(tmp_path, line, message):
    with pytest.raises(ValueError, match=message) as info:
        _score(tmp_path, OK_LINE + line + "\n")
    assert ":2" in str(info.value) or "line 2" in str(info.value)
    assert not (tmp_path / "out.jsonl").exists()  # nothing half-written


def test_invalid_utf8_names_the_line_and_byte(tmp_path):
    with pytest.raises(ValueError, match=r"in\.jsonl:2: not valid UTF-8 \(byte 0xff"):
        _score(tmp_path, OK_LINE.encode() + b'{"response": "\xff"}\n')


def test_an_input_field_named_like_an_output_is_refused_unless_prefixed(tmp_path):
    line = '{"response": "a", "sampled_responses": ["a", "b"], "exact_match": "mine"}\n'
    with pytest.raises(ValueError, match=r"in\.jsonl:1: input field\(s\) \['exact_match'\]"):
        _score(tmp_path, line)
    _score(tmp_path, line, prefix="lmuq_")
    out = json.loads((tmp_path / "out.jsonl").read_text())
    assert out["exact_match"] == "mine" and out["lmuq_exact_match"] == 0.5
    assert out["lmuq_score_errors"] == {}


def test_outputs_are_never_written_through_a_symlink_and_follow_the_umask(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.partial").symlink_to(victim)  # the 0.1 temp name
    (tmp_path / "out.jsonl.tmp").symlink_to(victim)
    src = tmp_path / "in.jsonl"
    src.write_text(OK_LINE)
    score_jsonl(src, out, ["exact_match"], progress=False)
    assert victim.read_text() == "precious"
    assert json.loads(out.read_text())["exact_match"] == 1.0
    mask = os.umask(0o022)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
