from __future__ import annotations

import itertools
import math

import matplotlib
import numpy as np
import pytest

from lmuq.evaluation.filtering import filtered_accuracy
from lmuq.reporting.plots import (
    plot_accuracy_rejection,
    plot_model_accuracies,
    plot_reliability_diagram,
    plot_roc_curves,
)

matplotlib.use("Agg")

SCORES = [0.9, 0.8, 0.6, 0.3, 0.1, math.nan]
CORRECT = [1, 1, 0, 1, 0, 1]


def test_filtered_accuracy_by_hand():
    acc, n = filtered_accuracy(SCORES, CORRECT, [0.0, 0.5, 0.85, 0.95])
    # t=0: 5 finite scores, 3 right; t=0.5: {.9,.8,.6} 2 right; t=.85: {.9}; t=.95: none
    assert n.tolist() == [5, 3, 1, 0]
    assert acc[:3] == pytest.approx([3 / 5, 2 / 3, 1.0])
    assert math.isnan(acc[3])


def test_filtered_accuracy_rejects_mismatch():
    with pytest.raises(ValueError, match="equal length"):
        filtered_accuracy([0.1], [1, 0], [0.5])


def test_plot_model_accuracies_draws_the_computed_values(tmp_path):
    path = tmp_path / "acc.png"
    t = np.linspace(0, 0.9, 10)
    fig = plot_model_accuracies(SCORES, CORRECT, thresholds=t, title="T", write_path=str(path))
    line = fig.axes[0].lines[0]
    expected, counts = filtered_accuracy(SCORES, CORRECT, t)
    np.testing.assert_allclose(line.get_ydata(), expected, equal_nan=True)
    assert [b.get_height() for b in fig.axes[1].patches] == counts.tolist()
    assert fig.axes[0].get_title() == "T"
    assert path.stat().st_size > 1000 and path.read_bytes()[:4] == b"\x89PNG"


def test_other_plots_render(tmp_path):
    scores = {"good": [0.9, 0.8, 0.2, 0.1], "bad": [0.1, 0.2, 0.8, 0.9]}
    y = [1, 1, 0, 0]
    roc = plot_roc_curves(scores, y, write_path=str(tmp_path / "roc.png"))
    labels = [line.get_label() for line in roc.axes[0].lines]
    assert "good (AUROC 1.000)" in labels and "bad (AUROC 0.000)" in labels
    arc = plot_accuracy_rejection(scores, y)
    assert arc.axes[0].lines[0].get_ydata()[0] == 1.0  # keep the top one: right
    rel = plot_reliability_diagram([0.95, 0.9, 0.15, 0.05], y, n_bins=2)
    xs, ys = rel.axes[0].lines[1].get_data()
    assert list(ys) == [0.0, 1.0] and list(xs) == pytest.approx([0.1, 0.925])


def _eighteen(n: int = 40):
    rng = np.random.default_rng(0)
    y = (np.arange(n) % 2).astype(int)
    return {f"s{k:02d}": y * (18 - k) / 18 + rng.random(n) for k in range(18)}, y


@pytest.mark.parametrize("plot", [plot_roc_curves, plot_accuracy_rejection])
def test_no_two_lines_share_colour_and_style(plot):
    scores, y = _eighteen()
    ax = plot(scores, y).axes[0]
    looks = [
        (matplotlib.colors.to_hex(line.get_color()), line.get_linestyle()) for line in ax.lines
    ]
    assert len(ax.lines) == 19  # 18 scorers and the reference line
    assert len(set(looks)) == len(looks)
    # neighbours in the legend differ in colour and in style
    for (c1, s1), (c2, s2) in itertools.pairwise(looks[:-1]):
        assert c1 != c2 and s1 != s2


def test_line_styles_are_unique_for_36_lines():
    from lmuq.reporting.plots import line_styles

    styles = line_styles(36)
    assert len(set(styles)) == 36
    assert all(colour != "tab:gray" for colour, _ in styles)  # grey is the reference lines'
