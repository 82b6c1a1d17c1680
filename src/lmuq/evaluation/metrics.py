"""Metrics that judge how well a confidence score ranks answers by correctness.

Convention: a *confidence* score is higher = more likely correct (negate an uncertainty
score before passing it in). ``correct`` is a 0/1 (or bool) array of the same length; the
rejection-based metrics (:func:`prr`, :func:`auarc`, :func:`accuracy_rejection_curve`) also
accept a continuous quality in ``[0, 1]`` (e.g. ROUGE-L, a judge's graded score).

All functions accept lists, numpy arrays and pandas Series, and share the same guards:

* the two inputs must be one-dimensional and of the same length (``ValueError`` naming both
  lengths), and non-empty (``ValueError``);
* the labels / quality must be finite (``ValueError``); for :func:`auroc` and :func:`auprc`
  they must be 0/1;
* rows whose confidence is NaN or infinite are dropped, with a :class:`MetricWarning` saying
  how many;
* when the metric is undefined on what remains (a single class for AUROC/AUPRC, constant
  quality for PRR, nothing left at all) the result is ``float("nan")`` with a
  :class:`MetricWarning`; these functions never raise for degenerate-but-valid data.

Ties in confidence
------------------
The rejection-based metrics depend on the order in which examples are rejected, which ties
leave unspecified. Here a tied group is treated as being rejected in a uniformly random
order and the metric is the *expectation* over those orders: within each group of equal
confidence every example's quality is replaced by the group mean before the cumulative sums
are taken. Because the kept-quality mean at every cut is linear in the qualities, this is
exactly the average over all tie orders (a constant confidence therefore gives PRR = 0 and
AUARC = mean quality). AUROC and AUPRC use scikit-learn's tie handling (AUROC gives a tied
positive/negative pair 1/2 credit; AUPRC puts each distinct threshold on the curve once).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from lmuq.evaluation.inputs import (
    MetricWarning,
    ScoreArray,
    prepare,
    undefined,
)

__all__ = [
    "MetricWarning",
    "accuracy_rejection_curve",
    "auarc",
    "auprc",
    "auroc",
    "prr",
]


def _tie_averaged_by_confidence(conf: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """Quality sorted by decreasing confidence, each tied group replaced by its mean.

    The cumulative sum of the result at position ``m`` is the *expected* total quality of
    the ``m`` most confident examples when ties are broken uniformly at random.
    """
    _, inverse, counts = np.unique(conf, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    group_mean = np.bincount(inverse, weights=quality) / counts
    smoothed = group_mean[inverse]
    order = np.argsort(-conf, kind="stable")
    return smoothed[order]


# ---------------------------------------------------------------------------------------
# ranking metrics
# ---------------------------------------------------------------------------------------


def auroc(confidence: ScoreArray, correct: ScoreArray) -> float:
    r"""Area under the ROC curve of ``confidence`` as a detector of correct answers.

    .. math::

        \mathrm{AUROC} = \frac{1}{n_1 n_0} \sum_{i:\,y_i=1} \sum_{j:\,y_j=0}
            \Big( \mathbf{1}[c_i > c_j] + \tfrac12 \mathbf{1}[c_i = c_j] \Big)

    i.e. the probability that a random correct answer gets higher confidence than a random
    wrong one, ties counting 1/2 (the Mann–Whitney U statistic divided by
    :math:`n_1 n_0`; Hanley & McNeil, *Radiology* 1982). Computed with
    :func:`sklearn.metrics.roc_auc_score`. 0.5 is chance, 1.0 a perfect ranking.

    Rows with non-finite confidence are dropped (with a :class:`MetricWarning`). If all
    remaining answers are correct, or all wrong, AUROC is undefined and ``nan`` is returned
    with a :class:`MetricWarning`.

    Raises:
        ValueError: lengths differ, input is empty, or ``correct`` is not 0/1.
    """
    conf, y = prepare(confidence, correct, target_name="correct", binary=True)
    if conf.size == 0:
        return undefined("AUROC undefined: no rows with finite confidence remain")
    if np.unique(y).size < 2:
        which = "correct" if y[0] == 1 else "wrong"
        return undefined(f"AUROC undefined: all {y.size} remaining answers are {which}")
    return float(roc_auc_score(y.astype(int), conf))


def auprc(confidence: ScoreArray, correct: ScoreArray) -> float:
    r"""Area under the precision–recall curve, correct answers as the positive class.

    Computed as average precision (:func:`sklearn.metrics.average_precision_score`):

    .. math::

        \mathrm{AP} = \sum_t (R_t - R_{t-1})\, P_t

    over the distinct confidence thresholds :math:`t` in decreasing order, with
    :math:`P_t, R_t` the precision and recall of "confidence >= t" (the step-wise,
    non-interpolated estimate; Manning, Raghavan & Schütze, *Introduction to Information
    Retrieval*, 2008, §8.4). The chance level is the fraction of correct answers.

    Guards as in :func:`auroc`: non-finite confidence rows are dropped with a warning, a
    single remaining class gives ``nan`` with a :class:`MetricWarning`.

    Raises:
        ValueError: lengths differ, input is empty, or ``correct`` is not 0/1.
    """
    conf, y = prepare(confidence, correct, target_name="correct", binary=True)
    if conf.size == 0:
        return undefined("AUPRC undefined: no rows with finite confidence remain")
    if np.unique(y).size < 2:
        which = "correct" if y[0] == 1 else "wrong"
        return undefined(f"AUPRC undefined: all {y.size} remaining answers are {which}")
    return float(average_precision_score(y.astype(int), conf))


# ---------------------------------------------------------------------------------------
# rejection metrics
# ---------------------------------------------------------------------------------------


def _rejection_area(sorted_quality: np.ndarray, max_reject: int) -> float:
    """Mean over k = 0..max_reject of the mean quality of the first n - k entries."""
    n = sorted_quality.shape[0]
    kept = np.arange(n, n - max_reject - 1, -1)  # n, n-1, ..., n - max_reject
    csum = np.cumsum(sorted_quality)
    return float(np.mean(csum[kept - 1] / kept))


def prr(confidence: ScoreArray, quality: ScoreArray, max_rejection: float = 0.5) -> float:
    r"""Prediction–rejection ratio (PRR), as used by LM-Polygraph.

    Examples are rejected in order of increasing confidence (least confident first). With
    :math:`n` examples and :math:`K = \min(\lfloor \text{max\_rejection} \cdot n \rfloor,
    n - 1)`, the grid is the kept counts :math:`m = n - k` for :math:`k = 0, 1, \dots, K`
    (:math:`K + 1` points, the un-rejected set included; at least one example is always
    kept). At each point take the mean quality of the :math:`m` most confident examples,
    :math:`\bar q_{\text{method}}(k)`, and average over the grid:

    .. math::

        A_{\text{method}} = \frac{1}{K+1} \sum_{k=0}^{K} \bar q_{\text{method}}(k),
        \qquad
        \mathrm{PRR} = \frac{A_{\text{method}} - A_{\text{random}}}
                            {A_{\text{oracle}} - A_{\text{random}}}

    :math:`A_{\text{oracle}}` is the same average with examples ordered by their true
    quality (best kept first); :math:`A_{\text{random}} = \bar q` (the mean quality of all
    examples, the expected kept mean of a random order at every rejection rate). PRR is 1
    for a perfect ranking, about 0 for a random one, negative for a worse-than-random one.

    Ties in confidence are averaged over (see the module docstring): the result is the
    expectation over uniformly random orders within each tied group, so a constant
    confidence gives exactly 0.

    Sources: Malinin & Gales, "Uncertainty Estimation in Autoregressive Structured
    Prediction", ICLR 2021 (and Malinin et al. 2019); Fadeeva et al., "LM-Polygraph:
    Uncertainty Estimation for Language Models", EMNLP 2023 demo. Note that LM-Polygraph's
    ``PredictionRejectionArea`` averages over :math:`k = 0..K-1`; this implementation
    includes the end point :math:`k = K` as well.

    Args:
        confidence: higher = more trusted.
        quality: per-example quality, 0/1 correctness or continuous in ``[0, 1]``.
        max_rejection: largest fraction of examples rejected, in ``(0, 1]``.

    Returns:
        PRR, or ``nan`` with a :class:`MetricWarning` when :math:`A_{\text{oracle}} =
        A_{\text{random}}` (constant quality, or too few examples to reject any).

    Raises:
        ValueError: lengths differ, input is empty, quality is non-finite, or
            ``max_rejection`` is outside ``(0, 1]``.
    """
    if not (isinstance(max_rejection, (int, float)) and 0.0 < max_rejection <= 1.0):
        raise ValueError(f"max_rejection must be in (0, 1], got {max_rejection!r}")
    conf, q = prepare(confidence, quality, target_name="quality", binary=False)
    n = conf.size
    if n == 0:
        return undefined("PRR undefined: no rows with finite confidence remain")
    max_reject = min(math.floor(max_rejection * n), n - 1)

    a_method = _rejection_area(_tie_averaged_by_confidence(conf, q), max_reject)
    a_oracle = _rejection_area(np.sort(q)[::-1], max_reject)
    a_random = float(np.mean(q))

    denom = a_oracle - a_random
    if denom <= 1e-12 * max(1.0, abs(a_random)):
        return undefined(
            "PRR undefined: the oracle does no better than random "
            f"(constant quality or nothing to reject; n={n}, max rejected={max_reject})"
        )
    return float((a_method - a_random) / denom)


def accuracy_rejection_curve(
    confidence: ScoreArray, correct: ScoreArray
) -> tuple[np.ndarray, np.ndarray]:
    r"""Accuracy–rejection curve: accuracy of the most confident answers vs. fraction kept.

    Sort by decreasing confidence; for :math:`k = 1, \dots, n` the point is
    :math:`(k/n,\ \tfrac1k \sum_{i \le k} y_{(i)})`, the mean correctness (or quality) of
    the :math:`k` most confident answers. Ties in confidence are averaged over (expected
    value over random tie orders; see the module docstring).

    Source: Nadeem, Zucker & Hanczar, "Accuracy-Rejection Curves (ARCs) for Comparing
    Classification Methods with a Reject Option", MLSB 2009.

    Returns:
        ``(kept_fraction, accuracy)``, both of length :math:`n` (after dropping rows with
        non-finite confidence), ``kept_fraction`` increasing from :math:`1/n` to 1.
        Both are empty (with a :class:`MetricWarning`) if no rows remain.

    Raises:
        ValueError: lengths differ, input is empty, or ``correct`` is non-finite.
    """
    conf, y = prepare(confidence, correct, target_name="correct", binary=False)
    n = conf.size
    if n == 0:
        warnings.warn(
            "accuracy-rejection curve is empty: no rows with finite confidence remain",
            MetricWarning,
            stacklevel=2,
        )
        return np.empty(0), np.empty(0)
    k = np.arange(1, n + 1)
    acc = np.cumsum(_tie_averaged_by_confidence(conf, y)) / k
    return k / n, acc


def auarc(confidence: ScoreArray, correct: ScoreArray) -> float:
    r"""Area under the accuracy–rejection curve.

    .. math::

        \mathrm{AUARC} = \frac1n \sum_{k=1}^{n} \frac1k \sum_{i=1}^{k} y_{(i)}

    where :math:`y_{(1)}, y_{(2)}, \dots` are the labels (or qualities) sorted by decreasing
    confidence, i.e. the mean over the kept counts :math:`k = 1..n` (kept fractions
    :math:`k/n`) of the accuracy of the :math:`k` most confident answers (a right-endpoint
    Riemann sum over :math:`[0, 1]`). Ties are averaged over. A constant confidence gives the
    overall accuracy; a perfect ranking gives the maximum attainable value.

    Source: Nadeem et al., MLSB 2009; used for LLMs by Lin, Trivedi & Sun, "Generating with
    Confidence: Uncertainty Quantification for Black-box Large Language Models", TMLR 2024.

    Returns ``nan`` with a :class:`MetricWarning` if no rows with finite confidence remain.
    """
    conf, y = prepare(confidence, correct, target_name="correct", binary=False)
    if conf.size == 0:
        return undefined("AUARC undefined: no rows with finite confidence remain")
    k = np.arange(1, conf.size + 1)
    acc = np.cumsum(_tie_averaged_by_confidence(conf, y)) / k
    return float(np.mean(acc))
