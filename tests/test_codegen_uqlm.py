"""``CodeGenUQ`` and its sandbox: generated programs run in a subprocess with time and
memory limits, compared by their outcomes; scores from the definitions by hand."""

from __future__ import annotations

import math
import os

import pytest

from lmuq import CodeGenUQ
from lmuq.backends.fake import FakeBackend
from lmuq.grading.code_sandbox import extract_code, run_program
from lmuq.scoring.functional import functional_equivalence as FE
from lmuq.types import Generation, SamplingParams

ANSWER = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```"
SAMPLES = [
    "def add(a, b):\n    return b + a",  # equivalent
    "def add(a, b):\n    return a - b",  # different
    "def add(a, b):\n    while True:\n        pass",  # no answer (timeout)
    "```\ndef add(a, b):\n    return a + b\n```",  # equivalent
]
INPUTS = [[1, 2], [3, 4]]


def test_the_sandbox_reports_values_exceptions_and_limits():
    assert run_program("def f(x): return x * 2", [[1], [2]], "f") == [("ok", "2"), ("ok", "4")]
    assert run_program("def f(x): return 1 / x", [[0]], "f") == [("error", "ZeroDivisionError")]
    assert run_program("def f(x):\n  while True: pass", [[1]], "f", timeout_s=1) == [
        ("error", "timeout")
    ]
    big = run_program("def f(x): return len(bytearray(10**9))", [[1]], "f", memory_mb=128)
    assert big == [("error", "MemoryError")]
    assert run_program("def f(:", [[1], [2]], "f") == [("error", "load: SyntaxError")] * 2
    # the program's own prints cannot forge the outcome, and it cannot touch this process
    forged = 'print(\'[["ok", "9"]]\')\nimport os\ndef f(x): os.environ["LMUQ_X"] = "1"; return 3'
    assert run_program(forged, [[1]], "f") == [("ok", "3")]
    assert "LMUQ_X" not in os.environ


def test_extract_code_takes_the_first_fenced_block():
    assert extract_code(ANSWER) == "def add(a, b):\n    return a + b\n"
    assert extract_code("def f(): pass") == "def f(): pass"


def test_functional_scores_match_the_definitions():
    def respond(prompt: str, params: SamplingParams, j: int) -> Generation:
        if params.temperature == 0:
            return Generation(ANSWER, logprobs=[-0.2, -0.4])
        return Generation(SAMPLES[j], logprobs=[-0.5])

    cg = CodeGenUQ(
        llm=FakeBackend(respond),
        scorers=[
            "functional_equivalence_rate",
            "functional_negentropy",
            "functional_sets_confidence",
            "sequence_probability",
        ],
        timeout_s=1,
    )
    result = cg.generate_and_score_sync(
        ["Write add(a, b)."], num_responses=4, test_inputs=[INPUTS], entry_point="add"
    )
    # classes: {answer, s1, s4}, {s2}, {s3: no answer}; n = 5
    h = -(3 / 5 * math.log(3 / 5) + 2 * (1 / 5) * math.log(1 / 5))
    assert result.columns["functional_equivalence_rate"] == [pytest.approx(2 / 4)]
    assert result.columns["functional_negentropy"] == [pytest.approx(1 - h / math.log(5))]
    assert result.columns["functional_sets_confidence"] == [pytest.approx((5 - 3) / 4)]
    assert result.columns["functional_clusters"] == [[[0, 1, 4], [2], [3]]]
    assert result.columns["sequence_probability"] == [pytest.approx(math.exp(-0.3))]
    assert result.details["outcomes"][0][2] == [("ok", "-1"), ("ok", "-1")]


def test_no_answer_is_equivalent_to_nothing_not_even_itself():
    dead = [("error", "timeout")]
    assert not FE.equivalent(dead, dead)
    same_exception = [("error", "ZeroDivisionError")]
    assert FE.equivalent(same_exception, same_exception)
    assert FE.functional_clusters([dead, dead, [("ok", "1")]]) == [[0], [1], [2]]
    assert FE.functional_negentropy([[("ok", "1")]]) == 1.0


def test_functional_scorers_need_the_test_data():
    cg = CodeGenUQ(scorers=["functional_equivalence_rate"])
    import asyncio

    with pytest.raises(ValueError, match="test_inputs"):
        asyncio.run(cg.score(["p"], ["def f(): pass"], [["def f(): pass"]]))
    got = asyncio.run(
        cg.score(
            ["p"],
            ["def f(): return 1"],
            [["def f(): return 1"]],
            test_inputs=[[[]]],
            entry_point="f",
        )
    )
    assert got.columns["functional_equivalence_rate"] == [1.0]
    with pytest.raises(ValueError, match="code_bleu"):
        CodeGenUQ(scorers=["code_bleu"])
    with pytest.raises(ValueError, match="Python only"):
        CodeGenUQ(language="java")
