"""``CodeGenUQ``: UQLM 0.6's code-generation UQ, with functional equivalence decided by
running the code.

UQLM asks an LLM whether two programs are equivalent; lmuq runs each generated program
(the answer and every sample) on the prompt's test inputs in a sandboxed subprocess with
time and memory limits (:mod:`lmuq.grading.code_sandbox`; never in lmuq's process) and
compares what they return (:mod:`lmuq.scoring.functional.functional_equivalence`). So
the functional scorers need ``test_inputs`` (one list of argument lists per prompt) and the
``entry_point`` function name, given to :meth:`CodeGenUQ.score` /
:meth:`CodeGenUQ.generate_and_score`.

Scorers: ``functional_equivalence_rate``, ``functional_negentropy``,
``functional_sets_confidence`` (execution); ``cosine_sim`` (code embeddings); UQLM's
white-box names (``sequence_probability``, ``min_probability``, ``mean_token_negentropy``,
``min_token_negentropy``, ``probability_margin``, ``monte_carlo_probability``,
``consistency_and_confidence``, ``p_true``) and ``verbalized_confidence`` (``llm`` as the
judge). Default: UQLM's, functional_equivalence_rate and cosine_sim. UQLM's ``code_bleu``
needs the codebleu package and is not offered; UQLM's ``equivalence_llm`` / ``retries``
(its LLM-judged equivalence) have no counterpart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lmuq.backends.resolve import as_backend
from lmuq.backends.sync import run_sync
from lmuq.chat import as_prompt
from lmuq.generation.draws import adraw
from lmuq.grading.code_sandbox import Outcome, extract_code, run_program
from lmuq.results import UQResult
from lmuq.scoring.functional import functional_equivalence as FE
from lmuq.scoring.registry import resolve_scorers
from lmuq.scoring.spec import ScorerSpec
from lmuq.types import Generation, SampleSet, SamplingParams
from lmuq.uq.scorer import UQScorer
from lmuq.uq.whitebox import sets_from_logprobs, uqlm_whitebox_spec

__all__ = ["CODEGEN_SCORERS", "DEFAULT_CODEGEN_SCORERS", "CodeGenUQ"]

FUNCTIONAL = {
    "functional_equivalence_rate": FE.functional_equivalence_rate,
    "functional_negentropy": FE.functional_negentropy,
    "functional_sets_confidence": FE.functional_sets_confidence,
}
_WHITE_BOX = (
    "sequence_probability",
    "min_probability",
    "mean_token_negentropy",
    "min_token_negentropy",
    "probability_margin",
    "monte_carlo_probability",
    "consistency_and_confidence",
    "p_true",
)
#: Every scorer CodeGenUQ offers.
CODEGEN_SCORERS = (*FUNCTIONAL, "cosine_sim", "verbalized_confidence", *_WHITE_BOX)
#: UQLM's default.
DEFAULT_CODEGEN_SCORERS = ("functional_equivalence_rate", "cosine_sim")
_SAMPLED = {*FUNCTIONAL, "cosine_sim", "monte_carlo_probability", "consistency_and_confidence"}
_TOP_K = {"mean_token_negentropy", "min_token_negentropy", "probability_margin"}


class CodeGenUQ:
    """UQ for generated code (UQLM 0.6's ``CodeGenUQ``; see the module docstring).

    Args:
        llm: a LangChain chat model or an lmuq backend (it generates; it judges
            ``p_true`` / ``verbalized_confidence``).
        scorers: names from :data:`CODEGEN_SCORERS` (None: UQLM's default).
        system_prompt / max_calls_per_min: a LangChain model's settings.
        sampling_temperature: the samples' temperature (> 0).
        top_k_logprobs: alternatives per token for the top-k scorers.
        length_normalize: p = exp(ℓ/L) for the probability scorers (UQLM's default).
        max_length: responses are truncated to this many characters.
        sentence_transformer: the code embedding model of ``cosine_sim``.
        language: ``"python"`` (the only language the sandbox runs).
        timeout_s / memory_mb: each program's wall-clock and memory limits (lmuq's).
        max_workers: programs run at once (default: the CPU count).
        embedder: a ready embedder instead of loading ``sentence_transformer`` (lmuq's).

    Parameters are stored under their own names and never changed by scoring.
    """

    def __init__(
        self,
        llm: Any = None,
        scorers: Sequence[str] | None = None,
        system_prompt: str | None = None,
        max_calls_per_min: int | None = None,
        sampling_temperature: float = 1.0,
        top_k_logprobs: int = 15,
        length_normalize: bool = True,
        max_length: int = 2000,
        sentence_transformer: str = "jinaai/jina-embeddings-v2-base-code",
        language: str = "python",
        *,
        timeout_s: float = 5.0,
        memory_mb: int = 512,
        max_workers: int | None = None,
        embedder: Any = None,
    ) -> None:
        names = list(DEFAULT_CODEGEN_SCORERS if scorers is None else scorers)
        if not names:
            raise ValueError("scorers is empty: name at least one scorer")
        for n in names:
            if n == "code_bleu":
                raise ValueError("code_bleu needs the codebleu package, which lmuq does not use")
            if n not in CODEGEN_SCORERS:
                raise ValueError(f"unknown scorer {n!r}; choose from {', '.join(CODEGEN_SCORERS)}")
        if language != "python":
            raise ValueError(f"the code sandbox runs Python only, got language={language!r}")
        if sampling_temperature <= 0:
            raise ValueError(f"sampling_temperature must be > 0, got {sampling_temperature}")
        if timeout_s <= 0 or memory_mb < 16:
            raise ValueError("timeout_s must be > 0 and memory_mb >= 16")
        self.llm = llm
        self.scorers = scorers
        self.system_prompt = system_prompt
        self.max_calls_per_min = max_calls_per_min
        self.sampling_temperature = sampling_temperature
        self.top_k_logprobs = top_k_logprobs
        self.length_normalize = length_normalize
        self.max_length = max_length
        self.sentence_transformer = sentence_transformer
        self.language = language
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.max_workers = max_workers
        self.embedder = embedder
        self._names = names
        specs = self._model_specs()
        judge = None if llm is None else as_backend(llm, max_calls_per_min=max_calls_per_min)
        self._core = (
            UQScorer(
                specs,
                nli_model_name=None,
                sentence_transformer=sentence_transformer,
                judge=judge,
                embedder=embedder,
            )
            if specs
            else None
        )

    @property
    def scorer_names(self) -> list[str]:
        return list(self._names)

    def _model_specs(self) -> list[ScorerSpec]:
        specs: list[ScorerSpec] = []
        for n in self._names:
            if n in FUNCTIONAL:
                continue
            if n in ("cosine_sim", "verbalized_confidence"):
                specs.extend(resolve_scorers([n]))
            else:
                specs.append(uqlm_whitebox_spec(n, self.length_normalize))
        return specs

    # ------------------------------------------------------------------ execution

    def run_programs(
        self, codes: Sequence[str], inputs: Sequence[Sequence[Any]], entry_point: str
    ) -> list[list[Outcome]]:
        """Each code's outcomes on ``inputs`` (sandboxed, several at once; identical code
        runs once)."""
        unique = list(dict.fromkeys(codes))
        workers = self.max_workers or os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            runs = list(
                pool.map(
                    lambda c: run_program(
                        c, inputs, entry_point, timeout_s=self.timeout_s, memory_mb=self.memory_mb
                    ),
                    unique,
                )
            )
        found = dict(zip(unique, runs, strict=True))
        return [found[c] for c in codes]

    # ------------------------------------------------------------------ scoring

    def score_sample_sets(
        self,
        sample_sets: Sequence[SampleSet],
        test_inputs: Sequence[Sequence[Sequence[Any]]] | None = None,
        entry_point: str | Sequence[str] | None = None,
        show_progress_bars: bool = False,
    ) -> UQResult:
        """Score sample sets; the functional scorers need ``test_inputs`` (per prompt, a
        list of argument lists) and ``entry_point`` (one name, or one per prompt)."""
        sets = [_truncate(ss, self.max_length) for ss in sample_sets]
        functional = [n for n in self._names if n in FUNCTIONAL]
        if self._core is not None:
            result = self._core.score(sets, progress=show_progress_bars)
        else:
            result = UQResult(
                columns={
                    "prompt": [ss.prompt for ss in sets],
                    "response": [ss.answer.text for ss in sets],
                    "sampled_responses": [ss.sample_texts for ss in sets],
                    "score_errors": [{} for _ in sets],
                },
                scorers=[],
                sample_sets=sets,
            )
        if functional:
            if test_inputs is None or entry_point is None:
                raise ValueError(
                    f"{', '.join(functional)} run the code: pass test_inputs (per prompt, a "
                    "list of argument lists) and entry_point (the function's name)"
                )
            if len(test_inputs) != len(sets):
                raise ValueError(
                    f"test_inputs has {len(test_inputs)} items for {len(sets)} prompts"
                )
            entries = (
                [entry_point] * len(sets) if isinstance(entry_point, str) else list(entry_point)
            )
            if len(entries) != len(sets):
                raise ValueError(f"entry_point has {len(entries)} names for {len(sets)} prompts")
            outcomes = []
            for ss, inputs, entry in zip(sets, test_inputs, entries, strict=True):
                codes = [extract_code(t, self.language) for t in [ss.answer.text, *ss.sample_texts]]
                outcomes.append(self.run_programs(codes, inputs, entry))
            for n in functional:
                result.columns[n] = [FUNCTIONAL[n](o) for o in outcomes]
            result.columns["functional_clusters"] = [FE.functional_clusters(o) for o in outcomes]
            result.details["outcomes"] = outcomes
        result.scorers = list(self._names)
        return result

    async def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        sampled_responses: Sequence[Sequence[str]] | None = None,
        logprobs_results: Sequence[Sequence[Mapping[str, Any]]] | None = None,
        sampled_logprobs_results: Sequence[Sequence[Sequence[Mapping[str, Any]]]] | None = None,
        show_progress_bars: bool = True,
        *,
        test_inputs: Sequence[Sequence[Sequence[Any]]] | None = None,
        entry_point: str | Sequence[str] | None = None,
    ) -> UQResult:
        """Score code generated elsewhere (UQLM's ``score``, plus the test data)."""
        prompts = [as_prompt(p, f"prompts[{i}]") for i, p in enumerate(prompts)]
        if logprobs_results is not None:
            sets = sets_from_logprobs(
                logprobs_results, prompts, responses, sampled_responses, sampled_logprobs_results
            )
        else:
            rows = sampled_responses or [[] for _ in responses]
            sets = [
                SampleSet(p, Generation(r), [Generation(s) for s in row])
                for p, r, row in zip(prompts, responses, rows, strict=True)
            ]
        return self.score_sample_sets(sets, test_inputs, entry_point, show_progress_bars)

    async def generate_and_score(
        self,
        prompts: Sequence[str],
        num_responses: int = 5,
        show_progress_bars: bool = True,
        *,
        test_inputs: Sequence[Sequence[Sequence[Any]]] | None = None,
        entry_point: str | Sequence[str] | None = None,
    ) -> UQResult:
        """Generate the code (answer and, when a scorer needs them, samples) and score."""
        backend = as_backend(
            self.llm,
            system_prompt=self.system_prompt,
            max_calls_per_min=self.max_calls_per_min,
            top_logprobs=self.top_k_logprobs if _TOP_K & set(self._names) else None,
            owner="CodeGenUQ",
        )
        temp = getattr(self.llm, "temperature", None)
        sets = await adraw(
            backend,
            list(prompts),
            num_responses if _SAMPLED & set(self._names) else 0,
            answer_params=SamplingParams(
                temperature=float(temp) if temp is not None else 0.0, max_new_tokens=512
            ),
            sample_params=SamplingParams(temperature=self.sampling_temperature, max_new_tokens=512),
            progress=show_progress_bars,
        )
        return self.score_sample_sets(sets, test_inputs, entry_point, show_progress_bars)

    def generate_and_score_sync(
        self, prompts: Sequence[str], num_responses: int = 5, **kw: Any
    ) -> UQResult:
        """Synchronous twin of :meth:`generate_and_score`."""
        return run_sync(lambda: self.generate_and_score(prompts, num_responses, **kw))


def _truncate(ss: SampleSet, n: int) -> SampleSet:
    def cut(g: Generation) -> Generation:
        return g if g.failed or len(g.text) <= n else g.with_text(g.text[:n])

    return SampleSet(
        ss.prompt, cut(ss.answer), [cut(s) for s in ss.samples], dict(ss.params), ss.reference
    )
