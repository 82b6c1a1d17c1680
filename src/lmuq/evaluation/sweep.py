"""Choosing sampling settings on a calibration split and judging them on held-out questions.

A sampling sweep scores the same questions' answers with samples drawn at several settings
(temperature, top-p). For each setting and each sample-based scorer it computes the AUROC on
a calibration split and, with a paired bootstrap interval, on the held-out rest. The setting
is **chosen on the calibration split** (highest mean AUROC over the scorers) and **reported
on the held-out split**, so the choice is not tuned to the numbers that judge it.

:func:`sampling_sweep` computes it from score columns; :class:`SamplingSweep` is the result,
written as plain JSON (``to_dict`` / ``from_dict``) and shown by the HTML report
(``lmuq report RUN_DIR --sweep sweep.json``). ``bench/sampling_sweep.py`` draws the samples
on the embedded model and calls it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lmuq.evaluation.bootstrap import bootstrap_metric
from lmuq.evaluation.metrics import auroc

__all__ = ["SamplingSweep", "SweepScore", "SweepSetting", "sampling_sweep", "setting_label"]


@dataclass(frozen=True)
class SweepScore:
    """One scorer's AUROC at one setting: on the calibration split, and on the held-out
    split with its bootstrap interval (``held_out_low`` / ``held_out_high``)."""

    calibration: float
    held_out: float
    held_out_low: float
    held_out_high: float


@dataclass(frozen=True)
class SweepSetting:
    """One sampling setting of a sweep.

    ``auroc`` maps scorer name to :class:`SweepScore`; the two means are over the sample
    scorers only (``reference`` scorers are shown, not averaged); ``samples_equal_to_answer``
    is the share of samples whose text equals the question's answer (``nan`` if unknown).
    """

    temperature: float
    top_p: float | None
    auroc: dict[str, SweepScore]
    mean_calibration_auroc: float
    mean_held_out_auroc: float
    samples_equal_to_answer: float = math.nan
    seconds: float = math.nan

    @property
    def label(self) -> str:
        return setting_label(self.temperature, self.top_p)


@dataclass(frozen=True)
class SamplingSweep:
    """A sweep's settings, in the order given, and the one chosen on calibration."""

    questions: int
    calibration_questions: int
    samples: int
    accuracy: float
    scorers: list[str]
    reference: list[str]
    settings: list[SweepSetting]
    chosen: str
    level: float = 0.95
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def held_out_questions(self) -> int:
        return self.questions - self.calibration_questions

    def setting(self, label: str) -> SweepSetting:
        for s in self.settings:
            if s.label == label:
                return s
        raise KeyError(f"no setting {label!r}; the sweep has {[s.label for s in self.settings]}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (NaN written as ``None``)."""
        return _json_ready(asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SamplingSweep:
        """The inverse of :meth:`to_dict`; says which field is missing or malformed."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a sampling sweep is a JSON object, got {type(data).__name__}")
        try:
            settings = [
                SweepSetting(
                    temperature=float(s["temperature"]),
                    top_p=None if s.get("top_p") is None else float(s["top_p"]),
                    auroc={
                        name: SweepScore(**{k: _float(v) for k, v in a.items()})
                        for name, a in s["auroc"].items()
                    },
                    mean_calibration_auroc=_float(s["mean_calibration_auroc"]),
                    mean_held_out_auroc=_float(s["mean_held_out_auroc"]),
                    samples_equal_to_answer=_float(s.get("samples_equal_to_answer")),
                    seconds=_float(s.get("seconds")),
                )
                for s in data["settings"]
            ]
            sweep = cls(
                questions=int(data["questions"]),
                calibration_questions=int(data["calibration_questions"]),
                samples=int(data["samples"]),
                accuracy=_float(data["accuracy"]),
                scorers=[str(x) for x in data["scorers"]],
                reference=[str(x) for x in data.get("reference", [])],
                settings=settings,
                chosen=str(data["chosen"]),
                level=float(data.get("level", 0.95)),
                notes=dict(data.get("notes") or {}),
            )
        except KeyError as exc:
            raise ValueError(f"sampling sweep: missing field {exc.args[0]!r}") from None
        except (TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"sampling sweep: malformed field ({exc})") from None
        if all(s.label != sweep.chosen for s in settings):
            raise ValueError(
                f"sampling sweep: the chosen setting {sweep.chosen!r} is not one of its "
                f"settings {[s.label for s in settings]}"
            )
        return sweep


def setting_label(temperature: float, top_p: float | None) -> str:
    """``"T=0.5, top-p 0.9"``, or ``"T=1, full vocabulary"`` without top-p (or top-p 1)."""
    if top_p is None or top_p >= 1.0:
        return f"T={temperature:g}, full vocabulary"
    return f"T={temperature:g}, top-p {top_p:g}"


def sampling_sweep(
    scores: Mapping[tuple[float, float | None], Mapping[str, ArrayLike]],
    correct: ArrayLike,
    calibration_mask: ArrayLike,
    *,
    scorers: Sequence[str],
    reference: Sequence[str] = (),
    samples: int,
    samples_equal_to_answer: Mapping[tuple[float, float | None], float] | None = None,
    seconds: Mapping[tuple[float, float | None], float] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> SamplingSweep:
    """Evaluate each setting's scores on both splits and choose on the calibration split.

    Args:
        scores: ``{(temperature, top_p): {scorer: confidences}}``, every column aligned with
            ``correct``; settings keep their order.
        correct: whether each question's answer is right (the same answers for every
            setting: only the samples change).
        calibration_mask: ``True`` for the calibration questions; the rest are held out.
        scorers: the sample-based scorers the choice averages over.
        reference: scorers shown but not averaged (e.g. sequence probability, which does not
            read the samples).
        samples: samples drawn per question (recorded).
        samples_equal_to_answer, seconds: optional per-setting figures to record.
        n_boot, level, seed: the held-out bootstrap intervals.

    Returns:
        A :class:`SamplingSweep`; ``chosen`` is the label of the setting with the highest
        mean calibration AUROC (the first such setting on a tie).

    Raises:
        ValueError: no settings, no scorers, a scorer missing from a setting, lengths that
            do not match, or a split without both right and wrong answers.
    """
    if not scores:
        raise ValueError("scores must hold at least one setting")
    if not scorers:
        raise ValueError("scorers must name at least one sample-based scorer")
    y = np.asarray(correct, dtype=bool)
    mask = np.asarray(calibration_mask, dtype=bool)
    if y.ndim != 1 or mask.shape != y.shape:
        raise ValueError(
            f"correct and calibration_mask must be 1-d of one length, got {y.shape} and "
            f"{mask.shape}"
        )
    for name, part in (("calibration", y[mask]), ("held-out", y[~mask])):
        if part.size == 0 or part.all() or not part.any():
            raise ValueError(
                f"the {name} split needs both right and wrong answers "
                f"({int(part.sum())} of {part.size} right); use more questions or another split"
            )
    settings = []
    for key, columns in scores.items():
        temperature, top_p = key
        row: dict[str, SweepScore] = {}
        for name in [*scorers, *reference]:
            if name not in columns:
                raise ValueError(
                    f"setting {setting_label(temperature, top_p)!r} has no scores for {name!r}"
                )
            conf = np.asarray(columns[name], dtype=float)
            if conf.shape != y.shape:
                raise ValueError(
                    f"scores[{key!r}][{name!r}] has {conf.size} values for {y.size} questions"
                )
            iv = bootstrap_metric(
                auroc, conf[~mask], y[~mask], n_boot=n_boot, level=level, seed=seed
            )
            row[name] = SweepScore(
                calibration=float(auroc(conf[mask], y[mask])),
                held_out=iv.estimate,
                held_out_low=iv.low,
                held_out_high=iv.high,
            )
        settings.append(
            SweepSetting(
                temperature=float(temperature),
                top_p=None if top_p is None else float(top_p),
                auroc=row,
                mean_calibration_auroc=_nanmean(row[n].calibration for n in scorers),
                mean_held_out_auroc=_nanmean(row[n].held_out for n in scorers),
                samples_equal_to_answer=float((samples_equal_to_answer or {}).get(key, math.nan)),
                seconds=float((seconds or {}).get(key, math.nan)),
            )
        )
    best = max(
        range(len(settings)),
        key=lambda i: (_orderable(settings[i].mean_calibration_auroc), -i),
    )
    return SamplingSweep(
        questions=int(y.size),
        calibration_questions=int(mask.sum()),
        samples=int(samples),
        accuracy=float(y.mean()),
        scorers=list(scorers),
        reference=list(reference),
        settings=settings,
        chosen=settings[best].label,
        level=float(level),
    )


def _nanmean(values) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.fmean(finite) if finite else math.nan


def _orderable(x: float) -> float:
    return x if math.isfinite(x) else -math.inf


def _float(x: Any) -> float:
    return math.nan if x is None else float(x)


def _json_ready(x: Any) -> Any:
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_ready(v) for v in x]
    return x
