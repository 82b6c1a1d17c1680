"""Orchestrators: thin classes that gather inputs and call the scoring engine.

* :class:`UQScorer` — scorers of any family over sample sets, sharing their statistics;
* :class:`WhiteBoxUQ` — the white-box (log-probability) scorers;
* :class:`PTrueScorer`, :class:`VerbalizedConfidenceScorer`, :class:`LLMJudge`,
  :class:`LLMPanel` — judged scorers, one value per question.

UQLM's and LUQ's front doors (``BlackBoxUQ``, ``HFLLMWrapper``, ...) are in :mod:`lmuq.compat`.
"""

from lmuq.uq.judged import LLMJudge, LLMPanel, PTrueScorer, VerbalizedConfidenceScorer
from lmuq.uq.scorer import UQScorer
from lmuq.uq.whitebox import DEFAULT_WHITEBOX_SCORERS, WhiteBoxUQ

__all__ = [
    "DEFAULT_WHITEBOX_SCORERS",
    "LLMJudge",
    "LLMPanel",
    "PTrueScorer",
    "UQScorer",
    "VerbalizedConfidenceScorer",
    "WhiteBoxUQ",
]
