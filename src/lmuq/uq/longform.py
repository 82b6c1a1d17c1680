"""``LongFormUQ``: a confidence for every claim of a long answer, and refinement.

It binds the long-form scorers (:mod:`lmuq.scoring.longform`) to one decomposition and
aggregation, runs them through the one scoring engine (:class:`~lmuq.uq.scorer.UQScorer`,
so every decomposer reply of every row is drawn in one call and every distinct
(premise, unit) NLI pair of every row and scorer runs once, batched and cached), and lays
the per-unit values out as a claim table: per row ``claims_data`` (UQLM's shape) and
:meth:`LongFormResult.claim_records` (one record per claim).

Refinement (uncertainty-aware decoding, Jiang et al. 2024, arXiv:2410.20783): units whose
confidence under one scorer is not above a threshold are dropped and the answer is rebuilt
from the rest; the result keeps both (``response`` and ``refined_response``, each scorer's
aggregate over the kept units as ``refined_<scorer>``, and ``removed`` per claim). Sentence
units are rebuilt from the answer's own text (no model); claims through an LLM.

>>> from lmuq import Generation, SampleSet
>>> from lmuq.uq.longform import LongFormUQ
>>> class Words:  # a toy NLI model: a sample entails a sentence that it contains
...     name = "words"
...     def predict_proba(self, premises, hypotheses):
...         import numpy as np
...         return np.array([[1.0, 0, 0] if h in p else [0, 1.0, 0]
...                          for p, h in zip(premises, hypotheses)])
>>> ss = SampleSet("Tell me of Paris.", Generation("Paris is big. Paris is blue."),
...                [Generation("Paris is big. It is old."), Generation("Paris is big.")])
>>> result = LongFormUQ(["claim_entailment"], nli_model=Words()).score([ss])
>>> [(c["claim"], c["claim_entailment"]) for c in result.columns["claims_data"][0]]
[('Paris is big.', 1.0), ('Paris is blue.', 0.0)]
>>> result.columns["claim_entailment"][0]
0.5
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from lmuq.claims import DecompositionPrompt, refinement_prompt
from lmuq.results import UQResult
from lmuq.scoring.functional import claims as F
from lmuq.scoring.longform import (
    DECOMPOSITION_PARAMS,
    LONGFORM_SCORERS,
    ClaimScores,
    Granularity,
    claim_scorer,
)
from lmuq.scoring.spec import ScorerSpec
from lmuq.statistics.shared import DEFAULT_SENTENCE_TRANSFORMER
from lmuq.twins import async_twin
from lmuq.types import SampleSet, SamplingParams
from lmuq.uq.scorer import UQScorer

__all__ = ["REFINEMENT_PARAMS", "LongFormResult", "LongFormUQ"]

#: How a refiner rewrites the kept claims: greedy, a paragraph.
REFINEMENT_PARAMS = SamplingParams(temperature=0.0, max_new_tokens=512)

Refiner = Literal["auto", "spans"] | Any


@dataclass
class LongFormResult(UQResult):
    """A :class:`~lmuq.results.UQResult` with the claim-level data.

    ``columns["claims_data"]`` holds, per row, one dict per unit: ``claim`` (its text),
    ``start`` / ``end`` (its character span in the response, -1 when unplaced), ``span``
    (``"exact"``, ``"sentence"`` or ``"none"``), ``origin`` (``"response"`` or ``"sample"``),
    one value per scorer (NaN where the scorer does not cover it), ``removed`` (refinement),
    and for grounding ``context_label``, ``context_entailment``, ``context_contradiction``.
    """

    granularity: str = "sentence"
    claim_scorers: list[str] = field(default_factory=list)

    def claim_records(self) -> list[dict[str, Any]]:
        """One record per claim: ``row`` (the response's index), ``prompt`` (when known),
        ``claim_index`` and the claim's fields."""
        prompts = self.columns.get("prompt")
        out = []
        for i, claims in enumerate(self.columns.get("claims_data", [])):
            for j, claim in enumerate(claims):
                rec: dict[str, Any] = {"row": i, "claim_index": j}
                if prompts is not None:
                    rec["prompt"] = prompts[i]
                rec.update(claim)
                out.append(rec)
        return out

    def claims_df(self):
        """:meth:`claim_records` as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.claim_records())


def _claim_key(claim: Any) -> tuple[str, str]:
    return (claim.text, claim.origin)


def claims_data(result: UQResult, scorers: Sequence[str]) -> list[list[dict[str, Any]]]:
    """Per row, the union of every long-form scorer's units (in first-seen order) with each
    scorer's value; a scorer that does not cover a unit (a claim graph's sample claims for
    a unit-response scorer) gives NaN there."""
    rows = []
    for i in range(len(result)):
        table: dict[tuple[str, str], dict[str, Any]] = {}
        for name in scorers:
            detail = result.details.get(name, [None] * len(result))[i]
            if not isinstance(detail, ClaimScores):
                continue
            for j, claim in enumerate(detail.claims):
                rec = table.setdefault(
                    _claim_key(claim),
                    {
                        "claim": claim.text,
                        "start": claim.start,
                        "end": claim.end,
                        "span": claim.span,
                        "origin": claim.origin,
                    },
                )
                rec[name] = detail.values[j]
                if detail.context:
                    support = detail.context[j]
                    rec["context_label"] = support.label
                    rec["context_entailment"] = support.entailment
                    rec["context_contradiction"] = support.contradiction
        for rec in table.values():
            for name in scorers:
                rec.setdefault(name, math.nan)
            rec["removed"] = False
        rows.append(list(table.values()))
    return rows


class LongFormUQ:
    """Score long answers claim by claim, sharing one decomposition and one NLI cache.

    Args:
        scorers: long-form scorer names (:data:`lmuq.scoring.longform.LONGFORM_SCORERS`)
            or ready long-form specs (:func:`~lmuq.scoring.longform.claim_scorer`).
        granularity: ``"sentence"`` (the model-free splitter, the default) or ``"claim"``.
        decomposer: the backend that extracts claims (``granularity="claim"``).
        decomposition_prompt: a preset (``"zhang_2025"``, ``"farquhar_2024"``,
            ``"mohri_2024"``, ``"jiang_2024"``) or a callable ``(response) -> prompt``.
        decomposition_params: the decomposer's decoding settings.
        aggregation: ``"mean"`` or ``"min"`` of the unit scores.
        nli_model_name / nli_model: the NLI model (hub id or folder, or a ready model or
            cache) the NLI scorers read.
        sentence_transformer / embedder / bertscorer: for ``claim_cosine_sim`` /
            ``claim_bert_score``.
        device / nli_batch_size: where models run, pairs per NLI forward pass.
        condition_on_question: prefix the prompt to both NLI texts.
        refine_threshold: refine every result (None: only when :meth:`refine` is called).
        refine_scorer: the scorer whose unit values decide what refinement keeps
            (default: the first scorer).
        refiner: ``"auto"`` (rebuild from the answer's own text when every kept unit has
            its exact span, else through the decomposer), ``"spans"``, or a backend.
        refinement_params: the refiner's decoding settings.
        on_error: ``"nan"`` records a row a scorer rejects as NaN with the reason.

    Parameters are stored under their own names and never changed by scoring; the models
    and caches (NLI pairs, decomposer and refiner replies) live in :attr:`statistics`.
    """

    def __init__(
        self,
        scorers: Sequence[str | ScorerSpec] = ("claim_entailment",),
        *,
        granularity: Granularity = "sentence",
        decomposer: Any = None,
        decomposition_prompt: str | DecompositionPrompt = "zhang_2025",
        decomposition_params: SamplingParams = DECOMPOSITION_PARAMS,
        aggregation: F.Aggregation = "mean",
        nli_model_name: str | None = None,
        nli_model: Any = None,
        sentence_transformer: str | None = DEFAULT_SENTENCE_TRANSFORMER,
        embedder: Any = None,
        bertscorer: Any = None,
        device: Any = None,
        nli_batch_size: int = 32,
        condition_on_question: bool = False,
        refine_threshold: float | None = None,
        refine_scorer: str | None = None,
        refiner: Refiner = "auto",
        refinement_params: SamplingParams = REFINEMENT_PARAMS,
        on_error: Literal["raise", "nan"] = "nan",
    ) -> None:
        if isinstance(scorers, (str, ScorerSpec)):
            scorers = [scorers]
        if not scorers:
            raise ValueError("scorers is empty: name at least one long-form scorer")
        if granularity == "claim" and decomposer is None:
            raise ValueError(
                "granularity='claim' needs a decomposer: pass decomposer= (any lmuq backend), "
                "or use granularity='sentence' (no model)"
            )
        specs = []
        for item in scorers:
            if isinstance(item, ScorerSpec):
                if item.family != "long-form":
                    raise ValueError(f"{item.name} is a {item.family} scorer, not long-form")
                specs.append(item)
            elif item in LONGFORM_SCORERS:
                specs.append(
                    claim_scorer(
                        item,
                        granularity=granularity,
                        decomposer=decomposer,
                        decomposition_prompt=decomposition_prompt,
                        decomposition_params=decomposition_params,
                        aggregation=aggregation,
                    )
                )
            else:
                raise ValueError(
                    f"unknown long-form scorer {item!r}; choose from {', '.join(LONGFORM_SCORERS)}"
                )
        names = [s.name for s in specs]
        if refine_scorer is not None and refine_scorer not in names:
            raise ValueError(f"refine_scorer {refine_scorer!r} is not one of the scorers {names}")
        if refine_threshold is not None:
            F.kept_claims([], refine_threshold)  # validates the threshold
        is_backend = callable(getattr(refiner, "generate", None)) or callable(
            getattr(refiner, "agenerate", None)
        )
        if not (is_backend or refiner in ("auto", "spans")):
            raise TypeError("refiner must be 'auto', 'spans' or an lmuq backend")
        self.scorers = scorers
        self.granularity = granularity
        self.decomposer = decomposer
        self.decomposition_prompt = decomposition_prompt
        self.decomposition_params = decomposition_params
        self.aggregation = aggregation
        self.nli_model_name = nli_model_name
        self.condition_on_question = condition_on_question
        self.refine_threshold = refine_threshold
        self.refine_scorer = refine_scorer
        self.refiner = refiner
        self.refinement_params = refinement_params
        self.on_error = on_error
        #: lmuq's orchestrator the scores run on (its statistics hold the models and caches).
        self.uq = UQScorer(
            specs,
            nli_model_name=nli_model_name,
            nli_model=nli_model,
            sentence_transformer=sentence_transformer,
            embedder=embedder,
            bertscorer=bertscorer,
            device=device,
            nli_batch_size=nli_batch_size,
            condition_on_question=condition_on_question,
            judge=decomposer,
            on_error=on_error,
        )

    @property
    def statistics(self):
        """The models and caches behind the scores (public, loaded on first need)."""
        return self.uq.statistics

    @property
    def scorer_names(self) -> list[str]:
        return self.uq.scorer_names

    # ---------------------------------------------------------------- scoring

    def score(self, sample_sets: Sequence[SampleSet], *, progress: bool = False) -> LongFormResult:
        """One row per response (each scorer's aggregate), the claims of each in
        ``claims_data``; refined when ``refine_threshold`` is set."""
        result = self._claim_result(self.uq.score(sample_sets, progress=progress))
        if self.refine_threshold is not None:
            result = self.refine(result)
        return result

    @async_twin(score)
    async def ascore(
        self, sample_sets: Sequence[SampleSet], *, progress: bool = False
    ) -> LongFormResult:
        """Async twin of :meth:`score` (decomposer and refiner through ``agenerate``)."""
        result = self._claim_result(await self.uq.ascore(sample_sets, progress=progress))
        if self.refine_threshold is not None:
            result = await self.arefine(result)
        return result

    def _claim_result(self, result: UQResult) -> LongFormResult:
        names = list(result.scorers)
        out = LongFormResult(
            columns=dict(result.columns),
            scorers=names,
            sample_sets=result.sample_sets,
            metadata={
                **result.metadata,
                "granularity": self.granularity,
                "aggregation": self.aggregation,
                "decomposition_prompt": _prompt_name(self.decomposition_prompt),
            },
            raw_columns=result.raw_columns,
            details=result.details,
            granularity=self.granularity,
            claim_scorers=names,
        )
        out.columns["claims_data"] = claims_data(result, names)
        return out

    # ------------------------------------------------------------- refinement

    def _plan_refinement(
        self, result: LongFormResult, threshold: float | None, scorer: str | None
    ) -> tuple[float, str, list[list[bool]], list[Any]]:
        threshold = self.refine_threshold if threshold is None else threshold
        if threshold is None:
            raise ValueError("refine needs a threshold: pass threshold= or refine_threshold=")
        F.kept_claims([], threshold)
        scorer = scorer or self.refine_scorer or result.claim_scorers[0]
        if scorer not in result.claim_scorers:
            raise ValueError(f"scorer {scorer!r} is not one of {result.claim_scorers}")
        kept = [
            F.kept_claims([c[scorer] for c in claims], threshold)
            for claims in result.columns["claims_data"]
        ]
        plans: list[Any] = []  # per row: a rebuilt text, or a prompt for the refiner
        for i, claims in enumerate(result.columns["claims_data"]):
            chosen = [c for c, k in zip(claims, kept[i], strict=True) if k]
            if not chosen:
                plans.append("")
            elif self._use_spans(chosen):
                spans = [(c["start"], c["end"]) for c in claims]
                plans.append(F.rebuild_from_spans(result.columns["response"][i], spans, kept[i]))
            else:
                prompt = result.columns["prompt"][i] if "prompt" in result.columns else None
                plans.append(_Prompt(refinement_prompt([c["claim"] for c in chosen], prompt)))
        return threshold, scorer, kept, plans

    def _use_spans(self, chosen: list[dict[str, Any]]) -> bool:
        exact = all(c["span"] == "exact" and c["origin"] == "response" for c in chosen)
        if self.refiner == "spans":
            if not exact:
                raise ValueError(
                    "refiner='spans' rebuilds from the answer's own text, but some kept claims "
                    "have no exact span there: pass a refiner backend (or refiner='auto')"
                )
            return True
        return self.refiner == "auto" and exact

    def _refiner_backend(self) -> Any:
        backend = self.decomposer if self.refiner in ("auto", "spans") else self.refiner
        if backend is None:
            raise ValueError(
                "refinement of claims without exact spans needs an LLM: pass refiner= (any "
                "lmuq backend) or decomposer="
            )
        return backend

    def _finish(
        self,
        result: LongFormResult,
        threshold: float,
        scorer: str,
        kept: list[list[bool]],
        texts: list[str],
        errors: list[str | None],
    ) -> LongFormResult:
        columns = dict(result.columns)
        rows = []
        for claims, keep in zip(columns["claims_data"], kept, strict=True):
            rows.append([{**c, "removed": not k} for c, k in zip(claims, keep, strict=True)])
        columns["claims_data"] = rows
        columns["refined_response"] = texts
        columns["refinement_errors"] = errors
        for name in result.claim_scorers:
            refined = []
            for claims, keep in zip(rows, kept, strict=True):
                values = [c[name] for c, k in zip(claims, keep, strict=True) if k]
                try:
                    refined.append(F.aggregate_claim_scores(values, self.aggregation))
                except ValueError:
                    refined.append(math.nan)  # nothing kept
            columns[f"refined_{name}"] = refined
        metadata = {**result.metadata, "refine_threshold": threshold, "refine_scorer": scorer}
        return LongFormResult(
            columns=columns,
            scorers=result.scorers,
            sample_sets=result.sample_sets,
            metadata=metadata,
            raw_columns=result.raw_columns,
            details=result.details,
            granularity=result.granularity,
            claim_scorers=result.claim_scorers,
        )

    def refine(
        self,
        result: LongFormResult,
        threshold: float | None = None,
        scorer: str | None = None,
    ) -> LongFormResult:
        """Drop the units whose ``scorer`` value is not above ``threshold`` and rebuild
        each answer from the rest (see the module docstring); a row with no unit kept gets
        an empty refined response. Returns a new result; ``result`` is unchanged."""
        threshold, scorer, kept, plans = self._plan_refinement(result, threshold, scorer)
        replies = self.statistics.judge_replies
        prompts = [p.text for p in plans if isinstance(p, _Prompt)]
        if prompts:
            backend = self._refiner_backend()
            replies.fill([replies.key(backend, self.refinement_params, p) for p in prompts])
        return self._finish(result, threshold, scorer, kept, *self._texts(plans))

    @async_twin(refine)
    async def arefine(
        self,
        result: LongFormResult,
        threshold: float | None = None,
        scorer: str | None = None,
    ) -> LongFormResult:
        """Async twin of :meth:`refine`."""
        threshold, scorer, kept, plans = self._plan_refinement(result, threshold, scorer)
        replies = self.statistics.judge_replies
        prompts = [p.text for p in plans if isinstance(p, _Prompt)]
        if prompts:
            backend = self._refiner_backend()
            await replies.afill([replies.key(backend, self.refinement_params, p) for p in prompts])
        return self._finish(result, threshold, scorer, kept, *self._texts(plans))

    def _texts(self, plans: list[Any]) -> tuple[list[str], list[str | None]]:
        texts: list[str] = []
        errors: list[str | None] = []
        for plan in plans:
            if isinstance(plan, _Prompt):
                reply = self.statistics.judge_replies.get(
                    self._refiner_backend(), self.refinement_params, plan.text
                )
                if reply is None or reply.failed:
                    texts.append("")
                    errors.append(f"refiner call failed: {getattr(reply, 'error', 'no reply')}")
                else:
                    texts.append(reply.text.strip())
                    errors.append(None)
            else:
                texts.append(plan)
                errors.append(None)
        return texts, errors


@dataclass(frozen=True)
class _Prompt:
    text: str


def _prompt_name(prompt: Any) -> str:
    return prompt if isinstance(prompt, str) else getattr(prompt, "__name__", "callable")
