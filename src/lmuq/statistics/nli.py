"""Natural-language inference (NLI): does one text entail, contradict, or say nothing about another?

Black-box uncertainty scores compare an LLM's sampled answers with one another. An NLI model
gives, for an ordered pair (premise, hypothesis), the probabilities that the premise
*entails* the hypothesis, is *neutral* about it, or *contradicts* it. Semantic entropy
clusters answers that entail each other both ways (Kuhn et al. 2023; Farquhar et al. 2024);
NumSemSets, Deg/Ecc/EigV (Lin et al. 2024) and LUQ (Zhang et al. 2024) build similarity
matrices from the entailment and contradiction probabilities.

Label order convention (used everywhere in lmuq):

    ENTAILMENT, NEUTRAL, CONTRADICTION = 0, 1, 2

so a probabilities array for P pairs has shape ``(P, 3)`` with its columns in that order and
rows summing to 1.

Hugging Face NLI checkpoints do *not* agree on the order of their output logits
(``roberta-large-mnli`` is contradiction/neutral/entailment, many DeBERTa checkpoints use
entailment/neutral/contradiction, some have no neutral class). :class:`HFNLIModel` therefore
reads the model's own ``config.id2label`` (:func:`label_order_from_config`) and never
hard-codes an order; reading the wrong column silently turns "contradicts" into "entails".

:class:`~lmuq.statistics.nli_cache.CachedNLI` wraps any :class:`NLIModel` and memoises pair
probabilities, because the same (answer_i, answer_j) pairs are asked for by several scores.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lmuq.constants import CONTRADICTION, ENTAILMENT, NEUTRAL, NLI_LABELS
from lmuq.extras import require
from lmuq.model_source import resolve_local_or_hub

__all__ = [
    "CONTRADICTION",
    "ENTAILMENT",
    "LABELS",
    "NEUTRAL",
    "HFNLIModel",
    "NLIModel",
    "check_pairs",
    "condition_on_question",
    "label_order_from_config",
    "length_batches",
]

LABELS = NLI_LABELS

# Case-insensitive prefixes that identify each class in a model's id2label.
_PREFIXES = {"entailment": "entail", "neutral": "neutral", "contradiction": "contradict"}


@runtime_checkable
class NLIModel(Protocol):
    """Anything that scores (premise, hypothesis) pairs.

    ``predict_proba`` returns a float array of shape ``(P, 3)`` in the canonical order
    (entailment, neutral, contradiction), one row per pair, each row summing to 1. ``name``
    identifies the model (it is part of cache keys, so two different models must not share
    a name).
    """

    @property
    def name(self) -> str: ...

    def predict_proba(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray: ...


def condition_on_question(question: str, text: str, separator: str = " ") -> str:
    """Prefix ``text`` with the question it answers: ``question + separator + text``
    (``separator`` a space by default; UQLM's ``prompts_in_nli`` uses a newline).

    Farquhar et al. (2024, "Detecting hallucinations in large language models using semantic
    entropy", Nature) feed the NLI model each answer *together with the question*, so that
    short answers ("Paris", "in 1998") are compared as answers to that question. Callers apply
    this to both the premise and the hypothesis before calling ``predict_proba``.
    """
    if not isinstance(question, str) or not isinstance(text, str):
        raise TypeError(
            f"question and text must be str, got {type(question).__name__} "
            f"and {type(text).__name__}"
        )
    return f"{question}{separator}{text}"


def label_order_from_config(id2label: Mapping[int | str, str]) -> tuple[int, int | None, int]:
    """Indices of (entailment, neutral, contradiction) in a model's output logits.

    ``id2label`` is the model config's mapping from output index (int, or a string such as
    ``"0"`` in JSON-loaded configs) to label name. Names are matched case-insensitively by
    prefix: ``"entail..."``, ``"neutral..."``, ``"contradict..."``. Neutral may be absent (a
    two-class model); its index is then ``None``.

    Raises:
        ValueError: when entailment or contradiction is missing (e.g. ``LABEL_0``/``LABEL_1``,
            the defaults of a model that is not an NLI model), when a class is matched
            twice, or when the keys are not integers.
    """
    if not isinstance(id2label, Mapping) or not id2label:
        raise ValueError(f"id2label must be a non-empty mapping, got {id2label!r}")
    found: dict[str, int] = {}
    for key, label in id2label.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"id2label keys must be integer indices, got {key!r}") from None
        if index < 0:
            raise ValueError(f"id2label keys must be >= 0, got {key!r}")
        name = str(label).strip().lower()
        for canonical, prefix in _PREFIXES.items():
            if name.startswith(prefix):
                if canonical in found:
                    raise ValueError(
                        f"id2label names the {canonical} class twice "
                        f"(indices {found[canonical]} and {index}): {dict(id2label)!r}"
                    )
                found[canonical] = index
    missing = [c for c in ("entailment", "contradiction") if c not in found]
    if missing:
        labels = [str(v) for _, v in sorted(id2label.items(), key=lambda kv: int(kv[0]))]
        raise ValueError(
            f"the model's labels {labels} include no {' or '.join(missing)} label; "
            "an NLI model (one trained on MNLI/SNLI-style entailment, e.g. "
            "'microsoft/deberta-large-mnli') is needed"
        )
    return found["entailment"], found.get("neutral"), found["contradiction"]


def check_pairs(premises: Sequence[str], hypotheses: Sequence[str]) -> None:
    """Validate (premise, hypothesis) lists: sequences of str of the same length."""
    for what, texts in (("premises", premises), ("hypotheses", hypotheses)):
        if isinstance(texts, (str, bytes)):
            raise TypeError(f"{what} must be a sequence of strings, not a single string")
        if not isinstance(texts, Sequence) and not isinstance(texts, np.ndarray):
            raise TypeError(f"{what} must be a sequence of strings, got {type(texts).__name__}")
    if len(premises) != len(hypotheses):
        raise ValueError(
            f"premises and hypotheses must have the same length, got {len(premises)} "
            f"and {len(hypotheses)}"
        )
    for what, texts in (("premises", premises), ("hypotheses", hypotheses)):
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"{what}[{i}] must be a str, got {type(t).__name__}: {t!r}")


class HFNLIModel:
    """A Hugging Face sequence-classification NLI model (e.g. DeBERTa-MNLI).

    Args:
        model_name_or_path: a local folder (works offline) or a hub id (needs network).
        device: where to run; ``None`` picks ``"cuda"`` when available, else ``"cpu"``.
        max_length: pairs longer than this many tokens are truncated, token by token from
            the longer of the two texts (``truncation="longest_first"``); capped at the
            tokenizer's own ``model_max_length``.
        batch_size: pairs per forward pass.
        dtype: the weights' dtype: ``None`` (the checkpoint's, usually float32), a torch
            dtype, or its name (``"bfloat16"``, ``"float16"``, ``"float32"``). Half precision
            is the fast path on a GPU; it is not exact, so its agreement with float32 (label
            flips, max |Δp|) is measured by ``bench/nli_precision.py``, and a half-precision
            model's ``name`` gets a ``#bfloat16`` / ``#float16`` suffix so its cached results
            never mix with float32's.
        attn_implementation: ``None`` keeps transformers' choice (PyTorch SDPA attention
            where the architecture supports it, e.g. BERT and RoBERTa; eager otherwise, e.g.
            DeBERTa); ``"sdpa"`` or ``"eager"`` asks for one. :attr:`attention` says which
            runs. Both compute the same attention (to float rounding).
        quantize: ``"int8"`` applies PyTorch dynamic int8 quantisation to the Linear layers
            (CPU only): a faster path whose agreement with the float model is measured by
            ``bench/nli_precision.py``. The model's ``name`` gets an ``#int8`` suffix so its
            cached results never mix with the float model's.

        dedupe_inputs: run each distinct *model input* once. Pairs are keyed on their
            token ids after the tokenizer's own normalisation and truncation, so two text
            pairs the model cannot tell apart (``"145"`` and ``"145 \\n"``, case under an
            uncased tokenizer, texts that differ only past ``max_length``) cost one row. Exact:
            the model sees the same ids either way. ``False`` runs every pair given.

        max_padding: the most padding a batch may add, as a share of its real tokens: pairs
            sorted by token length are cut into batches of at most ``batch_size`` where
            another pair would pad more (:func:`length_batches`). ``None`` (the default):
            the fewest passes, cut where they run the fewest tokens (10,891 tokens in 40
            passes on the benchmark workload, against 11,365 for fixed chunks of
            ``batch_size``). ``0.1`` ran 2% fewer tokens than that but in 55 passes, for
            the same time within noise on a CPU (``bench/README.md``); ``0`` (no padding
            at all) was slower on a smaller model.

    Pairs are batched by token length (longest first), so a batch pads only to the spread of
    its own lengths.

    The output column order is read from ``model.config.id2label``; results are always in the
    canonical (entailment, neutral, contradiction) order. Public counters: ``pairs_asked``
    (pairs given to :meth:`predict_proba`), ``pairs_run`` (rows sent through the model) and
    ``forward_passes`` (model calls).
    """

    def __init__(
        self,
        model_name_or_path: str | os.PathLike,
        *,
        device: str | None = None,
        max_length: int = 512,
        batch_size: int = 32,
        dtype: Any = None,
        quantize: str | None = None,
        dedupe_inputs: bool = True,
        attn_implementation: str | None = None,
        max_padding: float | None = None,
    ) -> None:
        torch = require("torch", "hf", "NLI models")
        _check_max_padding(max_padding)
        if quantize not in (None, "int8"):
            raise ValueError(f"quantize must be None or 'int8', got {quantize!r}")
        if attn_implementation not in (None, "sdpa", "eager"):
            raise ValueError(
                f"attn_implementation must be None, 'sdpa' or 'eager', got {attn_implementation!r}"
            )
        dtype = _torch_dtype(torch, dtype)
        if quantize == "int8" and dtype not in (None, torch.float32):
            raise ValueError("quantize='int8' quantises a float32 model; leave dtype unset")
        transformers = require("transformers", "hf", "NLI models")
        if not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"max_length must be an int >= 1, got {max_length!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self._name = str(model_name_or_path)
        source = resolve_local_or_hub(model_name_or_path, what="NLI model")
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(source)
            load: dict[str, Any] = {}
            if dtype is not None:
                load["dtype"] = dtype
            if attn_implementation is not None:
                load["attn_implementation"] = attn_implementation
            self.model = transformers.AutoModelForSequenceClassification.from_pretrained(
                source, **load
            )
        except OSError as exc:
            raise OSError(
                f"could not load NLI model {source!r}: {str(exc).rstrip('.')}. "
                "A hub id needs network access; "
                "pass a local folder to work offline."
            ) from exc
        self.label_order = label_order_from_config(self.model.config.id2label)
        n_out = int(self.model.config.num_labels)
        if max(i for i in self.label_order if i is not None) >= n_out:
            raise ValueError(
                f"id2label {self.model.config.id2label!r} names an index beyond the "
                f"model's {n_out} outputs"
            )
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(device)
        self.model.eval()
        if quantize == "int8":
            if torch.device(device).type != "cpu":
                raise ValueError("quantize='int8' runs on the CPU only; pass device='cpu'")
            self.model = torch.ao.quantization.quantize_dynamic(
                self.model, {torch.nn.Linear}, dtype=torch.qint8
            )
            self._name += "#int8"
        weights = next(self.model.parameters()).dtype
        if weights in (torch.bfloat16, torch.float16):
            self._name += "#" + str(weights).removeprefix("torch.")
        self._device = str(torch.device(device))
        model_max = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(model_max, int) and 0 < model_max < max_length:
            max_length = model_max
        self.max_length = max_length
        self.batch_size = batch_size
        self.max_padding = max_padding
        self.dedupe_inputs = bool(dedupe_inputs)
        self.pairs_asked = 0
        self.pairs_run = 0
        self.forward_passes = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def device(self) -> str:
        return self._device

    @property
    def attention(self) -> str:
        """The attention implementation the model runs (``"sdpa"``, ``"eager"``, ...)."""
        return str(getattr(self.model.config, "_attn_implementation", None) or "eager")

    def __repr__(self) -> str:
        return f"HFNLIModel({self._name!r}, device={self._device!r})"

    def predict_proba(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """Probabilities ``(P, 3)`` (entailment, neutral, contradiction) for each pair."""
        check_pairs(premises, hypotheses)
        if len(premises) == 0:
            return np.zeros((0, 3), dtype=np.float64)
        self.pairs_asked += len(premises)
        enc = self.tokenizer(
            list(premises),
            list(hypotheses),
            truncation="longest_first",
            max_length=self.max_length,
        )
        fields = [k for k in enc if k != "attention_mask"]  # the mask follows from the ids
        inputs = [tuple(tuple(enc[k][i]) for k in fields) for i in range(len(premises))]
        if self.dedupe_inputs:
            first: dict[tuple, int] = {}
            inverse = np.array([first.setdefault(x, len(first)) for x in inputs], dtype=np.intp)
            distinct = list(first)
        else:
            inverse = np.arange(len(inputs), dtype=np.intp)
            distinct = inputs
        probs = self._run(distinct, fields)
        return probs[inverse]

    def _run(self, inputs: Sequence[tuple], fields: Sequence[str]) -> np.ndarray:
        """Probabilities of tokenised pairs, batched longest first (stable, so reproducible)."""
        torch = require("torch", "hf", "NLI models")
        ent, neu, con = self.label_order
        columns = [ent, con] if neu is None else [ent, neu, con]
        out = np.empty((len(inputs), 3), dtype=np.float64)
        order = sorted(range(len(inputs)), key=lambda i: -len(inputs[i][0]))
        lengths = [len(inputs[i][0]) for i in order]
        for cut in length_batches(lengths, self.batch_size, self.max_padding):
            rows = [order[k] for k in cut]
            batch = self.tokenizer.pad(
                [dict(zip(fields, (list(v) for v in inputs[i]), strict=True)) for i in rows],
                padding=True,
                return_tensors="pt",
            )
            batch = {k: v.to(self.model.device) for k, v in batch.items()}
            with torch.inference_mode():
                logits = self.model(**batch).logits
            self.forward_passes += 1
            self.pairs_run += logits.shape[0]
            chosen = logits.float().cpu().numpy().astype(np.float64)[:, columns]
            chosen -= chosen.max(axis=1, keepdims=True)
            probs = np.exp(chosen)
            probs /= probs.sum(axis=1, keepdims=True)
            if neu is None:
                out[rows, ENTAILMENT] = probs[:, 0]
                out[rows, NEUTRAL] = 0.0
                out[rows, CONTRADICTION] = probs[:, 1]
            else:
                out[rows] = probs
        return out


def length_batches(
    lengths: Sequence[int], batch_size: int, max_padding: float | None = None
) -> list[range]:
    """Cut pairs sorted by token length (longest first) into batches.

    A batch of lengths ``l_1 >= ... >= l_k`` runs ``k * l_1`` tokens. Without
    ``max_padding`` the cut is the one that runs the fewest tokens among those with the
    fewest passes (``ceil(n / batch_size)`` batches of at most ``batch_size``): fixed
    chunks of ``batch_size`` pad a small round's batches across a wide spread of lengths
    (on the benchmark workload the optimal cut ran 4.2% fewer tokens over lmuq's
    clustering rounds in the same 40 passes). With ``max_padding`` set a batch pads at most
    that share of its real tokens: the next pair starts a new batch when ``k * l_1 > (1 +
    max_padding) * sum(l_i)`` would hold with it (``0``: batches of one length each).

    >>> [list(b) for b in length_batches([9, 9, 8, 5, 5], 4)]  # 27 + 10 tokens, not 36 + 5
    [[0, 1, 2], [3, 4]]
    >>> [list(b) for b in length_batches([9, 9, 8, 5, 5], 4, max_padding=0.1)]
    [[0, 1, 2], [3, 4]]
    """
    if any(a < b for a, b in itertools.pairwise(lengths)):
        raise ValueError("lengths must be sorted longest first")
    if max_padding is None:
        return _fewest_token_batches(lengths, batch_size)
    out: list[range] = []
    start, real = 0, 0
    for i, n in enumerate(lengths):
        size = i - start + 1
        full = size > batch_size
        too_padded = lengths[start] * size > (1 + max_padding) * (real + n)
        if i > start and (full or too_padded):
            out.append(range(start, i))
            start, real = i, 0
        real += n
    if lengths:
        out.append(range(start, len(lengths)))
    return out


def _fewest_token_batches(lengths: Sequence[int], batch_size: int) -> list[range]:
    """The cut of ``lengths`` (longest first) into ``ceil(n / batch_size)`` contiguous
    batches of at most ``batch_size`` that runs the fewest tokens (dynamic programming over
    the cut points; a batch starting at ``i`` and ending before ``j`` costs
    ``(j - i) * lengths[i]``); ties are broken the same way every time, so it is reproducible."""
    n = len(lengths)
    if n == 0:
        return []
    k = -(-n // batch_size)
    if k == 1 or n == k * batch_size:  # one batch, or only full batches fit
        return [range(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    length = np.asarray(lengths, dtype=np.int64)
    big = np.iinfo(np.int64).max // 4
    # cost[j]: fewest tokens for the first j pairs in g batches; back[g][j]: the last cut
    cost = np.full(n + 1, big, dtype=np.int64)
    cost[0] = 0
    back = np.zeros((k, n + 1), dtype=np.int64)
    ends = np.arange(n + 1)
    for g in range(k):
        new = np.full(n + 1, big, dtype=np.int64)
        arg = np.zeros(n + 1, dtype=np.int64)
        for size in range(1, batch_size + 1):  # the last batch holds `size` pairs
            start = ends[size:] - size
            cand = cost[start] + size * length[start]
            better = cand < new[size:]
            new[size:] = np.where(better, cand, new[size:])
            arg[size:] = np.where(better, start, arg[size:])
        cost, back[g] = new, arg
    cuts, j = [], n
    for g in range(k - 1, -1, -1):
        i = int(back[g][j])
        cuts.append(range(i, j))
        j = i
    return cuts[::-1]


def _check_max_padding(max_padding: Any) -> None:
    if max_padding is None:
        return
    if isinstance(max_padding, bool) or not isinstance(max_padding, (int, float)):
        raise TypeError(f"max_padding must be None or a number >= 0, got {max_padding!r}")
    if not max_padding >= 0:  # NaN too
        raise ValueError(f"max_padding must be >= 0, got {max_padding!r}")


_DTYPE_NAMES = ("float32", "bfloat16", "float16")


def _torch_dtype(torch: Any, dtype: Any) -> Any:
    """``dtype`` as a torch dtype (``None`` stays ``None``); names are checked here."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and dtype in _DTYPE_NAMES:
        return getattr(torch, dtype)
    raise ValueError(f"dtype must be None, a torch dtype or one of {_DTYPE_NAMES}, got {dtype!r}")
