"""Typed records that flow between generation, scoring and evaluation.

A :class:`Generation` is one model output with its per-token log-probabilities under the
model's own *untempered* distribution (log-softmax of raw logits, whatever temperature or
top-k/top-p was used to draw it). A :class:`SampleSet` groups, for one prompt, the answer
being judged and the m sampled responses used to judge it. A :class:`Question` is a
short-answer factual question with its accepted answers (what the built-in sets produce and
the grader reads).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lmuq.constants import LOGPROB_TOLERANCE

__all__ = [
    "KINDS",
    "Generation",
    "ModelInternals",
    "Question",
    "SampleSet",
    "SamplingParams",
    "check_logprobs",
    "check_str",
]


@dataclass(frozen=True)
class SamplingParams:
    """How a generation was (or is to be) drawn.

    ``temperature == 0`` means greedy decoding. ``top_k=None`` and ``top_p=None`` mean the
    full distribution (no truncation); they are recorded as used, never silently defaulted.
    """

    temperature: float = 1.0
    top_p: float | None = None
    top_k: int | None = None
    max_new_tokens: int = 64
    seed: int | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.temperature, (int, float)) and self.temperature >= 0):
            raise ValueError(f"temperature must be a number >= 0, got {self.temperature!r}")
        if self.top_p is not None and not (0.0 < self.top_p <= 1.0):
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if self.top_k is not None and (not isinstance(self.top_k, int) or self.top_k < 0):
            raise ValueError(f"top_k must be a non-negative int or None, got {self.top_k!r}")
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be an int >= 1, got {self.max_new_tokens!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
        }


def _as_array(values: Any, dtype: type) -> np.ndarray | None:
    if values is None:
        return None
    if hasattr(values, "detach"):  # a torch tensor, possibly on an accelerator
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=dtype)


def _float32_list(a: np.ndarray) -> Any:
    """A float32 array as nested lists of the shortest decimals that read back exactly."""
    if a.ndim > 1:
        return [_float32_list(x) for x in a]
    return [float(np.format_float_positional(x, unique=True, trim="-")) for x in a]


# eq=False: records holding arrays compare (and hash) by identity; element-wise array
# comparison has no single truth value.
@dataclass(frozen=True, eq=False)
class ModelInternals:
    """What a local model computed while generating one response, kept for the scorers
    that read a model's internals (RAUQ, attention score, EigenScore).

    Captured in the same ``generate`` pass by
    :class:`~lmuq.backends.transformers.TransformersBackend` with ``internals=True``;
    server backends cannot return them. Arrays are float32, as the model computed them.

    Attributes:
        embedding: shape ``(d,)``, the hidden state at layer ``embedding_layer`` of the last
            position the model read (the one whose output is the last token).
        embedding_layer: which hidden state ``embedding`` is (0 = the token embeddings).
        token_attention: shape ``(layers, heads, T - 1)`` for a response of T tokens, or
            None when attention was not captured (by default only greedy calls keep it).
            Entry ``t - 1`` is, at the step that generated token ``t`` (t = 1..T-1), the
            attention weight from the newest position (token ``t - 1``) to itself: the
            diagonal of the attention map over the response, which RAUQ reads as the
            attention of token t to the previous token. The last token is never read, so
            it has no entry.
        prompt_log_attention: shape ``(layers, heads)``, Σ_p log(A_pp + 1e-12) over the
            prompt positions p (the prompt's part of the attention score); None with
            ``token_attention``.
    """

    embedding: np.ndarray
    embedding_layer: int
    token_attention: np.ndarray | None = None
    prompt_log_attention: np.ndarray | None = None

    def __post_init__(self) -> None:
        emb = np.asarray(_as_array(self.embedding, np.float32))
        if emb.ndim != 1 or emb.size == 0:
            raise ValueError(f"embedding must be a non-empty 1-D vector, got shape {emb.shape}")
        if not isinstance(self.embedding_layer, (int, np.integer)) or self.embedding_layer < 0:
            raise ValueError(f"embedding_layer must be an int >= 0, got {self.embedding_layer!r}")
        object.__setattr__(self, "embedding", emb)
        object.__setattr__(self, "embedding_layer", int(self.embedding_layer))
        if (self.token_attention is None) != (self.prompt_log_attention is None):
            raise ValueError("token_attention and prompt_log_attention come together (or neither)")
        if self.token_attention is None:
            return
        att = np.asarray(_as_array(self.token_attention, np.float32))
        prompt = np.asarray(_as_array(self.prompt_log_attention, np.float32))
        if att.ndim != 3:
            raise ValueError(
                f"token_attention must have shape (layers, heads, T - 1), got {att.shape}"
            )
        if prompt.shape != att.shape[:2]:
            raise ValueError(
                f"prompt_log_attention must have shape (layers, heads) = {att.shape[:2]}, "
                f"got {prompt.shape}"
            )
        object.__setattr__(self, "token_attention", att)
        object.__setattr__(self, "prompt_log_attention", prompt)

    @property
    def has_attention(self) -> bool:
        return self.token_attention is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; float32 values written as the shortest decimals that read back
        exactly (``ModelInternals(**d)`` rebuilds the same arrays)."""
        out: dict[str, Any] = {
            "embedding": _float32_list(self.embedding),
            "embedding_layer": self.embedding_layer,
        }
        if self.token_attention is not None:
            out["token_attention"] = _float32_list(self.token_attention)
            out["prompt_log_attention"] = _float32_list(self.prompt_log_attention)
        return out


@dataclass(frozen=True, eq=False)
class Generation:
    """One model output.

    Attributes:
        text: the generated text only (never the prompt), without special tokens.
        logprobs: shape ``(T,)``, log p(token_t | prefix) for each generated token under the
            model's untempered distribution. When generation stopped at end-of-sequence the
            EOS token is the last entry (its probability is part of the sequence's
            probability); ``tokens`` names it.
        token_ids / tokens: the generated token ids and their string pieces, aligned with
            ``logprobs``.
        top_logprobs: shape ``(T, k)``, the k largest log-probs at each step, descending.
        top_token_ids: shape ``(T, k)``, their token ids.
        finish_reason: ``"stop"`` (EOS), ``"length"`` (hit max_new_tokens) or ``"error"``.
        params: the sampling parameters actually used.
        error: why the call failed, when it did (then ``text`` is empty).
        internals: the model's attention and hidden state for this response, when a local
            backend captured them (``TransformersBackend(internals=True)``); else None.
    """

    text: str
    logprobs: np.ndarray | None = None
    token_ids: tuple[int, ...] | None = None
    tokens: tuple[str, ...] | None = None
    top_logprobs: np.ndarray | None = None
    top_token_ids: np.ndarray | None = None
    finish_reason: str | None = None
    params: SamplingParams | None = None
    error: str | None = None
    internals: ModelInternals | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"Generation.text must be a str, got {type(self.text).__name__}")
        lp = _as_array(self.logprobs, np.float64)
        if lp is not None:
            if lp.ndim != 1:
                raise ValueError(f"logprobs must be 1-D (one per token), got shape {lp.shape}")
            object.__setattr__(self, "logprobs", lp)
        top = _as_array(self.top_logprobs, np.float64)
        if top is not None:
            if top.ndim != 2:
                raise ValueError(f"top_logprobs must have shape (tokens, k), got {top.shape}")
            if lp is not None and top.shape[0] != lp.shape[0]:
                raise ValueError(
                    f"top_logprobs has {top.shape[0]} rows but logprobs has {lp.shape[0]} tokens"
                )
            object.__setattr__(self, "top_logprobs", top)
        top_ids = _as_array(self.top_token_ids, np.int64)
        if top_ids is not None:
            if top is None or top_ids.shape != top.shape:
                raise ValueError(
                    "top_token_ids must have the same shape as top_logprobs, got "
                    f"{top_ids.shape} vs {None if top is None else top.shape}"
                )
            object.__setattr__(self, "top_token_ids", top_ids)
        if self.token_ids is not None:
            object.__setattr__(self, "token_ids", tuple(int(t) for t in self.token_ids))
        if self.tokens is not None:
            object.__setattr__(self, "tokens", tuple(self.tokens))
        if self.internals is not None:
            if not isinstance(self.internals, ModelInternals):
                raise TypeError(
                    "Generation.internals must be a ModelInternals, got "
                    f"{type(self.internals).__name__}"
                )
            att = self.internals.token_attention
            if lp is not None and att is not None and att.shape[2] != max(lp.size - 1, 0):
                raise ValueError(
                    f"internals.token_attention covers {att.shape[2]} steps but a response of "
                    f"{lp.size} tokens has {max(lp.size - 1, 0)}"
                )

    # LUQ's ``LLMOutput`` calls the text ``answer``; ported code reads it.
    @property
    def answer(self) -> str:
        return self.text

    @property
    def num_tokens(self) -> int:
        return 0 if self.logprobs is None else int(self.logprobs.shape[0])

    @property
    def failed(self) -> bool:
        return self.error is not None

    def to_dict(self, *, internals: bool = True) -> dict[str, Any]:
        """A JSON-ready dict (arrays become lists; non-finite numbers become None).

        ``internals=False`` leaves the captured model internals out (the demo's results
        file: they are large and only the internals scorers read them); the run store keeps
        them, so that a resumed run scores what a fresh one does.
        """

        def _list(a: np.ndarray | None) -> Any:
            if a is None:
                return None
            return [_list(x) if isinstance(x, np.ndarray) else _finite(x) for x in a]

        return {
            "text": self.text,
            "logprobs": _list(self.logprobs),
            "token_ids": list(self.token_ids) if self.token_ids is not None else None,
            "tokens": list(self.tokens) if self.tokens is not None else None,
            "top_logprobs": _list(self.top_logprobs),
            "top_token_ids": self.top_token_ids.tolist()
            if self.top_token_ids is not None
            else None,
            "finish_reason": self.finish_reason,
            "params": self.params.to_dict() if self.params is not None else None,
            "error": self.error,
            **(
                {"internals": self.internals.to_dict()}
                if internals and self.internals is not None
                else {}
            ),
        }

    def with_text(self, text: str) -> Generation:
        return replace(self, text=text)


def _finite(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True, eq=False)
class SampleSet:
    """For one prompt: the answer being judged and m sampled responses.

    Attribute names follow LUQ's ``LLMSamples`` (``.samples``, ``.answer``, ``.params``) so
    code written against LUQ reads it unchanged.

    Attributes:
        prompt: the prompt (question) the responses answer.
        answer: the response being judged.
        samples: the sampled responses it is compared with.
        params: how the set was drawn (see :func:`lmuq.generation.sample_set_params`).
        reference: a reference answer, for scorers that grade against one (an LLM judge).
        context: passages given with the prompt (retrieval-augmented generation), for the
            scorers that check the answer's claims against them (``claim_context_support``).
    """

    prompt: str
    answer: Generation
    samples: list[Generation]
    params: dict[str, Any] = field(default_factory=dict)
    reference: str | None = None
    context: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str):
            raise TypeError(f"SampleSet.prompt must be a str, got {type(self.prompt).__name__}")
        if not isinstance(self.answer, Generation):
            raise TypeError("SampleSet.answer must be a Generation")
        samples = list(self.samples)
        for i, s in enumerate(samples):
            if not isinstance(s, Generation):
                raise TypeError(f"SampleSet.samples[{i}] must be a Generation, got {type(s)}")
        object.__setattr__(self, "samples", samples)
        if self.reference is not None and not isinstance(self.reference, str):
            raise TypeError(
                f"SampleSet.reference must be a str or None, got {type(self.reference).__name__}"
            )
        if isinstance(self.context, str) or not isinstance(self.context, (tuple, list)):
            raise TypeError(
                "SampleSet.context must be a list of passages (str), got "
                f"{type(self.context).__name__}"
            )
        for i, passage in enumerate(self.context):
            if not isinstance(passage, str):
                raise TypeError(
                    f"SampleSet.context[{i}] must be a str, got {type(passage).__name__}"
                )
        object.__setattr__(self, "context", tuple(self.context))

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def sample_texts(self) -> list[str]:
        return [s.text for s in self.samples]


def check_str(value: object, what: str) -> str:
    """``value`` if it is a str; a ``TypeError`` naming ``what`` otherwise."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    return value


def check_logprobs(logprobs: Sequence[float] | np.ndarray | None, what: str) -> np.ndarray:
    """Validate one sequence's token log-probs for a scorer; return a float64 array.

    Raises with a message naming ``what`` when the log-probs are missing, empty, NaN, or
    positive (a log-probability is at most 0).
    """
    if logprobs is None:
        raise ValueError(
            f"{what} has no token log-probabilities; this scorer needs them. Generate with a "
            "backend that returns log-probs (e.g. the transformers backend)."
        )
    arr = np.asarray(logprobs, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{what}: log-probs must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{what}: log-probs are empty (a zero-token response has no score)")
    if np.isnan(arr).any():
        where = np.flatnonzero(np.isnan(arr))[:5].tolist()
        raise ValueError(f"{what}: log-probs contain NaN at positions {where}")
    if (arr > LOGPROB_TOLERANCE).any():
        raise ValueError(
            f"{what}: log-probs must be <= 0 (got max {arr.max():.4g}); did you pass "
            "probabilities or raw logits instead of log-probabilities?"
        )
    return np.minimum(arr, 0.0)


#: The kinds of question the built-in sets produce.
KINDS: tuple[str, ...] = ("capital", "currency", "continent")


@dataclass(frozen=True)
class Question:
    """One short-answer factual question with its accepted answers.

    Attributes:
        id: stable identifier, ``"<kind>:<ISO country code>"``, e.g. ``"capital:FR"``.
        question: the prompt text, e.g. ``"What is the capital of France?"``.
        answer: the canonical gold answer, e.g. ``"Paris"``.
        aliases: every accepted answer, ``answer`` included (and listed first).
        subject: what the question is about, e.g. ``"France"``; the grader discounts alias
            mentions that are merely part of the subject (see
            :func:`lmuq.grading.grade_short_answer`).
        kind: one of :data:`KINDS`.
    """

    id: str
    question: str
    answer: str
    aliases: tuple[str, ...]
    subject: str
    kind: str

    def __post_init__(self) -> None:
        for name in ("id", "question", "answer", "subject", "kind"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"Question.{name} must be a non-empty str, got {value!r}")
        if self.kind not in KINDS:
            raise ValueError(f"Question.kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.aliases, tuple) or not all(
            isinstance(a, str) and a.strip() for a in self.aliases
        ):
            raise ValueError(
                f"Question.aliases must be a tuple of non-empty str, got {self.aliases!r}"
            )
        if self.answer not in self.aliases:
            raise ValueError(
                f"Question.aliases must include the answer {self.answer!r}, got {self.aliases!r}"
            )
