"""Evaluation plots (matplotlib, imported lazily: ``pip install 'lmuq[plots]'``).

Every function returns the matplotlib ``Figure`` (and saves it when ``write_path`` is given);
none calls ``plt.show()``, so they work the same in notebooks, scripts and headless CI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from lmuq.evaluation.filtering import filtered_accuracy
from lmuq.evaluation.metrics import accuracy_rejection_curve
from lmuq.extras import require

__all__ = [
    "line_styles",
    "plot_accuracy_rejection",
    "plot_model_accuracies",
    "plot_reliability_diagram",
    "plot_roc_curves",
]


#: Line colours: matplotlib's tab10 without its grey, which the reference lines use.
_COLOURS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:red",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
)
_STYLES = ("-", "--", "-.", ":")


def line_styles(n: int) -> list[tuple[str, str]]:
    """``n`` (colour, line style) pairs for curves drawn on one axes.

    Colours cycle through 9 (tab10 without grey) and styles through 4 (solid, dashed,
    dash-dot, dotted) together, so neighbours differ in both and no two of the first 36
    share a colour *and* a style.
    """
    return [(_COLOURS[i % len(_COLOURS)], _STYLES[i % len(_STYLES)]) for i in range(n)]


def _looks(
    names: Mapping[str, object], styles: Mapping[str, tuple[str, str]] | None
) -> dict[str, tuple[str, str]]:
    """(colour, style) per name: ``styles``' own, the others in turn from the cycle."""
    styles = dict(styles or {})
    rest = [name for name in names if name not in styles]
    return {**dict(zip(rest, line_styles(len(rest)), strict=True)), **styles}


def _pyplot():
    require("matplotlib", "plots", "plotting")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, write_path: str | None):
    if write_path:
        fig.savefig(write_path, dpi=120, bbox_inches="tight")
    return fig


def plot_model_accuracies(
    scores: Sequence[float],
    correct_indicators: Sequence[bool],
    thresholds: Sequence[float] | np.ndarray = np.linspace(0, 0.9, num=10),  # noqa: B008
    axis_buffer: float = 0.1,
    title: str = "LLM Accuracy by Confidence Score Threshold",
    write_path: str | None = None,
    bar_width: float = 0.05,
    display_percentage: bool = False,
):
    """UQLM's filtered-accuracy plot: accuracy of the answers with score >= t (top), and how
    many answers each threshold keeps (bottom). Same signature as UQLM's; returns the
    Figure."""
    plt = _pyplot()
    acc, counts = filtered_accuracy(scores, correct_indicators, thresholds)
    t = np.asarray(thresholds, dtype=float)
    sizes = counts / len(scores) * 100 if display_percentage else counts
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, height_ratios=[2, 1])
    top.plot(t, acc, marker="o", color="tab:blue")
    finite = acc[np.isfinite(acc)]
    if finite.size:
        top.set_ylim(max(0.0, finite.min() - axis_buffer), min(1.0, finite.max() + axis_buffer))
    top.set_ylabel("Accuracy of kept answers")
    top.set_title(title)
    top.grid(alpha=0.3)
    bottom.bar(t, sizes, width=bar_width, color="tab:gray")
    for x, v in zip(t, sizes, strict=True):
        bottom.annotate(
            f"{v:.0f}%" if display_percentage else f"{int(v)}",
            (x, v),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    bottom.set_ylabel("Answers kept (%)" if display_percentage else "Answers kept")
    bottom.set_xlabel("Confidence threshold")
    return _finish(fig, write_path)


def plot_roc_curves(
    scores: Mapping[str, Sequence[float]],
    correct_indicators: Sequence[bool],
    title: str = "ROC: detecting correct answers",
    write_path: str | None = None,
    styles: Mapping[str, tuple[str, str]] | None = None,
):
    """ROC curve of each named confidence score (NaN scores dropped per scorer).

    Each curve has its own colour and line style (:func:`line_styles`); ``styles`` gives
    some names a (colour, line style) of their own instead (keep them out of the cycle's
    colours to stay distinct)."""
    plt = _pyplot()
    from sklearn.metrics import roc_auc_score, roc_curve

    y = np.asarray(correct_indicators, dtype=int)
    fig, ax = plt.subplots(figsize=(6, 6))
    looks = _looks(scores, styles)
    for name, values in scores.items():
        s = np.asarray(values, dtype=float)
        keep = np.isfinite(s)
        if len(np.unique(y[keep])) < 2:
            continue
        fpr, tpr, _ = roc_curve(y[keep], s[keep])
        colour, style = looks[name]
        ax.plot(
            fpr,
            tpr,
            color=colour,
            linestyle=style,
            linewidth=1.8,
            label=f"{name} (AUROC {roc_auc_score(y[keep], s[keep]):.3f})",
        )
    ax.plot([0, 1], [0, 1], linestyle="--", color="gray", label="chance")
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    return _finish(fig, write_path)


def plot_accuracy_rejection(
    scores: Mapping[str, Sequence[float]],
    correct_indicators: Sequence[bool],
    title: str = "Accuracy vs. fraction of answers kept",
    write_path: str | None = None,
    styles: Mapping[str, tuple[str, str]] | None = None,
):
    """Accuracy of the most confident answers against the fraction kept, per scorer.

    Each curve has its own colour and line style (:func:`line_styles`); ``styles`` as in
    :func:`plot_roc_curves`."""
    plt = _pyplot()
    y = np.asarray(correct_indicators, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 5))
    looks = _looks(scores, styles)
    for name, values in scores.items():
        s = np.asarray(values, dtype=float)
        keep = np.isfinite(s)
        if keep.sum() == 0:
            continue
        frac, acc = accuracy_rejection_curve(s[keep], y[keep])
        colour, style = looks[name]
        ax.plot(frac, acc, color=colour, linestyle=style, linewidth=1.8, label=name)
    ax.axhline(y.mean(), linestyle="--", color="gray", label="no rejection")
    ax.set_xlabel("Fraction of answers kept")
    ax.set_ylabel("Accuracy of kept answers")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _finish(fig, write_path)


def plot_reliability_diagram(
    confidence: Sequence[float],
    correct_indicators: Sequence[bool],
    n_bins: int = 10,
    title: str = "Reliability diagram",
    write_path: str | None = None,
):
    """Mean correctness per equal-width confidence bin against the bin's mean confidence."""
    plt = _pyplot()
    c = np.asarray(confidence, dtype=float)
    y = np.asarray(correct_indicators, dtype=float)
    keep = np.isfinite(c)
    c, y = c[keep], y[keep]
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(c, edges[1:-1], right=True), 0, n_bins - 1)
    fig, ax = plt.subplots(figsize=(6, 6))
    xs, ys, ns = [], [], []
    for b in range(n_bins):
        m = idx == b
        if m.any():
            xs.append(c[m].mean())
            ys.append(y[m].mean())
            ns.append(int(m.sum()))
    ax.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
    ax.plot(xs, ys, marker="o", label="observed")
    for x, v, n in zip(xs, ys, ns, strict=True):
        ax.annotate(
            str(n), (x, v), textcoords="offset points", xytext=(0, 5), ha="center", fontsize=7
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Confidence")
    ax.set_ylabel("Fraction correct")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _finish(fig, write_path)
