"""lmuq: uncertainty quantification for large language models.

lmuq's own API: draw answers and samples (:func:`draw`), score them with any registered
scorer (:func:`score`, :class:`UQScorer`, :class:`WhiteBoxUQ`, the judges), evaluate the
scores (:mod:`lmuq.evaluation`), long answers claim by claim (:class:`LongFormUQ`). The
peers' front doors (UQLM's ``BlackBoxUQ``, ``WhiteBoxUQ``, ``UQEnsemble``,
``SemanticEntropy``, ``SemanticDensity``, ``LLMPanel``, ``CodeGenUQ``, ``LongTextUQ``,
``LongTextGraph``, ``LongTextQA``; LUQ's wrapper and estimators) are importable from here
too, so a ported notebook changes only its imports.

Every name loads on first use (PEP 562), so ``import lmuq`` costs milliseconds and
``lmuq --help`` answers at once; torch and transformers load only for a local model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names, for type checkers and IDEs; at run time they load on use
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
    from lmuq.compat.uqlm_codegen import CodeGenUQ
    from lmuq.compat.uqlm_longform import LongTextGraph, LongTextQA, LongTextUQ
    from lmuq.compat.uqlm_panel import LLMPanel
    from lmuq.compat.uqlm_semantic import SemanticDensity, SemanticEntropy
    from lmuq.datasets import Question, load_questions
    from lmuq.datasets.examples import load_example_dataset
    from lmuq.evaluation.ensemble import UQEnsemble
    from lmuq.evaluation.policy import TrustPolicy, fit_policy, load_policy
    from lmuq.evaluation.tuning import Tuner
    from lmuq.generation import adraw, draw, generate_sample_sets
    from lmuq.grading.math import math_postprocessor
    from lmuq.reporting.plots import plot_model_accuracies
    from lmuq.results import UQResult
    from lmuq.scoring import SCORERS, ScorerSpec, ScoringContext, ascore, score
    from lmuq.statistics.llm_nli import LLMNLI
    from lmuq.statistics.shared import SharedStatistics
    from lmuq.types import Generation, SampleSet, SamplingParams
    from lmuq.uq import (
        LLMJudge,
        PTrueScorer,
        UQScorer,
        VerbalizedConfidenceScorer,
        WhiteBoxUQ,
    )
    from lmuq.uq.longform import LongFormUQ
    from lmuq.uq.whitebox import score_sample_sets

__version__ = "0.2.0"

__all__ = [
    "LLMNLI",
    "SCORERS",
    "BlackBoxUQ",
    "CodeGenUQ",
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
    "LongFormUQ",
    "LongTextGraph",
    "LongTextQA",
    "LongTextUQ",
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
    "SemanticDensity",
    "SemanticEntropy",
    "SeqProbMode",
    "SharedStatistics",
    "TopKGapEstimator",
    "TransformersBackend",
    "TrustPolicy",
    "Tuner",
    "UQEnsemble",
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
    "fit_policy",
    "generate_n_samples_and_answer",
    "generate_sample_sets",
    "load_default_model",
    "load_example_dataset",
    "load_policy",
    "load_questions",
    "math_postprocessor",
    "plot_model_accuracies",
    "score",
    "score_sample_sets",
]

_LAZY = {
    "BlackBoxUQ": "lmuq.compat.uqlm",
    "CodeGenUQ": "lmuq.compat.uqlm_codegen",
    "FakeBackend": "lmuq.backends",
    "Generation": "lmuq.types",
    "GenerationBackend": "lmuq.backends",
    "HFLLMWrapper": "lmuq.compat.luq",
    "LLMJudge": "lmuq.uq",
    "LLMNLI": "lmuq.statistics.llm_nli",
    "LLMOutput": "lmuq.compat.luq",
    "LLMPanel": "lmuq.compat.uqlm_panel",
    "LLMSamples": "lmuq.compat.luq",
    "LangChainBackend": "lmuq.backends.langchain",
    "LlamaCppBackend": "lmuq.backends.llama_cpp",
    "LongFormUQ": "lmuq.uq.longform",
    "LongTextGraph": "lmuq.compat.uqlm_longform",
    "LongTextQA": "lmuq.compat.uqlm_longform",
    "LongTextUQ": "lmuq.compat.uqlm_longform",
    "MaxProbabilityEstimator": "lmuq.compat.luq",
    "OpenAICompatibleBackend": "lmuq.backends.openai_compat",
    "PTrueScorer": "lmuq.uq",
    "PredictiveEntropyEstimator": "lmuq.compat.luq",
    "Question": "lmuq.datasets",
    "RetryPolicy": "lmuq.backends",
    "SCORERS": "lmuq.scoring",
    "SampleSet": "lmuq.types",
    "SamplingParams": "lmuq.types",
    "ScorerSpec": "lmuq.scoring",
    "ScoringContext": "lmuq.scoring",
    "SemanticDensity": "lmuq.compat.uqlm_semantic",
    "SemanticEntropy": "lmuq.compat.uqlm_semantic",
    "SeqProbMode": "lmuq.compat.luq",
    "SharedStatistics": "lmuq.statistics.shared",
    "TopKGapEstimator": "lmuq.compat.luq",
    "TransformersBackend": "lmuq.backends.transformers",
    "TrustPolicy": "lmuq.evaluation.policy",
    "Tuner": "lmuq.evaluation.tuning",
    "UQEnsemble": "lmuq.evaluation.ensemble",
    "UQResult": "lmuq.results",
    "UQScorer": "lmuq.uq",
    "VerbalizedConfidenceScorer": "lmuq.uq",
    "WhiteBoxUQ": "lmuq.uq",
    "adraw": "lmuq.generation",
    "ascore": "lmuq.scoring",
    "default_backend": "lmuq.backends.default_model",
    "default_llm": "lmuq.compat.luq",
    "default_model_path": "lmuq.backends.default_model",
    "draw": "lmuq.generation",
    "fit_policy": "lmuq.evaluation.policy",
    "generate_n_samples_and_answer": "lmuq.compat.luq",
    "generate_sample_sets": "lmuq.generation",
    "load_default_model": "lmuq.backends.default_model",
    "load_example_dataset": "lmuq.datasets.examples",
    "load_policy": "lmuq.evaluation.policy",
    "load_questions": "lmuq.datasets",
    "math_postprocessor": "lmuq.grading.math",
    "plot_model_accuracies": "lmuq.reporting.plots",
    "score": "lmuq.scoring",
    "score_sample_sets": "lmuq.uq.whitebox",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module 'lmuq' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
