"""Generation: drawing answers and samples from a backend."""

from lmuq.backends.rate_limit import RateLimiter
from lmuq.backends.retry import RetryPolicy
from lmuq.backends.runner import GenerationRunner
from lmuq.generation.sample_sets import (
    DEFAULT_ANSWER_PARAMS,
    DEFAULT_SAMPLE_PARAMS,
    generate_sample_sets,
)

__all__ = [
    "DEFAULT_ANSWER_PARAMS",
    "DEFAULT_SAMPLE_PARAMS",
    "GenerationRunner",
    "RateLimiter",
    "RetryPolicy",
    "generate_sample_sets",
]
