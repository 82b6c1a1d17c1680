"""The LangChain backend on the shared runner: never mutates the user's model, retries only
transient provider errors, keeps rows in order, reads log-probs from response metadata."""

from __future__ import annotations

import asyncio
import random
import time
from urllib.parse import urlsplit

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, SecretStr

from lmuq.backends import RetryPolicy
from lmuq.backends.langchain import LangChainBackend, is_langchain_chat_model
from lmuq.types import SamplingParams

FAST = RetryPolicy(max_retries=3, base_delay=0.001, max_delay=0.01, seed=0)
PARAMS = SamplingParams(temperature=1.3)


class ProviderRateLimitError(Exception):
    """Like openai/anthropic's RateLimitError: a status code and response headers."""

    def __init__(self, retry_after: str) -> None:
        super().__init__("Rate limit reached")
        self.status_code = 429
        self.response = type("Resp", (), {"headers": {"retry-after": retry_after}})()


class ServiceUnavailable(Exception):
    status_code = 503


class FakeChat(BaseChatModel):
    """Answers '<prompt> @<temperature> lp=<logprobs>' after a random delay; scripted
    failures per prompt: ``failures[prompt]`` is a list of exceptions to raise first."""

    temperature: float = 0.7
    logprobs: bool | None = None
    top_logprobs: int | None = None
    latency: float = 0.0
    failures: dict = Field(default_factory=dict)
    calls: dict = Field(default_factory=dict)
    completions_format: bool = False

    @property
    def _llm_type(self) -> str:
        return "fake-chat"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        raise NotImplementedError("async only")

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
        prompt = messages[-1].content
        self.calls[prompt] = self.calls.get(prompt, 0) + 1
        await asyncio.sleep(random.random() * self.latency)
        pending = self.failures.get(prompt) or []
        if pending:
            raise pending.pop(0)
        text = f"{prompt} @{self.temperature} lp={self.logprobs}"
        words = text.split()
        if self.completions_format:
            lp = {
                "tokens": words,
                "token_logprobs": [-0.25] * len(words),
                "top_logprobs": [{w: -0.25, "z": -2.0, "y": -1.0} for w in words],
            }
        else:
            lp = {
                "content": [
                    {
                        "token": w,
                        "logprob": -0.5,
                        "top_logprobs": [
                            {"token": "x", "logprob": -1.5},
                            {"token": w, "logprob": -0.5},
                        ],
                    }
                    for w in words
                ]
            }
        msg = AIMessage(content=text, response_metadata={"logprobs": lp, "finish_reason": "length"})
        return ChatResult(generations=[ChatGeneration(message=msg)])


SEEN: list[dict] = []


class BindOnlyChat(BaseChatModel):
    """No temperature field: settings can only arrive as bound call kwargs."""

    @property
    def _llm_type(self) -> str:
        return "bind-only"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        SEEN.append(dict(kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="ok"))])


def test_the_users_model_is_never_mutated_and_the_call_sees_the_settings():
    llm = FakeChat(temperature=0.2, logprobs=None, top_logprobs=None)
    b = LangChainBackend(llm, retry=FAST)
    out = b.generate(["hi"], PARAMS, n=2)
    assert (llm.temperature, llm.logprobs, llm.top_logprobs) == (0.2, None, None)
    # The copy the call ran on had this call's temperature and asked for log-probs.
    assert [g.text for g in out[0]] == ["hi @1.3 lp=True"] * 2
    off = LangChainBackend(llm, retry=FAST, logprobs=False).generate(["hi"], PARAMS)
    assert off[0][0].text == "hi @1.3 lp=None"


def test_a_model_without_fields_gets_its_settings_bound_per_call():
    llm = BindOnlyChat()
    SEEN.clear()
    LangChainBackend(llm, logprobs=True, top_logprobs=3).generate(["hi"], PARAMS)
    assert SEEN == [{"temperature": 1.3, "logprobs": True, "top_logprobs": 3}]


def test_transient_provider_errors_are_retried_and_others_are_not():
    llm = FakeChat(
        failures={
            "rate": [ProviderRateLimitError("0.05"), ProviderRateLimitError("0.05")],
            "down": [ServiceUnavailable("overloaded")],
            "timeout": [TimeoutError("read timed out")],
            "bug": [ValueError("invalid prompt")],
        },
        calls={},
    )
    b = LangChainBackend(llm, retry=FAST)
    start = time.monotonic()
    out = b.generate(["rate", "down", "timeout", "bug", "fine"], PARAMS)
    assert time.monotonic() - start >= 0.1  # two Retry-After waits of 0.05 s
    assert [row[0].error is None for row in out] == [True, True, True, False, True]
    assert out[0][0].text == "rate @1.3 lp=True"
    assert "ValueError after 1 attempt: ValueError: invalid prompt" in out[3][0].error
    assert llm.calls == {"rate": 3, "down": 2, "timeout": 2, "bug": 1, "fine": 1}
    assert b.stats.retries == 4 and b.stats.failed == 1
    assert b.stats.errors_by_reason == {
        "http_429": 2,
        "http_503": 1,
        "timeout": 1,
        "ValueError": 1,
    }


def test_a_call_past_its_timeout_is_retried_then_recorded():
    class Slow(FakeChat):
        async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
            await asyncio.sleep(5)

    b = LangChainBackend(Slow(), timeout=0.05, retry=RetryPolicy(max_retries=1, base_delay=0.001))
    start = time.monotonic()
    out = b.generate(["q"], PARAMS)
    assert time.monotonic() - start < 4.0  # far below one uncut 5 s call
    assert "timeout after 2 attempts" in out[0][0].error


def test_rows_and_samples_stay_in_order_under_random_latency():
    random.seed(1)
    llm = FakeChat(latency=0.02)
    prompts = [f"p{i}" for i in range(15)]
    ticks = []
    out = LangChainBackend(llm, max_concurrency=4).generate(
        prompts, PARAMS, n=3, progress=ticks.append
    )
    assert [[g.text.split()[0] for g in row] for row in out] == [[p] * 3 for p in prompts]
    assert ticks == [1] * 15


def test_logprobs_are_read_in_chat_and_completions_formats():
    chat = LangChainBackend(FakeChat(), top_logprobs=5).generate(["a b"], PARAMS)[0][0]
    assert chat.logprobs.tolist() == [-0.5] * 4  # "a b @1.3 lp=True"
    assert chat.top_logprobs.tolist() == [[-0.5, -1.5]] * 4  # sorted descending
    assert chat.tokens[:2] == ("a", "b") and chat.finish_reason == "length"
    comp = LangChainBackend(FakeChat(completions_format=True), top_logprobs=2).generate(
        ["a"], PARAMS
    )[0][0]
    assert comp.logprobs.tolist() == [-0.25] * 3
    assert comp.top_logprobs.tolist() == [[-0.25, -1.0]] * 3  # truncated to 2


def test_max_calls_per_min_paces_without_blocking_the_loop(monkeypatch):
    def blocking_sleep(seconds):
        raise AssertionError("time.sleep would block the event loop")

    monkeypatch.setattr(time, "sleep", blocking_sleep)

    async def main():
        b = LangChainBackend(FakeChat(), max_calls_per_min=1200)  # 0.05 s apart
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        t = asyncio.create_task(ticker())
        start = time.monotonic()
        await b.agenerate(["a", "b"], PARAMS, n=3)
        elapsed = time.monotonic() - start
        t.cancel()
        return elapsed, ticks

    elapsed, ticks = asyncio.run(main())
    assert elapsed >= 0.24  # 6 calls: 5 gaps of 0.05 s
    assert ticks > 6  # the loop ran between (and during) the waits, not once per call


def test_is_langchain_chat_model_and_type_errors():
    assert is_langchain_chat_model(FakeChat())
    assert not is_langchain_chat_model(object())
    with pytest.raises(TypeError, match="BaseChatModel"):
        LangChainBackend(object())


class KeyedChat(BaseChatModel):
    """A provider model that keeps its credentials in fields (pydantic's ``SecretStr``, a
    plain string named like a credential, a header, a URL's userinfo) and whose errors echo
    them."""

    api_key: SecretStr
    session_token: str = ""
    default_headers: dict = Field(default_factory=dict)
    endpoint: str = ""

    @property
    def _llm_type(self) -> str:
        return "keyed"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        raise NotImplementedError("async only")

    async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
        raise PermissionError(
            f"401: key {self.api_key.get_secret_value()} with token {self.session_token} "
            f"and header {self.default_headers['X-Api-Key']} rejected by "
            f"{urlsplit(self.endpoint).hostname} for password {urlsplit(self.endpoint).password}"
        )


def test_the_models_credentials_are_masked_in_every_recorded_error():
    secrets = ["key-Aq3xV9mT2pL7", "tok-Wd8nR4cY6hK1", "hdr-Jf5sB2gU8eN3", "pw-Kc7vM1qZ"]
    llm = KeyedChat(
        api_key=SecretStr(secrets[0]),
        session_token=secrets[1],
        default_headers={"X-Api-Key": secrets[2]},
        endpoint=f"http://bob:{secrets[3]}@host",
    )
    b = LangChainBackend(llm, retry=FAST)
    out = b.generate(["q"], PARAMS, n=2)
    for g in out[0]:
        assert g.failed and "PermissionError" in g.error
        assert g.error.count("***") == 4 and "rejected by host" in g.error
        assert not any(secret in g.error for secret in secrets)
    assert not any(secret in repr(b) for secret in secrets)


class PartsChat(BaseChatModel):
    """Answers with the content ``contents[prompt]``: a string or a list of parts."""

    contents: dict = Field(default_factory=dict)
    calls: dict = Field(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "parts"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        prompt = messages[-1].content
        self.calls[prompt] = self.calls.get(prompt, 0) + 1
        msg = AIMessage(content=self.contents[prompt])
        return ChatResult(generations=[ChatGeneration(message=msg)])


def test_content_parts_are_joined_and_a_non_text_part_fails_only_its_row():
    llm = PartsChat(
        contents={
            "parts": [{"type": "text", "text": "Par"}, "is", {"type": "text", "text": "!"}],
            "image": [
                {"type": "text", "text": "Here:"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
            "plain": "Rome",
            "no text": [{"type": "text"}],  # unreadable, not unsupported
        }
    )
    b = LangChainBackend(llm, retry=FAST)
    out = b.generate(["parts", "image", "plain", "no text"], PARAMS)
    assert out[0][0].text == "Paris!" and out[0][0].error is None
    assert out[2][0].text == "Rome"
    failed = out[1][0]
    assert failed.failed and "unsupported_content after 1 attempt" in failed.error
    assert "'image_url'" in failed.error
    assert llm.calls["image"] == 1  # not retried
    assert "malformed_response after 4 attempts" in out[3][0].error
    assert "(type 'text') has no 'text' string" in out[3][0].error


class UnreadableChat(BaseChatModel):
    """Fails the way an OpenAI-compatible integration does on an answer it cannot read:
    ``failures[prompt]`` lists the exceptions to raise before answering."""

    failures: dict = Field(default_factory=dict)
    calls: dict = Field(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "unreadable"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        prompt = messages[-1].content
        self.calls[prompt] = self.calls.get(prompt, 0) + 1
        pending = self.failures.get(prompt) or []
        if pending:
            raise pending.pop(0)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="ok"))])


def test_a_provider_that_cannot_read_a_200_answer_gets_a_malformed_response_retried():
    import json

    bad_json = json.JSONDecodeError("Unterminated string", '{"choices": [{"mess', 14)
    bad_json.response = type("Resp", (), {"status_code": 200, "headers": {}})()
    llm = UnreadableChat(
        failures={
            "json": [bad_json],  # as langchain-openai raises it: the 200 response attached
            "no message": [AttributeError("'NoneType' object has no attribute 'get'")],
            "no choices": [KeyError("Response missing 'choices' key")],
        }
    )
    b = LangChainBackend(llm, retry=FAST)
    out = b.generate(["json", "no message", "no choices"], PARAMS)
    assert [row[0].text for row in out] == ["ok"] * 3
    assert b.stats.errors_by_reason == {"malformed_response": 3}
    assert llm.calls == {"json": 2, "no message": 2, "no choices": 2}
