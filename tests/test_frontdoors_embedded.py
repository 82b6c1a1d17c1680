"""The ported UQLM classes on the embedded model (SmolLM2-135M): WhiteBoxUQ and UQEnsemble
generate with it and their scores equal a direct computation from the generations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmuq import UQEnsemble, WhiteBoxUQ

PROMPTS = ["What is the capital of France?"]


def _p(g) -> float:
    return math.exp(float(np.mean(g.logprobs)))  # UQLM: exp(ℓ/L)


def test_whitebox_uq_on_the_embedded_model(backend):
    names = [
        "sequence_probability",
        "min_probability",
        "monte_carlo_probability",
        "probability_margin",
    ]
    result = WhiteBoxUQ(llm=backend, scorers=names).generate_and_score_sync(
        PROMPTS, num_responses=2, show_progress_bars=False
    )
    for i, ss in enumerate(result.sample_sets):
        y = ss.answer
        assert result.columns["sequence_probability"][i] == pytest.approx(_p(y), rel=1e-9)
        assert result.columns["min_probability"][i] == pytest.approx(
            math.exp(float(np.min(y.logprobs))), rel=1e-9
        )
        mc = np.mean([_p(g) for g in (y, *ss.samples)])
        assert result.columns["monte_carlo_probability"][i] == pytest.approx(mc, rel=1e-9)
        top = np.sort(np.exp(y.top_logprobs), axis=1)[:, ::-1]
        margin = float(np.mean(top[:, 0] - top[:, 1]))
        assert result.columns["probability_margin"][i] == pytest.approx(margin, rel=1e-9)


def test_uq_ensemble_on_the_embedded_model(backend):
    uqe = UQEnsemble(llm=backend, scorers=["exact_match", "sequence_probability"])
    result = uqe.generate_and_score_sync(PROMPTS, num_responses=2, show_progress_bars=False)
    for i, ss in enumerate(result.sample_sets):
        parts = [result.columns["exact_match"][i], _p(ss.answer)]
        assert result.columns["sequence_probability"][i] == pytest.approx(parts[1], rel=1e-9)
        assert result.columns["ensemble_scores"][i] == pytest.approx(np.mean(parts), rel=1e-9)
