"""UQLM 0.6's ``UQEnsemble`` usage on lmuq: components of the three kinds scored in one
pass, the weighted mean, tuning on graded data, and the plain-JSON config round trip.
Expected values come from the definitions, on scripted backends."""

from __future__ import annotations

import asyncio
import json
import math

import numpy as np
import pytest

from lmuq import UQEnsemble
from lmuq.backends.fake import FakeBackend
from lmuq.evaluation.ensemble import BSDETECTOR_WEIGHTS
from lmuq.types import Generation, SampleSet, SamplingParams
from nli_fakes import RuleNLI

ANSWER = Generation("Paris", logprobs=[-0.1, -0.3], tokens=("Par", "is"))
SAMPLES = ["Paris", "Lyon", "Paris"]


def respond(prompt: str, params: SamplingParams, j: int):
    if "You are grading" in prompt:
        return "Correct"
    return ANSWER if params.temperature == 0 else Generation(SAMPLES[j], logprobs=[-0.5])


def test_components_of_three_kinds_and_their_weighted_mean():
    judge = FakeBackend(respond)
    uqe = UQEnsemble(
        llm=FakeBackend(respond),
        scorers=["exact_match", "sequence_probability", judge],
        weights=[1, 2, 1],
        nli_model=RuleNLI(),
    )
    result = uqe.generate_and_score_sync(["q?"], num_responses=3)
    assert uqe.component_names == ["exact_match", "sequence_probability", "judge_1"]
    em, sp, j = 2 / 3, math.exp(-0.2), 1.0  # UQLM's sequence_probability is exp(ℓ/L)
    assert result.columns["exact_match"][0] == pytest.approx(em)
    assert result.columns["sequence_probability"][0] == pytest.approx(sp)
    assert result.columns["judge_1"][0] == pytest.approx(j)
    assert result.columns["ensemble_scores"][0] == pytest.approx(0.25 * em + 0.5 * sp + 0.25 * j)
    assert result.metadata["weights"] == pytest.approx([0.25, 0.5, 0.25])
    assert uqe.weights == [1, 2, 1]  # the parameter stays as given


def test_the_default_is_the_bsdetector_ensemble():
    uqe = UQEnsemble(llm=FakeBackend(respond), nli_model=RuleNLI())
    assert uqe.component_names == ["noncontradiction", "exact_match", "judge_1"]
    assert uqe.ensemble_weights == pytest.approx([0.56, 0.14, 0.3])
    assert pytest.approx((0.56, 0.14, 0.3)) == BSDETECTOR_WEIGHTS
    result = uqe.generate_and_score_sync(["q?"], num_responses=3)
    parts = [result.columns[n][0] for n in uqe.component_names]
    assert result.columns["ensemble_scores"][0] == pytest.approx(
        float(np.dot([0.56, 0.14, 0.3], parts))
    )


def test_uqlm_score_form_with_responses_given():
    uqe = UQEnsemble(scorers=["exact_match"], nli_model=RuleNLI())
    result = asyncio.run(uqe.score(["q?"], ["Paris"], [["Paris", "Lyon"]]))
    assert result.columns["ensemble_scores"] == [pytest.approx(0.5)]
    with pytest.raises(ValueError, match="sampled_responses must be provided"):
        asyncio.run(uqe.score(["q?"], ["Paris"]))
    with pytest.raises(ValueError, match="logprobs_results must be provided"):
        asyncio.run(UQEnsemble(scorers=["min_probability"]).score(["q?"], ["Paris"]))


# judge A ranks the four answers right, judge B backwards
A = {"q0": 0.9, "q1": 0.8, "q2": 0.3, "q3": 0.2}
B = {"q0": 0.1, "q1": 0.2, "q2": 0.9, "q3": 0.8}
CORRECT = [True, True, False, False]


def _judge(table):
    def reply(prompt, params, j):
        q = next(k for k in table if f"Question: {k}" in prompt)
        return f"Score: {table[q]}"

    return FakeBackend(reply)


def _tuned() -> tuple[UQEnsemble, object]:
    uqe = UQEnsemble(scorers=[_judge(A), _judge(B)], scoring_templates=["continuous", "continuous"])
    asyncio.run(uqe.score(list(A), ["x"] * 4))
    return uqe, uqe.tune_from_graded(CORRECT, show_progress_bars=False)


def test_tune_from_graded_picks_the_weights_closest_to_equal_that_rank_perfectly():
    # e = wA·a + wB·b ranks perfectly iff wA > 7/12 (q1 vs q2: 0.5 wA > 0.7 wB); on the
    # 0.01 grid the tie among AUROC = 1 goes to the weights closest to equal: 0.59 / 0.41
    uqe, result = _tuned()
    assert uqe.weights_ == pytest.approx([0.59, 0.41])
    assert uqe.weights is None
    expected = [0.59 * A[q] + 0.41 * B[q] for q in A]
    assert result.columns["ensemble_scores"] == pytest.approx(expected)
    assert 0 <= uqe.thresh_ <= 1


def test_tune_grades_with_the_grader_function():
    uqe = UQEnsemble(
        llm=FakeBackend(lambda p, params, j: p.split("?")[0]),
        scorers=[_judge(A), _judge(B)],
        scoring_templates=["continuous", "continuous"],
    )
    asyncio.run(
        uqe.tune(
            list(A),
            ["q0", "q1", "zz", "zz"],
            grader_function=lambda r, a: r == a,
            show_progress_bars=False,
        )
    )
    assert uqe.weights_ == pytest.approx([0.59, 0.41])


def test_save_and_load_config_as_plain_json(tmp_path):
    uqe, _ = _tuned()
    path = tmp_path / "ensemble.json"
    uqe.save_config(path)
    config = json.loads(path.read_text())
    assert config["components"] == ["judge_1", "judge_2"]
    assert config["weights"] == pytest.approx([0.59, 0.41])
    assert config["llm_scorers"] == {"judge_1": None, "judge_2": None}  # not LangChain models
    with pytest.raises(ValueError, match="judges="):
        UQEnsemble.load_config(path)
    again = UQEnsemble.load_config(path, judges={"judge_1": _judge(A), "judge_2": _judge(B)})
    assert again.ensemble_weights == pytest.approx([0.59, 0.41])
    result = asyncio.run(again.score(list(A), ["x"] * 4))
    assert result.columns["ensemble_scores"] == pytest.approx(
        [0.59 * A[q] + 0.41 * B[q] for q in A]
    )


def test_a_langchain_judge_is_saved_as_its_configuration(tmp_path):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    model = FakeListChatModel(responses=["Correct"])
    uqe = UQEnsemble(scorers=["exact_match", model])
    path = tmp_path / "e.json"
    uqe.save_config(path)
    saved = json.loads(path.read_text())["llm_scorers"]["judge_1"]
    assert saved["class"].endswith("FakeListChatModel")
    loaded = UQEnsemble.load_config(path)
    assert type(loaded.components[1]) is type(model)
    assert loaded.components[1].responses == ["Correct"]


def test_bad_components_and_weights_are_refused():
    with pytest.raises(ValueError, match="neither a white-box"):
        UQEnsemble(scorers=["nope"])
    with pytest.raises(ValueError, match="weights has 1 entries for 2"):
        UQEnsemble(scorers=["exact_match", "min_probability"], weights=[1])
    with pytest.raises(ValueError, match="BSDetector"):
        UQEnsemble()
    with pytest.raises(ValueError, match="scoring_templates"):
        UQEnsemble(scorers=[_judge(A)], scoring_templates=["likert", "likert"])
    with pytest.raises(ValueError, match="score or generate_and_score first"):
        UQEnsemble(scorers=["exact_match"]).tune_from_graded([True])


def test_use_best_makes_every_component_judge_the_best_response():
    # answer "Lyon" (p = e^-2) against three "Paris" (p = e^-0.1 each): UQLM swaps in the
    # largest cluster's response, with its log-probs, for every component
    sets = [
        SampleSet(
            "q?",
            Generation("Lyon", logprobs=[-2.0]),
            [Generation("Paris", logprobs=[-0.1]) for _ in range(3)],
        )
    ]
    names = ["semantic_negentropy", "sequence_probability", "exact_match"]
    on = UQEnsemble(scorers=names, nli_model=RuleNLI()).score_sample_sets(sets)
    assert on.columns["sequence_probability"] == [pytest.approx(math.exp(-0.1))]
    assert on.columns["exact_match"] == [pytest.approx(2 / 3)]  # vs Lyon, Paris, Paris
    assert on.columns["original_response"] == ["Lyon"]
    assert on.columns["response"] == ["Paris"]
    off = UQEnsemble(scorers=names, nli_model=RuleNLI(), use_best=False).score_sample_sets(sets)
    assert off.columns["sequence_probability"] == [pytest.approx(math.exp(-2.0))]
    assert off.columns["exact_match"] == [0.0]


def test_tune_grades_with_the_llm_when_no_grader_function_is_given():
    # the grader judge sees each reference; it says Correct for q0 and q1 only
    def grader(prompt, params, j):
        return "Correct" if "Reference answer: yes" in prompt else "Incorrect"

    uqe = UQEnsemble(
        llm=FakeBackend(lambda p, params, j: "x"),
        scorers=[_judge(A), _judge(B)],
        scoring_templates=["continuous", "continuous"],
        grader_llm=FakeBackend(grader),
    )
    asyncio.run(uqe.tune(list(A), ["yes", "yes", "no", "no"], show_progress_bars=False))
    assert uqe.weights_ == pytest.approx([0.59, 0.41])


def test_postprocessor_and_return_responses():
    sets = [SampleSet("q?", Generation("Paris!"), [Generation("paris?"), Generation("Lyon")])]
    strip = lambda t: t.strip("!?").lower()  # noqa: E731
    res = UQEnsemble(scorers=["exact_match"], postprocessor=strip).score_sample_sets(sets)
    assert res.columns["response"] == ["paris"]
    assert res.columns["raw_response"] == ["Paris!"]
    assert res.columns["exact_match"] == [0.5]
    raw = UQEnsemble(scorers=["exact_match"], postprocessor=strip, return_responses="raw")
    assert raw.score_sample_sets(sets).columns["response"] == ["Paris!"]
