"""Scoring: pure scorer functions, one registry of every family, one entry point.

>>> from lmuq.scoring import score, SCORERS
>>> sorted(SCORERS)[:3]
['bert_score', 'bleurt', 'cosine_sim']

``score(sample_sets, scorers, context)`` applies registered scorers (by name) or ready
specs (:func:`p_true_scorer` bound to a judge, a :func:`panel_scorer`) to sample sets and
returns a :class:`~lmuq.results.UQResult`; :func:`ascore` is its async twin.
"""

from lmuq.scoring.blackbox import BLACKBOX_SCORERS, NLI_SCORERS
from lmuq.scoring.context import Equivalence, ScoringContext
from lmuq.scoring.engine import ascore, score
from lmuq.scoring.judged import (
    JUDGED_SCORERS,
    JudgedScore,
    llm_judge_scorer,
    p_true_scorer,
    panel_scorer,
    verbalized_confidence_scorer,
)
from lmuq.scoring.registry import SCORERS, get_scorer, resolve_scorers, scorer_names, scorers_of
from lmuq.scoring.spec import FAMILIES, ScorerSpec, ScoreValue
from lmuq.scoring.whitebox import WHITEBOX_SCORERS

__all__ = [
    "BLACKBOX_SCORERS",
    "FAMILIES",
    "JUDGED_SCORERS",
    "NLI_SCORERS",
    "SCORERS",
    "WHITEBOX_SCORERS",
    "Equivalence",
    "JudgedScore",
    "ScoreValue",
    "ScorerSpec",
    "ScoringContext",
    "ascore",
    "get_scorer",
    "llm_judge_scorer",
    "p_true_scorer",
    "panel_scorer",
    "resolve_scorers",
    "score",
    "scorer_names",
    "scorers_of",
    "verbalized_confidence_scorer",
]
