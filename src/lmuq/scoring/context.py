"""What scorers may read besides the sample set: shared statistics and scoring options.

An orchestrator builds one :class:`ScoringContext` per scoring run; scorers only read it.
The heavy objects (NLI model, sentence embedder, BERTScore encoder, judge models) are shared
by every scorer that needs them and cache their results by content. In *planning* mode
(:meth:`ScoringContext.planning`) a lookup that misses raises
:class:`~lmuq.statistics.missing.MissingStatistics` instead of computing, so that the
scoring engine can batch the work of every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from lmuq.scoring.functional.consistency import normalize_answer
from lmuq.statistics.judges import ForcedLogprobs, JudgeReplies
from lmuq.types import Generation, SampleSet, SamplingParams

__all__ = ["BestResponse", "Clustering", "Equivalence", "ScoringContext", "Similarity"]

#: How semantic clustering decides that two responses mean the same thing.
#: "nli": bidirectional entailment with an NLI model (strict or lenient);
#: "normalized_match": equal after exact-match normalisation;
#: "numeric": equal final numbers (falls back to normalized match when either has none);
#: "embedding": sentence-embedding cosine similarity >= ``embedding_threshold``.
Equivalence = Literal["nli", "normalized_match", "numeric", "embedding"]

#: How responses are grouped into semantic clusters (see
#: :mod:`lmuq.scoring.functional.semantic`): "first_match" (default): each response joins
#: the first cluster whose representative it is equivalent to (a partition; Kuhn et al.
#: 2023); "uqlm": UQLM 0.6's rule: with NLI, two responses match when *either* direction's
#: arg-max label is entailment (``strict_entailment`` is not used), and a response joins
#: every cluster it matches.
Clustering = Literal["first_match", "uqlm"]

#: Which response ``use_best`` judges: "prefer_answer" (default): in the largest cluster,
#: the original answer when it is a member, else the cluster's first member; "uqlm": UQLM
#: 0.6's choice, the most repeated text of the largest cluster, else its longest;
#: "uqlm_tokenprob": the same in the most probable cluster, p(C) ∝ Σ_{i∈C} exp(ℓ_i/L_i)
#: (UQLM's ``best_response_selection="tokenprob"``; needs every response's log-probs).
BestResponse = Literal["prefer_answer", "uqlm", "uqlm_tokenprob"]

#: How CoCoA and SAR measure the graded similarity s(a, b) ∈ [0, 1] of two texts (their
#: papers use an STS cross-encoder; see :mod:`lmuq.scoring.functional.similarity`):
#: "embedding": max(0, cosine of sentence embeddings);
#: "nli": (p_e(a→b) + p_e(b→a)) / 2 with the NLI model.
Similarity = Literal["embedding", "nli"]


@dataclass(frozen=True)
class ScoringContext:
    """Shared statistics and options for one scoring run.

    Attributes:
        nli: a :class:`~lmuq.statistics.nli.CachedNLI` (None: NLI scorers raise, naming it).
        embedder: a :class:`~lmuq.statistics.embeddings.SentenceEmbedder`.
        bertscorer: a :class:`~lmuq.statistics.bertscore.BERTScorer`.
        bleurt: a :class:`~lmuq.statistics.bleurt.BLEURTScorer`.
        strict_entailment: strict (both directions entail; Farquhar et al. 2024, default) or
            lenient (neither direction contradicts; Kuhn et al. 2023's code).
        condition_on_question: prefix the prompt to both NLI texts (Farquhar et al. 2024).
        question_separator: what joins the prompt and the text when conditioning (``" "``
            by default; UQLM's ``prompts_in_nli`` uses ``"\\n"``).
        equivalence: the clustering relation (see :data:`Equivalence`).
        embedding_threshold: cosine threshold of the "embedding" equivalence.
        use_best: judge the largest semantic cluster's member instead of the original
            answer (UQLM's ``use_best``).
        clustering: the clustering rule (see :data:`Clustering`).
        best_response: which member ``use_best`` judges (see :data:`BestResponse`).
        exact_match_normalizer: what ``exact_match`` applies to both sides before comparing
            (default :func:`~lmuq.scoring.functional.consistency.normalize_answer`; None
            compares raw strings, UQLM's behaviour, as ``exact_match_raw`` always does).
        similarity: the text similarity of CoCoA and SAR (see :data:`Similarity`); the
            scorers that read it are ``lmuq.scoring.whitebox.SIMILARITY_SCORERS``.
        decode_token: a function from a token id to its text (e.g.
            ``lambda i: tokenizer.decode([i])``), for the scorers that read the top-k
            alternatives' text (``ccp``); None: they give NaN and say so.
        judge: the default judge of the judged scorers (any lmuq backend; a judged scorer
            made with its own judge uses that one).
        judge_replies / forced_logprobs: the judges' replies and teacher-forced log-probs,
            drawn once per prompt (:mod:`lmuq.statistics.judges`).
        compute_statistics: False is planning mode (lookups that miss raise
            ``MissingStatistics``).
    """

    nli: Any = None
    embedder: Any = None
    bertscorer: Any = None
    bleurt: Any = None
    strict_entailment: bool = True
    condition_on_question: bool = False
    question_separator: str = " "
    equivalence: Equivalence = "nli"
    embedding_threshold: float = 0.9
    use_best: bool = False
    clustering: Clustering = "first_match"
    best_response: BestResponse = "prefer_answer"
    exact_match_normalizer: Callable[[str], str] | None = normalize_answer
    similarity: Similarity = "embedding"
    decode_token: Callable[[int], str] | None = None
    judge: Any = None
    judge_replies: JudgeReplies = field(default_factory=JudgeReplies)
    forced_logprobs: ForcedLogprobs = field(default_factory=ForcedLogprobs)
    compute_statistics: bool = True

    def __post_init__(self) -> None:
        if self.equivalence not in ("nli", "normalized_match", "numeric", "embedding"):
            raise ValueError(
                "equivalence must be one of 'nli', 'normalized_match', 'numeric', 'embedding'; "
                f"got {self.equivalence!r}"
            )
        if self.clustering not in ("first_match", "uqlm"):
            raise ValueError(
                f"clustering must be 'first_match' or 'uqlm' (UQLM 0.6's rule), got "
                f"{self.clustering!r}"
            )
        if self.best_response not in ("prefer_answer", "uqlm", "uqlm_tokenprob"):
            raise ValueError(
                "best_response must be 'prefer_answer', 'uqlm' or 'uqlm_tokenprob' (UQLM 0.6's "
                f"choices), got "
                f"{self.best_response!r}"
            )
        if not isinstance(self.question_separator, str):
            raise TypeError(
                f"question_separator must be a str, got {type(self.question_separator).__name__}"
            )
        if self.similarity not in ("embedding", "nli"):
            raise ValueError(f"similarity must be 'embedding' or 'nli', got {self.similarity!r}")
        if self.decode_token is not None and not callable(self.decode_token):
            raise TypeError(
                "decode_token must be a function from a token id to its text, or None; got "
                f"{type(self.decode_token).__name__}"
            )
        if not 0.0 < self.embedding_threshold <= 1.0:
            raise ValueError(
                f"embedding_threshold must be in (0, 1], got {self.embedding_threshold}"
            )

    def planning(self) -> ScoringContext:
        """The same context (same caches) in planning mode, for the scoring engine."""
        return replace(self, compute_statistics=False)

    def judge_for(self, judge: Any, scorer: str) -> Any:
        """``judge``, else the context's judge; an error naming what to pass if neither."""
        chosen = judge if judge is not None else self.judge
        if chosen is None:
            raise ValueError(
                f"{scorer} needs a judge model, and none is configured: pass judge= (any lmuq "
                "backend; for P(True) usually the model that answered)"
            )
        return chosen

    def judge_reply(self, judge: Any, params: SamplingParams, prompt: str) -> Generation:
        """The judge's reply to ``prompt`` decoded with ``params`` (drawn once)."""
        return self.judge_replies.lookup(judge, params, prompt, compute=self.compute_statistics)

    def forced_logprob(self, judge: Any, prompt: str, continuation: str) -> float:
        """log p(continuation | prompt) under a local judge (computed once)."""
        return self.forced_logprobs.lookup(
            judge, prompt, continuation, compute=self.compute_statistics
        )

    def view(self, ss: SampleSet):
        """The NLI lookup for ``ss``'s prompt."""
        if self.nli is None:
            raise ValueError(
                "this scorer needs an NLI model, and none is configured. Pass nli_model_name= "
                "(a Hugging Face NLI model id or local folder, e.g. microsoft/deberta-large-mnli), "
                "or for the semantic scorers choose a non-NLI equivalence "
                "(equivalence='normalized_match' | 'numeric' | 'embedding')."
            )
        from lmuq.statistics.nli_view import NLIView

        return NLIView(
            self.nli,
            ss.prompt if self.condition_on_question else None,
            compute=self.compute_statistics,
            separator=self.question_separator,
        )
