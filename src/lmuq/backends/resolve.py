"""``as_backend``: turn a front door's ``llm`` (a LangChain chat model or an lmuq backend)
into the backend that draws its generations.

UQLM's classes take a LangChain ``BaseChatModel`` with the rate limit, system prompt and
``n`` setting beside it; lmuq's backends carry those settings themselves. One function does
the wrapping for every front door (``BlackBoxUQ``, ``WhiteBoxUQ``, ``UQEnsemble``, ...).
"""

from __future__ import annotations

from typing import Any

__all__ = ["as_backend", "is_backend"]


def is_backend(obj: Any) -> bool:
    """Whether ``obj`` is an lmuq backend (it has a callable ``generate`` or ``agenerate``)."""
    return callable(getattr(obj, "generate", None)) or callable(getattr(obj, "agenerate", None))


def as_backend(
    llm: Any,
    *,
    system_prompt: str | None = None,
    max_calls_per_min: float | None = None,
    use_n: bool = False,
    top_logprobs: int | None = None,
    structured_response: Any = None,
    output_extractor: Any = None,
    owner: str = "this front door",
) -> Any:
    """The backend for ``llm``: a LangChain chat model is wrapped (never mutated) in a
    :class:`~lmuq.backends.langchain.LangChainBackend` with the given settings
    (``top_logprobs``: alternatives per token, None: the backend's default;
    ``structured_response`` / ``output_extractor``: UQLM's structured output, LangChain
    models only); an lmuq backend is returned as it is. Raises ``ValueError`` for None
    (naming ``owner``) and ``TypeError`` for anything else."""
    if llm is None:
        raise ValueError(f"no llm given: pass llm= to {owner}, or use its score() on your data")
    from lmuq.backends.langchain import LangChainBackend, is_langchain_chat_model

    if is_langchain_chat_model(llm):
        extra = {} if top_logprobs is None else {"top_logprobs": top_logprobs}
        return LangChainBackend(
            llm,
            system_prompt=system_prompt,
            max_calls_per_min=max_calls_per_min,
            use_n=use_n,
            structured_response=structured_response,
            output_extractor=output_extractor,
            **extra,
        )
    if structured_response is not None or output_extractor is not None:
        raise TypeError(
            "structured_response/output_extractor call a LangChain model's "
            f"with_structured_output(); {type(llm).__name__} is not a LangChain chat model "
            "(an lmuq backend returns text: use postprocessor= to extract the answer)"
        )
    if is_backend(llm):
        return llm
    raise TypeError(
        f"llm must be a LangChain chat model or an lmuq backend, got {type(llm).__name__}"
    )
