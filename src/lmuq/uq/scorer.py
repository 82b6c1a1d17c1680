"""``UQScorer``: lmuq's orchestrator for scorers of any family over sample sets.

It holds the scorer names, the scoring options and one public
:class:`~lmuq.statistics.shared.SharedStatistics` (the NLI model, embedder, encoders and
their caches, loaded on first need and kept across calls), and calls the scoring engine.
File scoring, Ray scoring, the demo job and UQLM's ``BlackBoxUQ`` front door are built on it.

>>> from lmuq import UQScorer, SampleSet, Generation
>>> scorer = UQScorer(["exact_match", "semantic_negentropy"], equivalence="normalized_match")
>>> ss = SampleSet("Capital of France?", Generation("Paris"),
...                [Generation("Paris."), Generation("paris"), Generation("Lyon")])
>>> round(scorer.score([ss]).columns["exact_match"][0], 4)
0.6667
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from lmuq.results import UQResult
from lmuq.scoring.blackbox import CLUSTER_ONLY, judged_response_index
from lmuq.scoring.context import (
    BestResponse,
    Clustering,
    Equivalence,
    ScoringContext,
    Similarity,
)
from lmuq.scoring.engine import ascore, required_statistics, score
from lmuq.scoring.functional.consistency import normalize_answer
from lmuq.scoring.registry import resolve_scorers
from lmuq.statistics.shared import DEFAULT_SENTENCE_TRANSFORMER, SharedStatistics
from lmuq.types import SampleSet

__all__ = ["UQScorer"]


class UQScorer:
    """Score sample sets with any registered scorers, sharing their statistics.

    Args:
        scorers: scorer names (any family; see :data:`lmuq.scoring.SCORERS`) or ready specs.
        nli_model_name: NLI model (hub id or folder) for the NLI scorers; None: none.
        sentence_transformer: the sentence-embedding model.
        equivalence: how the semantic scorers cluster (``"nli"``, ``"normalized_match"``,
            ``"numeric"``, ``"embedding"``).
        strict_entailment: strict bidirectional entailment (Farquhar et al. 2024) or
            lenient (Kuhn et al. 2023).
        condition_on_question: prefix the prompt to both NLI texts.
        question_separator: what joins the prompt and a text when conditioning (a space;
            UQLM's ``prompts_in_nli`` uses a newline).
        embedding_threshold: cosine threshold of the ``"embedding"`` equivalence.
        use_best: judge a member of the largest semantic cluster instead of the answer,
            when a clustering scorer is requested (UQLM's rule).
        clustering: ``"first_match"`` (default: each response joins one cluster) or
            ``"uqlm"`` (UQLM 0.6's rule: either direction's entailment, every matching
            cluster); see :data:`~lmuq.scoring.context.Clustering`.
        best_response: which member ``use_best`` judges: ``"prefer_answer"`` (default) or
            ``"uqlm"`` (the most repeated text of the largest cluster, else the longest).
        exact_match_normalizer: ``"default"`` (normalise case, spaces, punctuation,
            numbers), None (raw strings) or a callable.
        similarity: the text similarity s(a, b) of CoCoA and SAR: ``"embedding"``
            (sentence-embedding cosine clipped at 0, default) or ``"nli"``
            ((p_e(a→b) + p_e(b→a)) / 2 with the NLI model, which then must be configured).
        decode_token: a function from a token id to its text (e.g.
            ``lambda i: tokenizer.decode([i])``) for ``ccp``, which reads the top-k
            alternatives' text; None: ``ccp`` gives NaN and says why.
        judge: the default judge of the judged scorers (any lmuq backend).
        nli_model / embedder / bertscorer / bleurt: ready objects instead of loading.
        device: where models run (None: CUDA when available).
        nli_batch_size: pairs per NLI forward pass.
        on_error: ``"nan"`` (default) records a rejected input as NaN with its reason;
            ``"raise"`` stops at the first one.

    Parameters are stored under their own names and never changed by scoring; the loaded
    models and caches live in :attr:`statistics`.
    """

    def __init__(
        self,
        scorers: Sequence[Any],
        *,
        nli_model_name: str | None = None,
        sentence_transformer: str | None = DEFAULT_SENTENCE_TRANSFORMER,
        equivalence: Equivalence = "nli",
        strict_entailment: bool = True,
        condition_on_question: bool = False,
        question_separator: str = " ",
        embedding_threshold: float = 0.9,
        use_best: bool = False,
        clustering: Clustering = "first_match",
        best_response: BestResponse = "prefer_answer",
        exact_match_normalizer: Callable[[str], str] | Literal["default"] | None = "default",
        similarity: Similarity = "embedding",
        decode_token: Callable[[int], str] | None = None,
        judge: Any = None,
        nli_model: Any = None,
        embedder: Any = None,
        bertscorer: Any = None,
        bleurt: Any = None,
        device: Any = None,
        nli_batch_size: int = 32,
        on_error: Literal["raise", "nan"] = "nan",
    ) -> None:
        self.specs = resolve_scorers(scorers)
        if exact_match_normalizer != "default" and not (
            exact_match_normalizer is None or callable(exact_match_normalizer)
        ):
            raise TypeError("exact_match_normalizer must be 'default', None or a callable")
        if on_error not in ("raise", "nan"):
            raise ValueError(f"on_error must be 'raise' or 'nan', got {on_error!r}")
        self.scorers = scorers
        self.nli_model_name = nli_model_name
        self.sentence_transformer = sentence_transformer
        self.equivalence = equivalence
        self.strict_entailment = strict_entailment
        self.condition_on_question = condition_on_question
        self.question_separator = question_separator
        self.embedding_threshold = embedding_threshold
        self.use_best = use_best
        self.clustering = clustering
        self.best_response = best_response
        self.exact_match_normalizer = exact_match_normalizer
        self.similarity = similarity
        self.decode_token = decode_token
        self.judge = judge
        self.device = device
        self.nli_batch_size = nli_batch_size
        self.on_error = on_error
        #: The models and caches behind the statistics (public; loaded on first need).
        self.statistics = SharedStatistics(
            nli_model_name=nli_model_name,
            nli_model=nli_model,
            nli_batch_size=nli_batch_size,
            sentence_transformer=sentence_transformer,
            embedder=embedder,
            bertscorer=bertscorer,
            bleurt=bleurt,
            device=device,
        )
        self._options()  # validate the options now, loading nothing

    @property
    def scorer_names(self) -> list[str]:
        return [s.name for s in self.specs]

    @property
    def applies_best(self) -> bool:
        """``use_best`` applies only when a clustering scorer is requested (the clusters
        exist then), as in UQLM; otherwise the original response is judged."""
        return self.use_best and any(s.name in CLUSTER_ONLY for s in self.specs)

    def _options(self) -> dict[str, Any]:
        normalizer = self.exact_match_normalizer
        options = {
            "strict_entailment": self.strict_entailment,
            "condition_on_question": self.condition_on_question,
            "question_separator": self.question_separator,
            "equivalence": self.equivalence,
            "embedding_threshold": self.embedding_threshold,
            "use_best": self.applies_best,
            "clustering": self.clustering,
            "best_response": self.best_response,
            "exact_match_normalizer": normalize_answer if normalizer == "default" else normalizer,
            "similarity": self.similarity,
            "decode_token": self.decode_token,
            "judge": self.judge,
        }
        ScoringContext(**options)  # raises on a bad option, naming it
        return options

    def context(self) -> ScoringContext:
        """The scoring context: the models the scorers need loaded, the options set."""
        self.statistics.require(required_statistics(self.specs, self.equivalence, self.similarity))
        return ScoringContext(**self.statistics.context_statistics(), **self._options())

    def score(self, sample_sets: Sequence[SampleSet], *, progress: bool = False) -> UQResult:
        """One row per sample set, one confidence column per scorer. With ``use_best``
        applied, ``best_response_index`` says which response was judged (0: the answer)."""
        ctx = self.context()
        result = score(sample_sets, self.specs, ctx, on_error=self.on_error, progress=progress)
        return self._with_best(result, ctx)

    async def ascore(self, sample_sets: Sequence[SampleSet], *, progress: bool = False) -> UQResult:
        """Async twin of :meth:`score` (judges through ``agenerate``)."""
        ctx = self.context()
        result = await ascore(
            sample_sets, self.specs, ctx, on_error=self.on_error, progress=progress
        )
        return self._with_best(result, ctx)

    def _with_best(self, result: UQResult, ctx: ScoringContext) -> UQResult:
        if self.applies_best:
            result.columns["best_response_index"] = [
                judged_response_index(ss, ctx) for ss in result.sample_sets
            ]
        return result
