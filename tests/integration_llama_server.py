"""Integration: the OpenAI-compatible backend against llama.cpp's OpenAI-compatible server
(``python -m llama_cpp.server``) serving the embedded SmolLM2 GGUF.

Not collected by the default test run (the file name does not start with ``test_``):
building ``llama-cpp-python`` from source takes about 7 minutes on 2 cores, too slow for
every CI run. ``scripts/llama_server_integration.sh`` builds it in its own virtual
environment, starts the server and runs this file with
``LMUQ_LLAMA_SERVER_URL=http://127.0.0.1:PORT/v1 pytest tests/integration_llama_server.py``.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from lmuq.backends import RetryPolicy
from lmuq.backends.openai_compat import OpenAICompatibleBackend
from lmuq.scoring import score
from lmuq.types import SamplingParams

URL = os.environ.get("LMUQ_LLAMA_SERVER_URL")
if not URL:
    pytest.fail(
        "set LMUQ_LLAMA_SERVER_URL (run scripts/llama_server_integration.sh)",
        pytrace=False,
    )

# llama.cpp samples from a truncated distribution by default (top-k 40, min-p 0.05):
# ask for the full one, as lmuq's SamplingParams(top_k=None) means.
FULL = {"top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0}
GREEDY = SamplingParams(temperature=0.0, max_new_tokens=12)
QUESTIONS = [
    "What is the capital of France? Answer with just the name.",
    "What is 2 + 2? Answer with just the number.",
    "What color is the sky on a clear day? One word.",
    "Name a planet in the solar system. One word.",
]


def _backend(**kw) -> OpenAICompatibleBackend:
    kw.setdefault("extra_body", FULL)
    kw.setdefault("timeout", 120.0)
    kw.setdefault("retry", RetryPolicy(max_retries=2, base_delay=0.2))
    return OpenAICompatibleBackend(URL, "smollm2", **kw)


def test_chat_answer_with_logprobs():
    g = _backend().generate(QUESTIONS[:1], GREEDY)[0][0]
    assert g.error is None, g.error
    assert "Paris" in g.text
    assert g.finish_reason in ("stop", "length")
    assert g.logprobs is not None and g.logprobs.ndim == 1 and len(g.logprobs) >= 1
    assert np.all(g.logprobs <= 1e-6)
    assert g.top_logprobs.shape == (len(g.logprobs), 5)
    assert np.all(np.diff(g.top_logprobs, axis=1) <= 1e-9)  # descending
    # Greedy: the chosen token is the most likely one.
    np.testing.assert_allclose(g.logprobs, g.top_logprobs[:, 0], atol=1e-4)


def test_concurrent_rows_match_one_by_one_answers():
    b = _backend(max_concurrency=4)
    together = b.generate(QUESTIONS, GREEDY)
    alone = [b.generate([q], GREEDY)[0][0].text for q in QUESTIONS]
    assert [row[0].text for row in together] == alone  # nothing shifted


def test_samples_fill_every_row_even_though_the_server_ignores_n():
    b = _backend(max_concurrency=2)
    params = SamplingParams(temperature=1.0, max_new_tokens=8, seed=1)
    out = b.generate(QUESTIONS[:2], params, n=3)
    assert [len(row) for row in out] == [3, 3]
    assert all(g.error is None and g.logprobs is not None for row in out for g in row)
    # llama_cpp.server drops n: "auto" notices the single choice and stops asking.
    assert not b.n_supported
    res = score(
        [_set(q, row) for q, row in zip(QUESTIONS[:2], out, strict=True)],
        ["normalized_probability", "exact_match"],
    )
    assert all(0.0 <= v <= 1.0 for v in res.columns["normalized_probability"])


def test_completions_mode_returns_token_logprobs():
    g = _backend(mode="completions", top_logprobs=3).generate(
        ["The capital of France is"], SamplingParams(temperature=0.0, max_new_tokens=4)
    )[0][0]
    assert g.error is None, g.error
    assert g.logprobs is not None and len(g.logprobs) >= 1
    assert g.top_logprobs.shape[1] == 3


def test_a_dead_server_gives_error_rows_not_a_crash():
    b = OpenAICompatibleBackend(
        "http://127.0.0.1:9/v1", "x", timeout=2.0, retry=RetryPolicy(max_retries=1, base_delay=0.01)
    )
    out = b.generate(["a", "b"], GREEDY)
    assert all(row[0].failed and "connection" in row[0].error for row in out)
    assert math.isclose(b.stats.failed, 2)


def _set(prompt, row):
    from lmuq.types import SampleSet

    return SampleSet(prompt=prompt, answer=row[0], samples=row[1:])
