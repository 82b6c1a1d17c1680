"""Where lmuq keeps files of its own on this machine."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir() -> Path:
    """lmuq's cache folder: ``$LMUQ_CACHE_DIR``, else ``$XDG_CACHE_HOME/lmuq``, else
    ``~/.cache/lmuq``. It holds the converted default model (``models/``) and the
    persistent statistics caches (``stats/``); delete it to free the space."""
    env = os.environ.get("LMUQ_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lmuq"
