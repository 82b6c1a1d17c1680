"""``BlackBoxUQ``: UQLM's black-box workflow on lmuq's core.

Every constructor parameter of UQLM 0.6's ``BlackBoxUQ`` is accepted with the same meaning,
so a UQLM notebook ports by changing its imports. The class only gathers inputs (generation
through the one draw path, postprocessing, truncation) and runs lmuq's
:class:`~lmuq.uq.scorer.UQScorer` (``bbuq.uq``); its models and caches are one public
:class:`~lmuq.statistics.shared.SharedStatistics` (``bbuq.statistics``): one NLI pair cache
shared by every NLI scorer and batched across prompts, one embedding pass over the distinct
texts. Extra keyword-only options expose the
choices papers and peers differ on (strict vs lenient entailment, question conditioning, a
non-NLI equivalence for the semantic scorers, exact-match normalisation).
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

from lmuq.backends.resolve import as_backend
from lmuq.backends.sync import run_sync
from lmuq.chat import as_prompt
from lmuq.generation.draws import adraw
from lmuq.results import UQResult
from lmuq.scoring.context import BestResponse, Clustering, Equivalence
from lmuq.statistics.shared import DEFAULT_NLI_MODEL, DEFAULT_SENTENCE_TRANSFORMER, SharedStatistics
from lmuq.types import Generation, SampleSet, SamplingParams
from lmuq.uq.scorer import UQScorer

__all__ = ["DEFAULT_BLACKBOX_SCORERS", "UQLM_BLACKBOX_SCORERS", "BlackBoxUQ"]

#: UQLM 0.6's default black-box scorers (what its code uses; its docstring also lists
#: entailment and semantic_sets_confidence, which it computes only when asked).
DEFAULT_BLACKBOX_SCORERS = (
    "semantic_negentropy",
    "noncontradiction",
    "exact_match",
    "cosine_sim",
)


#: Every black-box scorer name UQLM 0.6 accepts.
UQLM_BLACKBOX_SCORERS = (
    *DEFAULT_BLACKBOX_SCORERS,
    "bert_score",
    "entailment",
    "semantic_sets_confidence",
)


class BlackBoxUQ:
    """Consistency-based UQ from several responses to the same prompt.

    UQLM's parameters: ``llm`` (a LangChain chat model or an lmuq backend), ``scorers``,
    ``device``, ``use_best``, ``nli_model_name``, ``sentence_transformer``,
    ``postprocessor``, ``system_prompt``, ``max_calls_per_min``, ``sampling_temperature``,
    ``return_responses``, ``use_n_param``, ``max_length`` (responses are truncated to this
    many characters), ``verbose``, ``nli_batch_size``, and ``structured_response`` /
    ``output_extractor`` (both or neither): a LangChain ``llm`` is called through
    ``with_structured_output(structured_response)`` and ``output_extractor(result)`` is
    the response text.

    lmuq's options (keyword-only): ``strict_entailment`` (default True, Farquhar et al.;
    False = Kuhn et al.'s lenient rule), ``question_separator`` (what joins prompt and
    text when conditioning; UQLM's ``prompts_in_nli`` uses a newline), ``clustering`` /
    ``best_response`` (``"uqlm"`` reproduces UQLM 0.6's clustering and ``use_best``
    choice exactly; the defaults are lmuq's, see
    :data:`~lmuq.scoring.context.Clustering`), ``condition_on_question``,
    ``equivalence`` (``"nli"`` or a labelled non-NLI relation: ``"normalized_match"``,
    ``"numeric"``, ``"embedding"``), ``embedding_threshold``, ``exact_match_normalizer``,
    and ``nli_model`` / ``embedder`` / ``bertscorer`` / ``bleurt_model`` to pass ready
    objects (``bleurt`` needs the optional bleurt-pytorch package; see
    :mod:`lmuq.statistics.bleurt`).

    ``use_n_param`` asks a LangChain model for several samples per call (its ``n``
    field); ``max_calls_per_min`` and ``system_prompt`` apply to a LangChain model (an lmuq
    backend has its own settings: a warning says so when they are given with one);
    ``verbose`` prints each stage with its size and time to stderr.

    The models behind the statistics (``statistics``, a public
    :class:`~lmuq.statistics.shared.SharedStatistics`) load on the first call that needs
    them and keep content-keyed caches: a pair or text seen before costs nothing.
    """

    def __init__(
        self,
        llm: Any = None,
        scorers: Sequence[str] | None = None,
        device: Any = None,
        use_best: bool = True,
        nli_model_name: str | None = DEFAULT_NLI_MODEL,
        sentence_transformer: str = DEFAULT_SENTENCE_TRANSFORMER,
        postprocessor: Callable[[str], str] | None = None,
        structured_response: Any = None,
        output_extractor: Any = None,
        system_prompt: str | None = None,
        max_calls_per_min: int | None = None,
        sampling_temperature: float = 1.0,
        return_responses: Literal["all", "raw", "postprocessed"] = "all",
        use_n_param: bool = False,
        max_length: int = 2000,
        verbose: bool = False,
        nli_batch_size: int = 32,
        *,
        strict_entailment: bool = True,
        clustering: Clustering = "first_match",
        best_response: BestResponse = "prefer_answer",
        condition_on_question: bool = False,
        question_separator: str = " ",
        equivalence: Equivalence = "nli",
        embedding_threshold: float = 0.9,
        exact_match_normalizer: Callable[[str], str] | Literal["default"] | None = "default",
        nli_model: Any = None,
        embedder: Any = None,
        bertscorer: Any = None,
        bleurt_model: Any = None,
    ) -> None:
        names = list(DEFAULT_BLACKBOX_SCORERS if scorers is None else scorers)
        if not names:
            raise ValueError("scorers is empty: name at least one black-box scorer")
        if (structured_response is None) != (output_extractor is None):
            which = "structured_response" if output_extractor is None else "output_extractor"
            other = "output_extractor" if which == "structured_response" else "structured_response"
            raise ValueError(f"If `{which}` is specified, `{other}` must also be specified.")
        if output_extractor is not None and not callable(output_extractor):
            raise TypeError("output_extractor must be a callable: structured result -> str")
        if structured_response is not None and llm is not None and not _is_langchain(llm):
            raise TypeError(
                "structured_response/output_extractor need a LangChain chat model (its "
                "with_structured_output()); with an lmuq backend use postprocessor="
            )
        if sampling_temperature <= 0:
            raise ValueError(f"sampling_temperature must be > 0, got {sampling_temperature}")
        if return_responses not in ("all", "raw", "postprocessed"):
            raise ValueError("return_responses must be 'all', 'raw' or 'postprocessed'")
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        if postprocessor is not None and not callable(postprocessor):
            raise TypeError("postprocessor must be a callable str -> str")
        self.llm = llm
        self.scorers = scorers
        self.device = device
        self.use_best = use_best
        self.nli_model_name = nli_model_name
        self.sentence_transformer = sentence_transformer
        self.postprocessor = postprocessor
        self.structured_response = structured_response
        self.output_extractor = output_extractor
        self.system_prompt = system_prompt
        self.max_calls_per_min = max_calls_per_min
        self.sampling_temperature = sampling_temperature
        self.return_responses = return_responses
        self.use_n_param = use_n_param
        self.max_length = max_length
        self.verbose = verbose
        self.nli_batch_size = nli_batch_size
        self.strict_entailment = strict_entailment
        self.clustering = clustering
        self.best_response = best_response
        self.condition_on_question = condition_on_question
        self.question_separator = question_separator
        self.equivalence = equivalence
        self.embedding_threshold = embedding_threshold
        self.exact_match_normalizer = exact_match_normalizer
        self.nli_model = nli_model
        self.embedder = embedder
        self.bertscorer = bertscorer
        self.bleurt_model = bleurt_model
        #: lmuq's orchestrator this front door runs on (its ``statistics`` hold the models
        #: and caches, loaded on first need and kept across calls).
        self.uq = UQScorer(
            names,
            nli_model_name=nli_model_name,
            sentence_transformer=sentence_transformer,
            equivalence=equivalence,
            strict_entailment=strict_entailment,
            condition_on_question=condition_on_question,
            question_separator=question_separator,
            embedding_threshold=embedding_threshold,
            use_best=use_best,
            clustering=clustering,
            best_response=best_response,
            exact_match_normalizer=exact_match_normalizer,
            nli_model=nli_model,
            embedder=embedder,
            bertscorer=bertscorer,
            bleurt=bleurt_model,
            device=device,
            nli_batch_size=nli_batch_size,
        )
        if llm is not None and not _is_langchain(llm):
            given = [
                n
                for n, v in (
                    ("max_calls_per_min", max_calls_per_min),
                    ("system_prompt", system_prompt),
                )
                if v is not None
            ]
            if use_n_param:
                given.append("use_n_param")
            if given:
                warnings.warn(
                    f"{', '.join(given)} apply to a LangChain llm; set them on the lmuq backend "
                    f"{type(llm).__name__} itself (they are not used here)",
                    UserWarning,
                    stacklevel=2,
                )

    @property
    def statistics(self) -> SharedStatistics:
        """The models and caches behind the scores (public, loaded on first need)."""
        return self.uq.statistics

    @property
    def scorer_names(self) -> list[str]:
        """The scorers this object computes (UQLM's defaults when ``scorers`` is None)."""
        return self.uq.scorer_names

    # ------------------------------------------------------------------ scoring

    def score(
        self,
        responses: Sequence[str],
        sampled_responses: Sequence[Sequence[str]],
        prompts: Sequence[str] | None = None,
        show_progress_bars: bool = True,
    ) -> UQResult:
        """Score responses generated elsewhere (UQLM's ``score``); ``prompts`` are optional
        (needed for ``condition_on_question``; str or chat-message lists)."""
        if prompts is not None and not isinstance(prompts, str):
            prompts = [as_prompt(p, f"prompts[{i}]") for i, p in enumerate(prompts)]
        _check_texts(responses, sampled_responses, prompts)
        sets = [
            SampleSet(
                prompt=prompts[i] if prompts is not None else "",
                answer=Generation(text=r),
                samples=[Generation(text=s) for s in sampled_responses[i]],
            )
            for i, r in enumerate(responses)
        ]
        return self._score_sets(sets, has_prompts=prompts is not None, progress=show_progress_bars)

    def score_sample_sets(
        self, sample_sets: Sequence[SampleSet], show_progress_bars: bool = False
    ) -> UQResult:
        """Score :class:`SampleSet` s (log-probs, when present, feed ``semantic_entropy``)."""
        return self._score_sets(list(sample_sets), has_prompts=True, progress=show_progress_bars)

    def _say(self, message: str) -> None:
        if self.verbose:
            print(f"[BlackBoxUQ] {message}", file=sys.stderr, flush=True)

    def _score_sets(self, sets: list[SampleSet], has_prompts: bool, progress: bool) -> UQResult:
        raw_sets = sets
        sets = [self._prepare(ss) for ss in sets]
        self._say(f"scoring {len(sets)} responses with {', '.join(self.scorer_names)}")
        t0 = time.perf_counter()
        result = self.uq.score(sets, progress=progress)
        self._say(f"scored in {time.perf_counter() - t0:.1f} s")
        if "best_response_index" in result.columns:
            best = result.columns["best_response_index"]
            texts = [[ss.answer.text, *ss.sample_texts] for ss in sets]
            result.columns["original_response"] = result.columns["response"]
            result.columns["response"] = [t[b] for t, b in zip(texts, best, strict=True)]
            result.columns["sampled_responses"] = [
                t[:b] + t[b + 1 :] for t, b in zip(texts, best, strict=True)
            ]
        if self.postprocessor is not None and self.return_responses != "postprocessed":
            raw_r = [ss.answer.text for ss in raw_sets]
            raw_s = [ss.sample_texts for ss in raw_sets]
            if self.return_responses == "raw":
                result.columns["response"], result.columns["sampled_responses"] = raw_r, raw_s
            else:
                result.columns["raw_response"], result.columns["raw_sampled_responses"] = (
                    raw_r,
                    raw_s,
                )
        if not has_prompts:
            del result.columns["prompt"]
        result.metadata.update(
            {
                "sampling_temperature": self.sampling_temperature,
                "scorers": self.scorer_names,
                "num_responses": len(sets[0].samples) if sets else 0,
            }
        )
        return result

    def _prepare(self, ss: SampleSet) -> SampleSet:
        def fix(g: Generation) -> Generation:
            if g.failed:
                return g
            text = self.postprocessor(g.text) if self.postprocessor else g.text
            if not isinstance(text, str):
                raise TypeError(f"postprocessor returned {type(text).__name__}, expected str")
            return g.with_text(text[: self.max_length])

        return SampleSet(
            ss.prompt,
            fix(ss.answer),
            [fix(s) for s in ss.samples],
            dict(ss.params),
            ss.reference,
        )

    # ------------------------------------------------------------------ generation

    async def generate_and_score(
        self, prompts: Sequence[str], num_responses: int = 5, show_progress_bars: bool = True
    ) -> UQResult:
        """Generate an answer and ``num_responses`` samples per prompt, then score them."""
        sets = await self._generate(prompts, num_responses, show_progress_bars)
        return self._score_sets(sets, has_prompts=True, progress=show_progress_bars)

    def generate_and_score_sync(
        self, prompts: Sequence[str], num_responses: int = 5, show_progress_bars: bool = True
    ) -> UQResult:
        """Synchronous twin of :meth:`generate_and_score` (same behaviour); works in scripts
        and inside a running event loop (a notebook) alike."""
        return run_sync(lambda: self.generate_and_score(prompts, num_responses, show_progress_bars))

    def backend(self) -> Any:
        """The generation backend for ``llm``: a LangChain model is wrapped (never mutated)
        with this object's rate limit, system prompt and ``n`` setting; an lmuq backend is
        used as it is."""
        return as_backend(
            self.llm,
            system_prompt=self.system_prompt,
            max_calls_per_min=self.max_calls_per_min,
            use_n=self.use_n_param,
            structured_response=self.structured_response,
            output_extractor=self.output_extractor,
            owner="BlackBoxUQ",
        )

    async def _generate(self, prompts: Sequence[str], m: int, progress: bool) -> list[SampleSet]:
        backend = self.backend()
        if not isinstance(m, int) or isinstance(m, bool) or m < 1:
            raise ValueError(f"num_responses must be an int >= 1, got {m!r}")
        if _is_langchain(self.llm):
            # The answer keeps the user's own temperature, as UQLM does.
            temp = getattr(self.llm, "temperature", None)
            answer_params = SamplingParams(temperature=float(temp) if temp is not None else 0.0)
        else:
            answer_params = SamplingParams(temperature=0.0)
        sample_params = SamplingParams(
            temperature=self.sampling_temperature, max_new_tokens=answer_params.max_new_tokens
        )
        t0 = time.perf_counter()
        sets = await adraw(
            backend,
            list(prompts),
            m,
            answer_params=answer_params,
            sample_params=sample_params,
            progress=progress,
        )
        self._say(
            f"generated {len(sets)} x (1 + {m}) responses in {time.perf_counter() - t0:.1f} s"
        )
        return sets


def _is_langchain(llm: Any) -> bool:
    from lmuq.backends.langchain import is_langchain_chat_model

    return is_langchain_chat_model(llm)


def _check_texts(
    responses: Sequence[str], sampled: Sequence[Sequence[str]], prompts: Sequence[str] | None
) -> None:
    for what, value in (("responses", responses), ("sampled_responses", sampled)):
        if value is None or isinstance(value, str) or not isinstance(value, Sequence):
            shape = "a list of str" if what == "responses" else "a list of lists of str"
            raise TypeError(
                f"{what} must be {shape} (one entry per prompt), got {type(value).__name__}"
            )
    if prompts is not None and (isinstance(prompts, str) or not isinstance(prompts, Sequence)):
        raise TypeError(f"prompts must be a list of str or None, got {type(prompts).__name__}")
    if len(responses) == 0:
        raise ValueError("responses is empty: pass at least one response")
    if len(responses) != len(sampled):
        raise ValueError(
            f"responses has {len(responses)} items but sampled_responses has {len(sampled)}; "
            "they must match one to one"
        )
    if prompts is not None and len(prompts) != len(responses):
        raise ValueError(f"prompts has {len(prompts)} items but responses has {len(responses)}")
    for i, r in enumerate(responses):
        if not isinstance(r, str):
            raise TypeError(f"responses[{i}] is a {type(r).__name__}, expected str")
        if prompts is not None and not isinstance(prompts[i], str):
            raise TypeError(f"prompts[{i}] is a {type(prompts[i]).__name__}, expected str")
        if isinstance(sampled[i], str) or not isinstance(sampled[i], Sequence):
            raise TypeError(f"sampled_responses[{i}] must be a list of str")
        if len(sampled[i]) == 0:
            raise ValueError(
                f"sampled_responses[{i}] is empty: each response needs at least one sample"
            )
        for j, s in enumerate(sampled[i]):
            if not isinstance(s, str):
                raise TypeError(
                    f"sampled_responses[{i}][{j}] is a {type(s).__name__}, expected str"
                )
