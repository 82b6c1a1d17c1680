"""UQLM 0.6's ``SemanticEntropy`` and ``SemanticDensity`` classes on lmuq's core.

Both are :class:`~lmuq.compat.uqlm.BlackBoxUQ` with their scorers fixed and UQLM's column
names: generation, postprocessing, truncation and the shared NLI cache are BlackBoxUQ's.

* ``SemanticEntropy`` — discrete semantic entropy (cluster shares by count) and, when
  log-probs are given or generated, the probability-weighted ("tokenprob") form; UQLM's
  clustering rule and ``use_best`` choice by default (``clustering="uqlm"``,
  ``best_response_selection`` ``"discrete"`` / ``"tokenprob"``), NLI inputs conditioned on
  the prompt with a newline (``prompts_in_nli``). Columns ``discrete_entropy_values``,
  ``discrete_confidence_scores``, ``num_semantic_sets``, ``tokenprob_entropy_values``,
  ``tokenprob_confidence_scores``.
* ``SemanticDensity`` — Qiu & Miikkulainen 2024 as UQLM computes it: every sample a
  reference, weighted by p(ỹ)^(1/L) (``length_normalize``), NLI inputs prompt + newline +
  text. Column ``semantic_density_values``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from lmuq.compat.uqlm import BlackBoxUQ
from lmuq.results import UQResult
from lmuq.scoring.blackbox import semantic_entropy_scorer
from lmuq.scoring.context import Clustering
from lmuq.scoring.whitebox import semantic_density_scorer
from lmuq.statistics.shared import DEFAULT_NLI_MODEL
from lmuq.types import Generation, SampleSet
from lmuq.uq.whitebox import generation_from_logprobs, sets_from_logprobs

__all__ = ["SemanticDensity", "SemanticEntropy"]

_TOKENPROB = "tokenprob_semantic_negentropy"


def _logprob_sets(
    prompts: Sequence[str] | None,
    responses: Sequence[str],
    sampled_responses: Sequence[Sequence[str]],
    logprobs_results: Sequence[Sequence[Mapping[str, Any]]],
    sampled_logprobs_results: Sequence[Sequence[Sequence[Mapping[str, Any]]]] | None,
) -> list[SampleSet]:
    return sets_from_logprobs(
        logprobs_results, prompts, responses, sampled_responses, sampled_logprobs_results
    )


class SemanticEntropy(BlackBoxUQ):
    """UQLM 0.6's ``SemanticEntropy`` (see the module docstring); UQLM's parameters, plus
    lmuq's keyword-only ``clustering`` (default ``"uqlm"``), ``nli_model`` (a ready model)
    and ``strict_entailment`` (for ``clustering="first_match"``)."""

    def __init__(
        self,
        llm: Any = None,
        postprocessor: Callable[[str], str] | None = None,
        device: Any = None,
        use_best: bool = True,
        best_response_selection: Literal["discrete", "tokenprob"] = "discrete",
        system_prompt: str | None = None,
        max_calls_per_min: int | None = None,
        use_n_param: bool = False,
        sampling_temperature: float = 1.0,
        verbose: bool = False,
        nli_model_name: str | None = DEFAULT_NLI_MODEL,
        max_length: int = 2000,
        return_responses: Literal["all", "raw", "postprocessed"] = "all",
        length_normalize: bool = True,
        prompts_in_nli: bool = True,
        *,
        clustering: Clustering = "uqlm",
        strict_entailment: bool = True,
        nli_model: Any = None,
    ) -> None:
        if best_response_selection not in ("discrete", "tokenprob"):
            raise ValueError(
                "best_response_selection must be 'discrete' or 'tokenprob', got "
                f"{best_response_selection!r}"
            )
        self.best_response_selection = best_response_selection
        self.length_normalize = length_normalize
        self.prompts_in_nli = prompts_in_nli
        super().__init__(
            llm=llm,
            scorers=[
                "semantic_negentropy",
                semantic_entropy_scorer(length_normalize, name=_TOKENPROB),
            ],
            device=device,
            use_best=use_best,
            nli_model_name=nli_model_name,
            postprocessor=postprocessor,
            system_prompt=system_prompt,
            max_calls_per_min=max_calls_per_min,
            sampling_temperature=sampling_temperature,
            return_responses=return_responses,
            use_n_param=use_n_param,
            max_length=max_length,
            verbose=verbose,
            strict_entailment=strict_entailment,
            clustering=clustering,
            best_response="uqlm" if best_response_selection == "discrete" else "uqlm_tokenprob",
            condition_on_question=prompts_in_nli,
            question_separator="\n",
            nli_model=nli_model,
        )

    def score(  # type: ignore[override]
        self,
        prompts: Sequence[str] | None = None,
        responses: Sequence[str] | None = None,
        sampled_responses: Sequence[Sequence[str]] | None = None,
        logprobs_results: Sequence[Sequence[Mapping[str, Any]]] | None = None,
        sampled_logprobs_results: Sequence[Sequence[Sequence[Mapping[str, Any]]]] | None = None,
        show_progress_bars: bool = True,
    ) -> UQResult:
        """Semantic entropy of responses generated elsewhere (UQLM's ``score``); the
        tokenprob columns need ``logprobs_results`` and ``sampled_logprobs_results``."""
        if responses is None or sampled_responses is None:
            raise ValueError("score() needs responses and sampled_responses")
        if logprobs_results is not None:
            sets = _logprob_sets(
                prompts, responses, sampled_responses, logprobs_results, sampled_logprobs_results
            )
            return self._score_sets(
                sets, has_prompts=prompts is not None, progress=show_progress_bars
            )
        return super().score(responses, sampled_responses, prompts, show_progress_bars)

    def _score_sets(self, sets: list[SampleSet], has_prompts: bool, progress: bool) -> UQResult:
        result = super()._score_sets(sets, has_prompts, progress)
        c = result.columns
        c["discrete_entropy_values"] = c.pop("semantic_entropy_nats")
        c["discrete_confidence_scores"] = c.pop("semantic_negentropy")
        tokenprob = c.pop(_TOKENPROB)
        weighted = c.pop("semantic_entropy_weighted_nats")
        has_logprobs = all(g.logprobs is not None for ss in sets for g in (ss.answer, *ss.samples))
        if has_logprobs:
            c["tokenprob_entropy_values"] = weighted
            c["tokenprob_confidence_scores"] = tokenprob
        else:  # UQLM reports the tokenprob form only with log-probs
            for errors in c["score_errors"]:
                errors.pop(_TOKENPROB, None)
        result.scorers = (
            ["discrete_confidence_scores", "tokenprob_confidence_scores"]
            if has_logprobs
            else ["discrete_confidence_scores"]
        )
        return result


class SemanticDensity(BlackBoxUQ):
    """UQLM 0.6's ``SemanticDensity`` (see the module docstring); UQLM's parameters, plus
    lmuq's keyword-only ``nli_model`` (a ready model)."""

    def __init__(
        self,
        llm: Any = None,
        postprocessor: Callable[[str], str] | None = None,
        device: Any = None,
        system_prompt: str | None = "You are a helpful assistant.",
        max_calls_per_min: int | None = None,
        use_n_param: bool = False,
        sampling_temperature: float = 1.0,
        verbose: bool = False,
        nli_model_name: str | None = DEFAULT_NLI_MODEL,
        max_length: int = 2000,
        return_responses: Literal["all", "raw", "postprocessed"] = "all",
        length_normalize: bool = True,
        *,
        nli_model: Any = None,
    ) -> None:
        self.length_normalize = length_normalize
        super().__init__(
            llm=llm,
            scorers=[
                semantic_density_scorer("all", length_normalize, name="semantic_density_values")
            ],
            device=device,
            use_best=False,
            nli_model_name=nli_model_name,
            postprocessor=postprocessor,
            system_prompt=system_prompt if llm is not None and _langchain(llm) else None,
            max_calls_per_min=max_calls_per_min,
            sampling_temperature=sampling_temperature,
            return_responses=return_responses,
            use_n_param=use_n_param,
            max_length=max_length,
            verbose=verbose,
            condition_on_question=True,
            question_separator="\n",
            nli_model=nli_model,
        )
        self.system_prompt = system_prompt

    def score(  # type: ignore[override]
        self,
        prompts: Sequence[str] | None = None,
        responses: Sequence[str] | None = None,
        sampled_responses: Sequence[Sequence[str]] | None = None,
        logprobs_results: Sequence[Sequence[Mapping[str, Any]]] | None = None,
        sampled_logprobs_results: Sequence[Sequence[Sequence[Mapping[str, Any]]]] | None = None,
        show_progress_bars: bool = True,
    ) -> UQResult:
        """Semantic density of responses generated elsewhere (UQLM's ``score``): needs the
        prompts, responses, sampled responses and the samples' log-prob records."""
        if responses is None or sampled_responses is None or sampled_logprobs_results is None:
            raise ValueError(
                "score() needs responses, sampled_responses and sampled_logprobs_results"
            )
        if logprobs_results is not None:
            sets = _logprob_sets(
                prompts, responses, sampled_responses, logprobs_results, sampled_logprobs_results
            )
        else:  # the answer's own log-probs are not used
            if not (len(responses) == len(sampled_responses) == len(sampled_logprobs_results)):
                raise ValueError("responses, sampled_responses and their log-probs must match")
            sets = [
                SampleSet(
                    prompts[i] if prompts is not None else "",
                    Generation(r),
                    [
                        generation_from_logprobs(t, lp)
                        for t, lp in zip(
                            sampled_responses[i], sampled_logprobs_results[i], strict=True
                        )
                    ],
                )
                for i, r in enumerate(responses)
            ]

        return self._score_sets(sets, has_prompts=prompts is not None, progress=show_progress_bars)


def _langchain(llm: Any) -> bool:
    from lmuq.backends.langchain import is_langchain_chat_model

    return is_langchain_chat_model(llm)
