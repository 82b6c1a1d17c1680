"""Tests for lmuq.scoring.functional.whitebox.

Every expected value is worked out by hand from the definitions in the docstrings, written
as arithmetic on small literal token probabilities (0.5, 0.25, 0.8, ...), never copied from
what the code prints.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmuq.scoring.functional import whitebox as F

LOG = math.log

# One answer with token probabilities 0.5, 0.25, 0.8: p(y) = 0.1, L = 3.
ANSWER = [LOG(0.5), LOG(0.25), LOG(0.8)]

# Three sampled responses:
#   s1: tokens 0.5, 0.5        -> p = 0.25, L = 2, geometric mean 0.5
#   s2: token 0.8              -> p = 0.8,  L = 1, geometric mean 0.8
#   s3: tokens 0.5, 0.25, 0.8  -> p = 0.1,  L = 3, geometric mean 0.1 ** (1/3)
SAMPLES = [[LOG(0.5), LOG(0.5)], [LOG(0.8)], [LOG(0.5), LOG(0.25), LOG(0.8)]]

# A (T=2, k=3) top-k matrix.
#   row 0: probs 0.5, 0.25, 0.125 (sum 0.875) -> renormalised 4/7, 2/7, 1/7
#   row 1: probs 0.6, 0.2, 0.2    (sum 1.0)   -> unchanged
TOP = [
    [LOG(0.5), LOG(0.25), LOG(0.125)],
    [LOG(0.6), LOG(0.2), LOG(0.2)],
]
H0 = -(4 / 7 * LOG(4 / 7) + 2 / 7 * LOG(2 / 7) + 1 / 7 * LOG(1 / 7))
H1 = -(0.6 * LOG(0.6) + 0.2 * LOG(0.2) + 0.2 * LOG(0.2))


def approx(x: float):
    return pytest.approx(x, rel=1e-12, abs=1e-15)


# ---------------------------------------------------------------------------------------
# one sequence
# ---------------------------------------------------------------------------------------


def test_sequence_log_likelihood_is_the_sum_or_the_mean():
    assert F.sequence_log_likelihood(ANSWER) == approx(LOG(0.1))
    assert F.sequence_log_likelihood(ANSWER, length_normalized=True) == approx(LOG(0.1) / 3)


def test_sequence_probability_is_the_product_of_token_probabilities():
    assert F.sequence_probability(ANSWER) == approx(0.5 * 0.25 * 0.8)


def test_length_normalised_sequence_probability_is_the_geometric_mean():
    expected = (0.5 * 0.25 * 0.8) ** (1 / 3)
    assert F.sequence_probability(ANSWER, length_normalized=True) == approx(expected)
    # and not the arithmetic mean of the token probabilities
    assert F.sequence_probability(ANSWER, length_normalized=True) != approx((0.5 + 0.25 + 0.8) / 3)


def test_perplexity_is_the_inverse_geometric_mean():
    assert F.perplexity(ANSWER) == approx(0.1 ** (-1 / 3))
    assert F.perplexity([LOG(0.5), LOG(0.5)]) == approx(2.0)
    assert F.perplexity([0.0, 0.0]) == 1.0


def test_min_token_probability_is_the_weakest_token():
    assert F.min_token_probability(ANSWER) == approx(0.25)
    assert F.min_token_probability([LOG(0.9)]) == approx(0.9)


def test_single_sequence_functions_accept_numpy_arrays():
    arr = np.array(ANSWER)
    assert F.sequence_probability(arr) == approx(0.1)
    assert F.min_token_probability(arr) == approx(0.25)


def test_a_logprob_a_hair_above_zero_is_rounding_and_is_clipped():
    # log-softmax rounding can give +1e-7; it means probability 1.
    assert F.sequence_probability([1e-7, LOG(0.5)]) == approx(0.5)
    assert F.min_token_probability([1e-7]) == 1.0


def test_perplexity_of_an_extremely_improbable_token_is_infinite_not_an_exception():
    # exp(800) is beyond float64; the documented range is [1, inf), so the answer is inf.
    assert F.perplexity([-800.0]) == math.inf


# ---------------------------------------------------------------------------------------
# top-k token entropies and margin
# ---------------------------------------------------------------------------------------


def test_token_entropies_renormalise_the_top_k_by_hand():
    h = F.token_entropies(TOP)
    assert h.shape == (2,)
    assert h[0] == approx(H0)
    assert h[1] == approx(H1)
    # Without renormalising, row 0 would be −Σ p log p over 0.5, 0.25, 0.125: different.
    unnormalised = -(0.5 * LOG(0.5) + 0.25 * LOG(0.25) + 0.125 * LOG(0.125))
    assert abs(h[0] - unnormalised) > 1e-3


def test_mean_and_max_token_entropy_by_hand():
    assert F.mean_token_entropy(TOP) == approx((H0 + H1) / 2)
    assert F.max_token_entropy(TOP) == approx(max(H0, H1))
    assert H0 > H1  # so the max is row 0's entropy, not row 1's
    assert F.max_token_entropy(TOP) == approx(H0)


def test_uniform_and_certain_rows_hit_the_ends_of_the_range():
    uniform = [[LOG(0.1), LOG(0.1), LOG(0.1)]]
    assert F.mean_token_entropy(uniform) == approx(LOG(3))
    certain = [[0.0, -math.inf, -math.inf]]
    assert F.mean_token_entropy(certain) == 0.0


def test_minus_inf_alternative_contributes_zero_and_no_nan():
    top = [[LOG(0.5), LOG(0.5), -math.inf]]  # q = 0.5, 0.5, 0
    h = F.token_entropies(top)
    assert not np.isnan(h).any()
    assert h[0] == approx(LOG(2))
    assert F.max_token_entropy(top) == approx(LOG(2))


def test_probability_margin_uses_raw_probabilities():
    # row 0: 0.5 − 0.25 = 0.25; row 1: 0.6 − 0.2 = 0.4; mean 0.325.
    assert F.probability_margin(TOP) == approx((0.25 + 0.4) / 2)
    # Renormalised, row 0 would be 4/7 − 2/7: the result must not be that.
    renormalised = ((4 / 7 - 2 / 7) + 0.4) / 2
    assert F.probability_margin(TOP) != approx(renormalised)


def test_probability_margin_does_not_depend_on_column_order():
    shuffled = [[LOG(0.125), LOG(0.5), LOG(0.25)], [LOG(0.2), LOG(0.2), LOG(0.6)]]
    assert F.probability_margin(shuffled) == approx(0.325)


# ---------------------------------------------------------------------------------------
# several sequences
# ---------------------------------------------------------------------------------------


def test_predictive_entropy_mc_is_the_mean_surprisal():
    expected = -(LOG(0.25) + LOG(0.8) + LOG(0.1)) / 3
    assert F.predictive_entropy_mc(SAMPLES) == approx(expected)


def test_predictive_entropy_mc_length_normalised_divides_each_sample_by_its_length():
    expected = -(LOG(0.25) / 2 + LOG(0.8) / 1 + LOG(0.1) / 3) / 3
    assert F.predictive_entropy_mc(SAMPLES, length_normalized=True) == approx(expected)
    # dividing the total by the total length would be a different number
    wrong = -(LOG(0.25) + LOG(0.8) + LOG(0.1)) / 6
    assert F.predictive_entropy_mc(SAMPLES, length_normalized=True) != approx(wrong)


def _entropy_of(p: list[float]) -> float:
    z = sum(p)
    return -sum(pi / z * LOG(pi / z) for pi in p)


def test_predictive_entropy_renormalized_by_hand():
    # q = (0.25, 0.8, 0.1) / 1.15
    z = 0.25 + 0.8 + 0.1
    expected = -(0.25 / z * LOG(0.25 / z) + 0.8 / z * LOG(0.8 / z) + 0.1 / z * LOG(0.1 / z))
    assert F.predictive_entropy_renormalized(SAMPLES) == approx(expected)


def test_predictive_entropy_renormalized_length_normalised():
    expected = _entropy_of([0.5, 0.8, 0.1 ** (1 / 3)])
    assert F.predictive_entropy_renormalized(SAMPLES, length_normalized=True) == approx(expected)


def test_predictive_entropy_renormalized_of_equal_samples_is_log_m():
    assert F.predictive_entropy_renormalized([[LOG(0.3)]] * 4) == approx(LOG(4))


def test_monte_carlo_sequence_probability_is_the_mean_probability():
    assert F.monte_carlo_sequence_probability(SAMPLES) == approx((0.25 + 0.8 + 0.1) / 3)
    expected_norm = (0.5 + 0.8 + 0.1 ** (1 / 3)) / 3
    assert F.monte_carlo_sequence_probability(SAMPLES, length_normalized=True) == approx(
        expected_norm
    )


def test_max_renormalized_probability_by_hand():
    assert F.max_renormalized_probability(SAMPLES) == approx(0.8 / (0.25 + 0.8 + 0.1))
    expected_norm = 0.8 / (0.5 + 0.8 + 0.1 ** (1 / 3))
    assert F.max_renormalized_probability(SAMPLES, length_normalized=True) == approx(expected_norm)


def test_top_k_gap_uses_unnormalised_sequence_probabilities():
    assert F.top_k_gap(SAMPLES) == approx(0.8 - 0.25)
    assert F.top_k_gap(SAMPLES, k=3) == approx(0.8 - 0.1)
    assert F.top_k_gap(SAMPLES) != approx((0.8 - 0.25) / 1.15)
    # length-normalised: 0.8 − 0.5
    assert F.top_k_gap(SAMPLES, length_normalized=True) == approx(0.8 - 0.5)


def test_renormalized_entropy_by_hand_and_shift_invariant():
    assert F.renormalized_entropy([0.0, 0.0]) == approx(LOG(2))
    scores = [LOG(0.2), LOG(0.6)]  # q = 0.25, 0.75
    expected = -(0.25 * LOG(0.25) + 0.75 * LOG(0.75))
    assert F.renormalized_entropy(scores) == approx(expected)
    shifted = [s - 500.0 for s in scores]
    assert F.renormalized_entropy(shifted) == approx(expected)


def test_renormalized_entropy_of_a_zero_probability_score_is_zero_not_nan():
    # q = (1, 0): the entropy is 0 (0·log 0 = 0, as token_entropies documents).
    assert F.renormalized_entropy([0.0, -math.inf]) == 0.0


def test_renormalized_max_by_hand():
    assert F.renormalized_max([LOG(0.2), LOG(0.6)]) == approx(0.75)
    assert F.renormalized_max([LOG(0.3)] * 4) == approx(0.25)


def test_degenerate_log_scores_are_refused_with_a_reason():
    # issue 10: these used to return NaN or inf silently
    with pytest.raises(ValueError, match="no probability mass"):
        F.renormalized_max([-math.inf, -math.inf])
    with pytest.raises(ValueError, match="no probability mass"):
        F.max_renormalized_probability([[-math.inf], [-math.inf]])
    with pytest.raises(ValueError, match=r"\+inf"):
        F.probability_gap([math.inf, 0.0])
    with pytest.raises(ValueError, match="log-probabilities <= 0"):
        F.probability_gap([2.0, 0.0])


def test_an_all_minus_inf_top_k_row_is_refused_not_entropy_zero():
    # issue 10: a step whose top-k were all -inf gave H = 0 (a certain token) silently
    top = [[LOG(0.5), LOG(0.5)], [-math.inf, -math.inf]]
    with pytest.raises(ValueError, match=r"token\(s\) \[1\] are all -inf"):
        F.token_entropies(top)
    with pytest.raises(ValueError, match="all -inf"):
        F.probability_margin(top)


def test_probability_gap_by_hand():
    scores = [LOG(0.2), LOG(0.6), LOG(0.1)]
    assert F.probability_gap(scores) == approx(0.6 - 0.2)
    assert F.probability_gap(scores, k=3) == approx(0.6 - 0.1)


# ---------------------------------------------------------------------------------------
# long answers: log space versus linear space
# ---------------------------------------------------------------------------------------


def _long(extra: float = 0.0) -> np.ndarray:
    """250 tokens alternating log-probs −2.5 / −3.5 (mean −3, sum −750), minus ``extra``
    on the last token. All values are multiples of 0.5, so the sum is exact."""
    lp = np.array([-2.5, -3.5] * 125)
    lp[-1] -= extra
    assert lp.size == 250
    assert lp.sum() == -750.0 - extra
    return lp


LONG_SAMPLES = [_long(0.0), _long(1.0), _long(3.0)]  # sums −750, −751, −753
# softmax([0, −1, −3]) by hand
Z_LONG = 1 + math.exp(-1) + math.exp(-3)
Q_LONG = [1 / Z_LONG, math.exp(-1) / Z_LONG, math.exp(-3) / Z_LONG]
H_LONG = -sum(q * LOG(q) for q in Q_LONG)


def _naive_linear_renormalised(samples) -> np.ndarray:
    """The linear-space computation: p_i = Π_t exp(lp_t), q = p / Σ p."""
    with np.errstate(invalid="ignore", divide="ignore", under="ignore"):
        p = np.array([np.prod(np.exp(lp)) for lp in samples])
        return p / p.sum()


def test_exp_of_minus_750_underflows_in_float64():
    assert math.exp(-750) == 0.0
    assert np.prod(np.exp(_long())) == 0.0


def test_predictive_entropy_renormalized_on_long_samples_is_exact():
    pe = F.predictive_entropy_renormalized(LONG_SAMPLES)
    assert math.isfinite(pe)
    assert pe == pytest.approx(H_LONG, rel=1e-10)
    # not constant: other spreads give other values
    assert F.predictive_entropy_renormalized([_long(), _long(), _long()]) == pytest.approx(LOG(3))
    assert F.predictive_entropy_renormalized([_long(), _long(10.0), _long(20.0)]) < pe < LOG(3)


def test_naive_linear_space_entropy_is_nan_on_long_samples():
    q = _naive_linear_renormalised(LONG_SAMPLES)
    with np.errstate(invalid="ignore", divide="ignore"):
        naive = float(-(q * np.log(q)).sum())
    assert math.isnan(naive)
    assert not math.isnan(F.predictive_entropy_renormalized(LONG_SAMPLES))


def test_max_renormalized_probability_on_long_samples_is_exact():
    mp = F.max_renormalized_probability(LONG_SAMPLES)
    assert mp == pytest.approx(1 / Z_LONG, rel=1e-10)
    assert math.isnan(float(_naive_linear_renormalised(LONG_SAMPLES).max()))
    # the second-best sample does not win
    assert mp != pytest.approx(Q_LONG[1])


def test_sequence_probability_of_a_long_answer():
    lp = _long()
    # exp(−750) underflows float64: 0.0 is the honest float64 value of the true probability
    assert F.sequence_probability(lp) == 0.0
    # the geometric mean does not underflow: exp(−750 / 250) = exp(−3)
    assert F.sequence_probability(lp, length_normalized=True) == pytest.approx(
        math.exp(-3), rel=1e-12
    )
    assert F.perplexity(lp) == pytest.approx(math.exp(3), rel=1e-12)
    assert F.min_token_probability(lp) == pytest.approx(math.exp(-3.5), rel=1e-12)


def test_predictive_entropy_mc_on_long_samples_is_finite():
    assert F.predictive_entropy_mc(LONG_SAMPLES) == pytest.approx((750 + 751 + 753) / 3)
    expected_norm = (750 / 250 + 751 / 250 + 753 / 250) / 3
    assert F.predictive_entropy_mc(LONG_SAMPLES, length_normalized=True) == pytest.approx(
        expected_norm
    )


def test_monte_carlo_probability_length_normalised_on_long_samples():
    expected = (math.exp(-3) + math.exp(-751 / 250) + math.exp(-753 / 250)) / 3
    assert F.monte_carlo_sequence_probability(
        LONG_SAMPLES, length_normalized=True
    ) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------------------
# input validation
# ---------------------------------------------------------------------------------------

SINGLE = [
    F.sequence_log_likelihood,
    F.sequence_probability,
    F.perplexity,
    F.min_token_probability,
]
MULTI = [
    F.predictive_entropy_mc,
    F.predictive_entropy_renormalized,
    F.monte_carlo_sequence_probability,
    F.max_renormalized_probability,
    F.top_k_gap,
]
TOPK = [F.token_entropies, F.mean_token_entropy, F.max_token_entropy, F.probability_margin]


@pytest.mark.parametrize("fn", SINGLE)
def test_nan_logprobs_are_rejected(fn):
    with pytest.raises(ValueError, match="NaN"):
        fn([LOG(0.5), math.nan])


@pytest.mark.parametrize("fn", SINGLE)
def test_positive_logprobs_are_rejected(fn):
    with pytest.raises(ValueError, match="<= 0"):
        fn([LOG(0.5), 0.7])


@pytest.mark.parametrize("fn", SINGLE)
def test_empty_logprobs_are_rejected(fn):
    with pytest.raises(ValueError, match="empty"):
        fn([])


@pytest.mark.parametrize("fn", SINGLE)
def test_missing_logprobs_are_rejected(fn):
    with pytest.raises(ValueError, match="no token log-probabilities"):
        fn(None)


def test_two_dimensional_logprobs_are_rejected():
    with pytest.raises(ValueError, match="1-D"):
        F.sequence_probability([[LOG(0.5)], [LOG(0.5)]])


@pytest.mark.parametrize("fn", MULTI)
def test_empty_sample_list_is_rejected(fn):
    with pytest.raises(ValueError, match="no sampled responses"):
        fn([])


@pytest.mark.parametrize("fn", MULTI)
def test_bad_sample_is_named_by_index(fn):
    with pytest.raises(ValueError, match=r"sample 1.*NaN"):
        fn([[LOG(0.5)], [math.nan], [LOG(0.2)]])
    with pytest.raises(ValueError, match=r"sample 2 has no token log-probabilities"):
        fn([[LOG(0.5)], [LOG(0.5)], None])


@pytest.mark.parametrize("fn", TOPK)
def test_top_k_with_fewer_than_two_alternatives_is_rejected(fn):
    with pytest.raises(ValueError, match="at least k=2"):
        fn([[LOG(0.5)], [LOG(0.9)]])


@pytest.mark.parametrize("fn", TOPK)
def test_top_k_must_be_two_dimensional_and_non_empty(fn):
    with pytest.raises(ValueError, match="shape"):
        fn([LOG(0.5), LOG(0.25)])
    with pytest.raises(ValueError, match="shape"):
        fn(np.zeros((0, 3)))


@pytest.mark.parametrize("fn", TOPK)
def test_top_k_nan_or_positive_is_rejected(fn):
    with pytest.raises(ValueError, match="NaN"):
        fn([[LOG(0.5), math.nan]])
    with pytest.raises(ValueError, match="<= 0"):
        fn([[2.0, 1.0]])


def test_top_k_gap_needs_at_least_k_samples():
    with pytest.raises(ValueError, match="at least 3 samples"):
        F.top_k_gap([[LOG(0.5)], [LOG(0.2)]], k=3)
    with pytest.raises(ValueError, match="at least 2 samples"):
        F.top_k_gap([[LOG(0.5)]])


def test_gap_k_below_two_is_rejected():
    with pytest.raises(ValueError, match="k must be >= 2"):
        F.probability_gap([LOG(0.5), LOG(0.2)], k=1)
    with pytest.raises(ValueError, match="k must be >= 2"):
        F.top_k_gap(SAMPLES, k=1)


@pytest.mark.parametrize("fn", [F.renormalized_entropy, F.renormalized_max, F.probability_gap])
def test_log_score_functions_reject_empty_and_nan(fn):
    with pytest.raises(ValueError, match="non-empty 1-D"):
        fn([])
    with pytest.raises(ValueError, match="NaN"):
        fn([0.0, math.nan])
