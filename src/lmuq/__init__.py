"""lmuq: uncertainty quantification for large language models.

lmuq's own API: draw answers and samples (:func:`draw`), score them with any registered
scorer (:func:`score`, :class:`UQScorer`, :class:`WhiteBoxUQ`, the judges), evaluate the
scores (:mod:`lmuq.evaluation`). The peers' front doors (UQLM's ``BlackBoxUQ``, LUQ's
wrapper and estimators) are importable from here too, so a ported notebook changes only its
imports.

Heavy pieces (torch, transformers) load lazily, on first use of a name that needs them, so
``import lmuq`` stays light.
"""

from __future__ import annotations

from typing import Any

from lmuq.backends import FakeBackend, GenerationBackend, RetryPolicy
from lmuq.compat.luq import (
    HFLLMWrapper,
    LLMOutput,
    LLMSamples,
    MaxProbabilityEstimator,
    PredictiveEntropyEstimator,
    SeqProbMode,
    TopKGapEstimator,
    default_llm,
    generate_n_samples_and_answer,
)
from lmuq.compat.uqlm import BlackBoxUQ
from lmuq.datasets import Question, load_questions
from lmuq.datasets.examples import load_example_dataset
from lmuq.evaluation.tuning import Tuner
from lmuq.generation import adraw, draw, generate_sample_sets
from lmuq.grading.math import math_postprocessor
from lmuq.reporting.plots import plot_model_accuracies
from lmuq.results import UQResult
from lmuq.scoring import SCORERS, ScorerSpec, ScoringContext, ascore, score
from lmuq.statistics.shared import SharedStatistics
from lmuq.types import Generation, SampleSet, SamplingParams
from lmuq.uq import (
    LLMJudge,
    LLMPanel,
    PTrueScorer,
    UQScorer,
    VerbalizedConfidenceScorer,
    WhiteBoxUQ,
)
from lmuq.uq.whitebox import score_sample_sets

__version__ = "0.2.0"

__all__ = [
    "SCORERS",
    "BlackBoxUQ",
    "FakeBackend",
    "Generation",
    "GenerationBackend",
    "HFLLMWrapper",
    "LLMJudge",
    "LLMOutput",
    "LLMPanel",
    "LLMSamples",
    "LangChainBackend",
    "LlamaCppBackend",
    "MaxProbabilityEstimator",
    "OpenAICompatibleBackend",
    "PTrueScorer",
    "PredictiveEntropyEstimator",
    "Question",
    "RetryPolicy",
    "SampleSet",
    "SamplingParams",
    "ScorerSpec",
    "ScoringContext",
    "SeqProbMode",
    "SharedStatistics",
    "TopKGapEstimator",
    "TransformersBackend",
    "Tuner",
    "UQResult",
    "UQScorer",
    "VerbalizedConfidenceScorer",
    "WhiteBoxUQ",
    "adraw",
    "ascore",
    "default_backend",
    "default_llm",
    "default_model_path",
    "draw",
    "generate_n_samples_and_answer",
    "generate_sample_sets",
    "load_default_model",
    "load_example_dataset",
    "load_questions",
    "math_postprocessor",
    "plot_model_accuracies",
    "score",
    "score_sample_sets",
]

_LAZY = {
    "TransformersBackend": ("lmuq.backends.transformers", "TransformersBackend"),
    "default_backend": ("lmuq.backends.default_model", "default_backend"),
    "load_default_model": ("lmuq.backends.default_model", "load_default_model"),
    "default_model_path": ("lmuq.backends.default_model", "default_model_path"),
    "OpenAICompatibleBackend": ("lmuq.backends.openai_compat", "OpenAICompatibleBackend"),
    "LangChainBackend": ("lmuq.backends.langchain", "LangChainBackend"),
    "LlamaCppBackend": ("lmuq.backends.llama_cpp", "LlamaCppBackend"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'lmuq' has no attribute {name!r}")
