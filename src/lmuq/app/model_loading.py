"""The generating model a job runs: a local folder or hub id, an OpenAI-compatible server, or
the embedded SmolLM2-135M-Instruct; with the label the job's outputs name it by."""

from __future__ import annotations

from typing import Any

from lmuq.secrets import url_without_userinfo

__all__ = ["load_backend"]


def load_backend(
    model: str | None,
    base_url: str | None,
    *,
    batch_size: int,
    top_logprobs: int,
    internals: bool = False,
    echo=print,
) -> tuple[Any, str]:
    """``(backend, label)`` for ``model`` (None: the embedded model) or, with ``base_url``,
    the server serving ``model``.

    The API key comes from ``OPENAI_API_KEY``; it never reaches the label, logs or files,
    and neither do credentials written into the URL.
    """
    if base_url:
        from lmuq.backends.openai_compat import OpenAICompatibleBackend

        if not model:
            raise ValueError("--base-url needs --model NAME (the model name the server serves)")
        backend = OpenAICompatibleBackend(
            base_url, model, top_logprobs=min(top_logprobs, 20), max_concurrency=batch_size
        )
        return backend, f"{model} @ {url_without_userinfo(base_url)}"
    from lmuq.backends.transformers import TransformersBackend

    kwargs: dict[str, Any] = {
        "top_logprobs": top_logprobs,
        "batch_size": batch_size,
        "internals": internals,
    }
    if model is None:
        from lmuq.backends.default_model import (
            DEFAULT_MODEL_LABEL,
            default_model_cache_path,
            load_default_model,
        )

        target = default_model_cache_path()
        if not (target / "config.json").exists():
            echo(
                f"First run: converting the embedded model's GGUF weights once into {target} "
                "(about 540 MB, ~30 s; `lmuq cache --clear` frees it)"
            )
        tokenizer, model_obj = load_default_model()
        return TransformersBackend(model_obj, tokenizer, **kwargs), DEFAULT_MODEL_LABEL
    return TransformersBackend.from_pretrained(model, **kwargs), model
