"""OpenAI-compatible HTTP servers as a generation backend: OpenAI, vLLM, llama.cpp's server,
Ollama, TGI, and anything else that speaks ``/v1/chat/completions`` or ``/v1/completions``.

Built on the maintained ``openai`` client (``AsyncOpenAI``) with its own retries switched
off (``max_retries=0``), so lmuq's :class:`~lmuq.backends.retry.RetryPolicy` is the one
in force and every retry is counted. Calls go through the shared
:class:`~lmuq.backends.runner.GenerationRunner`: bounded concurrency, a non-blocking
``max_calls_per_min``, a per-call timeout, retries on 429 / 5xx / timeouts / connection
errors / malformed responses (honouring ``Retry-After``), and a failed call recorded on its
own row.

Log-probs: requested with ``logprobs`` / ``top_logprobs`` (chat) or ``logprobs=k``
(completions) and read into :class:`~lmuq.types.Generation` when the server returns them;
a server that does not leaves them ``None`` (the log-prob scorers then report NaN with the
reason, the others still run). Servers report the log-probs of the tokens they return, which
usually leaves out the end-of-sequence token that the transformers backend records, so a
sequence's probability here lacks that last factor.

Several samples per call: with ``use_n`` the ``n`` parameter asks for up to ``max_n``
samples in one call. When the server rejects such a call (400/422) or returns fewer
choices, the missing samples are drawn one call each; with ``use_n="auto"`` later calls stop
sending ``n`` once the server ignored it or its refusal named ``n`` (or "choice").

The response format is read by :mod:`lmuq.backends.openai_format`: message content sent as
a list of parts has its text parts joined; a part that is not text (an image, audio) fails
the call on its rows with :class:`~lmuq.backends.errors.UnsupportedContentError`, not
retried.
"""

from __future__ import annotations

import functools
import json
import os
import re
import ssl
from typing import TYPE_CHECKING, Any, Literal

from lmuq.backends.base import GenOptions, Prompts, check_generate_args, generate_options
from lmuq.backends.call_stats import CallStats
from lmuq.backends.errors import BatchUnsupportedError, MalformedResponseError
from lmuq.backends.openai_format import field_of, parse_chat_choice, parse_completion_choice
from lmuq.backends.retry import RetryPolicy
from lmuq.backends.runner import CallJob, GenerationRunner
from lmuq.backends.sync import SyncFromAsync
from lmuq.chat import chat_messages
from lmuq.extras import require
from lmuq.secrets import Secret, redact_text, redact_url, url_credentials
from lmuq.types import Generation, SamplingParams

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["OpenAICompatibleBackend"]

Mode = Literal["chat", "completions"]

# An error message that names the ``n`` parameter or the number of choices.
_N_REFUSAL = re.compile(r"(?<![\w-])['\"`]?n['\"`]?(?![\w-])|choice", re.IGNORECASE)


class OpenAICompatibleBackend(SyncFromAsync):
    """Generate through an OpenAI-compatible server.

    Args:
        base_url: the API root, e.g. ``"http://127.0.0.1:8000/v1"`` (None: the ``openai``
            client's default, i.e. ``$OPENAI_BASE_URL`` or OpenAI itself). Credentials in it
            (``http://user:password@host/v1``) are sent as HTTP basic auth (in place of the
            bearer key) and never shown: :attr:`display_url` is the URL with them masked,
            and recorded errors are scrubbed of them.
        model: the model name the server expects.
        api_key: the key; None reads ``$OPENAI_API_KEY``, and local servers that need none
            get a placeholder. Never shown in ``repr``, logs or recorded errors.
        mode: ``"chat"`` (``/chat/completions``, the prompt as a user message) or
            ``"completions"`` (``/completions``, the prompt sent as is).
        system_prompt: a system message before each prompt (in ``"completions"`` mode it is
            prepended to the prompt text, followed by a blank line).
        logprobs: ask for token log-probs.
        top_logprobs: how many alternatives per token to ask for (0: none).
        use_n: ``True`` / ``"auto"``: draw several samples per call with ``n`` (``"auto"``
            stops sending it once the server showed it does not support it); ``False``: one
            call per sample.
        max_n: the most samples asked for in one call.
        max_concurrency: calls in flight at once.
        max_calls_per_min: sustained call rate (None: unlimited), non-blocking.
        timeout: seconds per attempt.
        retry: the :class:`RetryPolicy` (default: 4 retries with backoff and jitter).
        max_tokens_param: the request field for ``max_new_tokens`` (``"max_tokens"``, or
            ``"max_completion_tokens"`` for OpenAI's reasoning models).
        extra_body: extra JSON fields sent with every request (server-specific options).
            ``SamplingParams.top_k``, when set, is sent here as ``top_k`` (vLLM, llama.cpp,
            TGI and Ollama read it; OpenAI itself has no top-k).
        client: a ready ``openai.AsyncOpenAI`` to use instead of one made per run (then its
            own ``max_retries`` and ``timeout`` apply too, and it must belong to the event
            loop the calls run on).
    """

    def __init__(
        self,
        base_url: str | None,
        model: str,
        *,
        api_key: str | None = None,
        mode: Mode = "chat",
        system_prompt: str | None = None,
        logprobs: bool = True,
        top_logprobs: int = 5,
        use_n: bool | Literal["auto"] = "auto",
        max_n: int = 128,
        max_concurrency: int = 8,
        max_calls_per_min: float | None = None,
        timeout: float | None = 30.0,
        retry: RetryPolicy | None = None,
        max_tokens_param: str = "max_tokens",
        extra_body: dict[str, Any] | None = None,
        client: Any = None,
    ) -> None:
        if mode not in ("chat", "completions"):
            raise ValueError(f"mode must be 'chat' or 'completions', got {mode!r}")
        if not isinstance(model, str) or not model:
            raise ValueError("model must be a non-empty string (the name the server expects)")
        if use_n not in (True, False, "auto"):
            raise ValueError(f"use_n must be True, False or 'auto', got {use_n!r}")
        if not isinstance(top_logprobs, int) or top_logprobs < 0:
            raise ValueError(f"top_logprobs must be an int >= 0, got {top_logprobs!r}")
        if not isinstance(max_n, int) or max_n < 1:
            raise ValueError(f"max_n must be an int >= 1, got {max_n!r}")
        if client is None:
            require("openai", "openai", "OpenAI-compatible servers")
        self._base_url = Secret(base_url)
        url = base_url if base_url is not None else os.environ.get("OPENAI_BASE_URL", "")
        self._url_secrets = tuple(Secret(v) for v in url_credentials(url))
        #: ``base_url`` with its userinfo masked (``http://***@host/v1``): what to show.
        self.display_url = None if base_url is None else redact_url(base_url)
        self.model = model
        self.mode: Mode = mode
        self.system_prompt = system_prompt
        self.logprobs = logprobs
        self.top_logprobs = top_logprobs
        self.use_n = use_n
        self.max_n = max_n
        self.timeout = timeout
        self.max_tokens_param = max_tokens_param
        self.extra_body = dict(extra_body or {})
        self._client = client
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self._api_key = Secret(key or None)
        self._n_supported = use_n is not False
        self.runner = GenerationRunner(
            max_concurrency=max_concurrency,
            max_calls_per_min=max_calls_per_min,
            retry=retry,
            timeout=timeout,
            redact=self._redact,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.display_url!r}, model={self.model!r}, "
            f"mode={self.mode!r}, api_key={self._api_key!r}, "
            f"max_concurrency={self.runner.max_concurrency}, "
            f"max_calls_per_min={self.runner.max_calls_per_min!r})"
        )

    @property
    def name(self) -> str:
        return self.model

    @property
    def base_url(self) -> str | None:
        """The same as :attr:`display_url`: the credentials in the URL are only sent."""
        return self.display_url

    @property
    def stats(self) -> CallStats:
        """Counters over every call this backend has made (attempts, retries, failures)."""
        return self.runner.stats

    @property
    def n_supported(self) -> bool:
        """Whether calls still send ``n`` (False once ``"auto"`` saw the server refuse it)."""
        return self._n_supported

    def _redact(self, text: str) -> str:
        return redact_text(text, [self._api_key, *self._url_secrets])

    def _make_client(self) -> Any:
        """A fresh ``AsyncOpenAI`` for one run (an async client belongs to one event loop).

        Its TLS context is shared by all clients: loading the CA bundle is the costly part
        of making one (~0.1-0.5 s).
        """
        openai = require("openai", "openai", "OpenAI-compatible servers")
        kwargs: dict[str, Any] = {}
        http_client = getattr(openai, "DefaultAsyncHttpxClient", None)
        if http_client is not None:
            kwargs["http_client"] = http_client(verify=_ssl_context())
        return openai.AsyncOpenAI(
            api_key=self._api_key.reveal() or "not-needed",
            base_url=self._base_url.reveal(),
            max_retries=0,
            # A little above ours, so that lmuq's timeout is the one that fires and counts.
            timeout=None if self.timeout is None else self.timeout + 5.0,
            **kwargs,
        )

    # ------------------------------------------------------------------ requests

    def _prompt_text(self, prompt: str) -> str:
        return f"{self.system_prompt}\n\n{prompt}" if self.system_prompt else prompt

    def _messages(self, prompt: str) -> list[dict[str, str]]:
        return chat_messages(prompt, self.system_prompt)

    def request_kwargs(self, job: CallJob, params: SamplingParams) -> dict[str, Any]:
        """The keyword arguments of the client call for ``job`` (exposed for inspection)."""
        kw: dict[str, Any] = {
            "model": self.model,
            "temperature": params.temperature,
            self.max_tokens_param: params.max_new_tokens,
        }
        if self.mode == "chat":
            kw["messages"] = self._messages(job.prompt)
            if self.logprobs:
                kw["logprobs"] = True
                if self.top_logprobs:
                    kw["top_logprobs"] = self.top_logprobs
        else:
            kw["prompt"] = self._prompt_text(job.prompt)
            if self.logprobs:
                kw["logprobs"] = self.top_logprobs
        if params.top_p is not None:
            kw["top_p"] = params.top_p
        if params.seed is not None:
            # Each single-sample call gets its own seed, or all m samples would be equal.
            kw["seed"] = params.seed + job.first_sample
        if job.count > 1:
            kw["n"] = job.count
        extra = dict(self.extra_body)
        if params.top_k is not None:
            extra["top_k"] = params.top_k
        if extra:
            kw["extra_body"] = extra
        return kw

    async def _call(self, client: Any, job: CallJob, params: SamplingParams) -> list[Generation]:
        openai = require("openai", "openai", "OpenAI-compatible servers")
        kw = self.request_kwargs(job, params)
        endpoint = client.chat.completions if self.mode == "chat" else client.completions
        try:
            resp = await endpoint.create(**kw)
        except openai.APIStatusError as exc:
            if job.count > 1 and exc.status_code in (400, 422):
                # Perhaps n itself was refused: draw these samples one call each (a request
                # that is bad for another reason then fails on each sample's own row).
                if self.use_n == "auto" and _N_REFUSAL.search(str(exc)):
                    self._n_supported = False
                raise BatchUnsupportedError(f"server refused n={job.count}: {exc}") from exc
            raise
        except json.JSONDecodeError as exc:
            raise MalformedResponseError(f"response is not valid JSON: {exc}") from exc
        try:
            choices = sorted(resp.choices, key=lambda c: field_of(c, "index") or 0)
            parse = parse_chat_choice if self.mode == "chat" else parse_completion_choice
            k = self.top_logprobs if self.logprobs else 0
            gens = [parse(c, params, top_k=k) for c in choices]
        except (AttributeError, TypeError, KeyError, ValueError, IndexError) as exc:
            got = type(resp).__name__
            raise MalformedResponseError(f"unreadable response ({got}): {exc}") from exc
        if not gens:
            raise MalformedResponseError("the response has no choices")
        if job.count > 1 and len(gens) < job.count and self.use_n == "auto":
            self._n_supported = False  # the server ignores n: stop asking
        return gens

    # ------------------------------------------------------------------ entry points

    async def agenerate(
        self, prompts: Prompts, params: SamplingParams, n: int = 1, **options: Unpack[GenOptions]
    ) -> list[list[Generation]]:
        """See :class:`~lmuq.backends.base.AsyncGenerationBackend` (collect what finished
        before a cancellation with a :class:`~lmuq.backends.runner.ResultGrid`)."""
        check_generate_args(prompts, n)
        progress, on_result = generate_options(options)
        per_call = min(n, self.max_n) if self._n_supported else 1
        own = self._client is None
        client = self._make_client() if own else self._client

        async def call(job: CallJob) -> list[Generation]:
            return await self._call(client, job, params)

        try:
            return await self.runner.run(
                prompts,
                params,
                n,
                call,
                samples_per_call=per_call,
                batch_ok=lambda: self._n_supported,
                progress=progress,
                on_result=on_result,
            )
        finally:
            if own:
                await client.close()


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:
        return ssl.create_default_context()
