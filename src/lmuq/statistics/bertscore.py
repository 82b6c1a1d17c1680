"""BERTScore (Zhang et al., 2020, "BERTScore: Evaluating Text Generation with BERT").

Each text is encoded once by a transformers encoder; the hidden states of one layer, L2-
normalised, are its token embeddings. For a candidate c and a reference r with content tokens
c_1..c_k and r_1..r_l:

    P = (1/k) Σ_i max_j cos(c_i, r_j)     R = (1/l) Σ_j max_i cos(c_i, r_j)
    F1 = 2PR / (P + R)

(greedy matching, every token weighted equally). The averages run over content tokens only;
as in the ``bert-score`` package, each max also reaches the other text's special tokens
([CLS], [SEP]) unless ``match_special_tokens=False``. :class:`BERTScorer` caches the token
embeddings of every distinct text, so scoring one answer against m samples, or the same
samples against several answers, encodes each text once.

Needs the optional dependencies of ``pip install 'lmuq[embeddings]'`` (torch and
transformers, installed with sentence-transformers).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lmuq.extras import require
from lmuq.statistics.embeddings import check_batch_size, check_texts, resolve_model_source

__all__ = ["BERTScorer"]


@dataclass(frozen=True, eq=False)
class _TokenEmbeddings:
    vectors: np.ndarray  # (T, d) float32, unit rows, special tokens included
    content: np.ndarray  # (T,) bool, False at special tokens ([CLS], [SEP], ...)

    @property
    def n_content(self) -> int:
        return int(self.content.sum())


class BERTScorer:
    """BERTScore precision, recall and F1 with one transformers encoder layer.

    Matches the ``bert-score`` package (``bert_score.score(cands, refs, model_type=<path>,
    num_layers=<layer>, idf=False, rescale_with_baseline=False)``) to float32 rounding: no
    idf weighting, no baseline rescaling, texts stripped of surrounding whitespace, at most
    ``max_length`` tokens (special tokens included). As there, special tokens ([CLS],
    [SEP], ...) are left out of the averages over tokens but stay available as match
    targets: with short answers a content token often matches the other text's [SEP] best.
    ``match_special_tokens=False`` drops them from the matching as well (then scores differ
    from ``bert-score``'s, by up to about 0.2 for one-word answers).

    An empty (or all-whitespace) candidate or reference has no content tokens; its P, R and
    F1 are 0.0, as ``bert-score`` sets them (though ``bert-score`` 0.3.13 itself fails on an
    empty text with transformers 5).

    Args:
        model_name_or_path: a transformers encoder folder or hub id; ``None`` (the default)
            is the packaged all-MiniLM-L6-v2 (see
            :func:`lmuq.statistics.embeddings.default_sentence_model_path`), which loads
            offline.
        layer: which hidden state to use: 0 is the embedding layer's output, ``i`` the
            output of the i-th transformer layer (``bert-score``'s ``num_layers``). Default:
            the middle layer, ``num_hidden_layers // 2``, which is 3 for MiniLM-L6.
            ``bert-score``'s tuned ``model2layers`` table has no entry for all-MiniLM-L6-v2
            (its ``score`` raises ``KeyError`` without ``num_layers``); for the other 6-layer
            models it lists (distilbert-base-uncased, distilroberta-base,
            google/bert_uncased_L-6_*) it picks layer 5, so pass ``layer=5`` to follow that
            convention instead.
        device: ``"cpu"``, ``"cuda"``, ...; ``None`` is CUDA when available, else CPU.
        max_length: tokens kept per text, special tokens included (longer texts are cut).
        batch_size: texts per forward pass.
        match_special_tokens: keep special tokens as match targets (``bert-score``'s
            behaviour, the default).

    Attributes:
        name: the model's name (the hub id for the packaged model, else the argument).
        layer: the layer used.
        texts_encoded: distinct texts sent to the model so far.
        forward_passes: forward passes (batches) run so far.

    Raises:
        FileNotFoundError: for a path that does not exist, or a missing packaged model.
        ValueError: for a layer outside ``[0, num_hidden_layers]`` or a bad size argument.
        lmuq.extras.MissingExtraError: if torch or transformers is not installed.
    """

    def __init__(
        self,
        model_name_or_path: str | os.PathLike[str] | None = None,
        *,
        layer: int | None = None,
        device: str | None = None,
        max_length: int = 512,
        batch_size: int = 32,
        match_special_tokens: bool = True,
    ) -> None:
        self.batch_size = check_batch_size(batch_size)
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 2:
            raise ValueError(f"max_length must be an int >= 2, got {max_length!r}")
        self.max_length = max_length
        self.match_special_tokens = bool(match_special_tokens)
        source, self.name = resolve_model_source(model_name_or_path)
        self._torch: Any = require("torch", "embeddings", "BERTScore")
        transformers = require("transformers", "embeddings", "BERTScore")
        self.tokenizer: Any = transformers.AutoTokenizer.from_pretrained(source)
        model: Any = transformers.AutoModel.from_pretrained(source)
        if getattr(model.config, "is_encoder_decoder", False) and hasattr(model, "encoder"):
            model = model.encoder
        if device is None:
            device = "cuda" if self._torch.cuda.is_available() else "cpu"
        self.device = device
        self.model: Any = model.to(device).eval()

        n_layers = getattr(model.config, "num_hidden_layers", None)
        if layer is None:
            if n_layers is None:
                raise ValueError(f"{self.name}: the config has no num_hidden_layers; pass layer")
            layer = n_layers // 2
        if not isinstance(layer, int) or isinstance(layer, bool) or layer < 0:
            raise ValueError(f"layer must be an int >= 0, got {layer!r}")
        if n_layers is not None and layer > n_layers:
            raise ValueError(f"layer must be in [0, {n_layers}] for {self.name}, got {layer}")
        self.layer = layer
        pad = self.tokenizer.pad_token_id
        self._pad_id = 0 if pad is None else int(pad)

        self._cache: dict[str, _TokenEmbeddings] = {}
        self.texts_encoded = 0
        self.forward_passes = 0

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.name!r}, layer={self.layer}, cached={len(self._cache)})"
        )

    # ------------------------------------------------------------------ encoding

    def _tokenize(self, text: str) -> tuple[list[int], list[bool]]:
        enc = self.tokenizer(
            text,
            add_special_tokens=True,
            truncation=True,
            max_length=self.max_length,
            return_special_tokens_mask=True,
        )
        ids = list(enc["input_ids"])
        special = enc.get("special_tokens_mask")
        if special is None:
            specials = set(self.tokenizer.all_special_ids)
            content = [i not in specials for i in ids]
        else:
            content = [not s for s in special]
        return ids, content

    def _encode_missing(self, texts: Sequence[str]) -> None:
        torch = self._torch
        missing = list(dict.fromkeys(t.strip() for t in texts))
        missing = [t for t in missing if t not in self._cache]
        if not missing:
            return
        tokenized = {t: self._tokenize(t) for t in missing}
        # Longest first, so each batch pads little.
        order = sorted(missing, key=lambda t: -len(tokenized[t][0]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            lengths = [len(tokenized[t][0]) for t in batch]
            width = max(lengths)
            ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, text in enumerate(batch):
                ids[row, : lengths[row]] = torch.tensor(tokenized[text][0], dtype=torch.long)
                mask[row, : lengths[row]] = 1
            with torch.no_grad():
                out = self.model(
                    input_ids=ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    output_hidden_states=True,
                )
            self.forward_passes += 1
            hidden = out.hidden_states[self.layer].float().cpu().numpy()
            for row, text in enumerate(batch):
                vec = hidden[row, : lengths[row]].astype(np.float32)
                vec /= np.linalg.norm(vec, axis=1, keepdims=True)
                vec.setflags(write=False)
                content = np.asarray(tokenized[text][1], dtype=bool)
                content.setflags(write=False)
                self._cache[text] = _TokenEmbeddings(vec, content)
        self.texts_encoded += len(missing)

    def prefetch(self, texts: Sequence[str]) -> None:
        """Encode every distinct, not yet cached text in ``texts`` in full batches."""
        self._encode_missing(check_texts(texts))

    def token_embeddings(self, text: str) -> np.ndarray:
        """The unit token embeddings of ``text``'s content tokens, shape ``(k, d)``, float32."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        self._encode_missing([text])
        emb = self._cache[text.strip()]
        return emb.vectors[emb.content]

    # ------------------------------------------------------------------ scoring

    def _pair(self, cand: _TokenEmbeddings, ref: _TokenEmbeddings) -> tuple[float, float, float]:
        if cand.n_content == 0 or ref.n_content == 0:
            return 0.0, 0.0, 0.0
        c, r = cand.vectors, ref.vectors
        if not self.match_special_tokens:
            c, r = c[cand.content], r[ref.content]
            sim = c @ r.T
            precision = float(sim.max(axis=1).mean())
            recall = float(sim.max(axis=0).mean())
        else:
            sim = c @ r.T
            precision = float(sim.max(axis=1)[cand.content].mean())
            recall = float(sim.max(axis=0)[ref.content].mean())
        denom = precision + recall
        f1 = 2.0 * precision * recall / denom if denom != 0 else 0.0
        return precision, recall, f1

    def score(
        self, candidates: Sequence[str], references: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """BERTScore ``(P, R, F1)`` of each candidate against the reference at the same index.

        Returns three float64 arrays of shape ``(N,)``. Every distinct text is encoded at
        most once over the scorer's life. F1 is symmetric (swapping the two lists swaps P
        and R).

        Raises:
            TypeError: if an argument is a single ``str`` or holds a non-``str``.
            ValueError: if the two lists differ in length.
        """
        cands = check_texts(candidates)
        refs = check_texts(references)
        if len(cands) != len(refs):
            raise ValueError(
                f"candidates and references differ in length: {len(cands)} vs {len(refs)}"
            )
        self._encode_missing(cands + refs)
        out = np.zeros((3, len(cands)), dtype=np.float64)
        for i, (c, r) in enumerate(zip(cands, refs, strict=True)):
            out[:, i] = self._pair(self._cache[c.strip()], self._cache[r.strip()])
        return out[0], out[1], out[2]

    def f1(self, candidates: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """BERTScore F1 of each candidate/reference pair, shape ``(N,)`` (see :meth:`score`)."""
        return self.score(candidates, references)[2]

    def clear_cache(self) -> None:
        """Forget every cached text (the counters are kept)."""
        self._cache.clear()
