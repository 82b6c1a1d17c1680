"""White-box scorers that read the model's internals: RAUQ, attention score, EigenScore.

They read :attr:`Generation.internals <lmuq.types.Generation.internals>`, which only a local
model gives: :class:`~lmuq.backends.transformers.TransformersBackend` with
``internals=True`` captures it in the same generation pass (``lmuq run`` / ``lmuq demo``
turn it on when one of these scorers is asked for). A response from a server backend
(OpenAI-compatible, llama.cpp, LangChain) has none, and the scorer says so. The pure
functions, with their formulas and papers, are in
:mod:`lmuq.scoring.functional.internals`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lmuq.scoring.functional import internals as IF
from lmuq.scoring.spec import ScorerSpec, ScoreValue
from lmuq.types import Generation, ModelInternals, SampleSet, check_logprobs

__all__ = [
    "INTERNALS_SCORERS",
    "SPECS",
    "attention_score_scorer",
    "eigenscore_scorer",
    "needs_internals",
    "rauq_scorer",
]

_INF = math.inf


def _internals(gen: Generation, scorer: str, what: str) -> ModelInternals:
    if gen.internals is None:
        raise ValueError(
            f"{scorer} reads the model's attention and hidden states, and {what} has none. "
            "Only a local model gives them: generate with "
            "TransformersBackend(model, tokenizer, internals=True) (lmuq run / demo with a "
            "local model do this when the scorer is asked for); server backends "
            "(OpenAI-compatible, llama.cpp, LangChain) cannot return them"
        )
    return gen.internals


def _attention(gen: Generation, scorer: str, what: str) -> ModelInternals:
    internals = _internals(gen, scorer, what)
    if not internals.has_attention:
        raise ValueError(
            f"{scorer} reads the attention weights, and {what} was generated without them: "
            "TransformersBackend(internals=True) keeps them for greedy calls (the answers "
            "being judged); pass attention_for='all' to keep them for sampled ones too"
        )
    return internals


def _layer(internals: ModelInternals, layer: int | None, scorer: str) -> int:
    layers = internals.token_attention.shape[0]
    chosen = layers // 2 if layer is None else layer
    if not 0 <= chosen < layers:
        raise ValueError(f"{scorer}: layer {chosen} is out of range for a model of {layers} layers")
    return chosen


def rauq_scorer(
    alpha: float = 0.2, layers: Sequence[int] | None = None, *, name: str = "rauq"
) -> ScorerSpec:
    """RAUQ with its α and layers chosen (the registry's ``rauq``: α = 0.2, the middle
    third of the layers); α = 0.5 is LM-Polygraph's choice for instruction-tuned models."""
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    fixed = None if layers is None else [int(v) for v in layers]

    def compute(ss: SampleSet, ctx: object = None) -> ScoreValue:
        lp = check_logprobs(ss.answer.logprobs, "the answer")
        att = _attention(ss.answer, name, "the answer").token_attention
        u = IF.rauq(lp, att, alpha=alpha, layers=fixed)
        return ScoreValue(math.exp(-u), {f"{name}_uncertainty": u})

    where = "the middle third of the layers" if fixed is None else f"layers {fixed}"
    return ScorerSpec(
        family="white-box",
        name=name,
        needs=frozenset({"answer_logprobs", "answer_internals"}),
        raw_direction="uncertainty",
        raw_range=(0.0, _INF),
        raw_columns=(f"{name}_uncertainty",),
        compute=compute,
        confidence_map=(
            f"exp(−u), u = max_l −(1/T) Σ_t log c_t, c_t = α p_t + (1 − α) a_t c_(t−1), "
            f"α = {alpha}, over {where}"
        ),
        reference="Vazhentsev et al. 2025 (RAUQ, arXiv 2505.20045); LM-Polygraph RAUQ",
        summary="Token probabilities carried forward by the most previous-token-attentive "
        "head of each layer; the least confident layer.",
    )


def attention_score_scorer(
    layer: int | None = None, *, include_prompt: bool = True, name: str | None = None
) -> ScorerSpec:
    """The attention score at ``layer`` (default the middle, L // 2, as LM-Polygraph), over
    the prompt and the response (``include_prompt``, the registry's ``attention_score``) or
    the response only (``attention_score_response``; LM-Polygraph's ``gen_only``)."""
    name = name or ("attention_score" if include_prompt else "attention_score_response")

    def compute(ss: SampleSet, ctx: object = None) -> ScoreValue:
        internals = _attention(ss.answer, name, "the answer")
        at = _layer(internals, layer, name)
        prompt = internals.prompt_log_attention[at] if include_prompt else None
        u = IF.attention_score(internals.token_attention[at], prompt)
        return ScoreValue(1.0 / (1.0 + max(u, 0.0)), {f"{name}_uncertainty": u})

    over = "prompt and response" if include_prompt else "the response"
    at = "the middle layer" if layer is None else f"layer {layer}"
    return ScorerSpec(
        family="white-box",
        name=name,
        needs=frozenset({"answer_internals"}),
        raw_direction="uncertainty",
        raw_range=(0.0, _INF),
        raw_columns=(f"{name}_uncertainty",),
        compute=compute,
        confidence_map=f"1 / (1 + u), u = −(1/H) Σ_h Σ_i log(A^h_ii + 1e-12) at {at}, over {over}",
        reference="Sriramanan et al. 2024 (LLM-Check, NeurIPS); LM-Polygraph AttentionScore",
        summary=f"Log-determinant of the attention map over {over}, averaged over heads.",
    )


def eigenscore_scorer(alpha: float = 1e-3, *, name: str = "eigenscore") -> ScorerSpec:
    """EigenScore over the sampled responses' embeddings with ridge ``alpha``."""
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}")

    def compute(ss: SampleSet, ctx: object = None) -> ScoreValue:
        if len(ss.samples) < 2:
            raise ValueError(f"{name} needs at least 2 sampled responses, got {len(ss.samples)}")
        rows = [_internals(s, name, f"sample {j}").embedding for j, s in enumerate(ss.samples)]
        if len({r.shape for r in rows}) > 1:
            raise ValueError(f"{name}: the samples' embeddings differ in size")
        es = IF.eigenscore(np.stack(rows), alpha)
        return ScoreValue(1.0 / (1.0 + math.exp(es)), {f"{name}_value": es})

    return ScorerSpec(
        family="white-box",
        name=name,
        needs=frozenset({"samples", "sample_internals"}),
        raw_direction="uncertainty",
        raw_range=(math.log(alpha), _INF),
        raw_columns=(f"{name}_value",),
        compute=compute,
        confidence_map=(
            f"σ(−ES), ES = (1/K) Σ_k log λ_k(Z J_d Zᵀ + αI), α = {alpha:g}, Z the samples' "
            "middle-layer last-token embeddings"
        ),
        reference="Chen et al. 2024 (INSIDE, ICLR); LM-Polygraph EigenScore",
        summary="Spread of the samples' hidden states: the log-determinant of their covariance.",
    )


SPECS = [
    rauq_scorer(),
    attention_score_scorer(),
    attention_score_scorer(include_prompt=False),
    eigenscore_scorer(),
]

INTERNALS_SCORERS: dict[str, ScorerSpec] = {s.name: s for s in SPECS}


def needs_internals(scorers: Sequence[str | ScorerSpec]) -> bool:
    """Whether any of these scorers (names or specs) reads the model's internals, so that
    generation must capture them."""
    needs = {"answer_internals", "sample_internals"}
    return any(
        bool(needs & s.needs) if isinstance(s, ScorerSpec) else s in INTERNALS_SCORERS
        for s in scorers
    )
