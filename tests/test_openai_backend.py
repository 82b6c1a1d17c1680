"""The OpenAI-compatible backend against a real HTTP server on loopback (tests/openai_server.py)
that injects 429s with Retry-After, 5xx, slow answers, malformed JSON, missing log-probs and
refusals of ``n``."""

from __future__ import annotations

import asyncio
import base64
import math
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import ClassVar

import numpy as np
import pytest

from lmuq import BlackBoxUQ
from lmuq.backends import CANCELLED, ResultGrid, RetryPolicy
from lmuq.backends.openai_compat import OpenAICompatibleBackend
from lmuq.generation import generate_sample_sets
from lmuq.scoring import score
from lmuq.storage import generation_to_json
from lmuq.types import SamplingParams
from openai_server import FakeOpenAIServer

FAST = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05, seed=0)
PARAMS = SamplingParams(temperature=1.0, max_new_tokens=16, seed=10)


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer() as srv:
        # The client's first request pays one-off imports; keep them out of timed tests.
        OpenAICompatibleBackend(srv.base_url, "fake").generate(["warm up"], PARAMS)
        yield srv


@pytest.fixture
def srv(server):
    deadline = time.monotonic() + 5
    while server.inflight and time.monotonic() < deadline:  # slow answers of earlier tests
        time.sleep(0.01)
    server.reset()
    server.latency, server.logprobs, server.n_mode = 0.0, True, "ok"
    yield server
    server.reset()


def _backend(srv, **kw) -> OpenAICompatibleBackend:
    kw.setdefault("retry", FAST)
    kw.setdefault("timeout", 2.0)
    return OpenAICompatibleBackend(srv.base_url, "fake", **kw)


def test_every_row_is_filled_or_marked_failed_in_order_and_retries_are_counted(srv):
    prompts = [f"q{i} text" for i in range(10)]
    srv.fail("429", match="q1 ", times=2, retry_after="0.05")
    srv.fail("500", match="q3 ")
    srv.fail("503", match="q4 ")
    srv.fail("malformed", match="q5 ")
    srv.fail("slow", match="q6 ", delay=1.0)
    srv.fail("no_logprobs", match="q7 ")
    srv.fail("500", match="q8 ", times=100)  # never recovers
    srv.fail("400", match="q9 ", times=100)  # cannot succeed: not retried
    b = _backend(srv, timeout=0.3)
    out = b.generate(prompts, PARAMS, n=3)

    assert len(out) == 10 and all(len(row) == 3 for row in out)
    for i, row in enumerate(out[:8]):
        assert [g.text for g in row] == [f"q{i} text | s={10 + j}" for j in range(3)]
        assert all(g.error is None and g.finish_reason == "stop" for g in row)
    assert all(g.failed and g.finish_reason == "error" for g in out[8] + out[9])
    assert all("http_500 after 4 attempts" in g.error for g in out[8])
    assert all("http_400 after 1 attempt" in g.error for g in out[9])
    assert out[7][0].logprobs is None and out[7][0].top_logprobs is None
    g = out[0][0]
    assert g.logprobs.tolist() == pytest.approx([-0.1, -0.2, -0.3, -0.4])
    assert g.top_logprobs.shape == (4, 5) and np.all(np.diff(g.top_logprobs, axis=1) < 0)
    assert g.tokens == ("q0", "text", "|", "s=10")

    s = b.stats
    assert s.errors_by_reason == {
        "http_429": 2,
        "http_500": 1 + 4,
        "http_503": 1,
        "malformed_response": 1,
        "timeout": 1,
        # The 400 might have been a refusal of n: each sample is tried alone, and fails.
        "batch_unsupported": 1,
        "http_400": 3,
    }
    assert s.retries == 2 + 1 + 1 + 1 + 1 + 3
    assert s.failed == 4 and s.failed_by_reason == {"http_500": 1, "http_400": 3}
    assert s.calls == 10 + s.retries + 3 == srv.count()  # every attempt reached the server
    assert b.n_supported  # "injected 400" does not name n
    assert sum(r.body.get("n") == 3 for r in srv.requests) == 10 + s.retries


def test_retry_after_is_honoured_in_seconds_and_as_an_http_date(srv):
    srv.fail("429", match="secs", retry_after="0.3")
    b = _backend(srv)
    b.generate(["secs"], PARAMS)
    first, second = (r.at for r in srv.requests)
    assert second - first >= 0.29

    srv.reset()
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=2), usegmt=True)
    srv.fail("429", match="date", retry_after=when)
    b = _backend(srv, retry=RetryPolicy(base_delay=0.01, max_retry_after=1.2, seed=0))
    out = b.generate(["date"], PARAMS)
    first, second = (r.at for r in srv.requests)
    assert 0.95 <= second - first < 1.8  # the date said 1-2 s; capped at 1.2 s
    assert out[0][0].error is None


def test_a_call_that_keeps_timing_out_fails_on_its_row_in_bounded_time(srv):
    srv.fail("slow", match="stuck", times=10, delay=1.5)
    b = _backend(srv, timeout=0.15, retry=RetryPolicy(max_retries=2, base_delay=0.01))
    start = time.monotonic()
    out = b.generate(["fine", "stuck", "fine too"], PARAMS)
    assert time.monotonic() - start < 4.0  # uncut, the 3 attempts would take 4.5 s
    assert out[0][0].text.startswith("fine |") and out[2][0].text.startswith("fine too |")
    assert "timeout after 3 attempts" in out[1][0].error
    assert b.stats.failed_by_reason == {"timeout": 1}


def test_persistent_malformed_json_is_retried_then_recorded(srv):
    srv.fail("malformed", times=10)
    b = _backend(srv)
    out = b.generate(["x"], PARAMS)
    assert "malformed_response after 4 attempts" in out[0][0].error
    assert srv.count() == 4


def test_n_is_used_when_the_server_supports_it(srv):
    b = _backend(srv)
    out = b.generate(["a", "b"], PARAMS, n=4)
    assert srv.count() == 2 and [r.body["n"] for r in srv.requests] == [4, 4]
    assert [g.text for g in out[1]] == [f"b | s={10 + j}" for j in range(4)]


def test_a_server_refusing_n_gets_single_calls_and_auto_remembers(srv):
    srv.n_mode = "reject"
    b = _backend(srv, max_concurrency=1)
    out = b.generate(["a", "b"], PARAMS, n=3)
    assert [[g.text for g in row] for row in out] == [
        [f"{p} | s={10 + j}" for j in range(3)] for p in "ab"
    ]
    assert not b.n_supported
    assert sum("n" in r.body for r in srv.requests) == 1  # asked once, then never again
    assert b.stats.errors_by_reason == {"batch_unsupported": 1} and b.stats.failed == 0
    srv.reset()
    b.generate(["c"], PARAMS, n=2)
    assert srv.count() == 2 and not any("n" in r.body for r in srv.requests)


def test_a_server_ignoring_n_has_its_missing_samples_drawn_one_by_one(srv):
    srv.n_mode = "ignore"  # answers one choice whatever n says
    b = _backend(srv, max_concurrency=1)
    out = b.generate(["a"], PARAMS, n=3)
    assert [g.text for g in out[0]] == [f"a | s={10 + j}" for j in range(3)]
    assert [r.body.get("n") for r in srv.requests] == [3, None, None]
    assert not b.n_supported


def test_use_n_true_keeps_asking_and_use_n_false_never_asks(srv):
    srv.n_mode = "reject"
    b = _backend(srv, use_n=True)
    b.generate(["a"], PARAMS, n=2)
    b.generate(["b"], PARAMS, n=2)
    assert b.n_supported and sum("n" in r.body for r in srv.requests) == 2
    srv.reset()
    srv.n_mode = "ok"
    b = _backend(srv, use_n=False, max_concurrency=1)
    b.generate(["c"], PARAMS, n=3)
    assert [r.body.get("n") for r in srv.requests] == [None] * 3
    assert [r.body["seed"] for r in srv.requests] == [10, 11, 12]  # one seed per sample


def test_chat_request_carries_the_sampling_parameters(srv):
    b = _backend(srv, system_prompt="Be brief.", top_logprobs=3, extra_body={"min_p": 0.0})
    params = SamplingParams(temperature=0.7, top_p=0.9, top_k=20, max_new_tokens=5, seed=3)
    b.generate(["hello"], params)
    body = srv.requests[0].body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (
        0.7,
        0.9,
        5,
        3,
    )
    assert body["logprobs"] is True and body["top_logprobs"] == 3
    assert body["top_k"] == 20 and body["min_p"] == 0.0  # extra_body fields


def test_completions_mode_parses_token_logprobs_and_finish_reason(srv):
    b = _backend(srv, mode="completions", top_logprobs=3, system_prompt="SYS")
    out = b.generate(["one two"], SamplingParams(max_new_tokens=2))
    body = srv.requests[0].body
    assert body["prompt"] == "SYS\n\none two" and body["logprobs"] == 3
    g = out[0][0]
    assert g.text == "SYS\n\none two" and g.finish_reason == "length"  # cut at 2 tokens
    assert g.tokens == ("SYS\n\none", "two")
    assert g.logprobs.tolist() == pytest.approx([-0.1, -0.2])
    np.testing.assert_allclose(g.top_logprobs, [[-0.1, -1.1, -2.1], [-0.2, -1.2, -2.2]])


def test_missing_logprobs_give_nan_with_a_reason_and_other_scorers_still_run(srv):
    srv.logprobs = False
    b = _backend(srv)
    sets = generate_sample_sets(b, ["what?"], num_samples=2, progress=False)
    assert sets[0].answer.logprobs is None
    res = score(sets, ["normalized_probability", "exact_match"], on_error="nan")
    assert math.isnan(res.columns["normalized_probability"][0])
    assert "log-prob" in res.columns["score_errors"][0]["normalized_probability"]
    assert 0.0 <= res.columns["exact_match"][0] <= 1.0


def test_blackbox_uq_keeps_a_failed_row_as_nan_with_its_error(srv):
    srv.fail("400", match="bad", times=10)
    bb = BlackBoxUQ(llm=_backend(srv), scorers=["exact_match_raw"], use_best=False)
    res = bb.generate_and_score_sync(
        ["good one", "bad one", "good two"], num_responses=2, show_progress_bars=False
    )
    assert res.columns["prompt"] == ["good one", "bad one", "good two"]
    assert res.columns["response"][2].startswith("good two |")
    assert res.columns["exact_match_raw"][0] == 1.0  # no seed: the fake answers alike
    assert math.isnan(res.columns["exact_match_raw"][1])
    assert "http_400" in res.columns["score_errors"][1]["exact_match_raw"]


def test_concurrency_and_rate_limits_hold_at_the_server(srv):
    srv.latency = 0.1
    b = _backend(srv, max_concurrency=2, use_n=False)
    start = time.monotonic()
    b.generate(["a", "b", "c"], PARAMS, n=2)
    assert time.monotonic() - start >= 0.29  # 6 calls, 2 at a time, 0.1 s each
    assert srv.max_inflight == 2

    srv.reset()
    srv.latency = 0.0
    b = _backend(srv, max_concurrency=8, max_calls_per_min=1200, use_n=False)  # 0.05 s apart
    b.generate(["a", "b", "c"], PARAMS, n=2)
    arrivals = sorted(r.at for r in srv.requests)
    assert len(arrivals) == 6
    # Unlimited, all six would land within milliseconds; paced, they span 5 slots. (Slack
    # for scheduling jitter: a late call may land close to the next one, never to two.)
    assert arrivals[-1] - arrivals[0] >= 0.2
    assert all(arrivals[k + 2] - arrivals[k] >= 0.05 for k in range(4))


@pytest.mark.asyncio
async def test_cancelling_agenerate_keeps_finished_rows(srv):
    srv.fail("slow", match="slow", times=10, delay=1.0)
    b = _backend(srv, timeout=10.0)
    done = []
    prompts = ["fast a", "slow b", "fast c", "slow d"]
    cells = ResultGrid(len(prompts), 1, PARAMS)

    def on_result(i, j, g):
        cells.record(i, j, g)
        done.append(i)

    task = asyncio.create_task(b.agenerate(prompts, PARAMS, on_result=on_result))
    while len(done) < 2:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    grid = cells.results()
    assert grid[0][0].text.startswith("fast a |") and grid[2][0].text.startswith("fast c |")
    assert grid[1][0].error == CANCELLED and grid[3][0].error == CANCELLED


def test_the_api_key_is_never_shown(srv, monkeypatch):
    secret = "sk-test-SECRET-0123456789"
    b = _backend(srv, api_key=secret)
    assert secret not in repr(b) and secret not in str(b)
    assert secret not in repr(vars(b))
    assert "***" in repr(b)
    srv.fail("401")  # the server echoes the key back in its error message
    out = b.generate(["x"], PARAMS)
    assert "http_401" in out[0][0].error
    assert secret not in out[0][0].error and "***" in out[0][0].error
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    from_env = _backend(srv)
    assert from_env._api_key.reveal() == secret and secret not in repr(from_env)


def test_credentials_in_the_base_url_are_sent_but_never_shown_or_recorded(srv):
    password = "pw-Zq8rT4vY1x"
    url = srv.base_url.replace("http://", f"http://alice:{password}@")
    b = OpenAICompatibleBackend(url, "fake", retry=FAST, timeout=2.0)
    out = b.generate(["hello"], PARAMS)
    assert out[0][0].error is None and out[0][0].text == "hello | s=10"
    basic = base64.b64encode(f"alice:{password}".encode()).decode()
    assert srv.requests[0].authorization == f"Basic {basic}"  # the userinfo is sent
    assert b.display_url == srv.base_url.replace("http://", "http://***@")
    assert b.base_url == b.display_url

    srv.fail("401")  # echoes the Authorization header it got, and what it decodes to
    failed = b.generate(["x"], PARAMS)[0][0]
    assert "http_401" in failed.error and "***" in failed.error
    shown = [
        repr(b),
        str(b),
        repr(vars(b)),
        b.name,
        b.display_url,
        repr(out),
        repr(failed),
        generation_to_json(failed),
        generation_to_json(out[0][0]),
    ]
    for text in shown:
        assert password not in text and basic not in text


def test_content_parts_are_joined_and_a_non_text_part_fails_only_its_row(srv):
    srv.fail("parts", match="split")
    srv.fail("image_part", match="picture")
    b = _backend(srv)
    out = b.generate(["split me", "picture this", "plain"], PARAMS)
    assert out[0][0].text == "split me | s=10" and out[0][0].error is None
    assert out[0][0].tokens == ("split", "me", "|", "s=10")  # log-probs read as before
    assert out[2][0].text == "plain | s=10"
    failed = out[1][0]
    assert failed.failed and "unsupported_content after 1 attempt" in failed.error
    assert "'image_url'" in failed.error
    assert srv.count("picture") == 1  # not retried
    assert b.stats.failed_by_reason == {"unsupported_content": 1}


def test_a_choice_without_a_message_is_a_malformed_response_and_retried(srv):
    srv.fail("no_message", match="flaky", times=2)
    srv.fail("no_message", match="broken", times=100)
    b = _backend(srv)
    out = b.generate(["flaky", "broken"], PARAMS)
    assert out[0][0].text == "flaky | s=10"
    assert "malformed_response after 4 attempts" in out[1][0].error
    assert b.stats.errors_by_reason == {"malformed_response": 2 + 4}


def test_bad_arguments_are_clear_errors(srv):
    with pytest.raises(ValueError, match="mode"):
        _backend(srv, mode="embeddings")
    with pytest.raises(ValueError, match="use_n"):
        _backend(srv, use_n="yes")
    b = _backend(srv)
    with pytest.raises(ValueError):
        b.generate([], PARAMS)
    with pytest.raises(TypeError):
        b.generate("one prompt", PARAMS)
    with pytest.raises(ValueError, match="n must be"):
        b.generate(["a"], PARAMS, n=0)


# ---------------------------------------------------------------- llama.cpp in process


class _FakeLlama:
    """Stands in for ``llama_cpp.Llama``: records its settings and every call, answers in
    llama-cpp-python's dict format (top-k alternatives plus the sampled token)."""

    instances: ClassVar[list] = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.model_path = kwargs.get("model_path")
        self.calls = []
        _FakeLlama.instances.append(self)

    def create_chat_completion(self, **kw):
        self.calls.append(kw)
        prompt = kw["messages"][-1]["content"]
        if "boom" in prompt:
            raise RuntimeError("llama_decode returned -1")
        k = kw["top_logprobs"]
        content = [
            {
                "token": tok,
                "logprob": -0.5,
                "bytes": None,
                "top_logprobs": [{"token": tok, "logprob": -0.5, "bytes": None}]
                + [{"token": f"a{a}", "logprob": -1.0 - a, "bytes": None} for a in range(k)],
            }
            for tok in ("Par", "is")
        ]
        return {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Paris"},
                    "logprobs": {"content": content},
                    "finish_reason": "stop",
                }
            ]
        }

    def create_completion(self, **kw):
        self.calls.append(kw)
        return {
            "choices": [
                {
                    "text": " Paris",
                    "index": 0,
                    "logprobs": {
                        "tokens": [" Paris"],
                        "token_logprobs": [-0.2],
                        "top_logprobs": [{" Paris": -0.2, " Lyon": -2.0, " Nice": -3.0}],
                        "text_offset": [0],
                    },
                    "finish_reason": "length",
                }
            ]
        }


@pytest.fixture
def fake_llama_cpp(monkeypatch):
    import sys
    import types

    module = types.ModuleType("llama_cpp")
    module.Llama = _FakeLlama
    monkeypatch.setitem(sys.modules, "llama_cpp", module)
    _FakeLlama.instances.clear()
    return module


def test_llama_cpp_backend_maps_settings_and_parses_its_output(fake_llama_cpp, tmp_path):
    from lmuq.backends.llama_cpp import LlamaCppBackend

    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    b = LlamaCppBackend(gguf, n_ctx=512, seed=7, top_logprobs=3, system_prompt="Be brief.")
    llm = _FakeLlama.instances[-1]
    assert llm.kwargs["model_path"] == str(gguf) and llm.kwargs["n_ctx"] == 512
    assert llm.kwargs["seed"] == 7 and llm.kwargs["logits_all"] is True
    assert b.name == "llama.cpp:m.gguf"

    params = SamplingParams(temperature=0.8, max_new_tokens=9, seed=5)
    out = b.generate(["capital of France?", "boom", "again?"], params, n=2)
    call = llm.calls[0]
    # llama.cpp's truncating defaults are overridden: full distribution unless asked.
    assert (call["top_k"], call["top_p"], call["min_p"], call["repeat_penalty"]) == (
        0,
        1.0,
        0.0,
        1.0,
    )
    assert (call["temperature"], call["max_tokens"], call["logprobs"], call["top_logprobs"]) == (
        0.8,
        9,
        True,
        3,
    )
    assert call["messages"][0] == {"role": "system", "content": "Be brief."}
    assert [c["seed"] for c in llm.calls[:2]] == [5, 6]  # one seed per sample
    g = out[0][0]
    assert g.text == "Paris" and g.finish_reason == "stop" and g.tokens == ("Par", "is")
    assert g.top_logprobs.shape == (2, 3)  # truncated to the 3 asked for
    np.testing.assert_allclose(g.top_logprobs[0], [-0.5, -1.0, -2.0])
    assert all(x.failed and "llama_decode returned -1" in x.error for x in out[1])
    assert out[2][1].text == "Paris"  # the failure did not shift later rows
    assert b.stats.failed == 2 and b.stats.succeeded == 4

    raw = LlamaCppBackend(gguf, chat=False, top_logprobs=2)
    gen = raw.generate(["The capital of France is"], SamplingParams(top_k=5))[0][0]
    call = _FakeLlama.instances[-1].calls[0]
    assert call["prompt"] == "The capital of France is" and call["logprobs"] == 2
    assert call["top_k"] == 5 and "seed" not in call
    assert gen.finish_reason == "length"
    np.testing.assert_allclose(gen.top_logprobs, [[-0.2, -2.0]])


def test_llama_cpp_backend_defaults_to_the_embedded_gguf(fake_llama_cpp):
    from lmuq.backends.default_model import default_model_file
    from lmuq.backends.llama_cpp import LlamaCppBackend

    b = LlamaCppBackend(logprobs=False)
    kwargs = _FakeLlama.instances[-1].kwargs
    assert kwargs["model_path"] == str(default_model_file())
    assert kwargs["logits_all"] is False
    assert "logprobs" not in b.request_kwargs("q", SamplingParams(), 0)
    with pytest.raises(FileNotFoundError):
        LlamaCppBackend("/no/such/model.gguf")


def test_llama_cpp_backend_needs_its_extra(monkeypatch):
    import sys

    from lmuq.backends.llama_cpp import LlamaCppBackend
    from lmuq.extras import MissingExtraError

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import fails
    with pytest.raises(MissingExtraError, match=r"lmuq\[llama-cpp\]"):
        LlamaCppBackend()


def test_lmuq_run_generates_through_an_openai_compatible_server(srv, tmp_path, capsys):
    from lmuq.app.cli import main

    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--base-url",
            srv.base_url,
            "--model",
            "fake",
            "-n",
            "5",
            "-m",
            "2",
            "--n-boot",
            "20",
            "--no-blackbox",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Model: fake @ http://127.0.0.1" in printed and "sequence_probability" in printed
    import json

    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 5
    # each row holds its own prompt's answer (the fake server echoes the prompt)
    for row in rows:
        assert row["response"].startswith(row["prompt"])
        assert len(row["samples"]) == 2 and row["answer"]["logprobs"]
    assert (out / "report.html").exists()


def test_lmuq_run_base_url_needs_a_model_name(srv, capsys):
    from lmuq.app.cli import main

    assert main(["run", "--base-url", srv.base_url, "-n", "2", "--no-progress"]) == 2
    assert "--model" in capsys.readouterr().err
