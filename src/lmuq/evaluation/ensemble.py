"""``UQEnsemble``: UQLM 0.6's ensemble scorer — a weighted mean of black-box, white-box and
judge components, tuned on graded data, saved as plain JSON.

One scorer object: every component is a scorer spec run by one
:class:`~lmuq.uq.scorer.UQScorer` pass (one NLI cache, one embedding pass, the judges'
calls batched), then ``ensemble_scores`` = the NaN-aware weighted mean of the components
(:func:`~lmuq.evaluation.tuning.ensemble_scores`; UQLM's dot product where no score is
missing). With ``use_best`` and a clustering component (as in UQLM), every component judges
the best response of the largest semantic cluster (its log-probs with it), and the result
keeps ``original_response`` and ``best_response_index``.
:meth:`UQEnsemble.tune_from_graded` / :meth:`UQEnsemble.tune` choose the weights and
threshold with lmuq's :class:`~lmuq.evaluation.tuning.Tuner` (UQLM's objectives).

Components are named as UQLM names them: a white-box name (UQLM's list; as in UQLM's code,
``semantic_negentropy`` is the white-box, probability-weighted one here), a black-box name,
or a judge (an :class:`~lmuq.uq.judged.LLMJudge`, a LangChain chat model or an lmuq
backend, each graded with its ``scoring_templates`` entry), columns ``judge_1``, ...
``scorers=None`` is UQLM's default, the BSDetector ensemble of Chen & Mueller 2023:
noncontradiction, exact_match and ``llm`` as a judge, weights 0.56, 0.14, 0.3.

Differences from UQLM 0.6, by design: ``weights`` and ``thresh`` are parameters and stay as
given; tuning sets ``weights_`` and ``thresh_`` (scikit-learn's convention), which scoring
then uses.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lmuq.backends.llm_config import load_llm_config, save_llm_config
from lmuq.backends.resolve import as_backend, is_backend
from lmuq.backends.sync import run_sync
from lmuq.chat import as_prompt
from lmuq.compat.uqlm import UQLM_BLACKBOX_SCORERS
from lmuq.evaluation.tuning import Tuner, ensemble_scores
from lmuq.generation.draws import adraw
from lmuq.grading.short_answer import grade_short_answer
from lmuq.results import UQResult
from lmuq.scoring.blackbox import judged_response_index
from lmuq.scoring.engine import score as engine_score
from lmuq.scoring.judged import llm_judge_scorer
from lmuq.scoring.registry import resolve_scorers
from lmuq.scoring.spec import ScorerSpec
from lmuq.statistics.shared import DEFAULT_NLI_MODEL, DEFAULT_SENTENCE_TRANSFORMER
from lmuq.types import Generation, SampleSet, SamplingParams
from lmuq.uq.judged import LLMJudge, judge_scale
from lmuq.uq.scorer import UQScorer
from lmuq.uq.whitebox import (
    UQLM_SAMPLED_SCORERS,
    UQLM_WHITEBOX_SCORERS,
    sets_from_logprobs,
    uqlm_whitebox_spec,
)

__all__ = ["BSDETECTOR_WEIGHTS", "UQEnsemble"]

#: UQLM's default (BSDetector) weights for noncontradiction, exact_match, the judge:
#: 0.7 · 0.8, 0.7 · 0.2, 0.3 (Chen & Mueller 2023).
BSDETECTOR_WEIGHTS = (0.7 * 0.8, 0.7 * 0.2, 0.3)

_TOP_K = frozenset({"min_token_negentropy", "mean_token_negentropy", "probability_margin"})


class UQEnsemble:
    """A weighted ensemble of UQ components (UQLM 0.6's ``UQEnsemble``; see the module doc).

    UQLM's parameters: ``llm``, ``scorers`` (components), ``device``, ``postprocessor``,
    ``system_prompt``, ``max_calls_per_min``, ``use_n_param``, ``thresh``, ``weights``
    (None: equal, or BSDetector's with ``scorers=None``; normalised to sum 1),
    ``nli_model_name``, ``use_best``, ``sampling_temperature``, ``scoring_templates`` (one
    per judge: ``"true_false_uncertain"`` (default), ``"true_false"``, ``"continuous"``,
    ``"likert"``), ``max_length``, ``verbose``, ``grader_llm`` (the LLM grader of
    :meth:`tune`; default ``llm``) and ``return_responses`` (with a ``postprocessor``:
    ``"all"`` adds ``raw_response`` / ``raw_sampled_responses``, ``"raw"`` returns the raw
    texts, ``"postprocessed"`` only the postprocessed ones).
    lmuq's (keyword-only): ``sentence_transformer``, ``nli_model``, ``embedder``.
    """

    def __init__(
        self,
        llm: Any = None,
        scorers: Sequence[Any] | None = None,
        device: Any = None,
        postprocessor: Callable[[str], str] | None = None,
        system_prompt: str | None = None,
        max_calls_per_min: int | None = None,
        use_n_param: bool = False,
        thresh: float = 0.5,
        weights: Sequence[float] | None = None,
        nli_model_name: str | None = DEFAULT_NLI_MODEL,
        use_best: bool = True,
        sampling_temperature: float = 1.0,
        scoring_templates: Sequence[str] | None = None,
        max_length: int = 2000,
        verbose: bool = False,
        grader_llm: Any = None,
        return_responses: Literal["all", "raw", "postprocessed"] = "all",
        *,
        sentence_transformer: str = DEFAULT_SENTENCE_TRANSFORMER,
        nli_model: Any = None,
        embedder: Any = None,
    ) -> None:
        self.llm = llm
        self.scorers = scorers
        self.device = device
        self.postprocessor = postprocessor
        self.system_prompt = system_prompt
        self.max_calls_per_min = max_calls_per_min
        self.use_n_param = use_n_param
        self.thresh = thresh
        self.weights = weights
        self.nli_model_name = nli_model_name
        self.use_best = use_best
        self.sampling_temperature = sampling_temperature
        self.scoring_templates = scoring_templates
        self.max_length = max_length
        self.verbose = verbose
        self.grader_llm = grader_llm
        self.return_responses = return_responses
        self.sentence_transformer = sentence_transformer
        self.nli_model = nli_model
        self.embedder = embedder
        if sampling_temperature <= 0:
            raise ValueError(f"sampling_temperature must be > 0, got {sampling_temperature}")
        if not 0 <= float(thresh) <= 1:
            raise ValueError(f"thresh must be in [0, 1], got {thresh}")
        if return_responses not in ("all", "raw", "postprocessed"):
            raise ValueError("return_responses must be 'all', 'raw' or 'postprocessed'")
        if postprocessor is not None and not callable(postprocessor):
            raise TypeError("postprocessor must be a callable str -> str")
        self._specs = self._component_specs()
        self._initial_weights = self._check_weights()
        self._core: UQScorer | None = None

    # ------------------------------------------------------------------ components

    @property
    def components(self) -> list[Any]:
        """The components as given (UQLM's default when ``scorers`` is None)."""
        if self.scorers is None:
            if self.llm is None:
                raise ValueError(
                    "scorers=None is the BSDetector ensemble, whose judge is llm: pass llm= "
                    "or name the components"
                )
            return ["noncontradiction", "exact_match", self.llm]
        if isinstance(self.scorers, str) or not isinstance(self.scorers, Sequence):
            raise TypeError("scorers must be a list of components")
        if not self.scorers:
            raise ValueError("scorers is empty: name at least one component")
        return list(self.scorers)

    @property
    def component_names(self) -> list[str]:
        """The result columns of the components: scorer names, then ``judge_k``."""
        return [s.name for s in self._specs]

    def _component_specs(self) -> list[ScorerSpec]:
        comps = self.components
        n_judges = sum(not isinstance(c, str) for c in comps)
        templates = list(self.scoring_templates or ["true_false_uncertain"] * n_judges)
        if len(templates) != n_judges:
            raise ValueError(
                f"scoring_templates has {len(templates)} entries for {n_judges} judges"
            )
        specs: list[ScorerSpec] = []
        k = 0
        for i, c in enumerate(comps):
            if isinstance(c, str):
                if c in UQLM_WHITEBOX_SCORERS:
                    specs.append(uqlm_whitebox_spec(c, True))
                elif c in UQLM_BLACKBOX_SCORERS:
                    specs.extend(resolve_scorers([c], family="black-box"))
                else:
                    raise ValueError(
                        f"component {i} {c!r} is neither a white-box scorer "
                        f"({', '.join(UQLM_WHITEBOX_SCORERS)}) nor a black-box one "
                        f"({', '.join(UQLM_BLACKBOX_SCORERS)})"
                    )
                continue
            k += 1
            name = f"judge_{k}"
            if isinstance(c, LLMJudge):
                specs.append(c.spec(name=name))
                continue
            from lmuq.backends.langchain import is_langchain_chat_model

            if not (is_langchain_chat_model(c) or is_backend(c)):
                raise TypeError(
                    f"component {i} is a {type(c).__name__}: components are scorer names, "
                    "LLMJudge instances, LangChain chat models or lmuq backends"
                )
            backend = as_backend(c, max_calls_per_min=self.max_calls_per_min, owner="UQEnsemble")
            specs.append(llm_judge_scorer(backend, scale=judge_scale(templates[k - 1]), name=name))
        if len({s.name for s in specs}) != len(specs):
            raise ValueError(f"a component is named twice: {[s.name for s in specs]}")
        return specs

    def _check_weights(self) -> list[float]:
        n = len(self._specs)
        if self.weights is None:
            w = list(BSDETECTOR_WEIGHTS) if self.scorers is None else [1.0] * n
        else:
            w = [float(x) for x in self.weights]
        if len(w) != n:
            raise ValueError(f"weights has {len(w)} entries for {n} components")
        if not all(math.isfinite(x) and x >= 0 for x in w) or sum(w) <= 0:
            raise ValueError(f"weights must be finite, non-negative, not all zero, got {w}")
        return [x / sum(w) for x in w]

    @property
    def ensemble_weights(self) -> list[float]:
        """The weights in use: tuned (``weights_``) once tuned, else ``weights`` normalised."""
        return list(getattr(self, "weights_", self._initial_weights))

    @property
    def ensemble_thresh(self) -> float:
        """The threshold in use: tuned (``thresh_``) once tuned, else ``thresh``."""
        return float(getattr(self, "thresh_", self.thresh))

    def core(self) -> UQScorer:
        """The one :class:`UQScorer` behind every component (built on first use)."""
        if self._core is None:
            judge = (
                as_backend(self.llm, max_calls_per_min=self.max_calls_per_min)
                if self.llm is not None
                else None
            )
            self._core = UQScorer(
                self._specs,
                nli_model_name=self.nli_model_name,
                sentence_transformer=self.sentence_transformer,
                use_best=self.use_best,
                judge=judge,
                nli_model=self.nli_model,
                embedder=self.embedder,
                device=self.device,
            )
        return self._core

    # ------------------------------------------------------------------ scoring

    def _say(self, message: str) -> None:
        if self.verbose:
            print(f"[UQEnsemble] {message}", file=sys.stderr, flush=True)

    def score_sample_sets(
        self, sample_sets: Sequence[SampleSet], show_progress_bars: bool = False
    ) -> UQResult:
        """Score sample sets; the result has each component's column and
        ``ensemble_scores``; it is kept as ``last_result_`` for :meth:`tune_from_graded`."""
        raw_sets = list(sample_sets)
        sets = [self._prepare(ss) for ss in raw_sets]
        self._say(f"scoring {len(sets)} responses with {', '.join(self.component_names)}")
        core = self.core()
        ctx = core.context()
        best: list[int] | None = None
        if core.applies_best:  # UQLM: every component judges the best response
            best = [judged_response_index(ss, ctx) for ss in sets]
            originals = [ss.answer.text for ss in sets]
            sets = [_swap(ss, b) for ss, b in zip(sets, best, strict=True)]
            ctx = dc_replace(ctx, use_best=False)
        result = engine_score(
            sets, core.specs, ctx, on_error=core.on_error, progress=show_progress_bars
        )
        if best is not None:
            result.columns["original_response"] = originals
            result.columns["best_response_index"] = best
        if self.postprocessor is not None and self.return_responses != "postprocessed":
            raw_r = [ss.answer.text for ss in raw_sets]
            raw_s = [ss.sample_texts for ss in raw_sets]
            if self.return_responses == "raw":
                result.columns["response"], result.columns["sampled_responses"] = raw_r, raw_s
            else:
                result.columns["raw_response"] = raw_r
                result.columns["raw_sampled_responses"] = raw_s
        matrix = np.array([result.columns[n] for n in self.component_names], dtype=float).T
        result.columns["ensemble_scores"] = ensemble_scores(matrix, self.ensemble_weights).tolist()
        result.scorers = ["ensemble_scores", *result.scorers]
        result.metadata.update(
            {
                "weights": self.ensemble_weights,
                "thresh": self.ensemble_thresh,
                "components": self.component_names,
                "sampling_temperature": self.sampling_temperature,
            }
        )
        self.last_result_ = result
        return result

    def _prepare(self, ss: SampleSet) -> SampleSet:
        def fix(g: Generation) -> Generation:
            if g.failed:
                return g
            text = self.postprocessor(g.text) if self.postprocessor else g.text
            return g.with_text(text[: self.max_length])

        return SampleSet(
            ss.prompt, fix(ss.answer), [fix(s) for s in ss.samples], dict(ss.params), ss.reference
        )

    async def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        sampled_responses: Sequence[Sequence[str]] | None = None,
        logprobs_results: Sequence[Sequence[Mapping[str, Any]]] | None = None,
        num_responses: int = 5,
        show_progress_bars: bool = True,
        *,
        sampled_logprobs_results: Sequence[Sequence[Sequence[Mapping[str, Any]]]] | None = None,
    ) -> UQResult:
        """Score responses generated elsewhere (UQLM's async ``score``): black-box
        components need ``sampled_responses``, white-box ones ``logprobs_results``."""
        prompts = [as_prompt(p, f"prompts[{i}]") for i, p in enumerate(prompts)]
        names = set(self.component_names)
        if (
            names & set(UQLM_BLACKBOX_SCORERS) - set(UQLM_WHITEBOX_SCORERS)
            and not sampled_responses
        ):
            raise ValueError("sampled_responses must be provided if using black-box scorers")
        if names & set(UQLM_WHITEBOX_SCORERS) and not logprobs_results:
            raise ValueError("logprobs_results must be provided if using white-box scorers")
        if logprobs_results:
            sets = sets_from_logprobs(
                logprobs_results, prompts, responses, sampled_responses, sampled_logprobs_results
            )
        else:
            if len(prompts) != len(responses):
                raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
            rows = sampled_responses or [[] for _ in responses]
            sets = [
                SampleSet(p, Generation(r), [Generation(s) for s in row])
                for p, r, row in zip(prompts, responses, rows, strict=True)
            ]
        return self.score_sample_sets(sets, show_progress_bars)

    def _needs_samples(self) -> bool:
        names = set(self.component_names)
        return bool(names & UQLM_SAMPLED_SCORERS or names & set(UQLM_BLACKBOX_SCORERS))

    async def generate_and_score(
        self, prompts: Sequence[str], num_responses: int = 5, show_progress_bars: bool = True
    ) -> UQResult:
        """Generate an answer per prompt (and ``num_responses`` samples when a component
        needs them) with ``llm``, then score."""
        top = 15 if _TOP_K & set(self.component_names) else None
        backend = as_backend(
            self.llm,
            system_prompt=self.system_prompt,
            max_calls_per_min=self.max_calls_per_min,
            use_n=self.use_n_param,
            top_logprobs=top,
            owner="UQEnsemble",
        )
        temp = getattr(self.llm, "temperature", None)
        sets = await adraw(
            backend,
            list(prompts),
            num_responses if self._needs_samples() else 0,
            answer_params=SamplingParams(temperature=float(temp) if temp is not None else 0.0),
            sample_params=SamplingParams(temperature=self.sampling_temperature),
            progress=show_progress_bars,
        )
        return self.score_sample_sets(sets, show_progress_bars)

    def generate_and_score_sync(
        self, prompts: Sequence[str], num_responses: int = 5, show_progress_bars: bool = True
    ) -> UQResult:
        """Synchronous twin of :meth:`generate_and_score`."""
        return run_sync(lambda: self.generate_and_score(prompts, num_responses, show_progress_bars))

    # ------------------------------------------------------------------ tuning

    def tune_from_graded(
        self,
        correct_indicators: Sequence[bool],
        weights_objective: str = "roc_auc",
        thresh_bounds: tuple[float, float] = (0, 1),
        thresh_objective: str = "fbeta_score",
        n_trials: int = 100,
        step_size: float = 0.01,
        fscore_beta: float = 1,
        show_progress_bars: bool = True,
    ) -> UQResult:
        """Tune the weights and threshold on the last scored responses and their grades
        (UQLM's); sets ``weights_`` and ``thresh_`` and returns the rescored result."""
        last = getattr(self, "last_result_", None)
        if last is None:
            raise ValueError("score or generate_and_score first: there are no scores to tune on")
        score_lists = [last.columns[n] for n in self.component_names]
        if len(self.component_names) == 1:
            best = Tuner().tune_threshold(
                score_lists[0],
                correct_indicators,
                thresh_objective,
                thresh_bounds,
                step_size,
                fscore_beta,
            )
            self.weights_, self.thresh_ = [1.0], float(best)
        else:
            found = Tuner().tune_params(
                score_lists,
                correct_indicators,
                weights_objective=weights_objective,
                thresh_objective=thresh_objective,
                thresh_bounds=thresh_bounds,
                n_trials=n_trials,
                step_size=step_size,
                fscore_beta=fscore_beta,
            )
            self.weights_, self.thresh_ = list(found["weights"]), float(found["thresh"])
        if show_progress_bars or self.verbose:
            self.print_ensemble_weights()
        return self.score_sample_sets(last.sample_sets)

    async def tune(
        self,
        prompts: Sequence[str],
        ground_truth_answers: Sequence[Any],
        grader_function: Callable[[str, Any], bool] | None = None,
        num_responses: int = 5,
        weights_objective: str = "roc_auc",
        thresh_bounds: tuple[float, float] = (0, 1),
        thresh_objective: str = "fbeta_score",
        n_trials: int = 100,
        step_size: float = 0.01,
        fscore_beta: float = 1,
        show_progress_bars: bool = True,
    ) -> UQResult:
        """Generate, score, grade each response against its ground-truth answer, then
        :meth:`tune_from_graded`. Grading: ``grader_function(response, answer) -> bool``
        when given; else, as UQLM, an LLM grader (``grader_llm``, else ``llm``: a binary
        judge told the reference answer; an unreadable verdict counts as incorrect); with
        neither, lmuq's alias matcher (an answer may be a str or a list of aliases)."""
        result = await self.generate_and_score(prompts, num_responses, show_progress_bars)
        if len(ground_truth_answers) != len(result):
            raise ValueError(f"{len(ground_truth_answers)} answers for {len(result)} prompts")
        grader = self.grader_llm if self.grader_llm is not None else self.llm
        if grader_function is None and grader is not None:
            correct = await self._llm_grades(result, ground_truth_answers, grader)
        else:
            grade = grader_function or _alias_grader
            correct = []
            for i, (r, a) in enumerate(
                zip(result.columns["response"], ground_truth_answers, strict=True)
            ):
                ok = grade(r, a)
                if not isinstance(ok, (bool, np.bool_)):
                    raise TypeError(
                        f"grader_function returned {type(ok).__name__} on row {i}, not bool"
                    )
                correct.append(bool(ok))
        return self.tune_from_graded(
            correct,
            weights_objective,
            thresh_bounds,
            thresh_objective,
            n_trials,
            step_size,
            fscore_beta,
            show_progress_bars,
        )

    async def _llm_grades(
        self, result: UQResult, answers: Sequence[Any], grader: Any
    ) -> list[bool]:
        backend = as_backend(grader, max_calls_per_min=self.max_calls_per_min, owner="UQEnsemble")
        sets = [
            SampleSet(
                ss.prompt, Generation(r), [], reference=a if isinstance(a, str) else "; ".join(a)
            )
            for ss, r, a in zip(
                result.sample_sets, result.columns["response"], answers, strict=True
            )
        ]
        spec = llm_judge_scorer(backend, scale="binary", name="grade")
        graded = await UQScorer([spec], nli_model_name=None, sentence_transformer=None).ascore(sets)
        return [v == 1.0 for v in graded.columns["grade"]]

    def print_ensemble_weights(self) -> None:
        """Print the weights, largest first."""
        rows = sorted(
            zip(self.component_names, self.ensemble_weights, strict=True), key=lambda r: -r[1]
        )
        print("Ensemble weights")
        for name, w in rows:
            print(f"  {name:<28}{w:>10.4f}")

    # ------------------------------------------------------------------ config

    def save_config(self, path: str | Path) -> None:
        """Save the components, weights (tuned when tuned) and threshold as plain JSON;
        judges given as LangChain models are saved as their configuration (no secrets),
        as is ``llm``."""
        comps, judges = [], {}
        k = 0
        for c in self.components:
            if isinstance(c, str):
                comps.append(c)
                continue
            k += 1
            comps.append(f"judge_{k}")
            try:
                judges[f"judge_{k}"] = save_llm_config(c)
            except TypeError:
                judges[f"judge_{k}"] = None  # rebuilt from load_config(judges=...)
        llm_config = None
        if self.llm is not None:
            try:
                llm_config = save_llm_config(self.llm)
            except TypeError:
                llm_config = None
        config = {
            "weights": self.ensemble_weights,
            "thresh": self.ensemble_thresh,
            "components": comps,
            "scoring_templates": list(self.scoring_templates) if self.scoring_templates else None,
            "llm_config": llm_config,
            "llm_scorers": judges,
        }
        Path(path).write_text(json.dumps(config, indent=2, allow_nan=False), encoding="utf-8")

    @classmethod
    def load_config(
        cls,
        path: str | Path,
        llm: Any = None,
        *,
        judges: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> UQEnsemble:
        """A new ensemble from :meth:`save_config`'s file. ``llm`` replaces the saved one;
        ``judges`` (``{"judge_1": model, ...}``) supplies judges that were not LangChain
        models (or replaces saved ones); ``options`` go to the constructor."""
        config = json.loads(Path(path).read_text(encoding="utf-8"))
        if llm is None and config.get("llm_config"):
            llm = load_llm_config(config["llm_config"])
        given = dict(judges or {})
        comps: list[Any] = []
        for c in config["components"]:
            if isinstance(c, str) and c.startswith("judge_"):
                if c in given:
                    comps.append(given[c])
                elif (config.get("llm_scorers") or {}).get(c):
                    comps.append(load_llm_config(config["llm_scorers"][c]))
                else:
                    raise ValueError(f"{c} was not a LangChain model: pass judges={{{c!r}: ...}}")
            else:
                comps.append(c)
        return cls(
            llm=llm,
            scorers=comps,
            weights=config["weights"],
            thresh=config["thresh"],
            scoring_templates=config.get("scoring_templates"),
            **options,
        )


def _alias_grader(response: str, answer: Any) -> bool:
    aliases = [answer] if isinstance(answer, str) else list(answer)
    return grade_short_answer(response, aliases)


def _swap(ss: SampleSet, best: int) -> SampleSet:
    """``ss`` with response ``best`` (0: the answer) as the answer, and the answer in its
    place among the samples (its log-probs travel with it)."""
    if best == 0:
        return ss
    samples = list(ss.samples)
    answer = samples[best - 1]
    samples[best - 1] = ss.answer
    return SampleSet(ss.prompt, answer, samples, dict(ss.params), ss.reference)
