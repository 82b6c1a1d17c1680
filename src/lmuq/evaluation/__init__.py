"""Evaluation of confidence scores: ranking and rejection metrics, bootstrap intervals."""

from lmuq.evaluation.bootstrap import Interval, bootstrap_metric
from lmuq.evaluation.calibration import (
    IsotonicCalibrator,
    PlattCalibrator,
    brier_score,
    expected_calibration_error,
    maximum_calibration_error,
)
from lmuq.evaluation.conformal import ConformalAbstention
from lmuq.evaluation.filtering import filtered_accuracy
from lmuq.evaluation.metrics import (
    MetricWarning,
    accuracy_rejection_curve,
    auarc,
    auprc,
    auroc,
    prr,
)
from lmuq.evaluation.paired import PairedDifference, paired_bootstrap, paired_comparisons
from lmuq.evaluation.policy import TrustPolicy, fit_policy, load_policy
from lmuq.evaluation.sweep import SamplingSweep, SweepScore, SweepSetting, sampling_sweep
from lmuq.evaluation.tuning import Tuner, ensemble_scores, precision_recall_f1

__all__ = [
    "ConformalAbstention",
    "Interval",
    "IsotonicCalibrator",
    "MetricWarning",
    "PairedDifference",
    "PlattCalibrator",
    "SamplingSweep",
    "SweepScore",
    "SweepSetting",
    "TrustPolicy",
    "Tuner",
    "accuracy_rejection_curve",
    "auarc",
    "auprc",
    "auroc",
    "bootstrap_metric",
    "brier_score",
    "ensemble_scores",
    "expected_calibration_error",
    "filtered_accuracy",
    "fit_policy",
    "load_policy",
    "maximum_calibration_error",
    "paired_bootstrap",
    "paired_comparisons",
    "precision_recall_f1",
    "prr",
    "sampling_sweep",
]
