"""LangChain chat models (``BaseChatModel``) as a generation backend.

The user's model object is never mutated (UQLM sets ``temperature`` and ``logprobs`` on it
and leaves them changed): per-call settings go to a copy (``model_copy(update=...)``) when
the model has those fields, else through ``bind``. Calls run on the shared
:class:`~lmuq.backends.runner.GenerationRunner`: bounded concurrency, a non-blocking
``max_calls_per_min`` token bucket, a per-call timeout, and retries with backoff on provider
exceptions that look transient (rate limits, timeouts, connection errors, 5xx statuses)
and on answers the integration could not read (a 200 with bad JSON, a choice without its
message: the data-shape errors it raises are malformed responses, see
:func:`~lmuq.backends.classify.classify_provider_exception`); any other exception is not
retried. A call that still fails becomes a :class:`Generation` with ``error`` set on its own
row, its message scrubbed of every credential the model holds (see
:class:`LangChainBackend`). A message whose content is a list of parts has its text parts
joined; a part that is not text fails that call's row
(:class:`~lmuq.backends.errors.UnsupportedContentError`, not retried). Log-probs are read
from ``response_metadata["logprobs"]`` when the provider returns them (OpenAI's chat or
completions format).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from lmuq.backends.base import GenOptions, Prompts, check_generate_args, generate_options
from lmuq.backends.call_stats import CallStats
from lmuq.backends.classify import classify_provider_exception
from lmuq.backends.errors import MalformedResponseError
from lmuq.backends.openai_format import (
    content_text,
    map_finish_reason,
    parse_chat_logprobs,
    parse_completion_logprobs,
)
from lmuq.backends.retry import RetryPolicy
from lmuq.backends.runner import CallJob, GenerationRunner
from lmuq.backends.sync import SyncFromAsync
from lmuq.chat import chat_messages
from lmuq.extras import require
from lmuq.secrets import Secret, is_secret_key, redact_text, url_credentials
from lmuq.types import Generation, SamplingParams

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["LangChainBackend", "is_langchain_chat_model", "model_credentials"]


def is_langchain_chat_model(obj: Any) -> bool:
    """Whether ``obj`` is a ``langchain_core`` ``BaseChatModel`` (False without LangChain)."""
    try:
        from langchain_core.language_models import BaseChatModel
    except ImportError:
        return False
    return isinstance(obj, BaseChatModel)


class LangChainBackend(SyncFromAsync):
    """Generate with a LangChain chat model.

    A recorded error (a provider's message may echo the key it was sent) is scrubbed of the
    model's credentials: the values of its ``SecretStr`` fields (``openai_api_key``,
    ``api_key``, ...), of any field whose name says it holds a credential (see
    :func:`~lmuq.secrets.is_secret_key`, also inside mappings such as ``default_headers``),
    the userinfo of any URL in its fields, and anything shaped like a credential (see
    :func:`~lmuq.secrets.redact_text`). A key the model only gets from a callable at call
    time is masked only when it has such a shape.

    Args:
        model: a ``langchain_core`` ``BaseChatModel``; never modified.
        system_prompt: sent as a system message before each prompt (None: none).
        max_concurrency: calls in flight at once.
        max_calls_per_min: sustained call rate (None: unlimited), never blocking the loop.
        timeout: seconds per attempt (None: no limit).
        retry: the :class:`RetryPolicy` (default: 4 retries with backoff and jitter). A
            ``KeyError`` / ``IndexError`` / ``AttributeError`` / ``TypeError`` from the model
            counts as an answer it could not read, retried per ``retry_malformed`` (also when
            it is a bug in a custom model: set ``retry_malformed=False`` to fail at once).
        logprobs: ask the provider for log-probs. ``None`` (default) asks only models that
            have a ``logprobs`` field (e.g. ``ChatOpenAI``), through a copy of the model.
        top_logprobs: alternatives per token asked for alongside ``logprobs``.
        use_n: draw several samples of a prompt in one call through the model's ``n``
            field (UQLM's ``use_n_param``; e.g. ``ChatOpenAI``). A model without an ``n``
            field is refused; a call that returns fewer generations than asked has the rest
            drawn one call each.
        max_n: the most samples asked of one call with ``use_n``.
        structured_response / output_extractor: UQLM's structured output: the model is
            called as ``model.with_structured_output(structured_response)`` (a pydantic
            class, a TypedDict or a JSON schema dict) and ``output_extractor(result)``
            gives the response text (a str). Both or neither; such replies have no
            log-probs, and each sample is its own call.
    """

    def __init__(
        self,
        model: Any,
        *,
        system_prompt: str | None = None,
        max_concurrency: int = 8,
        max_calls_per_min: float | None = None,
        timeout: float | None = 120.0,
        retry: RetryPolicy | None = None,
        logprobs: bool | None = None,
        top_logprobs: int = 5,
        use_n: bool = False,
        max_n: int = 128,
        structured_response: Any = None,
        output_extractor: Callable[[Any], str] | None = None,
    ) -> None:
        require("langchain_core", "langchain", "LangChain chat models")
        if not is_langchain_chat_model(model):
            raise TypeError(f"model must be a LangChain BaseChatModel, got {type(model).__name__}")
        if not isinstance(top_logprobs, int) or top_logprobs < 0:
            raise ValueError(f"top_logprobs must be an int >= 0, got {top_logprobs!r}")
        if use_n and "n" not in getattr(type(model), "model_fields", {}):
            raise ValueError(
                f"use_n=True needs a chat model with an 'n' field (e.g. ChatOpenAI); "
                f"{type(model).__name__} has none"
            )
        if not isinstance(max_n, int) or max_n < 1:
            raise ValueError(f"max_n must be an int >= 1, got {max_n!r}")
        if (structured_response is None) != (output_extractor is None):
            raise ValueError(
                "structured_response and output_extractor go together: give both or neither"
            )
        if output_extractor is not None and not callable(output_extractor):
            raise TypeError("output_extractor must be a callable: structured result -> str")
        if structured_response is not None and not callable(
            getattr(model, "with_structured_output", None)
        ):
            raise TypeError(f"{type(model).__name__} has no with_structured_output()")
        self.structured_response = structured_response
        self.output_extractor = output_extractor
        self.model = model
        self.use_n = use_n
        self.max_n = max_n
        self.system_prompt = system_prompt
        self.logprobs = logprobs
        self.top_logprobs = top_logprobs
        self.runner = GenerationRunner(
            max_concurrency=max_concurrency,
            max_calls_per_min=max_calls_per_min,
            retry=retry,
            timeout=timeout,
            classify=classify_provider_exception,
            redact=self._redact,
        )

    @property
    def max_concurrency(self) -> int:
        return self.runner.max_concurrency

    @property
    def max_calls_per_min(self) -> float | None:
        return self.runner.max_calls_per_min

    @property
    def name(self) -> str:
        return str(
            getattr(self.model, "model_name", None)
            or getattr(self.model, "model", None)
            or type(self.model).__name__
        )

    @property
    def stats(self) -> CallStats:
        """Counters over every call this backend has made (attempts, retries, failures)."""
        return self.runner.stats

    def _redact(self, text: str) -> str:
        return redact_text(text, model_credentials(self.model))

    def _configured(self, params: SamplingParams, n: int = 1) -> Any:
        """The model with this call's settings, as a copy or a binding (never in place)."""
        fields = getattr(type(self.model), "model_fields", {})
        update: dict[str, Any] = {"n": n} if n > 1 else {}
        bind: dict[str, Any] = {}
        (update if "temperature" in fields else bind)["temperature"] = params.temperature
        if params.top_p is not None and "top_p" in fields:
            update["top_p"] = params.top_p
        want_logprobs = self.logprobs if self.logprobs is not None else "logprobs" in fields
        if want_logprobs:
            (update if "logprobs" in fields else bind)["logprobs"] = True
            if self.top_logprobs:
                (update if "top_logprobs" in fields else bind)["top_logprobs"] = self.top_logprobs
        model = self.model.model_copy(update=update) if update else self.model
        return model.bind(**bind) if bind else model

    def _messages(self, prompt: str) -> list[tuple[str, str]]:
        """LangChain's (role, content) tuples; a :class:`~lmuq.chat.ChatPrompt` sends its
        own messages."""
        roles = {"user": "human", "assistant": "ai", "system": "system"}
        return [(roles[m["role"]], m["content"]) for m in chat_messages(prompt, self.system_prompt)]

    async def agenerate(
        self, prompts: Prompts, params: SamplingParams, n: int = 1, **options: Unpack[GenOptions]
    ) -> list[list[Generation]]:
        """See :class:`~lmuq.backends.base.AsyncGenerationBackend`."""
        check_generate_args(prompts, n)
        progress, on_result = generate_options(options)
        model = self._configured(params)
        top_k = self.top_logprobs
        structured = self.structured_response is not None
        per_call = min(n, self.max_n) if self.use_n and not structured else 1
        if structured:
            base = model if callable(getattr(model, "with_structured_output", None)) else self.model
            model = base.with_structured_output(self.structured_response)

        async def call(job: CallJob) -> list[Generation]:
            if structured:
                out = await model.ainvoke(self._messages(job.prompt))
                text = self.output_extractor(out)  # type: ignore[misc]
                if not isinstance(text, str):
                    raise MalformedResponseError(
                        f"output_extractor returned {type(text).__name__}, expected str"
                    )
                return [Generation(text=text, params=params)]
            if job.count == 1:
                msg = await model.ainvoke(self._messages(job.prompt))
                return [_to_generation(msg, params, top_k)]
            from langchain_core.messages import convert_to_messages

            many = self._configured(params, job.count)
            result = await many.agenerate([convert_to_messages(self._messages(job.prompt))])
            return [_to_generation(g.message, params, top_k) for g in result.generations[0]]

        return await self.runner.run(
            prompts,
            params,
            n,
            call,
            samples_per_call=per_call,
            progress=progress,
            on_result=on_result,
        )


def model_credentials(model: Any) -> tuple[Secret, ...]:
    """Every credential a (pydantic) chat model holds in its fields, each as a
    :class:`~lmuq.secrets.Secret`: ``SecretStr`` values, strings under a field or mapping key
    named like a credential, and the secrets in URLs' userinfo."""
    found: list[str] = []
    for name, info in getattr(type(model), "model_fields", {}).items():
        named = is_secret_key(name) or is_secret_key(getattr(info, "alias", None) or "")
        _collect_credentials(getattr(model, name, None), named, found)
    return tuple(Secret(v) for v in dict.fromkeys(found))


def _collect_credentials(value: Any, named: bool, found: list[str], depth: int = 0) -> None:
    reveal = getattr(value, "get_secret_value", None)  # pydantic's SecretStr / SecretBytes
    if callable(reveal):
        value, named = reveal(), True
    elif isinstance(value, Secret):
        value, named = value.reveal(), True
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, str):
        if named:
            # "Bearer <token>": the token is echoed alone as often as the whole value.
            found.extend([value, value.split()[-1]] if value.strip() else [])
        found.extend(url_credentials(value))
    elif depth < 4 and isinstance(value, Mapping):
        for key, item in value.items():
            _collect_credentials(item, named or is_secret_key(str(key)), found, depth + 1)
    elif depth < 4 and isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _collect_credentials(item, named, found, depth + 1)


def _to_generation(msg: Any, params: SamplingParams, top_k: int | None) -> Generation:
    content = content_text(msg.content)
    meta = getattr(msg, "response_metadata", None) or {}
    logprobs = tokens = top = None
    lp = meta.get("logprobs")
    if isinstance(lp, dict):
        if lp.get("content"):
            logprobs, tokens, top = parse_chat_logprobs(lp, top_k)
        elif lp.get("token_logprobs"):
            logprobs, tokens, top = parse_completion_logprobs(lp, top_k)
    return Generation(
        text=content,
        logprobs=logprobs,
        tokens=tokens,
        top_logprobs=top,
        finish_reason=map_finish_reason(meta.get("finish_reason")),
        params=params,
    )
