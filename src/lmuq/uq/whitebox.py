"""``WhiteBoxUQ``: score sample sets with the white-box (log-probability) scorers."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

from lmuq.results import UQResult
from lmuq.scoring.engine import score
from lmuq.scoring.registry import resolve_scorers, scorer_names
from lmuq.scoring.whitebox import MODEL_FREE
from lmuq.types import SampleSet

__all__ = ["DEFAULT_WHITEBOX_SCORERS", "WhiteBoxUQ", "score_sample_sets"]

#: The white-box scorers that need nothing but log-probs (no NLI model, embedder or token
#: decoder): WhiteBoxUQ scores without a context. The others (semantic density, CoCoA,
#: SAR, CCP) run through :func:`lmuq.scoring.score` with a context, or :class:`UQScorer`.
DEFAULT_WHITEBOX_SCORERS: tuple[str, ...] = tuple(
    name for name in scorer_names("white-box") if name in MODEL_FREE
)


class WhiteBoxUQ:
    """White-box scorers over sample sets, with the scorers fixed at construction.

    Parameters are stored under their own names and never changed by scoring.

    >>> wbuq = WhiteBoxUQ(scorers=["normalized_probability", "predictive_entropy_mc"])
    >>> result = wbuq.score(sample_sets)          # doctest: +SKIP
    >>> result.to_df()                            # doctest: +SKIP
    """

    def __init__(
        self,
        scorers: Sequence[str] = DEFAULT_WHITEBOX_SCORERS,
        on_error: Literal["raise", "nan"] = "raise",
    ) -> None:
        resolve_scorers(scorers, family="white-box")
        if on_error not in ("raise", "nan"):
            raise ValueError(f"on_error must be 'raise' or 'nan', got {on_error!r}")
        self.scorers = scorers
        self.on_error = on_error

    def score(self, sample_sets: Sequence[SampleSet]) -> UQResult:
        """One row per sample set, one confidence column per scorer (see
        :func:`lmuq.scoring.score`)."""
        specs = resolve_scorers(self.scorers, family="white-box")
        return score(sample_sets, specs, on_error=self.on_error)


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
