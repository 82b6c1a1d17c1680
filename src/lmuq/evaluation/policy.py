r"""Trust policies: scorers, ensemble weights, a calibrator and a conformal threshold, saved
as one versioned JSON file (never a pickle) and applied identically everywhere.

A :class:`TrustPolicy` turns the scores of one answer into a calibrated confidence and a
decision:

1. **scores** :math:`v_1, \dots, v_K` of the policy's scorers (each a confidence in
   ``[0, 1]``, computed with the policy's scoring options and sampling settings);
2. **ensemble** :math:`e = \sum_{k \in V} w_k v_k / \sum_{k \in V} w_k` with non-negative
   weights, over the scorers :math:`V` whose value is not NaN (the rule of
   :func:`~lmuq.evaluation.tuning.ensemble_scores`);
3. **calibrator** :math:`c = g(e)`, an estimate of P(correct | e): Platt,
   :math:`g(e) = 1 / (1 + \exp(-(a e + b)))`, or isotonic, the linear interpolation of
   stored knots :math:`(x_j, y_j)` (``numpy.interp``: constant outside ``[x_1, x_J]``);
4. **decision** accept iff :math:`c \ge \hat\lambda`, the threshold chosen by conformal
   risk control at level :math:`\alpha` (:class:`~lmuq.evaluation.ConformalAbstention`),
   otherwise flag or abstain (what the caller does with an answer it does not accept).

Fitting (:func:`fit_policy`) splits the graded rows at random (seeded) into a *fit* split
(scorer choice, weights by :meth:`~lmuq.evaluation.Tuner.tune_params` maximising AUROC,
the calibrator), a *conformal* split (the threshold; it must not be used for anything
else, or the guarantee is lost) and an optional *holdout* split (a check of the guarantee
on data the policy never saw). Every number the policy reports is computed by applying the
stored policy, so applying the saved file to the same rows reproduces them exactly.

Adaptive sampling (:meth:`TrustPolicy.assess`): the decision above needs the m samples of
the sample-based scorers. Drawn in batches, the value each scorer will have once all m are
drawn is bounded by what is known so far:

* a scorer that reads only the answer is known exactly from the start;
* a scorer in :data:`SAMPLE_MEAN_SCORERS` (its confidence is the mean over the samples of
  one term in ``[0, 1]`` per sample) with value :math:`v_k` on :math:`k` of :math:`m`
  samples ends in :math:`[k v_k / m,\ (k v_k + m - k) / m]`;
* any other sample-based scorer ends in ``[0, 1]`` until all m samples are drawn.

The weights are non-negative and the calibrator monotone, so these intervals give an
interval :math:`[c_-, c_+]` for the final confidence. **Stopping rule:** stop as soon as
:math:`c_- \ge \hat\lambda` (it will be accepted) or :math:`c_+ < \hat\lambda` (it will
not), or when m samples are drawn. The decision is then exactly the one that always
drawing m samples would give with the same samples, so the conformal guarantee holds for
the adaptive decisions as it is. With zero samples the interval comes from the answer's
white-box scores alone: samples are drawn only for answers whose white-box scores fall in
the *uncertain band* where the samples could still change the decision.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from lmuq.evaluation.calibration import IsotonicCalibrator, PlattCalibrator
from lmuq.evaluation.conformal import ConformalAbstention, ConformalWarning
from lmuq.evaluation.metrics import auroc
from lmuq.evaluation.tuning import Tuner

__all__ = [
    "CALIBRATORS",
    "POLICY_FORMAT",
    "POLICY_VERSION",
    "SAMPLE_MEAN_SCORERS",
    "Assessment",
    "Calibrator",
    "DataInfo",
    "PolicyError",
    "PolicySampling",
    "PolicyScoring",
    "TrustPolicy",
    "fit_policy",
    "load_policy",
    "risk_interval",
]

POLICY_FORMAT = "lmuq.trust_policy"
#: The policy file version this lmuq writes (and the newest it reads).
POLICY_VERSION = 1
CALIBRATORS = ("platt", "isotonic")

#: Scorers whose confidence is (1/m) Σ_j t_j with one term t_j in [0, 1] per sample, so a
#: partial value bounds the final one (see the module docstring).
SAMPLE_MEAN_SCORERS = frozenset(
    {
        "exact_match",  # t_j = 1[norm(y) = norm(ỹ_j)]
        "exact_match_raw",  # t_j = 1[y = ỹ_j]
        "rouge_l",  # t_j = ROUGE-L F(y, ỹ_j)
        "cosine_sim",  # t_j = (cos + 1) / 2
        "bert_score",  # t_j = clip(BERTScore-F1, 0, 1)
        "noncontradiction",  # t_j = 1 − (p_c(y→ỹ_j) + p_c(ỹ_j→y)) / 2
        "entailment",  # t_j = (p_e(y→ỹ_j) + p_e(ỹ_j→y)) / 2
        "monte_carlo_probability",  # t_j = p(ỹ_j)
        "luq",  # t_j = mean_s p_e / (p_e + p_c)
    }
)

# Bounds are widened by this much before deciding, so float rounding between a partial
# mean and the full one can never flip a decision said to be certain.
_SLACK = 1e-9


class PolicyError(ValueError):
    """A policy file or argument that cannot be used; the message names the field."""


# --------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class Calibrator:
    """A monotone map from ensemble score to P(correct), stored by its parameters.

    ``kind="platt"``: ``sigmoid(coef * e + intercept)``; ``kind="isotonic"``:
    ``numpy.interp(e, x, y)`` (constant beyond the first and last knot).
    """

    kind: Literal["platt", "isotonic"]
    coef: float | None = None
    intercept: float | None = None
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind == "platt":
            for name in ("coef", "intercept"):
                v = getattr(self, name)
                if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                    raise PolicyError(f"calibrator.{name} must be a finite number, got {v!r}")
        elif self.kind == "isotonic":
            x, y = np.asarray(self.x, float), np.asarray(self.y, float)
            if x.ndim != 1 or x.size == 0 or x.shape != y.shape:
                raise PolicyError("calibrator.x and calibrator.y must be equal-length, non-empty")
            if not (np.isfinite(x).all() and np.isfinite(y).all()):
                raise PolicyError("calibrator.x and calibrator.y must be finite numbers")
            if np.any(np.diff(x) < 0) or np.any(np.diff(y) < 0):
                raise PolicyError("calibrator.x and calibrator.y must be non-decreasing")
            if y.min() < 0 or y.max() > 1:
                raise PolicyError("calibrator.y must lie in [0, 1]")
        else:
            raise PolicyError(f"calibrator.kind must be one of {CALIBRATORS}, got {self.kind!r}")

    def apply(self, e: ArrayLike) -> np.ndarray:
        """Calibrated confidence of ensemble scores ``e``; NaN stays NaN."""
        e = np.asarray(e, dtype=np.float64)
        if self.kind == "platt":
            z = self.coef * e + self.intercept
            with np.errstate(over="ignore"):
                return 1.0 / (1.0 + np.exp(-z))
        out = np.interp(e, np.asarray(self.x), np.asarray(self.y))
        return np.where(np.isnan(e), np.nan, out)

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "platt":
            return {"kind": "platt", "coef": self.coef, "intercept": self.intercept}
        return {"kind": "isotonic", "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibrator:
        _need_mapping(d, "calibrator")
        kind = d.get("kind")
        if kind == "platt":
            return cls("platt", coef=d.get("coef"), intercept=d.get("intercept"))
        if kind == "isotonic":
            return cls("isotonic", x=tuple(d.get("x") or ()), y=tuple(d.get("y") or ()))
        raise PolicyError(f"calibrator.kind must be one of {CALIBRATORS}, got {kind!r}")


@dataclass(frozen=True)
class PolicySampling:
    """How the samples the policy was fitted with are drawn (the gateway draws them alike).

    ``num_samples`` is m; ``batch_size`` samples are drawn per step of adaptive sampling.
    ``answer_temperature`` / ``answer_max_new_tokens`` record how the calibration answers
    were drawn: a deployment whose answers are drawn differently is outside the guarantee.
    """

    num_samples: int = 5
    batch_size: int = 2
    temperature: float = 1.0
    top_p: float | None = None
    top_k: int | None = None
    max_new_tokens: int = 32
    top_logprobs: int = 10
    answer_temperature: float = 0.0
    answer_max_new_tokens: int = 32

    def __post_init__(self) -> None:
        for name in ("num_samples", "batch_size", "max_new_tokens", "answer_max_new_tokens"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise PolicyError(f"sampling.{name} must be an int >= 1, got {v!r}")
        if isinstance(self.top_logprobs, bool) or not isinstance(self.top_logprobs, int):
            raise PolicyError(f"sampling.top_logprobs must be an int >= 0, got {self.top_logprobs}")
        if self.top_logprobs < 0:
            raise PolicyError(f"sampling.top_logprobs must be >= 0, got {self.top_logprobs}")
        for name in ("temperature", "answer_temperature"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not v >= 0:
                raise PolicyError(f"sampling.{name} must be a number >= 0, got {v!r}")
        if self.top_p is not None and not (
            isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1
        ):
            raise PolicyError(f"sampling.top_p must be in (0, 1] or null, got {self.top_p!r}")
        if self.top_k is not None and (
            isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 1
        ):
            raise PolicyError(f"sampling.top_k must be an int >= 1 or null, got {self.top_k!r}")


@dataclass(frozen=True)
class PolicyScoring:
    """The scoring options the scores were computed with (see :class:`~lmuq.UQScorer`)."""

    equivalence: str = "normalized_match"
    nli_model: str | None = None
    strict_entailment: bool = True
    condition_on_question: bool = False

    def __post_init__(self) -> None:
        if self.equivalence not in ("nli", "normalized_match", "numeric", "embedding"):
            raise PolicyError(
                "scoring.equivalence must be nli, normalized_match, numeric or embedding, "
                f"got {self.equivalence!r}"
            )
        if self.nli_model is not None and not isinstance(self.nli_model, str):
            raise PolicyError("scoring.nli_model must be a model name or path, or null")


@dataclass(frozen=True)
class DataInfo:
    """What the policy was fitted on: a SHA-256 of the graded rows and the split.

    ``sha256`` hashes the canonical JSON of ``{"scorers": [...], "rows": [[correct, v_1,
    ..., v_K], ...]}`` over every graded row in order (floats written by ``repr``, NaN as
    null): :func:`data_sha256`. ``fit`` / ``conformal`` / ``holdout`` are row positions
    in that order.
    """

    sha256: str
    n: int
    seed: int
    fit: tuple[int, ...]
    conformal: tuple[int, ...]
    holdout: tuple[int, ...] = ()
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("fit", "conformal", "holdout"):
            d[k] = list(d[k])
        return d


@dataclass(frozen=True)
class Assessment:
    """The policy's judgement of one answer, possibly before every sample is drawn.

    Attributes:
        confidence: the calibrated confidence from what is known (the partial scores),
            clipped into ``[low, high]``; NaN when nothing is known.
        low, high: bounds on the confidence the answer will have with all m samples.
        decided: whether the decision can no longer change (``low >= threshold`` or
            ``high < threshold``, or every sample is in).
        accept: the decision once ``decided`` (``confidence >= threshold``), else False.
        samples_used: samples the scores were computed on.
        scores: each scorer's value (NaN where unknown yet).
    """

    confidence: float
    low: float
    high: float
    decided: bool
    accept: bool
    samples_used: int
    scores: dict[str, float]


# --------------------------------------------------------------------------- the policy


@dataclass(frozen=True)
class TrustPolicy:
    """A fitted trust policy (see the module docstring for the rules it applies).

    Build one with :func:`fit_policy`; save with :meth:`save`, read with
    :func:`load_policy` / :meth:`from_dict`. ``threshold`` None means +inf (the conformal
    rule accepts nothing, e.g. too few calibration rows for ``alpha``).
    """

    scorers: tuple[str, ...]
    weights: tuple[float, ...]
    calibrator: Calibrator
    alpha: float
    threshold: float | None
    sampling: PolicySampling = field(default_factory=PolicySampling)
    scoring: PolicyScoring = field(default_factory=PolicyScoring)
    data: DataInfo | None = None
    report: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    lmuq_version: str = ""

    def __post_init__(self) -> None:
        from lmuq.scoring.registry import SCORERS

        if not self.scorers:
            raise PolicyError("scorers is empty: a policy needs at least one scorer")
        for name in self.scorers:
            if name not in SCORERS:
                raise PolicyError(f"scorers: {name!r} is not a registered scorer")
            if _reads_internals(name):
                raise PolicyError(
                    f"scorers: {name} reads the model's attention and hidden states, which "
                    "the responses a policy scores (from a server, through the gateway or a "
                    "file) do not carry; choose scorers that read only responses and log-probs"
                )
            if SCORERS[name].family == "judged":
                raise PolicyError(f"scorers: {name!r} needs a judge model; policies have none")
        if len(set(self.scorers)) != len(self.scorers):
            raise PolicyError(f"scorers has duplicates: {list(self.scorers)}")
        w = np.asarray(self.weights, dtype=float)
        if w.shape != (len(self.scorers),):
            raise PolicyError(
                f"weights needs one weight per scorer: {len(self.weights)} for "
                f"{len(self.scorers)} scorers"
            )
        if not (np.isfinite(w).all() and (w > 0).all()):
            raise PolicyError(f"weights must be finite and > 0, got {list(self.weights)}")
        if not (isinstance(self.alpha, (int, float)) and 0 < self.alpha < 1):
            raise PolicyError(f"alpha must be in (0, 1), got {self.alpha!r}")
        t = self.threshold
        if t is not None and not (isinstance(t, (int, float)) and math.isfinite(t)):
            raise PolicyError(f"threshold must be a finite number or null, got {t!r}")

    # -- identity -------------------------------------------------------------------

    @functools.cached_property
    def id(self) -> str:
        """``pol-`` + 12 hex digits of the SHA-256 of the decision rule and its data hash
        (scorers, weights, calibrator, alpha, threshold, sampling, scoring, data sha256)."""
        core = {
            "scorers": list(self.scorers),
            "weights": list(self.weights),
            "calibrator": self.calibrator.to_dict(),
            "alpha": self.alpha,
            "threshold": self.threshold,
            "sampling": asdict(self.sampling),
            "scoring": asdict(self.scoring),
            "data_sha256": None if self.data is None else self.data.sha256,
        }
        text = json.dumps(core, sort_keys=True, allow_nan=False, separators=(",", ":"))
        return "pol-" + hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def threshold_value(self) -> float:
        """The threshold as a float (+inf for ``threshold=None``)."""
        return math.inf if self.threshold is None else float(self.threshold)

    @property
    def sample_scorers(self) -> tuple[str, ...]:
        """The policy's scorers that read the samples (the others read only the answer)."""
        return tuple(s for s in self.scorers if _reads_samples(s))

    @property
    def answer_scorers(self) -> tuple[str, ...]:
        return tuple(s for s in self.scorers if not _reads_samples(s))

    @property
    def needs_top_logprobs(self) -> bool:
        from lmuq.scoring.registry import SCORERS

        return any("answer_top_logprobs" in SCORERS[s].needs for s in self.scorers)

    @property
    def needs_logprobs(self) -> bool:
        from lmuq.scoring.registry import SCORERS

        lp = {"answer_logprobs", "answer_top_logprobs", "sample_logprobs"}
        return any(SCORERS[s].needs & lp for s in self.scorers)

    @property
    def guarantee(self) -> str:
        """The guarantee in words."""
        n = len(self.data.conformal) if self.data is not None else 0
        m = self.sampling.num_samples
        if self.threshold is None:
            return (
                f"This policy accepts no answer: with {n} calibration answers no threshold "
                f"keeps P(accepted and wrong) <= alpha = {self.alpha:g}. Fit it on more "
                "graded answers or with a larger alpha."
            )
        sampled = (
            f" Adaptive sampling does not change this: sampling stops only when the "
            f"decision that m = {m} samples would give is certain."
            if self.sample_scorers
            else ""
        )
        return (
            f"If future requests are exchangeable with the {n} calibration answers (same "
            "model, prompts from the same distribution, answers and samples drawn with these "
            "settings), the probability that an answer is accepted and wrong is at most "
            f"alpha = {self.alpha:g} (conformal risk control, Angelopoulos et al. 2024). "
            "This is the expected fraction of all requests that end accepted-and-wrong, "
            "averaged over the draw of the calibration answers; it is not the error rate among "
            "accepted answers (that is this divided by the acceptance rate), and it says "
            "nothing about how many answers are accepted." + sampled
        )

    # -- applying -------------------------------------------------------------------

    def ensemble(self, values: ArrayLike) -> np.ndarray:
        """Weighted mean of a ``(n, K)`` matrix of scores (columns in ``scorers`` order),
        NaN-aware: a NaN score's weight is dropped for that row; all NaN gives NaN."""
        v = _matrix(values, len(self.scorers))
        w = np.asarray(self.weights, dtype=float)
        valid = ~np.isnan(v)
        wv = np.where(valid, w[None, :], 0.0)
        total = wv.sum(axis=1)
        num = (np.where(valid, v, 0.0) * wv).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, num / np.where(total > 0, total, 1.0), np.nan)

    def confidence(self, values: ArrayLike) -> np.ndarray:
        """Calibrated confidence of a ``(n, K)`` score matrix: ``calibrator(ensemble)``."""
        return self.calibrator.apply(self.ensemble(values))

    def confidence_of_table(self, table: Any) -> np.ndarray:
        """:meth:`confidence` of a table (DataFrame or mapping) with one column per scorer."""
        return self.confidence(self.score_matrix(table))

    def score_matrix(self, table: Any) -> np.ndarray:
        """The ``(n, K)`` matrix of the policy's scorer columns of ``table``."""
        missing = [s for s in self.scorers if s not in table]
        if missing:
            raise PolicyError(
                f"the table has no column for the policy's scorer(s) {missing}; score the "
                "answers with them first (TrustPolicy.score)"
            )
        cols = [np.asarray(table[s], dtype=float) for s in self.scorers]
        return np.stack(cols, axis=1) if cols else np.zeros((0, 0))

    def accept(self, confidence: ArrayLike) -> np.ndarray:
        """Boolean mask: ``confidence >= threshold`` (NaN is never accepted)."""
        c = np.asarray(confidence, dtype=float)
        with np.errstate(invalid="ignore"):
            return np.greater_equal(c, self.threshold_value) & ~np.isnan(c)

    def evaluate(self, confidence: ArrayLike, correct: ArrayLike) -> dict[str, float]:
        """What the rule does on graded answers: ``n``, ``accepted``, ``coverage`` (fraction
        accepted), ``risk`` (fraction accepted *and* wrong: the controlled quantity),
        ``risk_low`` / ``risk_high`` (its exact 95% Clopper–Pearson interval),
        ``error_among_accepted`` (NaN if none accepted) and ``auroc`` of the confidence."""
        c = np.asarray(confidence, dtype=float)
        y = np.asarray(correct, dtype=float)
        acc = self.accept(c)
        n = int(c.shape[0])
        n_acc = int(acc.sum())
        n_bad = int((acc & (y == 0)).sum())
        low, high = risk_interval(n_bad, n)
        ok = ~np.isnan(c)
        both = ok.any() and 0 < y[ok].sum() < ok.sum()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            area = float(auroc(c[ok], y[ok])) if both else math.nan
        return {
            "n": n,
            "accepted": n_acc,
            "accepted_wrong": n_bad,
            "coverage": n_acc / n if n else math.nan,
            "risk": n_bad / n if n else math.nan,
            "risk_low": low,
            "risk_high": high,
            "error_among_accepted": n_bad / n_acc if n_acc else math.nan,
            "auroc": area,
        }

    def bounds(self, scores: Mapping[str, float], samples_used: int) -> tuple[float, float]:
        """Bounds ``(c_-, c_+)`` on the confidence with all m samples, from the scores on
        ``samples_used`` of them (see the module docstring); a scorer missing from
        ``scores`` or NaN before all samples are in is unknown (``[0, 1]``)."""
        m = self.sampling.num_samples
        k = min(int(samples_used), m)
        lo, hi = [], []
        for name in self.scorers:
            v = float(scores.get(name, math.nan))
            if not _reads_samples(name):
                lo.append(v)  # known exactly (NaN: dropped, as in the full computation)
                hi.append(v)
            elif k >= m:
                lo.append(v)
                hi.append(v)
            elif math.isnan(v):
                lo.append(0.0)
                hi.append(1.0)
            elif name in SAMPLE_MEAN_SCORERS:
                lo.append(k * v / m)
                hi.append((k * v + (m - k)) / m)
            else:
                lo.append(0.0)
                hi.append(1.0)
        e_lo, e_hi = self.ensemble([lo, hi])
        c = self.calibrator.apply([e_lo, e_hi])
        if np.isnan(c).any():
            return math.nan, math.nan
        return float(np.min(c)), float(np.max(c))

    def assess(self, scores: Mapping[str, float], samples_used: int) -> Assessment:
        """The judgement after ``samples_used`` samples (see :class:`Assessment`).

        ``scores`` are the policy's scorers computed on the answer and the samples drawn so
        far. Decided when the bounds are on one side of the threshold (by more than a
        rounding slack) or every sample is in.
        """
        m = self.sampling.num_samples
        low, high = self.bounds(scores, samples_used)
        vec = np.array([[float(scores.get(s, math.nan)) for s in self.scorers]])
        estimate = float(self.confidence(vec)[0])
        if not math.isnan(estimate) and not math.isnan(low):
            estimate = min(max(estimate, low), high)
        t = self.threshold_value
        if samples_used >= m:
            decided, accept = True, bool(self.accept([estimate])[0])
        elif math.isnan(low):
            decided, accept = False, False
        elif low >= t + _SLACK:
            decided, accept = True, True
        elif high < t - _SLACK:
            decided, accept = True, False
        else:
            decided, accept = False, False
        return Assessment(
            confidence=estimate,
            low=low,
            high=high,
            decided=decided,
            accept=accept,
            samples_used=int(samples_used),
            scores={s: float(scores.get(s, math.nan)) for s in self.scorers},
        )

    def scorer(self, **kwargs: Any) -> Any:
        """A :class:`~lmuq.UQScorer` for the policy's scorers with its scoring options
        (``kwargs`` pass ready models: ``nli_model=``, ``embedder=``, ...)."""
        from lmuq.uq.scorer import UQScorer

        return UQScorer(
            list(self.scorers),
            nli_model_name=self.scoring.nli_model,
            equivalence=self.scoring.equivalence,  # type: ignore[arg-type]
            strict_entailment=self.scoring.strict_entailment,
            condition_on_question=self.scoring.condition_on_question,
            use_best=False,
            on_error="nan",
            **kwargs,
        )

    def score(self, sample_sets: Sequence[Any], *, scorer: Any = None) -> dict[str, Any]:
        """Score sample sets and apply the policy: ``{"scores": (n, K) matrix,
        "confidence": (n,), "accept": (n,) bool, "result": the UQResult}``."""
        scorer = scorer or self.scorer()
        result = scorer.score(list(sample_sets))
        matrix = np.array(
            [[float(result.columns[s][i]) for s in self.scorers] for i in range(len(result))]
        ).reshape(len(result), len(self.scorers))
        conf = self.confidence(matrix)
        return {"scores": matrix, "confidence": conf, "accept": self.accept(conf), "result": result}

    # -- JSON -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The policy file's content (JSON-ready; non-finite report numbers as null)."""
        return {
            "format": POLICY_FORMAT,
            "version": POLICY_VERSION,
            "id": self.id,
            "created": self.created,
            "lmuq_version": self.lmuq_version,
            "scorers": list(self.scorers),
            "ensemble": {"kind": "weighted_mean", "weights": list(self.weights)},
            "calibrator": self.calibrator.to_dict(),
            "alpha": self.alpha,
            "threshold": self.threshold,
            "risk": "P(accepted and wrong)",
            "guarantee": self.guarantee,
            "adaptive_rule": _ADAPTIVE_RULE,
            "sampling": asdict(self.sampling),
            "scoring": asdict(self.scoring),
            "data": None if self.data is None else self.data.to_dict(),
            "report": _json_ready(self.report),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the policy file (a temporary file renamed into place); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrustPolicy:
        """Read a policy file's content, checking every field.

        Raises:
            PolicyError: not a policy, a newer version, a bad field (named), or an ``id``
                that does not match the content (an edited file).
        """
        _need_mapping(d, "the policy")
        if d.get("format") != POLICY_FORMAT:
            raise PolicyError(
                f"not an lmuq trust policy (format is {d.get('format')!r}, expected "
                f"{POLICY_FORMAT!r}); make one with `lmuq calibrate`"
            )
        version = d.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise PolicyError(f"version must be an int >= 1, got {version!r}")
        if version > POLICY_VERSION:
            raise PolicyError(
                f"the policy has version {version}; this lmuq reads versions up to "
                f"{POLICY_VERSION}. Upgrade lmuq to use it"
            )
        ens = d.get("ensemble") or {}
        _need_mapping(ens, "ensemble")
        if ens.get("kind", "weighted_mean") != "weighted_mean":
            raise PolicyError(f"ensemble.kind must be 'weighted_mean', got {ens.get('kind')!r}")
        data = d.get("data")
        try:
            policy = cls(
                scorers=tuple(_list(d.get("scorers"), "scorers")),
                weights=tuple(_list(ens.get("weights"), "ensemble.weights")),
                calibrator=Calibrator.from_dict(d.get("calibrator") or {}),
                alpha=d.get("alpha"),
                threshold=d.get("threshold"),
                sampling=PolicySampling(**_fields(d.get("sampling"), PolicySampling)),
                scoring=PolicyScoring(**_fields(d.get("scoring"), PolicyScoring)),
                data=None
                if data is None
                else DataInfo(
                    **{
                        k: tuple(v) if k in ("fit", "conformal", "holdout") else v
                        for k, v in _fields(data, DataInfo).items()
                    }
                ),
                report=dict(d.get("report") or {}),
                created=str(d.get("created") or ""),
                lmuq_version=str(d.get("lmuq_version") or ""),
            )
        except TypeError as exc:
            raise PolicyError(f"a policy field has the wrong type: {exc}") from None
        stated = d.get("id")
        if stated is not None and stated != policy.id:
            raise PolicyError(
                f"the policy's id {stated!r} does not match its content ({policy.id}): the "
                "file was edited. Refit it with `lmuq calibrate` (or delete the id field to "
                "accept the edit)"
            )
        return policy


def load_policy(path: str | os.PathLike[str]) -> TrustPolicy:
    """Read and check a policy file (JSON only; nothing in it is executed).

    Raises:
        FileNotFoundError: no file at ``path``.
        PolicyError: not valid JSON or not a valid policy (the message says which field).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no policy file at {path}: make one with `lmuq calibrate`")
    try:
        d = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path} is not valid JSON ({exc})") from None
    return TrustPolicy.from_dict(d)


# --------------------------------------------------------------------------- fitting


def fit_policy(
    scores: Any,
    correct: ArrayLike,
    *,
    scorers: Sequence[str] | None = None,
    alpha: float = 0.1,
    calibrator: Literal["platt", "isotonic"] = "platt",
    fit_fraction: float = 0.5,
    holdout: float = 0.2,
    seed: int = 0,
    sampling: PolicySampling | None = None,
    scoring: PolicyScoring | None = None,
    source: str = "",
    lmuq_version: str = "",
) -> TrustPolicy:
    """Fit a trust policy on graded answers.

    Rows are split at random (``numpy.random.default_rng(seed).permutation``): the first
    ``round(holdout * n)`` are the holdout split, then ``round(fit_fraction * rest)`` the
    fit split, the rest the conformal split. On the fit split: the scorers (``None``: the
    answer-only scorer and the sample-based scorer with the highest AUROC among the
    registered scorer columns of ``scores`` that read no model internals), the weights
    (one scorer: 1; several: :meth:`Tuner.tune_params` maximising AUROC; zero weights are
    dropped) and the
    calibrator. On the conformal split: the threshold (:class:`ConformalAbstention`;
    answers with a NaN confidence are never accepted, so they count as not answered).
    The report holds every split's :meth:`TrustPolicy.evaluate`, computed with the
    finished policy.

    Args:
        scores: a table (DataFrame or mapping of columns) with one column per scorer.
        correct: 0/1 (or bool) per row; rows with a missing label must be dropped first.
        scorers: which columns to use, or None to choose as above.
        alpha: the target for P(accepted and wrong), in (0, 1).
        calibrator: ``"platt"`` or ``"isotonic"``.
        fit_fraction: share of the non-holdout rows in the fit split, in (0, 1).
        holdout: share of all rows kept out for checking, in [0, 1).
        seed: seed of the split.
        sampling, scoring: how the scores were computed (recorded, applied by the gateway).
        source: where the data came from (recorded).

    Raises:
        PolicyError: naming the argument, for bad arguments, missing columns, a split
            with too few rows or a single class.
    """
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise PolicyError(f"alpha must be in (0, 1), got {alpha!r} (e.g. --alpha 0.1)")
    if calibrator not in CALIBRATORS:
        raise PolicyError(f"calibrator must be one of {CALIBRATORS}, got {calibrator!r}")
    if not (isinstance(fit_fraction, (int, float)) and 0 < fit_fraction < 1):
        raise PolicyError(f"fit_fraction must be in (0, 1), got {fit_fraction!r}")
    if not (isinstance(holdout, (int, float)) and 0 <= holdout < 1):
        raise PolicyError(f"holdout must be in [0, 1), got {holdout!r}")
    y = np.asarray(correct, dtype=float)
    if y.ndim != 1 or not np.all((y == 0) | (y == 1)):
        raise PolicyError("correct must be one 0/1 (or bool) label per row, with no missing one")
    n = y.shape[0]
    columns = _score_columns(scores, n)
    candidates = sorted(columns) if scorers is None else list(scorers)
    for name in candidates if scorers is not None else ():
        if name not in columns:
            raise PolicyError(
                f"scorers: the data has no column {name!r}; it has {sorted(columns) or 'none'}"
            )

    perm = np.random.default_rng(seed).permutation(n)
    n_hold = round(holdout * n)
    n_fit = round(fit_fraction * (n - n_hold))
    hold = np.sort(perm[:n_hold])
    fit = np.sort(perm[n_hold : n_hold + n_fit])
    conf = np.sort(perm[n_hold + n_fit :])
    if fit.size < 2 or not 0 < y[fit].sum() < fit.size:
        raise PolicyError(
            f"the fit split ({fit.size} rows) needs both right and wrong answers; grade more "
            "answers or change fit_fraction (--fit-fraction)"
        )
    if conf.size < 1:
        raise PolicyError("the conformal split is empty: lower fit_fraction (--fit-fraction)")

    chosen = _choose_scorers(columns, y, fit) if scorers is None else list(scorers)
    matrix = np.stack([columns[s] for s in chosen], axis=1)
    weights = _fit_weights(matrix[fit], y[fit], chosen)
    keep = [i for i, w in enumerate(weights) if w > 1e-12]
    chosen = [chosen[i] for i in keep]
    w = np.array([weights[i] for i in keep])
    w = w / w.sum()
    matrix = matrix[:, keep]

    probe = TrustPolicy(
        tuple(chosen), tuple(float(v) for v in w), Calibrator("platt", 1.0, 0.0), alpha, None
    )
    e_fit = probe.ensemble(matrix[fit])
    ok = ~np.isnan(e_fit)
    cal = _fit_calibrator(calibrator, e_fit[ok], y[fit][ok])
    probe = replace(probe, calibrator=cal)

    c_conf = probe.confidence(matrix[conf])
    # NaN confidence is never accepted: below every real confidence, it is never answered.
    c_fill = np.where(np.isnan(c_conf), -1.0, c_conf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConformalWarning)
        rule = ConformalAbstention(alpha).fit(c_fill, y[conf])
    threshold: float | None = rule.threshold_
    if threshold is not None and math.isinf(threshold):
        threshold = None
    elif threshold is not None and threshold < 0:
        finite = c_conf[~np.isnan(c_conf)]
        threshold = float(finite.min()) if finite.size else None

    data = DataInfo(
        sha256=data_sha256(chosen, matrix, y),
        n=n,
        seed=int(seed),
        fit=tuple(int(i) for i in fit),
        conformal=tuple(int(i) for i in conf),
        holdout=tuple(int(i) for i in hold),
        source=source,
    )
    policy = replace(
        probe,
        threshold=None if threshold is None else float(threshold),
        sampling=sampling or PolicySampling(),
        scoring=scoring or PolicyScoring(),
        data=data,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        lmuq_version=lmuq_version,
    )
    return replace(policy, report=policy_report(policy, matrix, y))


def policy_report(policy: TrustPolicy, matrix: ArrayLike, correct: ArrayLike) -> dict[str, Any]:
    """Each split's :meth:`TrustPolicy.evaluate` (``fit``, ``conformal``, ``holdout``),
    plus the conformal bound ``(W + 1) / (n + 1)`` with W the conformal split's accepted
    wrong answers. ``matrix`` is the ``(n, K)`` score matrix of all rows, in order."""
    if policy.data is None:
        raise PolicyError("the policy records no data split to report on")
    m = _matrix(matrix, len(policy.scorers))
    y = np.asarray(correct, dtype=float)
    conf = policy.confidence(m)
    out: dict[str, Any] = {}
    for name in ("fit", "conformal", "holdout"):
        rows = np.asarray(getattr(policy.data, name), dtype=int)
        if rows.size:
            out[name] = policy.evaluate(conf[rows], y[rows])
    c = out["conformal"]
    c["risk_bound"] = (c["accepted_wrong"] + 1) / (c["n"] + 1)
    if "holdout" in out:
        h = out["holdout"]
        h["alpha_within_interval"] = bool(h["risk_low"] <= policy.alpha)
    return out


def data_sha256(scorers: Sequence[str], matrix: ArrayLike, correct: ArrayLike) -> str:
    """SHA-256 of the canonical JSON of ``{"scorers", "rows": [[correct, v_1..v_K]...]}``."""
    m = np.asarray(matrix, dtype=float)
    y = np.asarray(correct, dtype=float)
    rows = [
        [int(y[i]), *(None if math.isnan(v) else float(v) for v in m[i])] for i in range(len(y))
    ]
    text = json.dumps(
        {"scorers": list(scorers), "rows": rows}, separators=(",", ":"), allow_nan=False
    )
    return hashlib.sha256(text.encode()).hexdigest()


def risk_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) interval for a binomial proportion ``k / n``."""
    if n <= 0:
        return math.nan, math.nan
    from scipy.stats import beta

    a = (1 - level) / 2
    low = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return low, high


# --------------------------------------------------------------------------- helpers

_ADAPTIVE_RULE = (
    "Samples are drawn in batches of sampling.batch_size, and only while the decision can "
    "still change: after each batch (and before the first, from the answer's scores alone) "
    "each scorer's final value is bounded (answer-only scorers are known; a sample-mean "
    "scorer with value v on k of m samples ends in [k v / m, (k v + m - k) / m]; other "
    "sample-based scorers in [0, 1]), which bounds the calibrated confidence; sampling stops "
    "when the lower bound is >= threshold (accept) or the upper bound < threshold (not "
    "accepted), or after m samples. The decision equals the one of always drawing m samples."
)


def _reads_internals(name: str) -> bool:
    """Whether a scorer reads a local model's internals (never part of a policy)."""
    from lmuq.scoring.internals import needs_internals

    return needs_internals([name])


def _reads_samples(name: str) -> bool:
    from lmuq.scoring.registry import SCORERS

    return bool(SCORERS[name].needs & {"samples", "sample_logprobs"})


def _score_columns(scores: Any, n: int) -> dict[str, np.ndarray]:
    """The registered, non-judged scorer columns of a table, as float arrays of length n."""
    from lmuq.scoring.registry import SCORERS

    names = list(scores.keys()) if hasattr(scores, "keys") else list(scores.columns)
    out = {}
    for name in names:
        if name in SCORERS and SCORERS[name].family != "judged":
            col = np.asarray(scores[name], dtype=float)
            if col.shape != (n,):
                raise PolicyError(f"column {name!r} has {col.shape[0]} rows for {n} labels")
            out[name] = col
    return out


def _choose_scorers(columns: dict[str, np.ndarray], y: np.ndarray, fit: np.ndarray) -> list[str]:
    """The answer-only and the sample-based scorer with the highest fit-split AUROC
    (columns with a NaN on the fit split, and scorers that read the model's internals, are
    passed over)."""
    best: dict[bool, tuple[float, str]] = {}
    for name, col in sorted(columns.items()):
        if _reads_internals(name):
            continue  # live responses carry no model internals
        c = col[fit]
        if np.isnan(c).any() or np.unique(c).size < 2:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            area = float(auroc(c, y[fit]))
        key = _reads_samples(name)
        if key not in best or area > best[key][0]:
            best[key] = (area, name)
    chosen = [best[k][1] for k in (False, True) if k in best]
    if not chosen:
        raise PolicyError(
            "no scorer column has a usable score on every fit-split row; pass scorers= "
            "(--scorers) explicitly"
        )
    return chosen


def _fit_weights(matrix: np.ndarray, y: np.ndarray, names: list[str]) -> list[float]:
    if matrix.shape[1] == 1:
        return [1.0]
    usable = ~np.isnan(matrix).all(axis=1)
    try:
        result = Tuner().tune_params(
            [matrix[usable, j] for j in range(matrix.shape[1])],
            y[usable],
            weights_objective="roc_auc",
        )
    except ValueError as exc:
        raise PolicyError(f"could not tune the weights of {names}: {exc}") from None
    return [float(w) for w in result["weights"]]


def _fit_calibrator(kind: str, e: np.ndarray, y: np.ndarray) -> Calibrator:
    if e.size == 0:
        raise PolicyError("no fit-split row has a score: nothing to calibrate on")
    if kind == "platt":
        try:
            p = PlattCalibrator().fit(e, y)
        except ValueError as exc:
            raise PolicyError(f"calibrator: {exc}") from None
        return Calibrator("platt", coef=float(p.coef_), intercept=float(p.intercept_))
    iso = IsotonicCalibrator().fit(e, y)
    x = tuple(float(v) for v in iso.model_.X_thresholds_)
    yy = tuple(float(min(max(v, 0.0), 1.0)) for v in iso.model_.y_thresholds_)
    return Calibrator("isotonic", x=x, y=yy)


def _matrix(values: ArrayLike, k: int) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if v.ndim == 1 and k == 1:
        v = v[:, None]
    if v.ndim != 2 or v.shape[1] != k:
        raise PolicyError(f"scores must be an (n, {k}) matrix, one column per scorer")
    return v


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _need_mapping(d: Any, what: str) -> None:
    if not isinstance(d, Mapping):
        raise PolicyError(f"{what} must be a JSON object, got {type(d).__name__}")


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise PolicyError(f"{what} must be a list, got {type(value).__name__}")
    return value


def _fields(d: Any, cls: type) -> dict[str, Any]:
    """The keys of ``d`` that are fields of dataclass ``cls`` (unknown keys refused)."""
    _need_mapping(d, cls.__name__)
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(d) - known)
    if unknown:
        raise PolicyError(f"{cls.__name__} has unknown field(s) {unknown}")
    return dict(d)


def _no_constant(name: str) -> Any:
    raise PolicyError(f"the literal {name} is not JSON; a policy file never holds it")
