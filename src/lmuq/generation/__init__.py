"""Generation: drawing answers and samples from a backend, through one path.

:func:`draw` / :func:`adraw` give one :class:`~lmuq.types.SampleSet` per prompt;
:func:`draw_cells` / :func:`adraw_cells` draw any set of (row, kind, index) cells (what a
resume needs). ``generate_sample_sets`` is lmuq 0.1's name for :func:`draw`.
"""

from lmuq.backends.rate_limit import RateLimiter
from lmuq.backends.retry import RetryPolicy
from lmuq.backends.runner import GenerationRunner
from lmuq.generation.draws import (
    ANSWER,
    DEFAULT_ANSWER_PARAMS,
    DEFAULT_SAMPLE_PARAMS,
    SAMPLE,
    DrawFailureWarning,
    GenerationFailedError,
    adraw,
    adraw_cells,
    all_cells,
    draw,
    draw_cells,
    sample_set_params,
)

#: lmuq 0.1's name for :func:`draw`.
generate_sample_sets = draw

__all__ = [
    "ANSWER",
    "DEFAULT_ANSWER_PARAMS",
    "DEFAULT_SAMPLE_PARAMS",
    "SAMPLE",
    "DrawFailureWarning",
    "GenerationFailedError",
    "GenerationRunner",
    "RateLimiter",
    "RetryPolicy",
    "adraw",
    "adraw_cells",
    "all_cells",
    "draw",
    "draw_cells",
    "generate_sample_sets",
    "sample_set_params",
]
