"""Built-in question sets (offline, no downloads)."""

from lmuq.datasets.geography import (
    DATASETS,
    capital_questions,
    continent_questions,
    currency_questions,
    load_questions,
)
from lmuq.types import Question

__all__ = [
    "DATASETS",
    "Question",
    "capital_questions",
    "continent_questions",
    "currency_questions",
    "load_questions",
]
