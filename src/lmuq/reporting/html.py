"""Render a :class:`~lmuq.evaluation.protocol.ReportData` as one self-contained HTML file.

The page is made from the package template ``templates/report.html.j2`` with jinja2's
autoescaping on, so every value from the data -- questions, answers, samples, scorer names,
run settings -- is HTML-escaped: model output is untrusted input and shows as text. Plots are
embedded as base64 PNG ``<img>`` elements; nothing is loaded from the network. The only
script is a small inline one (filtering and sorting the tables, reading cell text only, never
writing HTML), and a Content-Security-Policy allows exactly that script (by its SHA-256) and
``data:`` images, so even markup that slipped through could not run code or fetch anything.

Run settings are redacted again here (:func:`lmuq.secrets.redact_settings`), so a hand-built
``ReportData`` cannot leak an API key either.

Needs ``jinja2`` (and ``matplotlib`` for the plots; without it the report says so and omits
them).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmuq.evaluation.bootstrap import Interval
from lmuq.evaluation.protocol import (
    RANK_IDENTICAL,
    SMALL_N_ANSWERS,
    SMALL_N_CLASS,
    ReportData,
)
from lmuq.evaluation.sweep import SamplingSweep, setting_label
from lmuq.extras import require
from lmuq.secrets import redact_settings
from lmuq.storage.files import atomic_write

__all__ = ["EmbeddedFigure", "plotted_scorers", "render_report", "report_figures", "write_report"]

# Filtering ("q-filter", "q-wrong") and click-to-sort of every table.sortable. It reads
# textContent and data-* attributes and moves rows; it never builds HTML from data.
_SCRIPT = """
(function () {
  "use strict";
  function key(cell) {
    var v = cell.getAttribute("data-sort");
    return v === null ? cell.textContent.trim().toLowerCase() : v;
  }
  function compare(a, b) {
    var x = parseFloat(a), y = parseFloat(b);
    var nx = isNaN(x) || a === "", ny = isNaN(y) || b === "";
    if (!nx && !ny) { return x - y; }
    if (nx !== ny) { return nx ? 1 : -1; }
    return String(a).localeCompare(String(b));
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var body = table.tBodies[0];
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.addEventListener("click", function () {
        var dir = th.getAttribute("aria-sort") === "descending" ? 1 : -1;
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r, s) {
          var a = key(r.cells[col]), b = key(s.cells[col]);
          var na = a === "", nb = b === "";
          if (na !== nb) { return na ? 1 : -1; }
          return dir * compare(a, b);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var input = document.getElementById("q-filter");
  var wrong = document.getElementById("q-wrong");
  var table = document.getElementById("question-table");
  var count = document.getElementById("q-count");
  function update() {
    var q = input.value.trim().toLowerCase();
    var rows = table.tBodies[0].rows, shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var ok = (!q || r.textContent.toLowerCase().indexOf(q) !== -1) &&
               (!wrong.checked || r.getAttribute("data-correct") === "0");
      r.hidden = !ok;
      if (ok) { shown++; }
    }
    count.textContent = shown + " of " + rows.length + " questions shown";
  }
  if (input && wrong && table && count) {
    input.addEventListener("input", update);
    wrong.addEventListener("change", update);
  }
  document.body.setAttribute("data-report-script", "ran");
})();
"""


def _csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


# ---------------------------------------------------------------------------------------
# formatting filters (their output is still escaped by the template)
# ---------------------------------------------------------------------------------------


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _num(x: Any, digits: int = 3) -> str:
    """``x`` with ``digits`` decimals, or ``n/a``."""
    return f"{float(x):.{digits}f}" if _finite(x) else "n/a"


def _pct(x: Any) -> str:
    return f"{100 * float(x):.1f}%" if _finite(x) else "n/a"


def _iv(iv: Interval) -> str:
    """``0.812 [0.701, 0.905]``; ``n/a`` if the estimate is undefined."""
    if not _finite(iv.estimate):
        return "n/a"
    if not (_finite(iv.low) and _finite(iv.high)):
        return f"{iv.estimate:.3f} [n/a]"
    return f"{iv.estimate:.3f} [{iv.low:.3f}, {iv.high:.3f}]"


def _iv_parts(iv: Interval) -> tuple[str, str]:
    """``("0.812", "[0.701, 0.905]")``: :func:`_iv` cut before the interval."""
    text = _iv(iv)
    est, _, rest = text.partition(" ")
    return est, rest


def _threshold(x: Any) -> str:
    if _finite_or_inf(x) and math.isinf(float(x)):
        return "∞ (abstain on all)"
    return _num(x)


def _finite_or_inf(x: Any) -> bool:
    try:
        return not math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def _and_join(names: Any) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    names = [str(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _parts(name: str) -> list[str]:
    """``name`` cut after each ``_`` and ``[`` (the template puts a ``<wbr>`` there)."""
    return [p for p in re.split(r"(?<=[_\[])", str(name)) if p]


def _sort_key(x: Any) -> str:
    """A sortable number for ``data-sort`` ("" for undefined, sorted last)."""
    if not _finite_or_inf(x):
        return ""
    v = float(x)
    return repr(v) if math.isfinite(v) else ("1e308" if v > 0 else "-1e308")


# ---------------------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------------------


def _value_text(value: Any) -> str:
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (str, int, float, bool)) or v is None for v in value
    ):
        return ", ".join("null" if v is None else str(v) for v in value)
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(value, indent=1, default=str, ensure_ascii=False)
    return "null" if value is None else str(value)


def _flatten(info: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in info.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and len(prefix.split(".")) <= 2:
            out.extend(_flatten(value, name + "."))
        else:
            out.append((name, _value_text(value)))
    return out


def _lookup(info: Mapping[str, Any], key: str) -> str:
    value = info.get(key)
    if value is None and isinstance(info.get("config"), Mapping):
        value = info["config"].get(key)
    if value is None:
        return "n/a"
    return str(value)


# ---------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddedFigure:
    """One plot of the report: a title, a caption and the PNG bytes, base64-encoded."""

    title: str
    caption: str
    png_base64: str
    wide: bool = False  # spans the full width of the page (many legend entries)


def _encode(fig, plt) -> str:
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


#: The curves show this many of the best scorers by AUROC (plus the baselines).
PLOTTED_TOP = 5
BASELINE_PREFIX = "baseline:"


def plotted_scorers(data: ReportData, top: int = PLOTTED_TOP) -> list[str]:
    """The scorers the ROC and accuracy–rejection plots draw, best AUROC first.

    The ``top`` best by AUROC that are not baselines (a scorer that ranks the answers
    identically to one already chosen, see ``data.rank_groups``, is skipped: its curve would
    lie on top of the other), then every baseline (name starting ``"baseline:"``). Scorers
    without a defined AUROC are left out.
    """
    group_of = {name: g for g in data.rank_groups for name in g}
    chosen: list[str] = []
    covered: set[str] = set()
    ranked = [s for s in data.scorers if math.isfinite(s.summary.auroc.estimate)]
    for s in ranked:
        if len(chosen) == top:
            break
        if s.name.startswith(BASELINE_PREFIX) or s.name in covered:
            continue
        chosen.append(s.name)
        covered.update(group_of.get(s.name, (s.name,)))
    return chosen + [s.name for s in ranked if s.name.startswith(BASELINE_PREFIX)]


def _curve_label(data: ReportData, name: str) -> str:
    group = next((g for g in data.rank_groups if name in g), ())
    return f"{name} (+{len(group) - 1} ranking identically)" if group else name


#: Figure sizes (inches at 100 dpi): two plots side by side fit a 1400 px page, and one
#: fits an 800 px page, at full size.
_ROC_SIZE = (5.4, 5.4)
_CURVES_SIZE = (5.9, 4.5)
_FILTERED_SIZE = (6.0, 4.8)
_RELIABILITY_SIZE = (5.4, 5.4)


def _legend_below(fig) -> None:
    """Put the legend under the axes (two columns when they fit the figure's width, else
    one), so the plot keeps its width and the legend its font size."""
    ax = fig.axes[0]
    handles, labels = ax.get_legend_handles_labels()
    for ncol in (2, 1) if len(labels) > 4 else (1,):
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        legend = ax.legend(
            handles,
            labels,
            fontsize=9,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
            ncol=ncol,
            frameon=False,
            handlelength=3,
        )
        fig.canvas.draw()
        if legend.get_window_extent().width <= fig.bbox.width:
            break


def report_figures(data: ReportData) -> tuple[list[EmbeddedFigure], str]:
    """The report's plots, and a note on any that could not be drawn.

    ROC curves and accuracy–rejection curves of the best scorers and the baselines
    (:func:`plotted_scorers`), filtered accuracy of the best (highest-AUROC) scorer, and the
    reliability diagram of the best scorer whose scores are probabilities. Without
    matplotlib: no plots and a note saying how to get them.
    """
    try:
        import matplotlib

        # A file needs no GUI: pick Agg unless pyplot or the user already chose a backend.
        if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [], "Plots need matplotlib: pip install 'lmuq[plots]'."
    from lmuq.reporting import plots

    figures: list[EmbeddedFigure] = []
    notes: list[str] = []
    shown = plotted_scorers(data)
    curves = {_curve_label(data, name): data.scores[name] for name in shown}
    n_all = len(data.scorers)
    n_base = sum(name.startswith(BASELINE_PREFIX) for name in shown)
    n_top = len(shown) - n_base
    which = (
        f"all {n_all} scorers"
        if len(shown) == n_all
        else (
            f"the {n_top} best by AUROC"
            + (f" and the {'baseline' if n_base == 1 else 'baselines'}" if n_base else "")
            + f" ({len(shown)} of {n_all} scorers; the Scorers table has all {n_all})"
        )
    )
    if any(label != name for label, name in zip(curves, shown, strict=True)):
        which += "; '+k ranking identically': k more scorers whose curves are the same"
    # the baselines are references: black (out of the cycle's colours), each its own style
    baselines = [
        label for label, name in zip(curves, shown, strict=True) if name.startswith(BASELINE_PREFIX)
    ]
    styles = {label: ("black", (":", "--", "-.", "-")[i % 4]) for i, label in enumerate(baselines)}
    y = data.correct
    if 0 < int(y.sum()) < y.size and curves:
        fig = plots.plot_roc_curves(curves, y, styles=styles)
        fig.set_size_inches(*_ROC_SIZE)
        _legend_below(fig)
        figures.append(
            EmbeddedFigure(
                "ROC curves",
                f"ROC as a detector of correct answers (NaN scores dropped) of {which}.",
                _encode(fig, plt),
            )
        )
    else:
        notes.append("ROC curves need both correct and wrong answers.")
    if curves:
        fig = plots.plot_accuracy_rejection(curves, y, styles=styles)
        fig.set_size_inches(*_CURVES_SIZE)
        _legend_below(fig)
        figures.append(
            EmbeddedFigure(
                "Accuracy–rejection curves",
                f"Accuracy of the most confident answers against the fraction kept, of {which}.",
                _encode(fig, plt),
            )
        )
    else:
        notes.append("Accuracy–rejection curves: no scorer has a defined AUROC.")
    best = data.best
    if best is not None:
        s = data.scores[best.name]
        keep = np.isfinite(s)
        if best.is_probability:
            thresholds = np.linspace(0.0, 0.9, 10)
            width = 0.05
        else:
            thresholds = np.quantile(s[keep], np.linspace(0.0, 0.9, 10))
            span = float(thresholds[-1] - thresholds[0]) or 1.0
            width = span / 20
        fig = plots.plot_model_accuracies(
            s[keep],
            y[keep],
            thresholds,
            title=f"Filtered accuracy: {best.name}",
            bar_width=width,
        )
        fig.set_size_inches(*_FILTERED_SIZE)
        figures.append(
            EmbeddedFigure(
                f"Filtered accuracy of {best.name}",
                f"Accuracy of the answers whose {best.name} score is at least the threshold "
                "(top), and how many answers that keeps (bottom).",
                _encode(fig, plt),
            )
        )
    else:
        notes.append("Filtered accuracy: no scorer has a defined AUROC.")
    prob = data.best_probability
    if prob is not None:
        fig = plots.plot_reliability_diagram(
            data.scores[prob.name], y, title=f"Reliability diagram: {prob.name}"
        )
        fig.set_size_inches(*_RELIABILITY_SIZE)
        # Room for the points (and their count labels) on the edges of the unit square.
        fig.axes[0].set_xlim(-0.02, 1.02)
        fig.axes[0].set_ylim(-0.03, 1.08)
        figures.append(
            EmbeddedFigure(
                f"Reliability diagram of {prob.name}",
                f"Fraction correct per confidence bin of {prob.name}, the best scorer whose "
                "scores are probabilities (raw, uncalibrated; numbers = answers per bin).",
                _encode(fig, plt),
            )
        )
    else:
        notes.append("Reliability diagram: no scorer with probability scores has a defined AUROC.")
    return figures, " ".join(notes)


# ---------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _environment():
    jinja2 = require("jinja2", "report", "HTML reports")
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lmuq.reporting", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=_num,
        pct=_pct,
        iv=_iv,
        thr=_threshold,
        key=_sort_key,
        parts=_parts,
        andjoin=_and_join,
        ivparts=_iv_parts,
    )
    env.tests["finite"] = _finite
    return env


def render_report(
    data: ReportData,
    *,
    title: str = "lmuq report",
    plots: bool = True,
    sweep: SamplingSweep | None = None,
) -> str:
    """The report as one HTML document (a string); see the module docstring.

    ``plots=False`` leaves the plots out (faster; the section then says so). ``sweep``
    adds the "Sampling settings" section (:mod:`lmuq.evaluation.sweep`).
    """
    env = _environment()  # first: it names the `report` extra when jinja2 is missing
    from markupsafe import Markup  # installed with jinja2

    info = redact_settings(dict(data.run_info))
    if plots:
        figures, figures_note = report_figures(data)
    else:
        figures, figures_note = [], "Plots were not requested for this report."
    return env.get_template("report.html.j2").render(
        title=title,
        data=data,
        small_n_answers=SMALL_N_ANSWERS,
        small_n_class=SMALL_N_CLASS,
        rank_identical=RANK_IDENTICAL,
        rank_group={name: i for i, g in enumerate(data.rank_groups, 1) for name in g},
        model=_lookup(info, "model"),
        dataset=_lookup(info, "dataset"),
        settings=_flatten(info),
        figures=figures,
        figures_note=figures_note,
        pairwise_names=_pairwise_names(data),
        pairwise=_pairwise_map(data),
        sweep=sweep,
        sweep_notes=sorted(
            (str(k), _value_text(v)) for k, v in (sweep.notes if sweep else {}).items()
        ),
        run_sampling=_run_sampling(info),
        script=Markup(_SCRIPT),
        csp=_csp(_SCRIPT),
    )


def _pairwise_names(data: ReportData) -> list[str]:
    """The scorers of the pairwise table, in the report's order."""
    named = {d.a for d in data.pairwise} | {d.b for d in data.pairwise}
    return [s.name for s in data.scorers if s.name in named]


def _pairwise_map(data: ReportData) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for d in data.pairwise:
        out.setdefault(d.a, {})[d.b] = d
    return {name: out.get(name, {}) for name in _pairwise_names(data)}


def _run_sampling(info: Mapping[str, Any]) -> str:
    """This run's sampling setting as a sweep labels it, or ``""`` when it is not recorded."""
    config = info.get("config")
    if not isinstance(config, Mapping) or "sample_temperature" not in config:
        return ""
    try:
        top_p = config.get("sample_top_p")
        temperature = float(config["sample_temperature"])
        return setting_label(temperature, None if top_p is None else float(top_p))
    except (TypeError, ValueError):
        return ""


def write_report(
    data: ReportData,
    path: str | os.PathLike,
    *,
    title: str = "lmuq report",
    plots: bool = True,
    sweep: SamplingSweep | None = None,
) -> Path:
    """Render the report and write it to ``path`` (UTF-8); returns the path."""
    path = Path(path)
    html = render_report(data, title=title, plots=plots, sweep=sweep)
    with atomic_write(path) as fh:  # a fresh temporary name: never follows a symlink
        fh.write(html)
    return path
