"""Backends: the transports that draw generations from a model.

Everything that talks to a model lives here, below its callers: the two backend protocols,
the concrete backends (local transformers, OpenAI-compatible servers, LangChain chat models,
in-process llama.cpp), the async runner they share (bounded concurrency, a non-blocking rate
limit, retries with backoff, error classification, per-cell results), the sync twins, and a
scripted :class:`FakeBackend` for tests. Nothing here imports from the layers above.
"""

from __future__ import annotations

from typing import Any

from lmuq.backends.base import (
    AsyncGenerationBackend,
    GenerationBackend,
    GenOptions,
    OnResult,
    Progress,
    Prompts,
    backend_name,
    check_generate_args,
    generate_options,
)
from lmuq.backends.call_stats import CallStats
from lmuq.backends.classify import (
    Failure,
    classify_exception,
    classify_provider_exception,
    parse_retry_after,
)
from lmuq.backends.errors import (
    BatchUnsupportedError,
    CallFailedError,
    MalformedResponseError,
    NotAttempted,
    TransientError,
    UnsupportedContentError,
)
from lmuq.backends.fake import FakeBackend
from lmuq.backends.rate_limit import RateLimiter
from lmuq.backends.retry import RetryPolicy, call_with_retries
from lmuq.backends.runner import (
    CANCELLED,
    GenerationInterrupted,
    GenerationRunner,
    ResultGrid,
    error_generation,
)
from lmuq.backends.sync import SyncFromAsync, run_sync

__all__ = [
    "CANCELLED",
    "AsyncGenerationBackend",
    "BatchUnsupportedError",
    "CallFailedError",
    "CallStats",
    "Failure",
    "FakeBackend",
    "GenOptions",
    "GenerationBackend",
    "GenerationInterrupted",
    "GenerationRunner",
    "LangChainBackend",
    "LlamaCppBackend",
    "MalformedResponseError",
    "NotAttempted",
    "OnResult",
    "OpenAICompatibleBackend",
    "Progress",
    "Prompts",
    "RateLimiter",
    "ResultGrid",
    "RetryPolicy",
    "SyncFromAsync",
    "TransformersBackend",
    "TransientError",
    "UnsupportedContentError",
    "backend_name",
    "call_with_retries",
    "check_generate_args",
    "classify_exception",
    "classify_provider_exception",
    "error_generation",
    "generate_options",
    "parse_retry_after",
    "run_sync",
]

_LAZY = {
    "OpenAICompatibleBackend": "lmuq.backends.openai_compat",
    "LangChainBackend": "lmuq.backends.langchain",
    "LlamaCppBackend": "lmuq.backends.llama_cpp",
    "TransformersBackend": "lmuq.backends.transformers",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lmuq.backends' has no attribute {name!r}")
