"""LUQ-compatible front door: port a LUQ notebook by changing only its imports.

``HFLLMWrapper``, ``generate_n_samples_and_answer``, ``LLMOutput``, ``LLMSamples``,
``SeqProbMode`` and the estimators keep LUQ's names, signatures and return conventions
(estimators return an *uncertainty*: higher = less trustworthy). Behind them is lmuq's core,
which fixes LUQ's known problems:

* the wrapper honours ``temperature``, ``top_p``, ``top_k`` and ``max_new_tokens``
  (LUQ hard-codes ``temperature=1.0`` and 50 new tokens);
* it returns only the generated text, not the prompt, and applies the chat template when the
  tokenizer has one;
* log-probs are of the untempered distribution, and the estimators work in log space, so on
  a 200-token answer predictive entropy and max-probability stay finite and informative
  (LUQ returns NaN). ``TopKGapEstimator`` compares *raw* sequence probabilities by its
  definition; on long answers both are ~exp(−hundreds) and the gap is 0 (uncertainty 1)
  in any arithmetic, so use ``SeqProbMode.AVG`` there;
* the answer is drawn with the answer settings (LUQ draws it with the sample settings), and
  the n samples are drawn in one batched ``generate`` call.

``LLMOutput`` is lmuq's :class:`~lmuq.types.Generation` (``.answer`` is its text, ``.logprobs``
a NumPy array; a torch tensor passed in is accepted), and ``LLMSamples`` is
:class:`~lmuq.types.SampleSet`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import logsumexp

from lmuq.backends.base import backend_name
from lmuq.generation.draws import ANSWER, SAMPLE, all_cells, draw_cells, sample_set_params
from lmuq.scoring.functional import whitebox as F
from lmuq.types import Generation, SampleSet, SamplingParams, check_logprobs

__all__ = [
    "HFLLMWrapper",
    "LLMOutput",
    "LLMSamples",
    "MaxProbabilityEstimator",
    "PredictiveEntropyEstimator",
    "SeqProbMode",
    "TopKGapEstimator",
    "default_llm",
    "generate_n_samples_and_answer",
]

LLMSamples = SampleSet


class LLMOutput(Generation):
    """LUQ's ``LLMOutput(answer, logprobs)``: a :class:`Generation` built from LUQ's fields."""

    def __init__(self, answer: str | None = None, logprobs: Any = None, **kwargs: Any) -> None:
        # ``text=`` arrives from dataclasses.replace (e.g. ``with_text``).
        text = kwargs.pop("text", None) if answer is None else answer
        if text is None:
            raise TypeError("LLMOutput needs the answer text: LLMOutput(answer=..., logprobs=...)")
        super().__init__(text=text, logprobs=logprobs, **kwargs)


class SeqProbMode(enum.Enum):
    """How token probabilities become a sequence score (LUQ's modes).

    PROD: p(s) = Π_t p_t (log-score Σ_t log p_t).
    AVG: the arithmetic mean of token probabilities (1/L) Σ_t p_t (log-score
    logsumexp_t log p_t − log L).
    """

    PROD = "prod"
    AVG = "avg"


class HFLLMWrapper:
    """LUQ's Hugging Face wrapper over lmuq's ``TransformersBackend``.

    ``llm(prompt, temperature=..., top_p=..., top_k=..., max_new_tokens=...)`` returns one
    :class:`LLMOutput` with the generated text and its per-token log-probs.
    """

    def __init__(
        self,
        tokenizer: Any,
        model: Any,
        *,
        system_prompt: str | None = None,
        use_chat_template: bool | None = None,
        top_logprobs: int = 10,
    ) -> None:
        from lmuq.backends.transformers import TransformersBackend

        self.backend = TransformersBackend(
            model,
            tokenizer,
            system_prompt=system_prompt,
            use_chat_template=use_chat_template,
            top_logprobs=top_logprobs,
        )

    @property
    def tokenizer(self) -> Any:
        return self.backend.tokenizer

    @property
    def model(self) -> Any:
        return self.backend.model

    def __call__(
        self,
        prompt: str,
        temperature: float = 1.0,
        max_new_tokens: int = 256,
        top_p: float | None = None,
        top_k: int | None = None,
        seed: int | None = None,
        **_: Any,
    ) -> Generation:
        params = _params(temperature, top_p, top_k, max_new_tokens, seed)
        drawn = draw_cells(
            self.backend, [prompt], [(0, ANSWER, 0)], answer_params=params, progress=False
        )
        return drawn[(0, ANSWER, 0)]

    def __repr__(self) -> str:
        return f"HFLLMWrapper({self.backend.name})"


def default_llm(**kwargs: Any) -> HFLLMWrapper:
    """The embedded default model (SmolLM2-135M-Instruct) as a ready :class:`HFLLMWrapper`."""
    from lmuq.backends.default_model import load_default_model

    tokenizer, model = load_default_model()
    return HFLLMWrapper(tokenizer=tokenizer, model=model, **kwargs)


def _params(
    temperature: float,
    top_p: float | None,
    top_k: float | None,
    max_new_tokens: int,
    seed: int | None,
) -> SamplingParams:
    # LUQ types top_k as float; accept 16.0 but not 16.5.
    if top_k is not None:
        if float(top_k) != int(top_k):
            raise ValueError(f"top_k must be a whole number, got {top_k}")
        top_k = int(top_k)
    return SamplingParams(
        temperature=float(temperature),
        top_p=top_p,
        top_k=top_k,
        max_new_tokens=max_new_tokens,
        seed=seed,
    )


def generate_n_samples_and_answer(
    llm: Any,
    prompt: str,
    temp_gen: float = 1.0,
    temp_answer: float = 0.1,
    top_p_gen: float = 0.9,
    top_k_gen: float = 16,
    top_p_ans: float = 0.7,
    top_k_ans: float = 4,
    n_samples: int = 10,
    *,
    max_new_tokens: int = 256,
    seed: int | None = None,
) -> SampleSet:
    """Draw ``n_samples`` samples (with the ``*_gen`` settings) and one answer (with the
    ``*_ans`` settings) for ``prompt``; LUQ's signature and defaults.

    ``llm`` is an :class:`HFLLMWrapper` or any lmuq backend. Returns an ``LLMSamples``
    (``.samples``, ``.answer``, ``.params``).
    """
    backend = llm.backend if isinstance(llm, HFLLMWrapper) else llm
    if not hasattr(backend, "generate"):
        raise TypeError(f"llm must be an HFLLMWrapper or an lmuq backend, got {type(llm).__name__}")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt must be a non-empty string")
    if not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"n_samples must be an int >= 1, got {n_samples!r}")
    gen = _params(temp_gen, top_p_gen, top_k_gen, max_new_tokens, seed)
    ans = _params(
        temp_answer, top_p_ans, top_k_ans, max_new_tokens, None if seed is None else seed + 1
    )
    # As LUQ: the samples first (one batched call), then the answer.
    drawn = draw_cells(
        backend,
        [prompt],
        all_cells(1, n_samples, answers=False),
        sample_params=gen,
        progress=False,
    )
    drawn.update(draw_cells(backend, [prompt], [(0, ANSWER, 0)], answer_params=ans, progress=False))
    # lmuq's SampleSet.params schema, plus the names LUQ's LLMSamples.params uses.
    params = {
        **sample_set_params(backend_name(backend), ans, gen, n_samples),
        "prompt": prompt,
        "temp_gen": temp_gen,
        "temp_answer": temp_answer,
        "top_p_gen": top_p_gen,
        "top_k_gen": top_k_gen,
        "top_p_ans": top_p_ans,
        "top_k_ans": top_k_ans,
        "n_samples": n_samples,
        "max_new_tokens": max_new_tokens,
        "seed": seed,
        "llm": str(llm),
    }
    return SampleSet(
        prompt=prompt,
        answer=drawn[(0, ANSWER, 0)],
        samples=[drawn[(0, SAMPLE, j)] for j in range(n_samples)],
        params=params,
    )


def _log_scores(samples: SampleSet | Sequence[Generation], mode: SeqProbMode) -> np.ndarray:
    items = samples.samples if isinstance(samples, SampleSet) else list(samples)
    if not items:
        raise ValueError("no samples to estimate from")
    mode = SeqProbMode(mode)
    out = []
    for i, s in enumerate(items):
        lp = check_logprobs(s.logprobs, f"sample {i}")
        out.append(lp.sum() if mode is SeqProbMode.PROD else logsumexp(lp) - math.log(lp.size))
    return np.asarray(out)


class PredictiveEntropyEstimator:
    """LUQ's predictive entropy: the entropy of the samples' sequence probabilities
    renormalised over the sample set (nats; see
    :func:`lmuq.scoring.functional.whitebox.renormalized_entropy`)."""

    def estimate_uncertainty(
        self, samples: SampleSet, seq_prob_mode: SeqProbMode = SeqProbMode.PROD, **kwargs: Any
    ) -> float:
        return F.renormalized_entropy(_log_scores(samples, seq_prob_mode))


class MaxProbabilityEstimator:
    """LUQ's max-probability uncertainty: 1 − max_i q_i over the renormalised samples."""

    def estimate_uncertainty(
        self, samples: SampleSet, seq_prob_mode: SeqProbMode = SeqProbMode.PROD, **kwargs: Any
    ) -> float:
        return 1.0 - F.renormalized_max(_log_scores(samples, seq_prob_mode))


class TopKGapEstimator:
    """LUQ's top-k gap uncertainty: 1 − (p_(1) − p_(k)) over the samples' sequence
    probabilities (not renormalised, as in LUQ)."""

    def estimate_uncertainty(
        self,
        samples: SampleSet,
        seq_prob_mode: SeqProbMode = SeqProbMode.PROD,
        k: int = 2,
        **kwargs: Any,
    ) -> float:
        return 1.0 - F.probability_gap(_log_scores(samples, seq_prob_mode), k)
