"""Run settings as a store keeps them: JSON-ready, with secrets masked, and compared.

:func:`redact_settings` turns settings into plain JSON values and masks credentials by the
one secrets policy (:mod:`lmuq.secrets`); :func:`settings_diff` lists how two settings
differ (what a refused resume says).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from typing import Any

import numpy as np

from lmuq.secrets import MASK, is_secret_key, redact_url

__all__ = ["REDACTED", "json_ready", "redact_settings", "settings_diff"]

#: What a secret-looking settings value is replaced by.
REDACTED = MASK


def _canonical(value: Any, where: str) -> Any:
    if isinstance(value, str):
        return redact_url(value)  # credentials in a URL never reach the store
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            key = str(k)
            out[key] = REDACTED if is_secret_key(key) else _canonical(v, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _canonical(value.tolist(), where)
    if isinstance(value, np.generic):
        return _canonical(value.item(), where)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return _canonical(to_dict(), where)
    if is_dataclass(value) and not isinstance(value, type):
        return _canonical(asdict(value), where)
    raise TypeError(
        f"{where} is a {type(value).__name__}, which cannot be stored as JSON; "
        "convert it to a str, number, list or dict"
    )


def redact_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as stored: JSON-ready, with secret-looking keys' values redacted.

    A key is secret-looking by :func:`lmuq.secrets.is_secret_key` (``api_key``, ``hf_token``,
    ``clientSecret``, ``Authorization``, ...; ``max_new_tokens`` or ``tokenizer`` are
    kept); URLs lose their ``user:password@``. Nested mappings are redacted too. Objects
    with ``to_dict()`` and dataclasses are converted; non-finite floats become the strings
    ``"nan"``/``"inf"``/``"-inf"``.

    Raises:
        TypeError: for a value that cannot be stored as JSON.
    """
    if not isinstance(settings, Mapping):
        raise TypeError(f"settings must be a mapping, got {type(settings).__name__}")
    return _canonical(settings, "settings")


def settings_diff(stored: Any, given: Any, where: str = "") -> list[str]:
    if isinstance(stored, dict) and isinstance(given, dict):
        out: list[str] = []
        for key in sorted(set(stored) | set(given)):
            path = f"{where}.{key}" if where else key
            if key not in given:
                out.append(f"{path}: stored {stored[key]!r}, not given")
            elif key not in stored:
                out.append(f"{path}: given {given[key]!r}, not stored")
            else:
                out.extend(settings_diff(stored[key], given[key], path))
        return out
    if stored != given:
        return [f"{where or '(value)'}: stored {stored!r}, given {given!r}"]
    return []


def json_ready(value: Any) -> Any:
    """Scores' raw values and extras: NaN/inf become None, numpy values plain Python."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        return json_ready(value.item())
    return value
