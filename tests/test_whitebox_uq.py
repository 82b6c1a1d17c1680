"""Tests for lmuq.uq.whitebox (score_sample_sets / WhiteBoxUQ) on hand-built sample sets.

Expected confidences are worked out by hand from the token probabilities written below and
the confidence maps the scorers declare.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmuq.results import UQResult
from lmuq.scoring import score as score_any_family
from lmuq.scoring.whitebox import MODEL_FREE, WHITEBOX_SCORERS
from lmuq.types import Generation, SampleSet
from lmuq.uq.whitebox import DEFAULT_WHITEBOX_SCORERS, WhiteBoxUQ

LOG = math.log

# ---------------------------------------------------------------------------------------
# a hand-built sample set
#
# answer "Paris": token probs 0.5, 0.25, 0.8 (p = 0.1); top-3 at each step:
#   row 0: 0.5, 0.25, 0.125  (sum 0.875)
#   row 1: 0.4, 0.25, 0.2    (sum 0.85)
#   row 2: 0.8, 0.1,  0.05   (sum 0.95)
# samples: "Paris" 0.5·0.5 = 0.25 (L=2); "Paris" 0.8 (L=1); "Lyon" 0.5·0.25·0.8 = 0.1 (L=3)
# ---------------------------------------------------------------------------------------

TOP_PROBS = [[0.5, 0.25, 0.125], [0.4, 0.25, 0.2], [0.8, 0.1, 0.05]]


def score(sample_sets, scorers=DEFAULT_WHITEBOX_SCORERS, on_error="raise"):
    """The engine with the white-box scorers as the default selection."""
    return score_any_family(sample_sets, scorers, on_error=on_error)


def _answer() -> Generation:
    return Generation(
        text="Paris",
        logprobs=np.array([LOG(0.5), LOG(0.25), LOG(0.8)]),
        top_logprobs=np.log(np.array(TOP_PROBS)),
    )


def _samples() -> list[Generation]:
    return [
        Generation("Paris", logprobs=[LOG(0.5), LOG(0.5)]),
        Generation("Paris", logprobs=[LOG(0.8)]),
        Generation("Lyon", logprobs=[LOG(0.5), LOG(0.25), LOG(0.8)]),
    ]


def _sample_set(prompt: str = "What is the capital of France?") -> SampleSet:
    return SampleSet(prompt=prompt, answer=_answer(), samples=_samples())


def _h(row: list[float]) -> float:
    z = sum(row)
    return -sum(p / z * LOG(p / z) for p in row)


H_ROWS = [
    -(
        0.5 / 0.875 * LOG(0.5 / 0.875)
        + 0.25 / 0.875 * LOG(0.25 / 0.875)
        + 0.125 / 0.875 * LOG(0.125 / 0.875)
    ),
    -(0.4 / 0.85 * LOG(0.4 / 0.85) + 0.25 / 0.85 * LOG(0.25 / 0.85) + 0.2 / 0.85 * LOG(0.2 / 0.85)),
    -(0.8 / 0.95 * LOG(0.8 / 0.95) + 0.1 / 0.95 * LOG(0.1 / 0.95) + 0.05 / 0.95 * LOG(0.05 / 0.95)),
]
MEAN_H = sum(H_ROWS) / 3
MAX_H = max(H_ROWS)
PE_MC = -(LOG(0.25) + LOG(0.8) + LOG(0.1)) / 3
PE_MC_NORM = -(LOG(0.25) / 2 + LOG(0.8) / 1 + LOG(0.1) / 3) / 3
Z = 0.25 + 0.8 + 0.1
PE_RENORM = -(0.25 / Z * LOG(0.25 / Z) + 0.8 / Z * LOG(0.8 / Z) + 0.1 / Z * LOG(0.1 / Z))

# scorer -> (confidence, {raw column: raw value})
EXPECTED: dict[str, tuple[float, dict[str, float]]] = {
    "sequence_probability": (0.5 * 0.25 * 0.8, {}),
    "normalized_probability": (0.1 ** (1 / 3), {"perplexity": 0.1 ** (-1 / 3)}),
    "min_probability": (0.25, {}),
    "mean_token_negentropy": (1 - MEAN_H / LOG(3), {"mean_token_entropy_nats": MEAN_H}),
    "min_token_negentropy": (1 - MAX_H / LOG(3), {"max_token_entropy_nats": MAX_H}),
    "probability_margin": (((0.5 - 0.25) + (0.4 - 0.25) + (0.8 - 0.1)) / 3, {}),
    # exp(−PE) is the geometric mean of the sample probabilities
    "predictive_entropy_mc": ((0.25 * 0.8 * 0.1) ** (1 / 3), {"predictive_entropy_mc_nats": PE_MC}),
    "predictive_entropy_mc_normalized": (
        math.exp(-PE_MC_NORM),
        {"predictive_entropy_mc_normalized_nats": PE_MC_NORM},
    ),
    "predictive_entropy_renormalized": (
        1 - PE_RENORM / LOG(3),
        {"predictive_entropy_renormalized_nats": PE_RENORM},
    ),
    "monte_carlo_probability": ((0.25 + 0.8 + 0.1) / 3, {}),
}


def approx(x: float):
    return pytest.approx(x, rel=1e-12, abs=1e-15)


def test_hand_entropies_match_the_generic_formula():
    # a check on the hand arithmetic above, not on the library
    for row, h in zip(TOP_PROBS, H_ROWS, strict=True):
        assert h == approx(_h(row))


def test_every_model_free_scorer_has_a_hand_value_here():
    # the white-box scorers that also read a model (semantic density, CoCoA, SAR, CCP) are
    # checked by hand in test_whitebox_methods.py
    assert set(EXPECTED) == set(DEFAULT_WHITEBOX_SCORERS) == set(MODEL_FREE)


@pytest.mark.parametrize("name", sorted(DEFAULT_WHITEBOX_SCORERS))
def test_confidence_and_raw_columns_match_hand_values(name):
    result = score([_sample_set()], scorers=[name])
    confidence, raws = EXPECTED[name]
    assert result.columns[name] == [approx(confidence)]
    spec = WHITEBOX_SCORERS[name]
    assert set(spec.raw_columns) == set(raws)
    for col, value in raws.items():
        assert result.columns[col] == [approx(value)]
    assert result.columns["score_errors"] == [{}]


def _uncertain_set() -> SampleSet:
    # k = 5 uniform top-k rows, 5 identical samples: maximal uncertainty for the
    # entropy-based scorers (confidence 0, at the edge of the range).
    k = 5
    answer = Generation(
        "x",
        logprobs=[LOG(0.2), LOG(0.2)],
        top_logprobs=[[LOG(0.2)] * k, [LOG(0.2)] * k],
    )
    samples = [Generation("x", logprobs=[LOG(0.2), LOG(0.2)]) for _ in range(5)]
    return SampleSet("uncertain", answer, samples)


def _certain_set() -> SampleSet:
    answer = Generation("y", logprobs=[0.0], top_logprobs=[[0.0, -math.inf]])
    samples = [Generation("y", logprobs=[0.0]), Generation("y", logprobs=[-40.0])]
    return SampleSet("certain", answer, samples)


@pytest.mark.parametrize("name", sorted(DEFAULT_WHITEBOX_SCORERS))
def test_every_confidence_is_in_the_unit_interval(name):
    result = score([_sample_set(), _certain_set(), _uncertain_set()], scorers=[name])
    values = result.columns[name]
    assert len(values) == 3
    for v in values:
        assert math.isfinite(v)
        assert 0.0 <= v <= 1.0, f"{name} gave {v!r}"
    for col in WHITEBOX_SCORERS[name].raw_columns:
        assert len(result.columns[col]) == 3
        assert all(math.isfinite(v) for v in result.columns[col])


def test_edge_cases_hit_the_ends_of_the_range():
    result = score(
        [_certain_set(), _uncertain_set()],
        scorers=[
            "mean_token_negentropy",
            "predictive_entropy_renormalized",
            "sequence_probability",
        ],
    )
    assert result.columns["mean_token_negentropy"] == [approx(1.0), pytest.approx(0.0, abs=1e-12)]
    assert result.columns["sequence_probability"] == [1.0, approx(0.04)]
    # certain: q = (1, e^-40)/(1 + e^-40), entropy ≈ 41 e^-40 ≈ 0 -> confidence ≈ 1
    assert result.columns["predictive_entropy_renormalized"][0] == pytest.approx(1.0, abs=1e-12)
    assert result.columns["predictive_entropy_renormalized"][1] == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------------------------------
# result layout
# ---------------------------------------------------------------------------------------


def test_columns_in_order_and_to_df():
    result = score([_sample_set()])
    assert isinstance(result, UQResult)
    expected_cols = ["prompt", "response", "sampled_responses"]
    for name in DEFAULT_WHITEBOX_SCORERS:
        expected_cols.append(name)
        expected_cols.extend(WHITEBOX_SCORERS[name].raw_columns)
    expected_cols.append("score_errors")
    assert list(result.columns) == expected_cols
    assert result.scorers == list(DEFAULT_WHITEBOX_SCORERS)
    df = result.to_df()
    assert list(df.columns) == expected_cols
    assert df.loc[0, "prompt"] == "What is the capital of France?"
    assert df.loc[0, "response"] == "Paris"
    assert df.loc[0, "sampled_responses"] == ["Paris", "Paris", "Lyon"]
    assert df.loc[0, "score_errors"] == {}
    assert df.loc[0, "min_probability"] == approx(0.25)
    assert df.loc[0, "perplexity"] == approx(0.1 ** (-1 / 3))


def test_row_order_is_preserved():
    # the answers differ only in their first token probability: 0.9, 0.3, 0.6
    sets = []
    for prompt, p in [("q0", 0.9), ("q1", 0.3), ("q2", 0.6)]:
        answer = Generation(f"a-{prompt}", logprobs=[LOG(p), LOG(0.5)])
        sets.append(SampleSet(prompt, answer, [Generation("s", logprobs=[LOG(p)])]))
    result = score(sets, scorers=["sequence_probability", "monte_carlo_probability"])
    assert len(result) == 3
    assert result.columns["prompt"] == ["q0", "q1", "q2"]
    assert result.columns["response"] == ["a-q0", "a-q1", "a-q2"]
    assert result.columns["sequence_probability"] == [
        approx(0.9 * 0.5),
        approx(0.3 * 0.5),
        approx(0.6 * 0.5),
    ]
    assert result.columns["monte_carlo_probability"] == [approx(0.9), approx(0.3), approx(0.6)]
    records = result.to_records()
    assert [r["prompt"] for r in records] == ["q0", "q1", "q2"]
    assert [r["sequence_probability"] for r in result] == result.columns["sequence_probability"]


def test_a_single_sample_set_and_a_single_scorer_name_are_accepted():
    result = score(_sample_set(), scorers="min_probability")
    assert result.scorers == ["min_probability"]
    assert result.columns["min_probability"] == [approx(0.25)]


def test_whiteboxuq_matches_score_sample_sets():
    names = ["normalized_probability", "predictive_entropy_mc"]
    wb = WhiteBoxUQ(scorers=names)
    result = wb.score([_sample_set()])
    assert result.scorers == names
    assert result.columns["normalized_probability"] == [approx(0.1 ** (1 / 3))]
    assert result.columns["predictive_entropy_mc"] == [approx((0.25 * 0.8 * 0.1) ** (1 / 3))]
    assert result.columns == score([_sample_set()], names).columns


# ---------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------


def _set_without_sample_logprobs(prompt: str = "no logprobs here") -> SampleSet:
    return SampleSet(prompt, _answer(), [Generation("Paris"), Generation("Lyon")])


def test_on_error_raise_names_row_and_scorer():
    sets = [_sample_set(), _set_without_sample_logprobs()]
    with pytest.raises(ValueError) as info:
        score(sets, scorers=["sequence_probability", "predictive_entropy_mc"])
    msg = str(info.value)
    assert "row 1" in msg
    assert "predictive_entropy_mc" in msg
    assert "no logprobs here" in msg
    assert "no token log-probabilities" in msg


def test_on_error_raise_via_whiteboxuq():
    with pytest.raises(ValueError, match=r"row 0.*monte_carlo_probability"):
        WhiteBoxUQ(["monte_carlo_probability"], on_error="raise").score(
            [_set_without_sample_logprobs()]
        )


def test_on_error_nan_records_reason_and_goes_on():
    sets = [_sample_set(), _set_without_sample_logprobs(), _sample_set("third")]
    names = ["min_probability", "predictive_entropy_mc"]
    result = score(sets, scorers=names, on_error="nan")
    pe = result.columns["predictive_entropy_mc"]
    raw = result.columns["predictive_entropy_mc_nats"]
    assert math.isnan(pe[1])
    assert math.isnan(raw[1])
    assert pe[0] == approx((0.25 * 0.8 * 0.1) ** (1 / 3))
    assert pe[2] == approx((0.25 * 0.8 * 0.1) ** (1 / 3))
    # the answer-based scorer on the same row is unaffected
    assert result.columns["min_probability"] == [approx(0.25)] * 3
    errors = result.columns["score_errors"]
    assert errors[0] == {} and errors[2] == {}
    assert set(errors[1]) == {"predictive_entropy_mc"}
    assert "no token log-probabilities" in errors[1]["predictive_entropy_mc"]


def test_missing_top_logprobs_with_on_error_nan():
    ss = SampleSet("p", Generation("a", logprobs=[LOG(0.5)]), _samples())
    result = score([ss], scorers=["mean_token_negentropy"], on_error="nan")
    assert math.isnan(result.columns["mean_token_negentropy"][0])
    assert math.isnan(result.columns["mean_token_entropy_nats"][0])
    assert "top-k" in result.columns["score_errors"][0]["mean_token_negentropy"]


def test_too_few_samples_for_renormalised_entropy():
    ss = SampleSet("p", _answer(), [Generation("s", logprobs=[LOG(0.5)])])
    with pytest.raises(ValueError, match="at least 2 samples"):
        score([ss], scorers=["predictive_entropy_renormalized"])


def test_failed_answer_gives_nan_even_under_raise():
    ss = SampleSet("p", Generation("", error="timeout"), _samples())
    names = ["sequence_probability", "mean_token_negentropy", "predictive_entropy_mc"]
    result = score([ss], scorers=names, on_error="raise")
    assert math.isnan(result.columns["sequence_probability"][0])
    assert math.isnan(result.columns["mean_token_negentropy"][0])
    assert math.isnan(result.columns["mean_token_entropy_nats"][0])
    errors = result.columns["score_errors"][0]
    assert errors["sequence_probability"] == "generation failed (answer): timeout"
    assert errors["mean_token_negentropy"] == "generation failed (answer): timeout"
    # the samples did not fail, so the sample scorer is computed
    assert "predictive_entropy_mc" not in errors
    assert result.columns["predictive_entropy_mc"][0] == approx((0.25 * 0.8 * 0.1) ** (1 / 3))


def test_failed_sample_gives_nan_for_sample_scorers_only():
    samples = [*_samples(), Generation("", error="timeout")]
    ss = SampleSet("p", _answer(), samples)
    result = score(
        [ss], scorers=["sequence_probability", "monte_carlo_probability"], on_error="raise"
    )
    assert result.columns["sequence_probability"] == [approx(0.1)]
    assert math.isnan(result.columns["monte_carlo_probability"][0])
    assert result.columns["score_errors"][0] == {
        "monte_carlo_probability": f"generation failed (sample {len(samples) - 1}): timeout"
    }


def test_overflowing_perplexity_does_not_escape_on_error_nan():
    # one token of log-prob −800: p = exp(−800) = 0.0 in float64, perplexity exp(800) = inf.
    ss = SampleSet("p", Generation("a", logprobs=[-800.0]), _samples())
    result = score([ss], scorers=["normalized_probability"], on_error="nan")
    assert result.columns["normalized_probability"] == [0.0]
    assert result.columns["perplexity"] == [math.inf]


def test_empty_input_is_rejected():
    with pytest.raises(ValueError, match="at least one SampleSet"):
        score([])


def test_no_scorers_is_rejected():
    with pytest.raises(ValueError, match="no scorers"):
        score([_sample_set()], scorers=[])


def test_unknown_scorer_lists_valid_names():
    with pytest.raises(ValueError) as info:
        score([_sample_set()], scorers=["sequence_probability", "bogus_scorer"])
    msg = str(info.value)
    assert "bogus_scorer" in msg
    for name in WHITEBOX_SCORERS:
        assert name in msg


def test_whiteboxuq_rejects_unknown_scorer_at_construction():
    with pytest.raises(ValueError, match="predictive_entropy_mc"):
        WhiteBoxUQ(scorers=["nope"])


def test_bad_on_error_is_rejected():
    with pytest.raises(ValueError, match="on_error"):
        score([_sample_set()], on_error="ignore")


def test_non_sampleset_element_is_a_type_error():
    with pytest.raises(TypeError, match=r"sample_sets\[1\] is a dict"):
        score([_sample_set(), {"prompt": "x"}])


def test_failure_reason_names_the_generation_the_scorer_reads():
    # the answer timed out and, separately, one sample ran out of memory
    samples = [*_samples(), Generation("", error="out of memory")]
    ss = SampleSet("p", Generation("", error="timeout"), samples)
    result = score(
        [ss], scorers=["sequence_probability", "monte_carlo_probability"], on_error="raise"
    )
    errors = result.columns["score_errors"][0]
    assert errors["sequence_probability"] == "generation failed (answer): timeout"
    assert errors["monte_carlo_probability"] == (
        f"generation failed (sample {len(samples) - 1}): out of memory"
    )
