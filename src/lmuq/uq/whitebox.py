"""``WhiteBoxUQ``: white-box (log-probability) scorers over sample sets, and UQLM 0.6's
``WhiteBoxUQ`` front door (it generates itself when given ``llm``), on one core.

Two meanings of the scorer names, chosen by how the object is used:

* lmuq's (``WhiteBoxUQ(scorers).score(sample_sets)`` with neither ``llm`` nor
  ``length_normalize`` given): each name is the registry's scorer
  (:data:`lmuq.scoring.SCORERS`), e.g. ``sequence_probability`` = exp(ℓ).
* UQLM's (``llm`` given, ``length_normalize`` given, or UQLM's
  ``score(logprobs_results=...)``): the names of UQLM 0.6 with its ``length_normalize``
  (default True) bound — ``sequence_probability`` = exp(ℓ/L), ``monte_carlo_probability``
  averages over the answer and the samples, ``semantic_negentropy`` is the
  probability-weighted ("tokenprob") semantic entropy with UQLM's clustering and
  ``prompts_in_nli``, ``semantic_density`` counts every sample, ``p_true`` asks ``llm``
  itself with UQLM's True/False prompt (its first reply token's probability). Scorer
  names UQLM lacks keep lmuq's meaning.

Both run through :class:`~lmuq.uq.scorer.UQScorer` (its statistics load the NLI model and
embedder only when a scorer needs them).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from lmuq.backends.resolve import as_backend
from lmuq.backends.sync import run_sync
from lmuq.chat import as_prompt
from lmuq.generation.draws import adraw
from lmuq.results import UQResult
from lmuq.scoring.blackbox import semantic_entropy_scorer
from lmuq.scoring.functional.p_true import p_true_prompt_uqlm
from lmuq.scoring.judged import p_true_scorer
from lmuq.scoring.registry import resolve_scorers, scorer_names
from lmuq.scoring.spec import ScorerSpec
from lmuq.scoring.whitebox import (
    MODEL_FREE,
    WHITEBOX_SCORERS,
    consistency_and_confidence_scorer,
    monte_carlo_probability_scorer,
    semantic_density_scorer,
    sequence_probability_scorer,
)
from lmuq.statistics.shared import DEFAULT_NLI_MODEL, DEFAULT_SENTENCE_TRANSFORMER
from lmuq.types import Generation, SampleSet, SamplingParams
from lmuq.uq.scorer import UQScorer

__all__ = [
    "DEFAULT_WHITEBOX_SCORERS",
    "UQLM_SAMPLED_SCORERS",
    "UQLM_WHITEBOX_SCORERS",
    "WhiteBoxUQ",
    "score_sample_sets",
    "uqlm_whitebox_spec",
]

#: The white-box scorers that need nothing but log-probs (no NLI model, embedder or token
#: decoder): WhiteBoxUQ's default on lmuq's path. The others (semantic density, CoCoA,
#: SAR, CCP) load their models on first need.
DEFAULT_WHITEBOX_SCORERS: tuple[str, ...] = tuple(
    name for name in scorer_names("white-box") if name in MODEL_FREE
)

#: UQLM 0.6's white-box scorer names; its ``scorers=None`` computes all of them (its code;
#: its docstring says sequence_probability and min_probability).
UQLM_WHITEBOX_SCORERS: tuple[str, ...] = (
    "min_probability",
    "sequence_probability",
    "min_token_negentropy",
    "mean_token_negentropy",
    "probability_margin",
    "semantic_negentropy",
    "semantic_density",
    "monte_carlo_probability",
    "consistency_and_confidence",
    "p_true",
)

#: The UQLM scorers that need sampled responses.
UQLM_SAMPLED_SCORERS = frozenset(
    {
        "semantic_negentropy",
        "semantic_density",
        "monte_carlo_probability",
        "consistency_and_confidence",
    }
)
_TOP_K = frozenset({"min_token_negentropy", "mean_token_negentropy", "probability_margin"})


def uqlm_whitebox_spec(name: str, length_normalize: bool = True) -> ScorerSpec:
    """The scorer UQLM 0.6's white-box ``name`` computes, with its ``length_normalize``.

    Raises ``ValueError`` for ``normalized_probability`` (UQLM 0.5 replaced it by
    sequence_probability with length_normalize=True) and for names neither UQLM nor lmuq's
    white-box registry has."""
    if name == "sequence_probability":
        return sequence_probability_scorer(length_normalize)
    if name == "monte_carlo_probability":
        return monte_carlo_probability_scorer(length_normalize, include_answer=True)
    if name == "consistency_and_confidence":
        return consistency_and_confidence_scorer(length_normalize)
    if name == "semantic_density":
        return semantic_density_scorer("all", length_normalize)
    if name == "semantic_negentropy":
        return semantic_entropy_scorer(length_normalize, name="semantic_negentropy")
    if name == "p_true":
        return p_true_scorer(
            method="first_token",
            true_option="True",
            false_option="False",
            prompt=p_true_prompt_uqlm,
        )
    if name == "normalized_probability":
        raise ValueError(
            "normalized_probability is UQLM's sequence_probability with length_normalize=True "
            "(UQLM 0.5 dropped the name); on lmuq's path (no llm, no length_normalize) it is "
            "lmuq's registry scorer"
        )
    if name in WHITEBOX_SCORERS:
        return WHITEBOX_SCORERS[name]
    raise ValueError(
        f"unknown white-box scorer {name!r}; UQLM's are {', '.join(UQLM_WHITEBOX_SCORERS)}"
    )


class WhiteBoxUQ:
    """White-box UQ: lmuq's scorer over sample sets, and UQLM 0.6's ``WhiteBoxUQ``.

    lmuq's use: ``WhiteBoxUQ(["normalized_probability"]).score(sample_sets)``. UQLM's use
    (keywords, as UQLM's docs write it): ``WhiteBoxUQ(llm=llm, scorers=[...])`` then
    ``await generate_and_score(prompts, num_responses=5)`` or
    ``score(logprobs_results=..., responses=..., ...)``. See the module docstring for which
    meaning the names take.

    Args:
        scorers: scorer names (or ready specs on lmuq's path). None: the model-free
            white-box scorers on lmuq's path, all of UQLM's on UQLM's.
        on_error: ``"raise"`` (default) or ``"nan"`` (record a rejected row and go on).
        llm: a LangChain chat model (asked for log-probs through a copy, never mutated) or
            an lmuq backend returning token log-probs; it generates, and judges ``p_true``.
        system_prompt / max_calls_per_min / use_n_param: a LangChain model's settings.
        sampling_temperature: the samples' temperature (> 0); the answer keeps the
            model's own temperature (a LangChain model's ``temperature``, else greedy).
        top_k_logprobs: alternatives per token for the top-k scorers.
        length_normalize: UQLM's option (None: lmuq's names, or True when ``llm`` is given).
        prompts_in_nli: condition the NLI inputs on the prompt (newline-joined, UQLM's).
        device / max_length / sentence_transformer / nli_model_name: as UQLM's.
        nli_model / embedder: ready objects instead of loading (lmuq's, keyword-only).

    Parameters are stored under their own names and never changed by scoring.
    """

    def __init__(
        self,
        scorers: Sequence[Any] | None = None,
        on_error: Literal["raise", "nan"] = "raise",
        *,
        llm: Any = None,
        system_prompt: str | None = None,
        max_calls_per_min: int | None = None,
        sampling_temperature: float = 1.0,
        top_k_logprobs: int = 15,
        use_n_param: bool = False,
        length_normalize: bool | None = None,
        prompts_in_nli: bool = True,
        device: Any = None,
        max_length: int = 2000,
        sentence_transformer: str = DEFAULT_SENTENCE_TRANSFORMER,
        nli_model_name: str | None = DEFAULT_NLI_MODEL,
        nli_model: Any = None,
        embedder: Any = None,
    ) -> None:
        if on_error not in ("raise", "nan"):
            raise ValueError(f"on_error must be 'raise' or 'nan', got {on_error!r}")
        looks_like_llm = callable(getattr(scorers, "invoke", None)) or callable(
            getattr(scorers, "generate", None)
        )
        if scorers is not None and not isinstance(scorers, Sequence) and looks_like_llm:
            raise TypeError("WhiteBoxUQ's first positional argument is scorers: pass llm=llm")
        if sampling_temperature <= 0:
            raise ValueError(f"sampling_temperature must be > 0, got {sampling_temperature}")
        if not isinstance(top_k_logprobs, int) or top_k_logprobs < 1:
            raise ValueError(f"top_k_logprobs must be an int >= 1, got {top_k_logprobs!r}")
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        if length_normalize not in (None, True, False):
            raise TypeError(f"length_normalize must be a bool or None, got {length_normalize!r}")
        self.scorers = scorers
        self.on_error = on_error
        self.llm = llm
        self.system_prompt = system_prompt
        self.max_calls_per_min = max_calls_per_min
        self.sampling_temperature = sampling_temperature
        self.top_k_logprobs = top_k_logprobs
        self.use_n_param = use_n_param
        self.length_normalize = length_normalize
        self.prompts_in_nli = prompts_in_nli
        self.device = device
        self.max_length = max_length
        self.sentence_transformer = sentence_transformer
        self.nli_model_name = nli_model_name
        self.nli_model = nli_model
        self.embedder = embedder
        self._cores: dict[bool, UQScorer] = {}
        # validate the names now, loading nothing: UQLM's score(logprobs_results=...) form
        # takes UQLM's names even when lmuq's path would not
        try:
            self.specs(self.uqlm_names)
        except ValueError:
            if self.uqlm_names or not self._uqlm_only():
                raise
            self.specs(True)

    # ------------------------------------------------------------------ names

    @property
    def uqlm_names(self) -> bool:
        """Whether the names take UQLM's meaning on :meth:`score` (``llm`` or
        ``length_normalize`` given)."""
        return self.llm is not None or self.length_normalize is not None

    def specs(self, uqlm: bool) -> list[ScorerSpec]:
        """The scorers under UQLM's meaning of the names (``uqlm``) or lmuq's."""
        if not uqlm:
            names = DEFAULT_WHITEBOX_SCORERS if self.scorers is None else self.scorers
            try:
                return resolve_scorers(names, family="white-box")
            except (KeyError, ValueError) as exc:
                uqlm_only = [n for n in names if n in ("p_true", "semantic_negentropy")]
                if uqlm_only:
                    raise ValueError(
                        f"{uqlm_only} are UQLM white-box names: give llm= or "
                        "length_normalize= for UQLM's meaning"
                    ) from exc
                raise
        ln = True if self.length_normalize is None else self.length_normalize
        names = UQLM_WHITEBOX_SCORERS if self.scorers is None else self.scorers
        if not names:
            raise ValueError("scorers is empty: name at least one white-box scorer")
        return [n if isinstance(n, ScorerSpec) else uqlm_whitebox_spec(n, ln) for n in names]

    def _uqlm_only(self) -> bool:
        """Whether every name that lmuq's white-box registry lacks is one of UQLM's."""
        names = [n for n in self.scorers or () if isinstance(n, str)]
        return all(n in WHITEBOX_SCORERS or n in UQLM_WHITEBOX_SCORERS for n in names)

    @property
    def scorer_names(self) -> list[str]:
        return [s.name for s in self.specs(self.uqlm_names)]

    def core(self, uqlm: bool) -> UQScorer:
        """The :class:`UQScorer` this object scores with (built on first use, then kept
        with its loaded models and caches)."""
        if uqlm not in self._cores:
            judge = as_backend(self.llm, **self._llm_settings()) if self.llm is not None else None
            self._cores[uqlm] = UQScorer(
                self.specs(uqlm),
                nli_model_name=self.nli_model_name,
                sentence_transformer=self.sentence_transformer,
                condition_on_question=uqlm and self.prompts_in_nli,
                question_separator="\n",
                clustering="uqlm" if uqlm else "first_match",
                judge=judge,
                nli_model=self.nli_model,
                embedder=self.embedder,
                device=self.device,
                on_error=self.on_error,
            )
        return self._cores[uqlm]

    def _llm_settings(self) -> dict[str, Any]:
        return {
            "system_prompt": self.system_prompt,
            "max_calls_per_min": self.max_calls_per_min,
            "use_n": self.use_n_param,
            "top_logprobs": self.top_k_logprobs,
            "owner": "WhiteBoxUQ",
        }

    # ------------------------------------------------------------------ scoring

    def score(
        self,
        sample_sets: Sequence[SampleSet] | None = None,
        *,
        logprobs_results: Sequence[Sequence[Mapping[str, Any]]] | None = None,
        prompts: Sequence[str] | None = None,
        responses: Sequence[str] | None = None,
        sampled_responses: Sequence[Sequence[str]] | None = None,
        sampled_logprobs_results: Sequence[Sequence[Sequence[Mapping[str, Any]]]] | None = None,
        show_progress_bars: bool = False,
    ) -> UQResult:
        """One row per sample set, one confidence column per scorer.

        lmuq's form: ``score(sample_sets)``. UQLM's form (keywords): ``logprobs_results``
        (per response, UQLM's list of ``{"token", "logprob", "top_logprobs"}`` dicts) with
        ``responses``, and ``prompts`` / ``sampled_responses`` /
        ``sampled_logprobs_results`` as the scorers need; the names take UQLM's meaning."""
        if logprobs_results is not None:
            if sample_sets is not None:
                raise TypeError("give sample_sets or logprobs_results, not both")
            sets = sets_from_logprobs(
                logprobs_results, prompts, responses, sampled_responses, sampled_logprobs_results
            )
            return self._score(sets, uqlm=True, progress=show_progress_bars)
        if sample_sets is None:
            raise TypeError(
                "sample_sets is None: pass a list of SampleSet (lmuq), or logprobs_results= "
                "(UQLM's form)"
            )
        return self._score(list(sample_sets), uqlm=self.uqlm_names, progress=show_progress_bars)

    def _score(self, sets: list[SampleSet], uqlm: bool, progress: bool) -> UQResult:
        if uqlm:
            sets = [_truncate(ss, self.max_length) for ss in sets]
        return self.core(uqlm).score(sets, progress=progress)

    async def generate_and_score(
        self, prompts: Sequence[str], num_responses: int = 5, show_progress_bars: bool = True
    ) -> UQResult:
        """Generate an answer per prompt (with log-probs and top-k alternatives) and, when a
        sampled scorer is requested, ``num_responses`` samples; score them (UQLM's meaning
        of the names)."""
        backend = as_backend(self.llm, **self._llm_settings())
        names = self.scorer_names
        m = num_responses if UQLM_SAMPLED_SCORERS & set(names) else 0
        temp = getattr(self.llm, "temperature", None)
        answer = SamplingParams(temperature=float(temp) if temp is not None else 0.0)
        sample = SamplingParams(temperature=self.sampling_temperature)
        sets = await adraw(
            backend,
            list(prompts),
            m,
            answer_params=answer,
            sample_params=sample,
            progress=show_progress_bars,
        )
        if _TOP_K & set(names) and any(ss.answer.top_logprobs is None for ss in sets):
            warnings.warn(
                "the backend returned no top-k log-probs: the top-k scorers give NaN",
                UserWarning,
                stacklevel=2,
            )
        return self._score(sets, uqlm=True, progress=show_progress_bars)

    def generate_and_score_sync(
        self, prompts: Sequence[str], num_responses: int = 5, show_progress_bars: bool = True
    ) -> UQResult:
        """Synchronous twin of :meth:`generate_and_score` (works inside a running loop)."""
        return run_sync(lambda: self.generate_and_score(prompts, num_responses, show_progress_bars))


def _truncate(ss: SampleSet, n: int) -> SampleSet:
    def cut(g: Generation) -> Generation:
        return g if g.failed or len(g.text) <= n else g.with_text(g.text[:n])

    return SampleSet(
        ss.prompt, cut(ss.answer), [cut(s) for s in ss.samples], dict(ss.params), ss.reference
    )


def generation_from_logprobs(text: str, logprobs_result: Sequence[Mapping[str, Any]]) -> Generation:
    """A :class:`Generation` from UQLM's (OpenAI's) per-token log-prob records: each a
    mapping with ``token``, ``logprob`` and optionally ``top_logprobs`` (a list of
    ``{"token", "logprob"}``); rows with fewer alternatives are padded with −inf."""
    if isinstance(logprobs_result, (str, bytes)) or not isinstance(logprobs_result, Sequence):
        raise TypeError("a logprobs_result must be a list of {'token', 'logprob'} dicts")
    tokens, lps, tops = [], [], []
    for t, rec in enumerate(logprobs_result):
        if not isinstance(rec, Mapping) or "logprob" not in rec:
            raise ValueError(f"token {t}: expected a mapping with 'logprob', got {rec!r}")
        tokens.append(str(rec.get("token", "")))
        lps.append(float(rec["logprob"]))
        tops.append([float(a["logprob"]) for a in rec.get("top_logprobs") or []])
    top = None
    if tokens and all(tops):
        k = max(len(r) for r in tops)
        top = np.array([r + [-math.inf] * (k - len(r)) for r in tops])
    return Generation(text, logprobs=np.array(lps), tokens=tuple(tokens), top_logprobs=top)


def sets_from_logprobs(
    logprobs_results: Sequence[Sequence[Mapping[str, Any]]],
    prompts: Sequence[str] | None,
    responses: Sequence[str] | None,
    sampled_responses: Sequence[Sequence[str]] | None,
    sampled_logprobs_results: Sequence[Sequence[Sequence[Mapping[str, Any]]]] | None,
) -> list[SampleSet]:
    """Sample sets from UQLM's ``score`` arguments (texts default to the joined tokens)."""
    n = len(logprobs_results)
    if prompts is not None and not isinstance(prompts, str):
        prompts = [as_prompt(p, f"prompts[{i}]") for i, p in enumerate(prompts)]
    for what, v in (
        ("prompts", prompts),
        ("responses", responses),
        ("sampled_responses", sampled_responses),
        ("sampled_logprobs_results", sampled_logprobs_results),
    ):
        if v is not None and len(v) != n:
            raise ValueError(f"{what} has {len(v)} items but logprobs_results has {n}")
    sets = []
    for i, lr in enumerate(logprobs_results):
        text = responses[i] if responses is not None else "".join(r.get("token", "") for r in lr)
        answer = generation_from_logprobs(text, lr)
        samples: list[Generation] = []
        texts = sampled_responses[i] if sampled_responses is not None else None
        slps = sampled_logprobs_results[i] if sampled_logprobs_results is not None else None
        if texts is not None and slps is not None and len(texts) != len(slps):
            raise ValueError(
                f"row {i}: {len(texts)} sampled responses but {len(slps)} log-prob lists"
            )
        if slps is not None:
            for j, s in enumerate(slps):
                t = texts[j] if texts is not None else "".join(r.get("token", "") for r in s)
                samples.append(generation_from_logprobs(t, s))
        elif texts is not None:
            samples = [Generation(t) for t in texts]
        sets.append(SampleSet(prompts[i] if prompts is not None else "", answer, samples))
    return sets


def score_sample_sets(
    sample_sets: Sequence[SampleSet],
    scorers: Sequence[str] = DEFAULT_WHITEBOX_SCORERS,
    on_error: Literal["raise", "nan"] = "raise",
) -> UQResult:
    """lmuq 0.1's white-box entry point; use :func:`lmuq.scoring.score` (any family) or
    :class:`WhiteBoxUQ` instead."""
    warnings.warn(
        "lmuq.score_sample_sets is deprecated: use lmuq.scoring.score(sample_sets, scorers) "
        "or WhiteBoxUQ(scorers).score(sample_sets)",
        DeprecationWarning,
        stacklevel=2,
    )
    return WhiteBoxUQ(scorers, on_error).score(sample_sets)
