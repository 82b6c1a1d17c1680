r"""Selective answering with a finite-sample guarantee (conformal risk control).

:class:`ConformalAbstention` picks, from a graded calibration set, the lowest confidence
threshold :math:`\hat\lambda` such that answering only when ``confidence >= λ̂`` keeps the
probability of *giving a wrong answer* below a target :math:`\alpha`.

What is guaranteed
------------------
Loss of one answer at threshold :math:`\lambda`:
:math:`L_i(\lambda) = \mathbf 1[\,y_i = 0 \text{ and } c_i \ge \lambda\,]` (answered, and
wrong). It is bounded by :math:`B = 1` and non-increasing in :math:`\lambda`. With the
calibration risk :math:`\hat R_n(\lambda) = \frac1n \sum_{i=1}^n L_i(\lambda)`, the threshold
is

.. math::

    \hat\lambda = \min\Big\{ \lambda \in \{c_1, \dots, c_n, +\infty\} :
        \tfrac{n}{n+1} \hat R_n(\lambda) + \tfrac{1}{n+1} \le \alpha \Big\}.

**Guarantee.** If the :math:`n` calibration pairs :math:`(c_i, y_i)` and a test pair
:math:`(c_{n+1}, y_{n+1})` are exchangeable (e.g. i.i.d.), then

.. math::

    \mathbb P\big( c_{n+1} \ge \hat\lambda \ \text{and}\ y_{n+1} = 0 \big)
        = \mathbb E\big[ L_{n+1}(\hat\lambda) \big] \le \alpha,

the probability taken over the calibration set *and* the test point together. This is the
*joint* ("answered and wrong") error rate -- the fraction of all questions that end with a
wrong answer being given -- not the error rate among answered questions, which can be larger
(it is this divided by the answer rate). It holds on average over calibration sets, not for
every calibration set, and says nothing about how many questions are answered.

Why it holds: this is conformal risk control (Angelopoulos, Bates, Fisch, Lei & Schuster,
"Conformal Risk Control", ICLR 2024, Theorem 1), stated there for losses that are
non-increasing and right-continuous in :math:`\lambda` and :math:`\hat\lambda` the infimum
over all real :math:`\lambda`. Apply it to the strict rule "answer when
:math:`c > \lambda`", whose loss :math:`\mathbf 1[y=0, c>\lambda]` is right-continuous; its
infimum :math:`\lambda^>` is attained at a calibration score (or :math:`-\infty`). The
threshold above answers on a subset of what the strict rule answers: it is the next larger
calibration score after :math:`\lambda^>` (or :math:`+\infty`), so both rules answer the same
calibration questions, and a test score strictly between the two is answered only by the
strict rule. The loss is monotone in the answered set, so the guarantee carries over.

Abstaining on everything (:math:`\hat\lambda = +\infty`) always satisfies the guarantee; it
happens when :math:`\alpha < 1/(n+1)` (too few calibration examples for this
:math:`\alpha`: need :math:`n \ge 1/\alpha - 1`), or when even the most confident answers
are wrong too often. :meth:`ConformalAbstention.fit` warns in both cases.

If you want the error rate *among answered questions* below :math:`\alpha` with high
probability, that quantity is not monotone in :math:`\lambda`, and a Learn-then-Test
procedure (Angelopoulos et al., 2021) with binomial tail bounds is needed instead; it is not
implemented here.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.typing import ArrayLike

from lmuq.evaluation.inputs import as_1d_float

__all__ = ["ConformalAbstention", "ConformalWarning"]


class ConformalWarning(UserWarning):
    """The calibrated rule abstains on every question."""


def _inputs(confidence: ArrayLike, correct: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    c = as_1d_float(confidence, "confidence")
    y = as_1d_float(correct, "correct")
    if c.shape[0] != y.shape[0]:
        raise ValueError(
            f"confidence and correct must have the same length, got {c.shape[0]} and {y.shape[0]}"
        )
    if c.shape[0] == 0:
        raise ValueError("confidence and correct are empty; need at least one example")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("correct must be 0/1 (or bool)")
    return c, y.astype(int)


class ConformalAbstention:
    r"""Answer only when ``confidence >= threshold_``; calibrated so that P(answered and
    wrong) <= ``alpha`` (conformal risk control; see the module docstring for the exact
    statement and its assumptions).

    Args:
        alpha: target for the probability that a question is answered *and* the answer is
            wrong, in ``(0, 1)``.

    Attributes (after :meth:`fit`):
        threshold_: :math:`\hat\lambda`, a calibration confidence or ``+inf`` (abstain on
            everything).
        n_calibration_: number of calibration examples :math:`n`.
        calibration_risk_: :math:`\hat R_n(\hat\lambda)`, the fraction of calibration
            questions answered and wrong.
        risk_bound_: :math:`\frac{n}{n+1}\hat R_n(\hat\lambda) + \frac{1}{n+1}` (at most
            ``alpha`` unless ``threshold_`` is ``+inf``).

    Example:
        >>> rule = ConformalAbstention(alpha=0.1).fit(conf_cal, correct_cal)  # doctest: +SKIP
        >>> answer = rule.predict(conf_new)                                   # doctest: +SKIP
    """

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha

    def fit(self, confidence_cal: ArrayLike, correct_cal: ArrayLike) -> ConformalAbstention:
        """Choose the threshold on a graded calibration set; returns ``self``.

        Raises:
            ValueError: ``alpha`` not in ``(0, 1)``, lengths differ, empty input, labels not
                0/1, or NaN confidence (the message says how many).
        """
        alpha = self.alpha
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
            raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}")
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        c, y = _inputs(confidence_cal, correct_cal)
        n_nan = int(np.count_nonzero(np.isnan(c)))
        if n_nan:
            raise ValueError(
                f"confidence_cal contains {n_nan} NaN value(s); drop those examples first"
            )
        n = c.shape[0]
        # Bound at λ: (W(λ) + 1) / (n + 1) <= α with W(λ) = #{wrong and c >= λ}.
        # The tiny slack only absorbs rounding in α (n + 1), e.g. 0.1 * 30 = 3.0000000000000004.
        budget = alpha * (n + 1) - 1 + 1e-9
        values = np.unique(c)  # ascending distinct calibration scores (±inf allowed)
        wrong_sorted = np.sort(c[y == 0])
        # wrong_at[k] = number of wrong answers with c >= values[k] (non-increasing in k)
        wrong_at = wrong_sorted.shape[0] - np.searchsorted(wrong_sorted, values, side="left")
        ok = np.flatnonzero(wrong_at <= budget)
        if ok.size:
            k = int(ok[0])
            threshold, n_wrong = float(values[k]), int(wrong_at[k])
        else:
            threshold, n_wrong = math.inf, 0
        self.threshold_ = threshold
        self.n_calibration_ = n
        self.calibration_risk_ = n_wrong / n
        self.risk_bound_ = (n_wrong + 1) / (n + 1)
        if threshold == math.inf:
            if alpha < 1 / (n + 1):
                why = (
                    f"alpha={alpha:g} is below 1/(n+1) = {1 / (n + 1):.4g}: the "
                    f"{n} calibration examples are too few; need at least "
                    f"{math.ceil(1 / alpha - 1 - 1e-9)}"
                )
            else:
                why = (
                    "even answering only the most confident calibration questions gives "
                    f"too many wrong answers for alpha={alpha:g}"
                )
            warnings.warn(
                f"ConformalAbstention abstains on every question: {why}",
                ConformalWarning,
                stacklevel=2,
            )
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise RuntimeError("ConformalAbstention is not fitted yet; call fit first")

    def predict(self, confidence: ArrayLike) -> np.ndarray:
        """Boolean mask, ``True`` = answer (``confidence >= threshold_``); NaN -> abstain."""
        self._check_fitted()
        c = as_1d_float(confidence, "confidence")
        with np.errstate(invalid="ignore"):
            return np.greater_equal(c, self.threshold_) & ~np.isnan(c)

    def evaluate(self, confidence_test: ArrayLike, correct_test: ArrayLike) -> dict[str, float]:
        """Realised behaviour of the fitted rule on a graded test set.

        Returns:
            dict with ``coverage`` (fraction answered), ``risk`` (fraction answered *and*
            wrong: the controlled quantity, whose expectation is at most ``alpha``),
            ``error_among_accepted`` (fraction wrong among answered; NaN if none answered),
            ``n`` and ``threshold``.
        """
        self._check_fitted()
        c, y = _inputs(confidence_test, correct_test)
        accepted = self.predict(c)
        n_acc = int(accepted.sum())
        n_wrong_acc = int((accepted & (y == 0)).sum())
        return {
            "coverage": n_acc / c.shape[0],
            "risk": n_wrong_acc / c.shape[0],
            "error_among_accepted": n_wrong_acc / n_acc if n_acc else float("nan"),
            "n": float(c.shape[0]),
            "threshold": float(self.threshold_),
        }

    def __repr__(self) -> str:
        return f"ConformalAbstention(alpha={self.alpha!r})"
