"""The evaluation protocol: everything a report shows, computed from a results table.

:func:`build_report_data` turns a results table (one row per question: the text columns, a
0/1 ``correct`` column and one confidence column per scorer, higher = more likely correct)
into a :class:`ReportData`: accuracy, and per scorer

* AUROC, PRR and AUARC with bootstrap intervals (:func:`~lmuq.evaluation.summary.
  summarize_scores`), computed on every answer the scorer scored;
* ECE (with a bootstrap interval) and Brier score of the raw confidence on the same answers,
  when the scores are probabilities in ``[0, 1]``;
* calibration on a held-out split: the questions are split once, stratified by correctness,
  into a *calibration* part (``calibration_split`` of them) and a *test* part. Platt scaling
  is fitted on the calibration part and ECE / Brier of the raw and of the Platt-calibrated
  confidence are measured on the test part. When Platt scaling turns the scores into a
  constant (a scorer without usable signal: every answer gets the base rate, whose ECE is
  about 0), the calibration is flagged ``platt_constant``; such a scorer is never the
  :attr:`ReportData.best_calibrated` one;
* the F1-optimal acceptance threshold (:class:`~lmuq.evaluation.Tuner`) tuned on the
  calibration part, with precision / recall / F1 of "accept when score >= threshold" on the
  test part. A tuned rule that accepts all or none of the calibration answers, or whose
  threshold sits at the top of the score range, is flagged as degenerate
  (:func:`degenerate_threshold`): it is no recommendation;
* conformal abstention (:class:`~lmuq.evaluation.ConformalAbstention`, ``alpha = 0.1``)
  fitted on the calibration part: the threshold, and the coverage and realised risk
  (answered and wrong) on the test part.

Small samples are flagged (:func:`small_sample_note`): fewer than :data:`SMALL_N_ANSWERS`
scored answers, or fewer than :data:`SMALL_N_CLASS` correct or wrong ones, for the
whole-table metrics of a scorer (``ScorerReport.small_n``) and for its held-out numbers
(``ScorerReport.small_split``, either split), and summed up in ``ReportData.small_sample``.

Scorers that rank the answers the same way (Spearman rank correlation at least
:data:`RANK_IDENTICAL` on the answers both scored) are grouped in ``ReportData.rank_groups``
(:func:`rank_identical_groups`): such a group is one piece of evidence, not several.

The best scorer by AUROC is compared with each other scorer by a paired bootstrap test of
the AUROC difference on the same resamples (``ReportData.paired``,
:mod:`lmuq.evaluation.paired`): whether it is better than the runner-up, or than the
length baseline, beyond what resampling the questions explains.

NaN (or infinite) scores are dropped per scorer and counted. Anything undefined (one class
only, nothing left after dropping, scores that are not probabilities) is ``nan`` with a
note saying why; nothing here raises for degenerate-but-valid data.

Run settings pass through :func:`lmuq.secrets.redact_settings`, so keys that look like
credentials (``api_key``, ``token``, ``secret``, ``password``, ``authorization``, ...) never
reach a report. No HTML is produced here: :mod:`lmuq.reporting` renders what this returns.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from lmuq.evaluation.bootstrap import Interval, bootstrap_metric
from lmuq.evaluation.calibration import (
    PlattCalibrator,
    brier_score,
    expected_calibration_error,
)
from lmuq.evaluation.conformal import ConformalAbstention, ConformalWarning
from lmuq.evaluation.metrics import MetricWarning
from lmuq.evaluation.paired import PairedDifference, paired_bootstrap
from lmuq.evaluation.summary import ScorerSummary, summarize_scores
from lmuq.evaluation.tuning import Tuner, precision_recall_f1
from lmuq.secrets import redact_settings

__all__ = [
    "CONFORMAL_ALPHA",
    "CONSTANT_STD",
    "PAIRWISE_MAX_SCORERS",
    "RANK_IDENTICAL",
    "SMALL_N_ANSWERS",
    "SMALL_N_CLASS",
    "CalibrationStats",
    "ConformalStats",
    "QuestionRow",
    "ReportData",
    "ScorerReport",
    "ThresholdStats",
    "build_report_data",
    "calibration_mask",
    "degenerate_threshold",
    "rank_identical_groups",
    "small_sample_note",
]
#: Miscoverage target of the conformal abstention line.
CONFORMAL_ALPHA = 0.1
#: Platt-calibrated scores whose standard deviation on the test split is below this (or
#: that take a single value) count as constant.
CONSTANT_STD = 1e-6
#: Fewer scored answers than this, or fewer correct or wrong ones than SMALL_N_CLASS, and the
#: report warns that the numbers (intervals included) are unreliable.
SMALL_N_ANSWERS = 30
SMALL_N_CLASS = 10
#: Scorers whose Spearman rank correlation is at least this rank the answers identically.
RANK_IDENTICAL = 0.999
#: The report tests every pair of scorers up to this many scorers (k(k-1)/2 paired tests:
#: 435 at 30); beyond it, only the best against each other one.
PAIRWISE_MAX_SCORERS = 30

# ---------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationStats:
    """ECE and Brier score on the held-out test split, raw and after Platt scaling.

    Platt scaling is fitted on the calibration split. ``nan`` where undefined; ``note`` says
    why. ``platt_constant``: the calibrated scores are (near) constant on the test split
    (standard deviation below :data:`CONSTANT_STD`, or one distinct value), so ``ece_platt``
    is that of a base-rate forecast and says nothing about the scorer.
    """

    ece_raw: float
    brier_raw: float
    ece_platt: float
    brier_platt: float
    n_calibration: int
    n_test: int
    note: str = ""
    platt_constant: bool = False


@dataclass(frozen=True)
class ThresholdStats:
    """F1-optimal threshold tuned on the calibration split, judged on the test split.

    ``degenerate`` is empty for a usable rule, else what makes it no recommendation
    (:func:`degenerate_threshold`): ``"accepts everything"``, ``"accepts nothing"`` or
    ``"threshold at the top of the score range"``.
    """

    threshold: float
    precision: float
    recall: float
    f1: float
    fraction_kept: float
    n_calibration: int
    n_test: int
    note: str = ""
    degenerate: str = ""


@dataclass(frozen=True)
class ConformalStats:
    """Conformal abstention fitted on the calibration split, judged on the test split.

    ``threshold`` is ``inf`` when the rule abstains on everything; ``risk`` is the fraction
    of test questions answered *and* wrong (the controlled quantity, expected <= ``alpha``).
    """

    alpha: float
    threshold: float
    coverage: float
    risk: float
    error_among_accepted: float
    risk_bound: float
    n_calibration: int
    n_test: int
    note: str = ""


@dataclass(frozen=True)
class ScorerReport:
    """Everything the report says about one scorer.

    ``summary`` (AUROC / PRR / AUARC), ``ece`` and ``brier`` use every answer with a finite
    score (``summary.n_scored`` of them; ``n_missing`` were NaN). ``ece`` and ``brier`` are
    ``nan`` unless ``is_probability`` (all scores in ``[0, 1]``).

    ``small_n`` says why those numbers rest on a small sample (:func:`small_sample_note`),
    ``small_split`` the same for the held-out numbers (``calibration``, ``threshold``,
    ``conformal``: either split of the scored answers); empty when the sample is large enough.
    """

    name: str
    summary: ScorerSummary
    ece: Interval
    brier: float
    is_probability: bool
    n_missing: int
    calibration: CalibrationStats
    threshold: ThresholdStats
    conformal: ConformalStats
    small_n: str = ""
    small_split: str = ""

    @property
    def n_scored(self) -> int:
        return self.summary.n_scored


@dataclass(frozen=True)
class QuestionRow:
    """One question of the browsable table (texts are model output: untrusted)."""

    index: int
    id: str
    question: str
    gold: str
    response: str
    correct: bool
    samples: tuple[str, ...]
    scores: dict[str, float]
    split: str  # "calibration" or "test"


@dataclass
class ReportData:
    """What :func:`lmuq.reporting.html.render_report` shows.

    ``scorers`` is sorted by AUROC, best first (undefined AUROC last). ``scores`` holds each
    scorer's confidence per question (NaN kept), aligned with ``correct`` and
    ``calibration_mask`` (``True`` = calibration split). ``run_info`` is already redacted.
    ``small_sample`` lists what rests on a small sample (empty when nothing does).
    ``rank_groups``: groups of scorers that rank the answers identically
    (:func:`rank_identical_groups`), members in ``scorers`` order.
    ``paired``: the best scorer's AUROC against each other scorer's, a paired bootstrap
    test on the same resamples (:func:`~lmuq.evaluation.paired.paired_bootstrap`), in
    ``scorers`` order; empty when no AUROC is defined or there is one scorer.
    ``pairwise``: the same test for every pair of scorers with a defined AUROC (``a`` the
    better-ranked), on the same resamples; empty beyond :data:`PAIRWISE_MAX_SCORERS`.
    """

    run_info: dict[str, Any]
    n_questions: int
    n_correct: int
    accuracy: float
    scorers: list[ScorerReport]
    scores: dict[str, np.ndarray]
    correct: np.ndarray
    calibration_mask: np.ndarray
    rows: list[QuestionRow]
    n_boot: int
    level: float
    max_rejection: float
    calibration_split: float
    conformal_alpha: float
    seed: int
    small_sample: list[str] = field(default_factory=list)
    rank_groups: list[tuple[str, ...]] = field(default_factory=list)
    paired: list[PairedDifference] = field(default_factory=list)
    pairwise: list[PairedDifference] = field(default_factory=list)
    generated_at: str = field(
        default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    )
    lmuq_version: str = field(default_factory=lambda: _lmuq_version())

    @property
    def small_n(self) -> str:
        """:func:`small_sample_note` of all questions (``""`` when there are enough)."""
        return small_sample_note(self.n_questions, self.n_correct)

    @property
    def best(self) -> ScorerReport | None:
        """The scorer with the highest AUROC (``None`` if no AUROC is defined)."""
        return next((s for s in self.scorers if math.isfinite(s.summary.auroc.estimate)), None)

    @property
    def best_calibrated(self) -> ScorerReport | None:
        """The scorer with the lowest Brier score after Platt scaling on the test split.

        Scorers whose calibrated scores are constant (``calibration.platt_constant``) are
        never chosen. Brier, not ECE: a base-rate forecast for every answer has ECE about 0,
        while Brier also rewards telling right from wrong answers. ``None`` if no scorer
        qualifies.
        """
        candidates = [
            s
            for s in self.scorers
            if not s.calibration.platt_constant and math.isfinite(s.calibration.brier_platt)
        ]
        return min(candidates, key=lambda s: s.calibration.brier_platt, default=None)

    @property
    def best_probability(self) -> ScorerReport | None:
        """The highest-AUROC scorer whose scores are probabilities (for a reliability plot)."""
        return next(
            (
                s
                for s in self.scorers
                if s.is_probability and math.isfinite(s.summary.auroc.estimate)
            ),
            None,
        )


def _lmuq_version() -> str:
    try:
        from importlib.metadata import version

        return version("lmuq")
    except Exception:  # not installed as a distribution (e.g. a source checkout on sys.path)
        return "unknown"


# ---------------------------------------------------------------------------------------
# the split
# ---------------------------------------------------------------------------------------


def calibration_mask(
    correct: Sequence[bool] | np.ndarray, fraction: float = 0.5, seed: int = 0
) -> np.ndarray:
    """Boolean mask of the calibration split, stratified by correctness.

    Within each class, ``round(fraction * n_class)`` questions chosen at random (seeded) go
    to the calibration split, the rest to the test split, so both splits keep the overall
    accuracy as closely as the counts allow.

    Raises:
        ValueError: ``fraction`` not in ``(0, 1)``.
    """
    if not (isinstance(fraction, (int, float)) and 0.0 < fraction < 1.0):
        raise ValueError(f"calibration_split must be in (0, 1), got {fraction!r}")
    y = np.asarray(correct, dtype=bool)
    rng = np.random.default_rng(seed)
    mask = np.zeros(y.shape[0], dtype=bool)
    for cls in (False, True):
        members = np.flatnonzero(y == cls)
        take = round(fraction * members.size)
        mask[rng.permutation(members)[:take]] = True
    return mask


# ---------------------------------------------------------------------------------------
# small samples
# ---------------------------------------------------------------------------------------


def small_sample_note(n: int, n_correct: int) -> str:
    """Why ``n`` answers (``n_correct`` of them correct) are too few to trust, or ``""``.

    Too few: fewer than :data:`SMALL_N_ANSWERS` answers, or fewer than
    :data:`SMALL_N_CLASS` correct or wrong ones. No answers at all is ``""`` (the numbers are
    then undefined, not unreliable).
    """
    n, n_correct = int(n), int(n_correct)
    n_wrong = n - n_correct
    if n == 0:
        return ""
    if n < SMALL_N_ANSWERS:
        return f"only {n} answers ({n_correct} correct, {n_wrong} wrong)"
    if n_correct < SMALL_N_CLASS:
        return f"only {n_correct} correct answers (of {n})"
    if n_wrong < SMALL_N_CLASS:
        return f"only {n_wrong} wrong answers (of {n})"
    return ""


def _split_note(y: np.ndarray, cal: np.ndarray, keep: np.ndarray) -> str:
    """:func:`small_sample_note` of the scored calibration and test answers."""
    notes = []
    for label, part in (("calibration split", cal & keep), ("test split", ~cal & keep)):
        note = small_sample_note(int(part.sum()), int(y[part].sum()))
        if note:
            notes.append(f"{label}: {note}")
    return "; ".join(notes)


def _small_sample_summary(
    y: np.ndarray, cal: np.ndarray, reports: Sequence[ScorerReport]
) -> list[str]:
    """What the report's header says rests on a small sample."""
    out = []
    overall = small_sample_note(y.size, int(y.sum()))
    if overall:
        out.append(f"All questions: {overall}.")
    else:
        few = [r for r in reports if r.small_n]
        if few:
            out.append(
                "Scorers with few scored answers (NaN scores dropped): "
                + "; ".join(f"{r.name}: {r.small_n}" for r in few)
                + "."
            )
    whole = _split_note(y, cal, np.ones(y.size, dtype=bool))
    if whole:
        out.append(
            "Held-out numbers (calibration, thresholds, conformal abstention) use one split "
            f"each: {whole}."
        )
    else:
        few = [r for r in reports if r.small_split]
        if few:
            out.append(
                "Held-out numbers of scorers with NaN scores: "
                + "; ".join(f"{r.name}: {r.small_split}" for r in few)
                + "."
            )
    return out


# ---------------------------------------------------------------------------------------
# scorers that rank alike
# ---------------------------------------------------------------------------------------


def rank_identical_groups(
    scores: Mapping[str, np.ndarray],
    threshold: float = RANK_IDENTICAL,
    min_common: int = 3,
) -> list[tuple[str, ...]]:
    """Groups of scorers that rank the answers identically.

    Two scorers are linked when the Spearman rank correlation of their scores, on the
    answers both scored (finite scores; at least ``min_common`` of them), is at least
    ``threshold``; a group is a connected set of linked scorers (two or more), its members in
    the order of ``scores``, the groups in the order of their first member. A scorer that is
    constant on those answers links to nothing (the correlation is undefined). An opposite
    ranking (correlation -1) is not linked: its AUROC is the complement, not the same.
    """
    names = list(scores)
    if len(names) < 2:
        return []
    table = pd.DataFrame({name: np.asarray(scores[name], dtype=float) for name in names})
    rho = table.corr(method="spearman", min_periods=min_common).to_numpy()
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if np.isfinite(rho[i, j]) and rho[i, j] >= threshold:
                parent[max(root(i), root(j))] = min(root(i), root(j))
    groups: dict[int, list[str]] = {}
    for i, name in enumerate(names):
        groups.setdefault(root(i), []).append(name)
    return [tuple(g) for g in groups.values() if len(g) > 1]


# ---------------------------------------------------------------------------------------
# per-scorer computations
# ---------------------------------------------------------------------------------------

_NAN = math.nan


def _both_classes(y: np.ndarray) -> bool:
    return y.size > 0 and 0 < int(y.sum()) < y.size


def _calibration_stats(
    c_cal: np.ndarray, y_cal: np.ndarray, c_test: np.ndarray, y_test: np.ndarray, is_prob: bool
) -> CalibrationStats:
    n_cal, n_test = c_cal.size, c_test.size
    notes = []
    ece_raw = brier_raw = ece_platt = brier_platt = _NAN
    constant = False
    if n_test == 0:
        notes.append("no scored answers in the test split")
    else:
        if is_prob:
            ece_raw = expected_calibration_error(c_test, y_test)
            brier_raw = brier_score(c_test, y_test)
        else:
            notes.append("raw scores are not probabilities in [0, 1]")
        if _both_classes(y_cal):
            platt = PlattCalibrator().fit(c_cal, y_cal)
            p = platt.predict(c_test)
            ece_platt = expected_calibration_error(p, y_test)
            brier_platt = brier_score(p, y_test)
            constant = bool(np.unique(p).size == 1 or float(np.std(p)) < CONSTANT_STD)
            if constant:
                notes.append(
                    f"Platt output is constant ({float(np.mean(p)):.3f} for every test "
                    "answer, about the base rate): no usable signal; ECE not meaningful"
                )
            elif platt.coef_ < 0:
                notes.append(
                    "negative Platt slope: on the calibration split, higher scores were "
                    "more often wrong"
                )
        else:
            notes.append("Platt scaling needs both classes in the calibration split")
    return CalibrationStats(
        ece_raw,
        brier_raw,
        ece_platt,
        brier_platt,
        n_cal,
        n_test,
        "; ".join(notes),
        platt_constant=constant,
    )


def degenerate_threshold(scores: np.ndarray, threshold: float, bounds: tuple[float, float]) -> str:
    """Why "accept when score >= ``threshold``" is no real rule on ``scores``, or ``""``.

    ``"accepts everything"`` when every score passes (the threshold is at or below the
    lowest score, e.g. at the bottom of the tuning grid), ``"accepts nothing"`` when none
    does, ``"threshold at the top of the score range"`` when the threshold is at the upper
    end of the tuning grid ``bounds`` (it keeps only answers with the largest possible
    score). ``scores`` are the answers the threshold was tuned on.
    """
    s = np.asarray(scores, dtype=float)
    t = float(threshold)
    if s.size == 0 or not math.isfinite(t):
        return ""
    kept = int((s >= t).sum())
    if kept == s.size:
        return "accepts everything"
    if kept == 0:
        return "accepts nothing"
    if t >= bounds[1] or math.isclose(t, bounds[1], rel_tol=1e-9, abs_tol=1e-12):
        return "threshold at the top of the score range"
    return ""


def _threshold_stats(
    c_cal: np.ndarray, y_cal: np.ndarray, c_test: np.ndarray, y_test: np.ndarray, is_prob: bool
) -> ThresholdStats:
    n_cal, n_test = c_cal.size, c_test.size

    def na(note: str) -> ThresholdStats:
        return ThresholdStats(_NAN, _NAN, _NAN, _NAN, _NAN, n_cal, n_test, note)

    if not _both_classes(y_cal):
        return na("tuning needs both classes in the calibration split")
    if is_prob:
        bounds, step = (0.0, 1.0), 0.01
    else:
        lo, hi = float(c_cal.min()), float(c_cal.max())
        if not hi > lo:
            return na("constant scores in the calibration split")
        bounds, step = (lo, hi), (hi - lo) / 100
    t = Tuner().tune_threshold(c_cal, y_cal, "fbeta_score", 1, bounds=bounds, step_size=step)
    degenerate = degenerate_threshold(c_cal, t, bounds)
    if n_test == 0:
        note = "no scored answers in the test split"
        return ThresholdStats(t, _NAN, _NAN, _NAN, _NAN, n_cal, n_test, note, degenerate)
    prf = precision_recall_f1(c_test, y_test, t)
    notes = []
    if math.isnan(prf["precision"]):
        notes.append("no test answer is accepted")
    if math.isnan(prf["recall"]):
        notes.append("no test answer is correct")
    return ThresholdStats(
        t,
        prf["precision"],
        prf["recall"],
        prf["f1"],
        prf["fraction_kept"],
        n_cal,
        n_test,
        "; ".join(notes),
        degenerate,
    )


def _conformal_stats(
    c_cal: np.ndarray, y_cal: np.ndarray, c_test: np.ndarray, y_test: np.ndarray, alpha: float
) -> ConformalStats:
    n_cal, n_test = c_cal.size, c_test.size
    if n_cal == 0:
        return ConformalStats(
            alpha, *(_NAN,) * 5, n_cal, n_test, "no scored answers in the calibration split"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConformalWarning)
        rule = ConformalAbstention(alpha).fit(c_cal, y_cal)
    notes = [str(w.message) for w in caught if issubclass(w.category, ConformalWarning)]
    if n_test == 0:
        notes.append("no scored answers in the test split")
        coverage = risk = err = _NAN
    else:
        ev = rule.evaluate(c_test, y_test)
        coverage, risk, err = ev["coverage"], ev["risk"], ev["error_among_accepted"]
    return ConformalStats(
        alpha,
        float(rule.threshold_),
        coverage,
        risk,
        err,
        float(rule.risk_bound_),
        n_cal,
        n_test,
        "; ".join(notes),
    )


def _scorer_report(
    summary: ScorerSummary,
    conf: np.ndarray,
    y: np.ndarray,
    cal_mask: np.ndarray,
    *,
    n_boot: int,
    level: float,
    seed: int,
    alpha: float,
) -> ScorerReport:
    keep = np.isfinite(conf)
    c, t = conf[keep], y[keep]
    is_prob = bool(c.size and c.min() >= 0.0 and c.max() <= 1.0)
    if is_prob:
        ece = bootstrap_metric(
            expected_calibration_error, c, t, n_boot=n_boot, level=level, seed=seed
        )
        brier = brier_score(c, t)
    else:
        ece = Interval(_NAN, _NAN, _NAN, level, n_boot)
        brier = _NAN
    cal, test = cal_mask & keep, ~cal_mask & keep
    args = (conf[cal], y[cal], conf[test], y[test])
    return ScorerReport(
        name=summary.name,
        summary=summary,
        ece=ece,
        brier=brier,
        is_probability=is_prob,
        n_missing=int((~keep).sum()),
        calibration=_calibration_stats(*args, is_prob),
        threshold=_threshold_stats(*args, is_prob),
        conformal=_conformal_stats(*args, alpha),
        small_n=small_sample_note(c.size, int(t.sum())),
        small_split=_split_note(y, cal_mask, keep),
    )


# ---------------------------------------------------------------------------------------
# table handling
# ---------------------------------------------------------------------------------------


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


def _text(value: Any) -> str:
    return "" if _is_missing(value) else str(value)


def _samples(value: Any) -> tuple[str, ...]:
    """Sampled responses from a list/array cell, or a JSON list string (the CSV form)."""
    if _is_missing(value):
        return ()
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return (value,)
        value = parsed if isinstance(parsed, list) else [parsed]
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return tuple(_text(v) for v in value)
    return (str(value),)


def _labels(results: pd.DataFrame, column: str) -> np.ndarray:
    if column not in results.columns:
        raise ValueError(
            f"results have no {column!r} column; columns: {sorted(map(str, results.columns))}"
        )
    raw = results[column]
    if raw.dtype == object:
        raw = raw.map(
            lambda v: (
                {"true": 1.0, "false": 0.0}.get(v.strip().lower(), v) if isinstance(v, str) else v
            )
        )
    y = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~((y == 0) | (y == 1))
    if bad.any():
        raise ValueError(
            f"column {column!r} must be 0/1 or boolean for every row; "
            f"{int(bad.sum())} row(s) are not (first: {raw[bad].iloc[0]!r})"
        )
    return y.astype(int)


def _score_column(results: pd.DataFrame, name: str) -> np.ndarray:
    if name not in results.columns:
        raise ValueError(
            f"scorer {name!r} is not a column of the results; "
            f"columns: {sorted(map(str, results.columns))}"
        )
    s = pd.to_numeric(results[name], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(s), s, np.nan)


def _rows(
    results: pd.DataFrame, y: np.ndarray, scores: Mapping[str, np.ndarray], cal: np.ndarray
) -> list[QuestionRow]:
    def col(name: str) -> list[Any]:
        return list(results[name]) if name in results.columns else [None] * len(results)

    ids = col("id")
    questions, golds, responses = col("question"), col("gold"), col("response")
    samples = col("sampled_responses")
    return [
        QuestionRow(
            index=i,
            id=str(i + 1) if _is_missing(ids[i]) else str(ids[i]),
            question=_text(questions[i]),
            gold=_text(golds[i]),
            response=_text(responses[i]),
            correct=bool(y[i]),
            samples=_samples(samples[i]),
            scores={name: float(v[i]) for name, v in scores.items()},
            split="calibration" if cal[i] else "test",
        )
        for i in range(len(results))
    ]


# ---------------------------------------------------------------------------------------
# the entry point
# ---------------------------------------------------------------------------------------


def build_report_data(
    results: pd.DataFrame,
    *,
    scorers: Sequence[str],
    correct_column: str = "correct",
    run_info: Mapping[str, Any] | None = None,
    n_boot: int = 1000,
    calibration_split: float = 0.5,
    seed: int = 0,
    max_rejection: float = 0.5,
    level: float = 0.95,
    conformal_alpha: float = CONFORMAL_ALPHA,
) -> ReportData:
    """Compute everything the HTML report shows (see the module docstring).

    Args:
        results: one row per question. Needs ``correct_column`` (0/1 or bool) and one
            numeric column per name in ``scorers`` (confidence, higher = more likely
            correct; NaN = not scored). Optional text columns shown in the per-question
            table: ``id``, ``question``, ``gold``, ``response``, ``sampled_responses`` (a
            list, or a JSON list as in ``results.csv``).
        scorers: the score columns to evaluate, in any order.
        correct_column: the 0/1 correctness column.
        run_info: model, dataset, settings, ...; secrets are redacted
            (:func:`lmuq.secrets.redact_settings`).
        n_boot: bootstrap resamples for the intervals.
        calibration_split: fraction of the questions (stratified by correctness) used to
            fit Platt scaling, tune the threshold and fit conformal abstention; the rest is
            the test split they are judged on.
        seed: seed of the split and of the bootstrap.
        max_rejection: PRR's largest rejected fraction.
        level: coverage of the bootstrap intervals.
        conformal_alpha: target of conformal abstention (answered-and-wrong rate).

    Raises:
        ValueError: empty table, a missing column, labels that are not 0/1, bad
            ``calibration_split`` / ``n_boot``, or no scorers.
    """
    if len(results) == 0:
        raise ValueError("results are empty; need at least one question")
    names = list(dict.fromkeys(scorers))
    if not names:
        raise ValueError("no scorers given; name at least one score column")
    y = _labels(results, correct_column)
    scores = {name: _score_column(results, name) for name in names}
    cal = calibration_mask(y, calibration_split, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        summaries = summarize_scores(
            scores, y, n_boot=n_boot, level=level, max_rejection=max_rejection, seed=seed
        )
        reports = [
            _scorer_report(
                summary,
                scores[summary.name],
                y,
                cal,
                n_boot=n_boot,
                level=level,
                seed=seed,
                alpha=conformal_alpha,
            )
            for summary in summaries
        ]
    reports.sort(key=lambda r: -np.nan_to_num(r.summary.auroc.estimate, nan=-1.0))
    tests = {"n_boot": n_boot, "level": level, "seed": seed}
    pairwise = _paired_tests(reports, scores, y, every_pair=True, **tests)
    # the best scorer's row of the pairwise tests is the best-against-each table; compute
    # it on its own only when the pairwise table is not made
    paired = (
        [d for d in pairwise if d.a == reports[0].name]
        if pairwise
        else _paired_tests(reports, scores, y, every_pair=False, **tests)
    )
    return ReportData(
        run_info=redact_settings(dict(run_info or {})),
        n_questions=int(y.size),
        n_correct=int(y.sum()),
        accuracy=float(y.mean()),
        scorers=reports,
        scores=scores,
        correct=y,
        calibration_mask=cal,
        rows=_rows(results, y, scores, cal),
        n_boot=int(n_boot),
        level=float(level),
        max_rejection=float(max_rejection),
        calibration_split=float(calibration_split),
        conformal_alpha=float(conformal_alpha),
        seed=int(seed),
        small_sample=_small_sample_summary(y, cal, reports),
        rank_groups=rank_identical_groups({r.name: scores[r.name] for r in reports}),
        paired=paired,
        pairwise=pairwise,
    )


def _paired_tests(
    reports: Sequence[ScorerReport],
    scores: Mapping[str, np.ndarray],
    y: np.ndarray,
    *,
    every_pair: bool,
    n_boot: int,
    level: float,
    seed: int,
) -> list[PairedDifference]:
    """Paired bootstrap tests of the AUROC difference, on the same resamples, between
    scorers with a defined AUROC that share a scored answer, the better-ranked one as ``a``:
    the best against each other scorer, or (``every_pair``) every pair, none then beyond
    :data:`PAIRWISE_MAX_SCORERS` scorers."""
    ranked = [r.name for r in reports if math.isfinite(r.summary.auroc.estimate)]
    if len(ranked) < 2 or (every_pair and len(ranked) > PAIRWISE_MAX_SCORERS):
        return []
    firsts = ranked if every_pair else ranked[:1]
    return [
        paired_bootstrap(
            scores[a], scores[b], y, names=(a, b), n_boot=n_boot, level=level, seed=seed
        )
        for i, a in enumerate(firsts)
        for b in ranked[i + 1 :]
        if np.any(np.isfinite(scores[a]) & np.isfinite(scores[b]))
    ]
