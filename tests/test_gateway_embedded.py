"""`lmuq serve` without --upstream (issue 11): the gateway in front of the embedded model,
driven by the official ``openai`` client (sync, streaming, async).

Every expected value is computed from the model directly: the greedy answer through
:class:`TransformersBackend` on the same messages, and its sequence probability
exp(Σ_t log p_t) over its tokens, end-of-sequence included (what the policy was calibrated
on in ``lmuq demo``).
"""

from __future__ import annotations

import asyncio
import math

import httpx
import openai
import pytest

from gateway_server import GatewayThread, wait_until_healthy
from lmuq.app.serve.config import GatewayConfig
from lmuq.app.serve.local_model import LocalModelUpstream
from lmuq.chat import as_prompt
from lmuq.evaluation.policy import Calibrator, PolicySampling, TrustPolicy
from lmuq.types import SamplingParams

pytestmark = pytest.mark.model

IDENTITY = Calibrator("isotonic", x=(0.0, 1.0), y=(0.0, 1.0))
MESSAGES = [{"role": "user", "content": "What is the capital of France? Answer in a few words."}]
MAX_TOKENS = 12


@pytest.fixture(scope="module")
def local(default_model):
    from lmuq.backends.transformers import TransformersBackend

    tokenizer, model = default_model
    backend = TransformersBackend(model, tokenizer, top_logprobs=20)
    with LocalModelUpstream(backend, "SmolLM2-135M-Instruct") as up:
        yield up, backend


def _greedy(backend):
    params = SamplingParams(temperature=0.0, max_new_tokens=MAX_TOKENS)
    return backend.generate([as_prompt(MESSAGES)], params)[0][0]


def _gateway(up, threshold: float, sampled: bool = False) -> GatewayThread:
    if sampled:
        policy = TrustPolicy(
            ("sequence_probability", "exact_match"),
            (0.5, 0.5),
            IDENTITY,
            0.1,
            threshold,
            sampling=PolicySampling(
                num_samples=2, batch_size=2, temperature=0.0, max_new_tokens=MAX_TOKENS
            ),
        )
    else:
        policy = TrustPolicy(("sequence_probability",), (1.0,), IDENTITY, 0.1, threshold)
    return GatewayThread(GatewayConfig(upstream=up.base_url, policy=policy))


def _client(gw) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)


def test_the_gateway_serves_the_embedded_model_with_its_confidence(local):
    up, backend = local
    expected = _greedy(backend)
    p = math.exp(expected.logprobs.sum())
    with _gateway(up, threshold=p / 2) as gw:
        raw = _client(gw).chat.completions.with_raw_response.create(
            model="SmolLM2-135M-Instruct",
            messages=MESSAGES,
            temperature=0,
            max_tokens=MAX_TOKENS,
            logprobs=True,
            top_logprobs=3,
        )
        models = _client(gw).models.list()
    resp = raw.parse()
    choice = resp.choices[0]
    assert choice.message.content == expected.text
    lmuq = choice.model_extra["lmuq"]
    assert lmuq["scores"]["sequence_probability"] == pytest.approx(p, rel=1e-6)
    assert lmuq["confidence"] == pytest.approx(p, rel=1e-6)
    assert lmuq["decision"] == "accept" and raw.headers["x-lmuq-decision"] == "accept"
    # the log-probs are the model's own, end-of-sequence token last
    entries = choice.logprobs.content
    assert [e.logprob for e in entries] == pytest.approx(list(expected.logprobs), abs=1e-9)
    assert entries[-1].token == backend.tokenizer.decode([expected.token_ids[-1]])
    assert all(len(e.top_logprobs) == 3 for e in entries)
    assert [m.id for m in models.data] == ["SmolLM2-135M-Instruct"]


def test_an_answer_below_the_threshold_is_flagged(local):
    up, backend = local
    p = math.exp(_greedy(backend).logprobs.sum())
    with _gateway(up, threshold=min(1.0, p * 1.5)) as gw:
        resp = _client(gw).chat.completions.create(
            model="m", messages=MESSAGES, temperature=0, max_tokens=MAX_TOKENS
        )
    assert resp.choices[0].model_extra["lmuq"]["decision"] == "flag"


def test_streaming_from_the_embedded_model(local):
    up, backend = local
    expected = _greedy(backend)
    p = math.exp(expected.logprobs.sum())
    with _gateway(up, threshold=p / 2) as gw:
        stream = _client(gw).chat.completions.create(
            model="m", messages=MESSAGES, temperature=0, max_tokens=MAX_TOKENS, stream=True
        )
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected.text
    final = [c.model_extra["lmuq"] for c in chunks if c.model_extra and "lmuq" in c.model_extra]
    assert final and final[-1][0]["confidence"] == pytest.approx(p, rel=1e-6)


def test_samples_from_the_embedded_model_with_the_async_client(local):
    up, backend = local
    expected = _greedy(backend)
    p = math.exp(expected.logprobs.sum())
    # the confidence lies in [p / 2, (p + 1) / 2] whatever the samples say; a threshold in
    # the middle makes the gateway draw them. Greedy samples repeat the answer: exact_match
    # 1, so the confidence is (p + 1) / 2 and the answer is accepted.
    with _gateway(up, threshold=p / 2 + 0.25, sampled=True) as gw:

        async def ask():
            async with openai.AsyncOpenAI(base_url=gw.base_url, api_key="x", max_retries=0) as c:
                return await c.chat.completions.create(
                    model="m", messages=MESSAGES, temperature=0, max_tokens=MAX_TOKENS
                )

        resp = asyncio.run(ask())
    lmuq = resp.choices[0].model_extra["lmuq"]
    assert lmuq["scores"]["exact_match"] == 1.0
    assert lmuq["confidence"] == pytest.approx((p + 1) / 2, rel=1e-6)
    assert lmuq["samples_used"] == 2 and lmuq["decision"] == "accept"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"messages": MESSAGES, "n": 0}, "n must be an integer"),
        ({"messages": MESSAGES, "stop": ["\n"]}, "does not support stop"),
        ({"messages": []}, "empty message list"),
        ({"messages": MESSAGES, "temperature": 5}, "temperature must be"),
        ({"messages": MESSAGES, "logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ],
)
def test_the_local_server_refuses_what_it_cannot_do(local, body, match):
    up, _ = local
    r = httpx.post(f"{up.base_url}/chat/completions", json=body, timeout=30)
    assert r.status_code == 400
    assert match in r.json()["error"]["message"]


def test_lmuq_serve_without_upstream_serves_the_embedded_model(default_model, tmp_path):
    """The README's third command, end to end: `lmuq serve --policy P` with no upstream."""
    import signal
    import socket
    import subprocess
    import sys

    # default_model: the converted model is in the session's cache, which the child reads
    policy = TrustPolicy(("sequence_probability",), (1.0,), IDENTITY, 0.1, 0.0)
    policy_file = policy.save(tmp_path / "policy.json")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "lmuq", "serve", "--policy", str(policy_file)]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_healthy(proc, port, timeout=180)
        c = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0)
        resp = c.chat.completions.create(
            model="m", messages=MESSAGES, temperature=0, max_tokens=MAX_TOKENS
        )
        lmuq = resp.choices[0].model_extra["lmuq"]
        assert resp.choices[0].message.content.strip()
        assert 0 < lmuq["confidence"] < 1 and lmuq["decision"] == "accept"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "serving SmolLM2-135M-Instruct" in err


def test_serve_refuses_a_model_with_an_upstream(tmp_path, capsys):
    from lmuq.app.cli import main

    policy = TrustPolicy(("sequence_probability",), (1.0,), IDENTITY, 0.1, 0.5)
    path = policy.save(tmp_path / "policy.json")
    args = ["serve", "--policy", str(path), "--upstream", "http://127.0.0.1:9/v1"]
    with pytest.raises(SystemExit) as exited:
        main([*args, "--model", "some/folder"])
    assert exited.value.code == 2
    assert "--model is for serving a local model" in capsys.readouterr().err
