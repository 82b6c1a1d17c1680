"""A LangChain chat model's configuration as plain JSON, and back (UQLM's
``save_llm_config`` / ``load_llm_config``), for :meth:`UQEnsemble.save_config`.

The record is ``{"class": "module.QualName", "params": {...}}``: the model's JSON-ready
fields, without any field whose name says it holds a credential (see
:func:`~lmuq.secrets.is_secret_key`) and without ``SecretStr`` values; a provider reads its
key from the environment again on load. Loading imports the named module and refuses any
class that is not a LangChain ``BaseChatModel``. Nothing is pickled.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from lmuq.secrets import is_secret_key

__all__ = ["load_llm_config", "save_llm_config"]


def _json_ready(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def save_llm_config(llm: Any) -> dict[str, Any]:
    """The JSON record of a LangChain chat model (raises ``TypeError`` for anything else)."""
    from lmuq.backends.langchain import is_langchain_chat_model

    if not is_langchain_chat_model(llm):
        raise TypeError(
            f"only a LangChain chat model's configuration can be saved, got {type(llm).__name__}"
        )
    cls = type(llm)
    params: dict[str, Any] = {}
    for name in cls.model_fields:
        if is_secret_key(name):
            continue
        value = getattr(llm, name, None)
        if type(value).__name__ in ("SecretStr", "SecretBytes") or not _json_ready(value):
            continue
        params[name] = value
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "params": params}


def load_llm_config(config: dict[str, Any]) -> Any:
    """Rebuild a LangChain chat model from :func:`save_llm_config`'s record."""
    from langchain_core.language_models import BaseChatModel

    if not isinstance(config, dict) or not isinstance(config.get("class"), str):
        raise ValueError("an LLM config is a mapping with 'class' and 'params'")
    module, _, qualname = config["class"].rpartition(".")
    if not module:
        raise ValueError(f"class must be 'module.Name', got {config['class']!r}")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, BaseChatModel)):
        raise TypeError(f"{config['class']} is not a LangChain BaseChatModel")
    return obj(**dict(config.get("params") or {}))
