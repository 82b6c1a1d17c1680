"""`lmuq serve` (issue 11): the gateway in front of the fake OpenAI-style upstream, driven
by the official ``openai`` client (sync, async, streaming), with fault injection.

The fake upstream answers prompt p with "p | s=-", one token per word with log-prob
-0.1·(t+1) for token t, so an answer of L words has sequence probability exp(-0.05·L(L+1)).
Every expected confidence below is worked out from that and from the policy's definition
(weighted mean, then the calibrator), by hand.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from gateway_server import GatewayThread, wait_until_healthy
from lmuq.app.serve.config import GatewayConfig, digests
from lmuq.evaluation.policy import Calibrator, PolicySampling, TrustPolicy
from openai_server import FakeOpenAIServer

IDENTITY = Calibrator("isotonic", x=(0.0, 1.0), y=(0.0, 1.0))  # c = e on [0, 1]


def seq_prob(words: int) -> float:
    """exp(sum of the fake's log-probs) for an answer of ``words`` words."""
    return math.exp(-0.1 * words * (words + 1) / 2)


def white_box_policy(threshold: float = 0.3) -> TrustPolicy:
    return TrustPolicy(("sequence_probability",), (1.0,), IDENTITY, 0.1, threshold)


def sampled_policy(threshold: float, m: int = 4, batch: int = 2) -> TrustPolicy:
    return TrustPolicy(
        ("sequence_probability", "exact_match"),
        (0.5, 0.5),
        IDENTITY,
        0.1,
        threshold,
        sampling=PolicySampling(num_samples=m, batch_size=batch, temperature=0.7),
    )


@pytest.fixture(scope="module")
def upstream():
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture()
def fake(upstream):
    upstream.reset()
    upstream.latency = 0.0
    upstream.n_mode = "ok"
    yield upstream
    upstream.reset()


def gateway(fake: FakeOpenAIServer, policy: TrustPolicy | None = None, **kw) -> GatewayThread:
    return GatewayThread(
        GatewayConfig(upstream=fake.base_url, policy=policy or white_box_policy(), **kw)
    )


def client(gw: GatewayThread, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key="sk-test-123", max_retries=0, **kw)


def ask(c: openai.OpenAI, prompt: str, **kw):
    return c.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": prompt}], **kw
    )


# "a b" -> "a b | s=-": 4 words; "a b c d e f" -> 8 words
SHORT, LONG = "a b", "a b c d e f"


def test_sync_client_gets_the_upstream_answer_with_confidence_and_decision(fake):
    with gateway(fake) as gw:
        raw = client(gw).chat.completions.with_raw_response.create(
            model="fake", messages=[{"role": "user", "content": SHORT}]
        )
        resp = raw.parse()
        far = ask(client(gw), LONG)
    choice = resp.choices[0]
    assert choice.message.content == "a b | s=-"  # unchanged
    assert choice.logprobs is None  # the client did not ask for them
    lmuq = choice.model_extra["lmuq"]
    assert lmuq["confidence"] == pytest.approx(seq_prob(4))  # 0.368 >= 0.3
    assert lmuq["decision"] == "accept"
    assert lmuq["scores"] == {"sequence_probability": pytest.approx(seq_prob(4))}
    assert lmuq["samples_used"] == 0
    assert lmuq["policy_id"] == white_box_policy().id
    assert raw.headers["x-lmuq-decision"] == "accept"
    assert float(raw.headers["x-lmuq-confidence"]) == pytest.approx(seq_prob(4), abs=1e-6)
    # the gateway asked the upstream for log-probs
    assert fake.requests[0].body["logprobs"] is True
    far_lmuq = far.choices[0].model_extra["lmuq"]
    assert far_lmuq["confidence"] == pytest.approx(seq_prob(8))  # 0.027 < 0.3
    assert far_lmuq["decision"] == "flag"
    assert far.choices[0].message.content == "a b c d e f | s=-"


def test_log_probs_asked_for_by_the_client_are_returned(fake):
    with gateway(fake) as gw:
        resp = ask(client(gw), SHORT, logprobs=True, top_logprobs=2)
    entries = resp.choices[0].logprobs.content
    assert [e.logprob for e in entries] == pytest.approx([-0.1, -0.2, -0.3, -0.4])
    assert all(len(e.top_logprobs) == 2 for e in entries)


def test_every_choice_gets_its_own_lmuq_object(fake):
    with gateway(fake) as gw:
        resp = ask(client(gw), SHORT, n=3, seed=10)
    assert [c.message.content for c in resp.choices] == [f"a b | s={10 + i}" for i in range(3)]
    for c in resp.choices:
        assert c.model_extra["lmuq"]["confidence"] == pytest.approx(seq_prob(4))


def test_async_client(fake):
    async def go(base_url: str):
        c = openai.AsyncOpenAI(base_url=base_url, api_key="sk-a", max_retries=0)
        try:
            return await asyncio.gather(
                *(
                    c.chat.completions.create(
                        model="fake", messages=[{"role": "user", "content": p}]
                    )
                    for p in (SHORT, LONG, SHORT)
                )
            )
        finally:
            await c.close()

    with gateway(fake) as gw:
        out = asyncio.run(go(gw.base_url))
    decisions = [r.choices[0].model_extra["lmuq"]["decision"] for r in out]
    assert decisions == ["accept", "flag", "accept"]


def test_streaming_passes_chunks_through_and_ends_with_the_lmuq_event(fake):
    with gateway(fake) as gw:
        chunks = list(ask(client(gw), SHORT, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "a b | s=-"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) == 4  # one per word, as the upstream sent them
    assert all(c.choices[0].logprobs is None for c in chunks if c.choices)
    final = chunks[-1]
    assert final.choices == []
    (lmuq,) = final.model_extra["lmuq"]
    assert lmuq["confidence"] == pytest.approx(seq_prob(4))
    assert lmuq["decision"] == "accept"


def test_async_streaming(fake):
    async def go(base_url: str) -> list:
        c = openai.AsyncOpenAI(base_url=base_url, api_key="sk-a", max_retries=0)
        try:
            stream = await c.chat.completions.create(
                model="fake", messages=[{"role": "user", "content": LONG}], stream=True
            )
            return [chunk async for chunk in stream]
        finally:
            await c.close()

    with gateway(fake) as gw:
        chunks = asyncio.run(go(gw.base_url))
    (lmuq,) = chunks[-1].model_extra["lmuq"]
    assert lmuq["confidence"] == pytest.approx(seq_prob(8))
    assert lmuq["decision"] == "flag"


def test_refuse_mode_replaces_the_content_of_answers_not_accepted(fake):
    with gateway(fake, abstain="refuse", refusal="No answer.") as gw:
        c = client(gw)
        kept, refused = ask(c, SHORT), ask(c, LONG)
        streamed = list(ask(c, LONG, stream=True))
    assert kept.choices[0].message.content == "a b | s=-"
    assert refused.choices[0].message.content == "No answer."
    assert refused.choices[0].model_extra["lmuq"]["decision"] == "abstain"
    text = "".join(ch.choices[0].delta.content or "" for ch in streamed if ch.choices)
    assert text == "No answer."
    assert streamed[-1].model_extra["lmuq"][0]["decision"] == "abstain"


def test_models_are_passed_through(fake):
    with gateway(fake) as gw:
        models = client(gw).models.list()
    assert [m.id for m in models.data] == ["fake"]


def test_authorization_goes_upstream_and_never_back_in_errors(fake):
    fake.fail("401", after=1)  # this upstream echoes the key in its error message
    with gateway(fake) as gw:
        ask(client(gw), SHORT)
        with pytest.raises(openai.AuthenticationError) as info:
            ask(client(gw), SHORT)
        metrics = httpx.get(f"{gw.root}/metrics").text
    assert [r.authorization for r in fake.requests] == ["Bearer sk-test-123"] * 2
    assert "sk-test-123" not in str(info.value.body)
    assert "sk-test-123" not in metrics


def test_gateway_keys(fake):
    keys = digests(["gw-key-1"])
    with gateway(fake, key_digests=keys) as gw:
        with pytest.raises(openai.AuthenticationError):
            ask(client(gw), SHORT)
        with pytest.raises(openai.AuthenticationError):
            ask(client(gw, default_headers={"X-LMUQ-Key": "wrong"}), SHORT)
        ok = ask(client(gw, default_headers={"X-LMUQ-Key": "gw-key-1"}), SHORT)
    assert ok.choices[0].model_extra["lmuq"]["decision"] == "accept"
    assert len(fake.requests) == 1  # refused requests never reach the upstream
    assert "x-lmuq-key" not in {k.lower() for k in fake.requests[0].body}


def test_full_queue_answers_429_with_retry_after(fake):
    fake.latency = 0.5

    async def go(base_url: str):
        async with httpx.AsyncClient(timeout=10) as h:
            body = {"model": "fake", "messages": [{"role": "user", "content": SHORT}]}
            return await asyncio.gather(
                *(h.post(f"{base_url}/chat/completions", json=body) for _ in range(3))
            )

    with gateway(fake, max_concurrency=1, max_queue=1, retry_after=3) as gw:
        out = asyncio.run(go(gw.base_url))
    statuses = sorted(r.status_code for r in out)
    assert statuses == [200, 200, 429]  # one running, one queued, one refused
    refused = next(r for r in out if r.status_code == 429)
    assert refused.headers["retry-after"] == "3"
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert len(fake.requests) == 2


def test_upstream_5xx_is_returned_as_an_openai_error(fake):
    fake.fail("503")
    with gateway(fake) as gw, pytest.raises(openai.InternalServerError) as info:
        ask(client(gw), SHORT)
    assert info.value.status_code == 503
    assert info.value.body["message"] == "injected 503"


def test_upstream_timeout_is_a_504(fake):
    fake.fail("slow", delay=2.0)
    with gateway(fake, timeout=0.3) as gw, pytest.raises(openai.APIStatusError) as info:
        ask(client(gw), SHORT)
    assert info.value.status_code == 504
    assert info.value.body["type"] == "upstream_timeout"


def test_malformed_upstream_body_is_a_502(fake):
    fake.fail("malformed")
    with gateway(fake) as gw, pytest.raises(openai.APIStatusError) as info:
        ask(client(gw), SHORT)
    assert info.value.status_code == 502
    assert info.value.body["type"] == "upstream_malformed"


def test_unreachable_upstream_is_a_502(fake):
    with socket_port() as port:
        config = GatewayConfig(upstream=f"http://127.0.0.1:{port}/v1", policy=white_box_policy())
        with GatewayThread(config) as gw, pytest.raises(openai.APIStatusError) as info:
            ask(client(gw), SHORT)
    assert info.value.status_code == 502
    assert info.value.body["type"] == "upstream_unreachable"


class socket_port:
    """A loopback port with nothing listening on it (held bound, not listening)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_a_stream_cut_short_raises_in_the_client_and_carries_no_confidence(fake):
    fake.fail("cut_stream")
    with gateway(fake) as gw:
        seen = []
        with pytest.raises(openai.APIError, match="ended before"):
            for chunk in ask(client(gw), SHORT, stream=True):
                seen.append(chunk)
    assert all("lmuq" not in (c.model_extra or {}) for c in seen)


def test_client_disconnect_mid_stream_frees_its_slot(fake):
    fake.latency = 0.0
    with gateway(fake, max_concurrency=1, max_queue=0) as gw:
        body = {"model": "fake", "messages": [{"role": "user", "content": LONG}], "stream": True}
        with httpx.stream("POST", f"{gw.base_url}/chat/completions", json=body) as r:
            first = next(r.iter_lines())
            assert first.startswith("data: ")
        deadline = time.monotonic() + 5
        while gw.gateway.limiter.active and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gw.gateway.limiter.active == 0
        # with max_concurrency=1 the next request gets the freed slot
        assert ask(client(gw), SHORT).choices[0].model_extra["lmuq"]["decision"] == "accept"


def test_invalid_body_is_a_400(fake):
    with gateway(fake) as gw:
        r = httpx.post(f"{gw.base_url}/chat/completions", content=b"{not json")
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert fake.requests == []


# ------------------------------------------------------------------ adaptive sampling
# Answer "a b | s=-": sp = exp(-1.0) = 0.3679. Samples (the fake without seed) repeat the
# answer, so exact_match's per-sample term is 1. With weights 0.5/0.5 and c = e, after k of
# m = 4 samples the bounds are c- = 0.5 sp + 0.5 k/4 and c+ = 0.5 sp + 0.5 (k + 4 - k)/4.


def sample_calls(fake: FakeOpenAIServer) -> list[int]:
    return [int(r.body.get("n") or 1) for r in fake.requests[1:]]


def test_no_samples_when_the_answer_alone_decides(fake):
    sp = seq_prob(4)
    threshold = 0.5 * sp + 0.5 + 0.01  # above c+ = 0.5 sp + 0.5 at k = 0: never accepted
    with gateway(fake, sampled_policy(threshold)) as gw:
        resp = ask(client(gw), SHORT)
    lmuq = resp.choices[0].model_extra["lmuq"]
    assert lmuq["decision"] == "flag" and lmuq["complete"] is True
    assert lmuq["samples_used"] == 0
    assert sample_calls(fake) == []


def test_sampling_stops_after_the_first_batch_when_that_decides(fake):
    sp = seq_prob(4)
    # after 2 samples: c- = 0.5 sp + 0.25 = 0.434; a threshold of 0.42 is then certain
    with gateway(fake, sampled_policy(0.42)) as gw:
        resp = ask(client(gw), SHORT)
    lmuq = resp.choices[0].model_extra["lmuq"]
    assert lmuq["samples_used"] == 2
    assert lmuq["decision"] == "accept"
    assert lmuq["scores"]["exact_match"] == pytest.approx(1.0)
    assert lmuq["confidence"] == pytest.approx(0.5 * sp + 0.5)
    assert sample_calls(fake) == [2]
    sample_body = fake.requests[1].body
    assert sample_body["temperature"] == 0.7 and sample_body["max_tokens"] == 32


def test_sampling_goes_to_m_when_the_decision_stays_open(fake):
    sp = seq_prob(4)
    # c- after 2 samples is 0.434 < 0.5 <= c+: draw the last 2; then c = 0.5 sp + 0.5 = 0.684
    with gateway(fake, sampled_policy(0.5)) as gw:
        resp = ask(client(gw), SHORT)
    lmuq = resp.choices[0].model_extra["lmuq"]
    assert lmuq["samples_used"] == 4
    assert lmuq["confidence"] == pytest.approx(0.5 * sp + 0.5)
    assert lmuq["decision"] == "accept"
    assert sample_calls(fake) == [2, 2]


def test_a_policy_of_sample_scorers_only_samples_from_the_start(fake):
    # exact_match alone: unknown ([0, 1]) before any sample; after 2 agreeing of m = 4 its
    # final value lies in [0.5, 1], not yet >= 0.6; after 4 it is 1.0
    p = TrustPolicy(
        ("exact_match",),
        (1.0,),
        IDENTITY,
        0.1,
        0.6,
        sampling=PolicySampling(num_samples=4, batch_size=2),
    )
    with gateway(fake, p) as gw:
        resp = ask(client(gw), SHORT)
    lmuq = resp.choices[0].model_extra["lmuq"]
    assert (lmuq["samples_used"], lmuq["confidence"], lmuq["decision"]) == (4, 1.0, "accept")
    assert sample_calls(fake) == [2, 2]
    assert "logprobs" not in fake.requests[0].body  # exact_match reads no log-probs


def test_a_server_that_refuses_n_gets_one_call_per_sample(fake):
    fake.n_mode = "reject"
    with gateway(fake, sampled_policy(0.42)) as gw:
        resp = ask(client(gw), SHORT)
    assert resp.choices[0].model_extra["lmuq"]["samples_used"] == 2
    assert sample_calls(fake) == [2, 1, 1]  # the refused n=2, then two single calls


def test_failed_sampling_is_said_and_never_accepted(fake):
    fake.fail("500", after=1)  # the answer passes; the first sample call fails
    with gateway(fake, sampled_policy(0.42)) as gw:
        resp = ask(client(gw), SHORT)
    lmuq = resp.choices[0].model_extra["lmuq"]
    assert lmuq["decision"] == "flag"
    assert lmuq["complete"] is False
    assert lmuq["samples_used"] == 0
    assert "drawing samples failed" in lmuq["error"]
    sp = seq_prob(4)
    assert lmuq["confidence_bounds"] == pytest.approx([0.5 * sp, 0.5 * sp + 0.5])


def test_eager_samples_are_requested_with_the_answer(fake):
    fake.latency = 1.0
    with gateway(fake, sampled_policy(0.42), eager_samples=True) as gw:
        resp = ask(client(gw), SHORT)
    lmuq = resp.choices[0].model_extra["lmuq"]
    assert lmuq["samples_used"] == 2 and lmuq["decision"] == "accept"
    answer, batch = fake.requests
    assert int(batch.body["n"]) == 2
    # sent before the answer (1 s of upstream latency) came back, not after it
    assert batch.at - answer.at < 0.5


def test_eager_samples_not_needed_are_dropped(fake):
    sp = seq_prob(4)
    with gateway(fake, sampled_policy(0.5 * sp + 0.51), eager_samples=True) as gw:
        resp = ask(client(gw), SHORT)
        ok = ask(client(gw), SHORT)  # the gateway is fine after dropping the prefetch
    assert resp.choices[0].model_extra["lmuq"]["samples_used"] == 0
    assert ok.choices[0].model_extra["lmuq"]["decision"] == "flag"


# ------------------------------------------------------------------ operations


def test_healthz_and_metrics(fake):
    with gateway(fake) as gw:
        c = client(gw)
        ask(c, SHORT)
        ask(c, LONG)
        ask(c, SHORT)
        health = httpx.get(f"{gw.root}/healthz").json()
        metrics = httpx.get(f"{gw.root}/metrics").text
    assert health["status"] == "ok" and health["policy_id"] == white_box_policy().id
    lines = dict(
        line.rsplit(" ", 1) for line in metrics.splitlines() if line and not line.startswith("#")
    )
    assert float(lines['lmuq_gateway_decisions_total{decision="accept"}']) == 2
    assert float(lines['lmuq_gateway_decisions_total{decision="flag"}']) == 1
    assert float(lines['lmuq_gateway_requests_total{endpoint="chat",status="200"}']) == 3
    assert float(lines['lmuq_gateway_request_seconds_count{endpoint="chat"}']) == 3


def test_lmuq_serve_command_serves_and_shuts_down_on_sigterm(fake, tmp_path):
    import socket

    policy_file = white_box_policy().save(tmp_path / "policy.json")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lmuq",
            "serve",
            "--upstream",
            fake.base_url,
            "--policy",
            str(policy_file),
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--audit",
            str(tmp_path / "audit.sqlite"),
            "--hash-prompts",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_healthy(proc, port, timeout=60)
        c = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-x", max_retries=0)
        assert ask(c, SHORT).choices[0].model_extra["lmuq"]["decision"] == "accept"
        # graceful shutdown: a request in flight when SIGTERM arrives is still answered
        fake.latency = 1.0
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(ask, c, SHORT)
            deadline = time.monotonic() + 10
            while fake.count() < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            proc.terminate()
            answer = pending.result(timeout=30)
        assert answer.choices[0].model_extra["lmuq"]["decision"] == "accept"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    # uvicorn re-raises the SIGTERM it handled once it has shut down
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "sk-x" not in err
    # both answers were in the audit log when the gateway had shut down
    from lmuq.storage.audit import load_audit

    rows = load_audit(tmp_path / "audit.sqlite")
    assert [(r["decision"], r["prompt"]) for r in rows] == [("accept", None)] * 2


def test_a_missing_serve_extra_names_it(monkeypatch):
    from lmuq.app.serve.app import create_app
    from lmuq.extras import MissingExtraError

    monkeypatch.setitem(sys.modules, "starlette", None)  # as if not installed
    config = GatewayConfig(upstream="http://127.0.0.1:1/v1", policy=white_box_policy())
    with pytest.raises(MissingExtraError, match=r"lmuq\[serve\]"):
        create_app(config)


# ------------------------------------------------------------------ audit log


def test_every_answer_is_written_to_the_audit_log_and_exported(fake, tmp_path):
    import json

    from lmuq.app.cli import main
    from lmuq.storage.audit import load_audit
    from lmuq.storage.run_store import RunStore

    store = tmp_path / "runs.sqlite"
    with gateway(fake, audit=str(store)) as gw:
        c = client(gw)
        ask(c, SHORT)
        list(ask(c, LONG, stream=True))
        gw.gateway.audit.flush()
        rows = load_audit(store)
    assert [(r["prompt"], r["response"], r["decision"], r["stream"]) for r in rows] == [
        (SHORT, "a b | s=-", "accept", False),
        (LONG, "a b c d e f | s=-", "flag", True),
    ]
    assert rows[0]["confidence"] == pytest.approx(seq_prob(4))
    assert rows[1]["scores"] == {"sequence_probability": pytest.approx(seq_prob(8))}
    assert rows[0]["prompt_sha256"] == hashlib.sha256(SHORT.encode()).hexdigest()
    assert all(r["policy_id"] == white_box_policy().id for r in rows)
    with RunStore(store) as st:  # still a run store that lmuq's other commands open
        assert st.runs() == []
    raw = store.read_bytes()
    assert b"sk-test-123" not in raw  # the client's key is never stored

    out = tmp_path / "audit.jsonl"
    assert main(["export", str(store), "--audit", "-o", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["decision"] for line in lines] == ["accept", "flag"]


def test_hashed_prompts_keep_no_prompt_text(fake, tmp_path):
    from lmuq.storage.audit import load_audit

    store = tmp_path / "runs.sqlite"
    with gateway(fake, audit=str(store), hash_prompts=True) as gw:
        ask(client(gw), "secret question text")
        gw.gateway.audit.flush()
    (row,) = load_audit(store)
    assert row["prompt"] is None
    assert row["prompt_sha256"] == hashlib.sha256(b"secret question text").hexdigest()
    # the answer is kept (it is what was served); the prompt's text appears only in it
    assert row["response"] == "secret question text | s=-"
