"""LangChain's ``ChatOpenAI`` against the loopback fake server (tests/openai_server.py): the
API key a provider echoes is kept nowhere, content parts are read as text, and an answer
with status 200 that cannot be read is a malformed response, retried."""

from __future__ import annotations

import time

import pytest

from lmuq import BlackBoxUQ
from lmuq.backends import RetryPolicy
from lmuq.backends.langchain import LangChainBackend
from lmuq.storage import RunStore, export_run, generate_with_store
from lmuq.types import SamplingParams
from openai_server import FakeOpenAIServer

langchain_openai = pytest.importorskip("langchain_openai")

FAST = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05, seed=0)
PARAMS = SamplingParams(temperature=1.0, max_new_tokens=16)
# Not shaped like a well-known key format: only knowing the model's key field masks it.
SECRET = "lmuq-test-key-7f3a9c2e1b5d"


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture
def srv(server):
    deadline = time.monotonic() + 5
    while server.inflight and time.monotonic() < deadline:
        time.sleep(0.01)
    server.reset()
    yield server
    server.reset()


def _chat(srv):
    """A ChatOpenAI on the fake server, with the SDK's own retries off (lmuq's RetryPolicy
    is the one counted) and its default pooled async client."""
    return langchain_openai.ChatOpenAI(
        base_url=srv.base_url, api_key=SECRET, model="fake", max_retries=0
    )


def test_one_chat_model_serves_many_sync_calls(srv):
    # Its async client pools connections bound to the loop that opened them; a fresh loop
    # per sync call failed every second call with "Event loop is closed".
    b = LangChainBackend(_chat(srv), retry=FAST)
    for _ in range(4):
        rows = b.generate(["hello", "again"], SamplingParams(max_new_tokens=4), n=2)
        assert [[g.error for g in row] for row in rows] == [[None, None], [None, None]]


def test_an_echoed_api_key_appears_nowhere_a_langchain_run_keeps_or_shows(srv, tmp_path, recwarn):
    srv.fail("401", match="bad", times=100)  # its message repeats the bearer token
    bb = BlackBoxUQ(llm=_chat(srv), scorers=["exact_match_raw"], use_best=False)
    prompts = ["good one", "bad one"]
    res = bb.generate_and_score_sync(prompts, num_responses=2, show_progress_bars=False)

    assert {r.authorization for r in srv.requests} == {f"Bearer {SECRET}"}  # it was sent
    error = res.columns["score_errors"][1]["exact_match_raw"]
    assert "http_401" in error and "Incorrect API key provided: ***" in error
    assert res.columns["response"][0].startswith("good one |")
    warned = [str(w.message) for w in recwarn]  # the warning about the failed rows
    assert any("Incorrect API key provided: ***" in message for message in warned)
    backend = bb.backend()
    shown = [
        repr(res),
        str(res.to_records()),
        res.to_df().to_csv(),
        repr(res.sample_sets),
        repr(bb),
        repr(vars(bb)),
        repr(backend),
        repr(vars(backend)),
        backend.name,
        *warned,
    ]
    for text in shown:
        assert SECRET not in text

    with RunStore(tmp_path / "runs.sqlite") as store:
        sets = generate_with_store(backend, store, "r", prompts, 2)
        assert sets[1].answer.failed and "***" in sets[1].answer.error
        assert not sets[0].answer.failed
        export_run(store, "r", tmp_path / "r.jsonl")
        export_run(store, "r", tmp_path / "r.csv")
    files = sorted(tmp_path.iterdir())
    assert {p.suffix for p in files} >= {".sqlite", ".jsonl", ".csv"}
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path.name


def test_content_parts_are_joined_and_a_non_text_part_fails_only_its_row(srv):
    srv.fail("parts", match="split")
    srv.fail("image_part", match="picture")
    b = LangChainBackend(_chat(srv), retry=FAST)
    out = b.generate(["split me", "picture this", "plain"], PARAMS)
    assert out[0][0].text == "split me | s=-" and out[0][0].error is None
    assert out[2][0].text == "plain | s=-"
    failed = out[1][0]
    assert failed.failed and "unsupported_content after 1 attempt" in failed.error
    assert "'image_url'" in failed.error
    assert srv.count("picture") == 1  # not retried


@pytest.mark.parametrize("fault", ["malformed", "no_message"])
def test_an_unreadable_200_is_a_malformed_response_and_retried(srv, fault):
    srv.fail(fault, match="flaky", times=2)
    srv.fail(fault, match="broken", times=100)
    b = LangChainBackend(_chat(srv), retry=FAST)
    out = b.generate(["flaky", "broken"], PARAMS)
    assert out[0][0].error is None and out[0][0].text == "flaky | s=-"
    assert "malformed_response after 4 attempts" in out[1][0].error
    assert "http_200" not in out[1][0].error
    assert b.stats.errors_by_reason == {"malformed_response": 2 + 4}
    assert srv.count("flaky") == 3 and srv.count("broken") == 4


def test_retry_malformed_false_records_the_first_unreadable_answer(srv):
    srv.fail("no_message", times=100)
    b = LangChainBackend(_chat(srv), retry=RetryPolicy(retry_malformed=False))
    out = b.generate(["x"], PARAMS)
    assert "malformed_response after 1 attempt" in out[0][0].error
    assert srv.count() == 1
