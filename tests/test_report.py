"""The HTML evaluation report: numbers, escaping of model output, secrets, plots, run folders."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import re
import sys
from html.parser import HTMLParser

import matplotlib
import numpy as np
import pandas as pd
import pytest

from lmuq.app.run_folder import report_from_run_dir
from lmuq.evaluation import (
    ConformalAbstention,
    PlattCalibrator,
    Tuner,
    auarc,
    auroc,
    bootstrap_metric,
    brier_score,
    expected_calibration_error,
    precision_recall_f1,
    prr,
)
from lmuq.evaluation.protocol import build_report_data, calibration_mask
from lmuq.reporting.html import render_report, write_report
from lmuq.secrets import MASK, is_secret_key, redact_settings
from lmuq.storage.files import write_table

matplotlib.use("Agg")

N = 48
N_BOOT = 150
SCRIPT = "<script>alert(1)</script>"
API_KEY = "sk-test-0123456789abcdefSECRET"
HF_TOKEN = "hf_abcdefghijklmnopqrstuvwxyz"
BEARER = "Bearer eyJhbGciOiJIUzI1NiJ9.payload"
SCORERS = ["good", "noisy", "neg_len"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def synthetic_results(n: int = N, seed: int = 1) -> pd.DataFrame:
    """A demo-shaped table: hostile texts, one informative, one NaN-riddled, one non-[0,1]."""
    rng = np.random.default_rng(seed)
    correct = rng.random(n) < 0.55
    good = np.clip(0.4 * correct + 0.6 * rng.random(n), 0.0, 1.0)
    noisy = rng.random(n)
    noisy[[i for i in (2, 7, 11, 30) if i < n]] = np.nan
    tokens = rng.integers(1, 25, n)
    responses = [f"Answer {i}" for i in range(n)]
    responses[0] = SCRIPT
    responses[1] = 'He said "quotes" here'
    responses[2] = "Fish &amp; chips"
    samples = [[f"s{i}a", f"s{i}b"] for i in range(n)]
    samples[0] = [SCRIPT, "</details><b>bold</b>"]
    return pd.DataFrame(
        {
            "id": [f"q{i}" for i in range(n)],
            "question": [f"Question {i}?" for i in range(n)],
            "gold": [f"Gold {i}" for i in range(n)],
            "response": responses,
            "correct": correct,
            "response_tokens": tokens,
            "sampled_responses": samples,
            "good": good,
            "noisy": noisy,
            "neg_len": -tokens.astype(float),
        }
    )


RUN_INFO = {
    "model": "org/<b>model</b>",
    "api_key": API_KEY,
    "config": {
        "dataset": "capitals",
        "max_new_tokens": 16,
        "hf_token": HF_TOKEN,
        "headers": {"Authorization": BEARER},
        "note": API_KEY,  # a secret under an innocent key, caught by its value
    },
}


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    return synthetic_results()


@pytest.fixture(scope="module")
def data(results):
    return build_report_data(results, scorers=SCORERS, run_info=RUN_INFO, n_boot=N_BOOT, seed=3)


@pytest.fixture(scope="module")
def html(data) -> str:
    return render_report(data, title="Test <report>")


class _Cells(HTMLParser):
    """Collects h2 texts, img srcs, and table cells keyed by (table id, data-scorer, metric)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[str] = []
        self.imgs: list[str] = []
        self.cells: dict[tuple[str, str, str], str] = {}
        self.scorer_order: dict[str, list[str]] = {}
        self.responses: list[str] = []
        self.scripts: list[str] = []
        self.meta_csp = ""
        self.warned: set[tuple[str, str, str]] = set()  # cells with a small-n marker
        self._in_warn = False
        self._table = ""
        self._scorer = ""
        self._key: tuple | None = None
        self._kind = ""
        self._buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id") or ""
        elif tag == "tr" and "data-scorer" in a:
            self._scorer = a["data-scorer"]
            self.scorer_order.setdefault(self._table, []).append(self._scorer)
        elif tag == "td" and "data-metric" in a:
            self._key, self._kind, self._buf = (
                (self._table, self._scorer, a["data-metric"]),
                "cell",
                [],
            )
        elif tag == "td" and "response" in (a.get("class") or "").split():
            self._kind, self._buf = "response", []
        elif tag == "span" and "small-n" in (a.get("class") or "").split():
            self._in_warn = True  # the marker is not part of the number
            if self._kind == "cell":
                self.warned.add(self._key)
        elif tag == "h2":
            self._kind, self._buf = "h2", []
        elif tag == "script":
            self._kind, self._buf = "script", []
        elif tag == "img":
            self.imgs.append(a.get("src") or "")
        elif tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.meta_csp = a.get("content") or ""

    def handle_endtag(self, tag):
        if tag == "span" and self._in_warn:
            self._in_warn = False
            return
        text = "".join(self._buf).strip()
        if tag == "td" and self._kind == "cell":
            self.cells[self._key] = text
            self._kind = ""
        elif tag == "td" and self._kind == "response":
            self.responses.append("".join(self._buf))
            self._kind = ""
        elif tag == "h2" and self._kind == "h2":
            self.headings.append(text)
            self._kind = ""
        elif tag == "script" and self._kind == "script":
            self.scripts.append("".join(self._buf))
            self._kind = ""

    def handle_data(self, d):
        if self._kind and not self._in_warn:
            self._buf.append(d)


def parse(html: str) -> _Cells:
    p = _Cells()
    p.feed(html)
    p.close()
    return p


def fmt_iv(iv) -> str:
    return f"{iv.estimate:.3f} [{iv.low:.3f}, {iv.high:.3f}]"


def fmt(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.3f}"


# ---------------------------------------------------------------------------------------
# escaping and secrets
# ---------------------------------------------------------------------------------------


def test_script_answer_shows_as_text_not_markup(html):
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # the report's own inline script is the only <script> element
    assert html.count("<script") == 1
    assert "&#34;quotes&#34;" in html  # quotes escaped
    assert "Fish &amp;amp; chips" in html  # a literal "&amp;" stays literal
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "</details><b>" not in html
    assert "org/&lt;b&gt;model&lt;/b&gt;" in html
    assert "Test &lt;report&gt;" in html
    # parsed back, the cell's text is exactly the model's answer
    cells = parse(html)
    assert cells.responses[0] == SCRIPT
    assert cells.responses[1] == 'He said "quotes" here'
    assert cells.responses[2] == "Fish &amp; chips"


def test_inline_script_is_allowed_by_its_hash_and_builds_no_html(html):
    cells = parse(html)
    (script,) = cells.scripts
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in cells.meta_csp
    assert "default-src 'none'" in cells.meta_csp and "img-src data:" in cells.meta_csp
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script
    assert "http://" not in html and "https://" not in html  # nothing fetched


def test_csp_stays_strict_and_styles_come_from_the_one_style_element(html):
    cells = parse(html)
    (script,) = cells.scripts
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert cells.meta_csp == (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )
    assert html.count("<style") == 1 and not re.search(r"<[^>]+\sstyle=", html)
    assert "@import" not in html and "url(" not in html  # nothing fetched by CSS either


def test_secrets_never_reach_the_report(data, html):
    for secret in (API_KEY, HF_TOKEN, BEARER, "eyJhbGciOiJIUzI1NiJ9"):
        assert secret not in html
    assert data.run_info["api_key"] == MASK
    assert data.run_info["config"]["hf_token"] == MASK
    assert data.run_info["config"]["headers"]["Authorization"] == MASK
    assert data.run_info["config"]["note"] == MASK
    # ordinary settings survive, token counts included
    assert data.run_info["config"]["max_new_tokens"] == 16
    assert "config.max_new_tokens" in html
    assert MASK in html


def test_render_redacts_a_hand_built_report_too(data):
    leaky = build_report_data(synthetic_results(20), scorers=["good"], n_boot=20)
    leaky.run_info = {"model": "m", "password": "hunter2-secret", "openaiApiKey": "xyz-key"}
    page = render_report(leaky, plots=False)
    assert "hunter2-secret" not in page and "xyz-key" not in page


@pytest.mark.parametrize(
    "key",
    [
        "api_key",
        "OPENAI_API_KEY",
        "apiKey",
        "apikey",
        "hf_token",
        "access_token",
        "Authorization",
        "password",
        "db-passwd",
        "client_secret",
        "aws_secret_access_key",
        "private_key",
        "auth",
        "x.token",
    ],
)
def test_secret_keys_are_recognised(key):
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    ["max_new_tokens", "top_logprobs", "num_tokens", "tokenizer", "model", "dataset", "keys"],
)
def test_ordinary_keys_are_not_secrets(key):
    assert not is_secret_key(key)


def test_redact_secrets_walks_nested_values_and_leaves_the_input_alone():
    info = {"a": [{"token": "t"}, "Bearer xyz"], "b": {"c": 1, "secret": {"d": 2}}}
    out = redact_settings(info)
    assert out == {"a": [{"token": MASK}, MASK], "b": {"c": 1, "secret": "***"}}
    assert info["a"][0]["token"] == "t"


# ---------------------------------------------------------------------------------------
# structure and numbers
# ---------------------------------------------------------------------------------------


def test_all_sections_are_present(html):
    headings = parse(html).headings
    for name in (
        "Run",
        "Accuracy",
        "Scorers",
        "Calibration on the held-out split",
        "Plots",
        "Thresholds",
        "Conformal abstention",
        "Questions",
    ):
        assert name in headings
    assert 'id="question-table"' in html and "<details>" in html


def test_accuracy_headline(results, data, html):
    y = results["correct"].to_numpy()
    assert data.accuracy == pytest.approx(y.mean())
    assert data.n_correct == int(y.sum()) and data.n_questions == N
    assert f"{100 * y.mean():.1f}%" in html
    assert f"{int(y.sum())} of {N} answers correct" in html


def test_scorer_table_equals_the_metrics_computed_directly(results, data, html):
    cells = parse(html)
    y = results["correct"].to_numpy().astype(int)
    aurocs = {}
    for name in SCORERS:
        c = results[name].to_numpy(dtype=float)
        keep = np.isfinite(c)
        cs, ys = c[keep], y[keep]
        aurocs[name] = auroc(cs, ys)
        direct = {
            "auroc": bootstrap_metric(auroc, cs, ys, n_boot=N_BOOT, seed=3),
            "prr": bootstrap_metric(prr, cs, ys, n_boot=N_BOOT, seed=3),
            "auarc": bootstrap_metric(auarc, cs, ys, n_boot=N_BOOT, seed=3),
        }
        assert direct["auroc"].estimate == pytest.approx(aurocs[name])
        assert direct["auarc"].estimate == pytest.approx(auarc(cs, ys))
        report = next(s for s in data.scorers if s.name == name)
        assert report.n_scored == int(keep.sum())
        for metric, iv in direct.items():
            assert getattr(report.summary, metric).estimate == pytest.approx(iv.estimate)
            assert getattr(report.summary, metric).low == pytest.approx(iv.low)
            assert cells.cells[("scorer-table", name, metric)] == fmt_iv(iv)
        if name == "neg_len":  # not a probability: no ECE / Brier
            assert cells.cells[("scorer-table", name, "ece")] == "n/a"
            assert cells.cells[("scorer-table", name, "brier")] == "n/a"
        else:
            ece = bootstrap_metric(expected_calibration_error, cs, ys, n_boot=N_BOOT, seed=3)
            assert cells.cells[("scorer-table", name, "ece")] == fmt_iv(ece)
            assert cells.cells[("scorer-table", name, "brier")] == fmt(brier_score(cs, ys))
    # sorted by AUROC, best first
    assert cells.scorer_order["scorer-table"] == sorted(SCORERS, key=lambda s: -aurocs[s])
    assert data.best.name == cells.scorer_order["scorer-table"][0]


def test_split_based_numbers_equal_the_evaluation_classes(results, data, html):
    cells = parse(html)
    y = results["correct"].to_numpy().astype(int)
    cal_mask = calibration_mask(y, 0.5, seed=3)
    np.testing.assert_array_equal(cal_mask, data.calibration_mask)
    for name in ("good", "noisy"):
        c = results[name].to_numpy(dtype=float)
        keep = np.isfinite(c)
        cal, test = cal_mask & keep, ~cal_mask & keep
        report = next(s for s in data.scorers if s.name == name)
        # calibration: raw and Platt, both on the test split
        platt = PlattCalibrator().fit(c[cal], y[cal]).predict(c[test])
        expected = {
            "ece_raw": expected_calibration_error(c[test], y[test]),
            "brier_raw": brier_score(c[test], y[test]),
            "ece_platt": expected_calibration_error(platt, y[test]),
            "brier_platt": brier_score(platt, y[test]),
        }
        for metric, value in expected.items():
            assert getattr(report.calibration, metric) == pytest.approx(value)
            assert cells.cells[("calibration-table", name, metric)] == fmt(value)
        assert report.calibration.n_test == int(test.sum())
        # F1-optimal threshold on the calibration split, judged on the test split
        t = Tuner().tune_threshold(c[cal], y[cal], "fbeta_score", 1, bounds=(0, 1), step_size=0.01)
        prf = precision_recall_f1(c[test], y[test], t)
        assert report.threshold.threshold == pytest.approx(t)
        for metric in ("precision", "recall", "f1"):
            assert getattr(report.threshold, metric) == pytest.approx(prf[metric])
            assert cells.cells[("threshold-table", name, metric)] == fmt(prf[metric])
        # conformal abstention at alpha = 0.1
        rule = ConformalAbstention(0.1).fit(c[cal], y[cal])
        ev = rule.evaluate(c[test], y[test])
        assert report.conformal.threshold == pytest.approx(rule.threshold_)
        assert report.conformal.coverage == pytest.approx(ev["coverage"])
        assert report.conformal.risk == pytest.approx(ev["risk"])
        assert cells.cells[("conformal-table", name, "coverage")] == f"{100 * ev['coverage']:.1f}%"
    best = data.best
    line = re.search(r'<p class="conformal-line" id="conformal-line">(.*?)</p>', html, re.S)
    assert line and best.name in line.group(1)
    assert f"{100 * best.conformal.coverage:.1f}%" in line.group(1)


def test_calibration_split_is_stratified_and_seeded():
    y = np.array([1] * 30 + [0] * 10)
    mask = calibration_mask(y, 0.5, seed=0)
    assert mask[y == 1].sum() == 15 and mask[y == 0].sum() == 5
    np.testing.assert_array_equal(mask, calibration_mask(y, 0.5, seed=0))
    assert not np.array_equal(mask, calibration_mask(y, 0.5, seed=1))
    assert calibration_mask(y, 0.25, seed=0).sum() == round(7.5) + round(2.5)
    with pytest.raises(ValueError, match="calibration_split"):
        calibration_mask(y, 1.0)


def test_per_question_table_shows_every_score_with_three_decimals(results, data, html):
    row = data.rows[5]
    assert row.id == "q5" and row.samples == ("s5a", "s5b")
    for name in SCORERS:
        assert f">{results[name].iloc[5]:.3f}</td>" in html
    assert data.rows[0].samples == (SCRIPT, "</details><b>bold</b>")


def test_embedded_plots_are_png_images(html):
    srcs = parse(html).imgs
    assert len(srcs) == 4  # ROC, accuracy-rejection, filtered accuracy, reliability
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        raw = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert raw.startswith(PNG_MAGIC)
        image = matplotlib.image.imread(io.BytesIO(raw), format="png")
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


# ---------------------------------------------------------------------------------------
# degenerate data
# ---------------------------------------------------------------------------------------


def test_nan_scores_are_dropped_per_scorer_and_counted(results, data, html):
    noisy = next(s for s in data.scorers if s.name == "noisy")
    assert noisy.n_scored == N - 4 and noisy.n_missing == 4
    cells = parse(html)
    assert math.isfinite(noisy.summary.auroc.estimate)
    assert cells.cells[("scorer-table", "noisy", "auroc")] != "n/a"
    assert math.isnan(data.rows[2].scores["noisy"])
    assert re.search(r'<td class="num" data-sort="">n/a</td>', html)


def test_all_nan_scorer_and_single_class_splits_do_not_crash():
    df = synthetic_results(12)
    df["empty"] = np.nan
    df["correct"] = [True] * 11 + [False]  # the one wrong answer lands in the test split
    data = build_report_data(df, scorers=["good", "empty"], n_boot=30)
    empty = next(s for s in data.scorers if s.name == "empty")
    assert empty.n_scored == 0 and empty.n_missing == 12
    assert math.isnan(empty.summary.auroc.estimate) and math.isnan(empty.ece.estimate)
    assert math.isnan(empty.conformal.threshold)
    good = next(s for s in data.scorers if s.name == "good")
    assert data.calibration_mask[~df["correct"].to_numpy()].sum() == 0
    assert math.isnan(good.threshold.threshold) and "both classes" in good.threshold.note
    assert math.isnan(good.calibration.ece_platt) and "Platt" in good.calibration.note
    assert math.isfinite(good.calibration.ece_raw)
    page = render_report(data)
    cells = parse(page)
    assert cells.cells[("scorer-table", "empty", "auroc")] == "n/a"
    assert cells.cells[("threshold-table", "good", "f1")] == "n/a"
    # one class overall: AUROC n/a everywhere, no ROC plot, still a report
    df["correct"] = True
    one = build_report_data(df, scorers=["good"], n_boot=30)
    assert one.best is None
    page = render_report(one)
    assert "ROC curves need both correct and wrong answers" in page
    assert parse(page).cells[("scorer-table", "good", "auroc")] == "n/a"
    assert "no scorer has a defined AUROC" in page


def test_conformal_rule_that_abstains_on_everything_is_shown_as_such():
    df = synthetic_results(20).assign(correct=False)
    data = build_report_data(df, scorers=["good"], n_boot=20)
    rule = data.scorers[0].conformal
    assert rule.threshold == math.inf and rule.coverage == 0.0 and rule.risk == 0.0
    assert "abstains on every question" in rule.note
    page = render_report(data, plots=False)
    assert parse(page).cells[("conformal-table", "good", "conformal_threshold")] == (
        "∞ (abstain on all)"
    )


def test_bad_inputs_are_clear_errors(results):
    with pytest.raises(ValueError, match="not a column"):
        build_report_data(results, scorers=["missing"], n_boot=10)
    with pytest.raises(ValueError, match="no 'right' column"):
        build_report_data(results, scorers=["good"], correct_column="right", n_boot=10)
    with pytest.raises(ValueError, match="empty"):
        build_report_data(results.iloc[:0], scorers=["good"], n_boot=10)
    bad = results.assign(correct=[0.5] * len(results))
    with pytest.raises(ValueError, match="0/1"):
        build_report_data(bad, scorers=["good"], n_boot=10)


def test_write_report_never_follows_a_predictable_temp_symlink(data, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "r.html.tmp").symlink_to(victim)  # the name lmuq 0.1 wrote through
    write_report(data, tmp_path / "r.html", plots=False)
    assert victim.read_text() == "precious"
    assert "<html" in (tmp_path / "r.html").read_text(encoding="utf-8").lower()


def test_write_report_writes_the_rendered_file(data, tmp_path):
    path = write_report(data, tmp_path / "sub" / "r.html", plots=False)
    text = path.read_text(encoding="utf-8")
    assert path == tmp_path / "sub" / "r.html" and text.startswith("<!DOCTYPE html>")
    assert "Plots were not requested" in text and "<img" not in text
    assert list(path.parent.iterdir()) == [path]


# ---------------------------------------------------------------------------------------
# a demo output folder
# ---------------------------------------------------------------------------------------


def _write_demo_folder(folder, results: pd.DataFrame) -> None:
    """The files ``lmuq demo`` writes, in its formats (see lmuq.app.job._write)."""
    table = results.rename(
        columns={"noisy": "semantic_negentropy", "good": "normalized_probability"}
    )
    table = table.drop(columns=["neg_len"])
    table["baseline:short_answer"] = -table["response_tokens"].astype(float)
    write_table(table.to_dict("records"), folder / "results")
    labels = ["normalized_probability", "semantic_negentropy", "baseline:short_answer"]
    write_table(
        [
            {"scorer": label, "n_scored": 1, "auroc": 0.5, "equivalence": eq}
            for label, eq in zip(labels, ["", "normalized_match", ""], strict=True)
        ],
        folder / "summary",
        parquet=False,
    )
    run = {
        "model": "SmolLM2 <test>",
        "config": {
            "dataset": "capitals",
            "scorers": ["normalized_probability"],
            "n_boot": 40,
            "seed": 0,
            "max_rejection": 0.5,
            "api_key": API_KEY,
        },
        "accuracy": float(results["correct"].mean()),
    }
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")


@pytest.mark.parametrize("fmt_", ["parquet", "csv"])
def test_report_from_run_dir(results, tmp_path, fmt_):
    _write_demo_folder(tmp_path, results)
    if fmt_ == "csv":
        (tmp_path / "results.parquet").unlink()
    else:
        assert (tmp_path / "results.parquet").exists()
    path = report_from_run_dir(tmp_path, plots=fmt_ == "parquet")
    assert path == tmp_path / "report.html"
    page = path.read_text(encoding="utf-8")
    assert API_KEY not in page and SCRIPT not in page
    assert "lmuq report: SmolLM2 &lt;test&gt;" in page
    cells = parse(page)
    assert set(cells.scorer_order["scorer-table"]) == {
        "normalized_probability",
        "semantic_negentropy",
        "baseline:short_answer",
    }
    y = results["correct"].to_numpy().astype(int)
    tokens = results["response_tokens"].to_numpy(dtype=float)
    baseline = bootstrap_metric(auroc, -tokens, y, n_boot=40, seed=0)
    assert cells.cells[("scorer-table", "baseline:short_answer", "auroc")] == fmt_iv(baseline)
    noisy = results["noisy"].to_numpy(dtype=float)
    keep = np.isfinite(noisy)
    label = "semantic_negentropy"
    expected = bootstrap_metric(auroc, noisy[keep], y[keep], n_boot=40, seed=0)
    assert cells.cells[("scorer-table", label, "auroc")] == fmt_iv(expected)
    # samples come back as lists from both the Parquet and the CSV (JSON) cell
    assert "<li>s5a</li><li>s5b</li>" in page
    assert cells.responses[0] == SCRIPT


def test_report_from_run_dir_without_summary_uses_the_config(results, tmp_path):
    _write_demo_folder(tmp_path, results)
    (tmp_path / "summary.csv").unlink()
    path = report_from_run_dir(tmp_path, out=tmp_path / "x.html", plots=False)
    page = path.read_text(encoding="utf-8")
    # config scorers plus the registered scorer columns present; no baseline without
    # summary.csv (or run.json's "evaluated")
    assert set(parse(page).scorer_order["scorer-table"]) == {
        "normalized_probability",
        "semantic_negentropy",
    }


def test_report_from_run_dir_needs_results(tmp_path):
    with pytest.raises(FileNotFoundError, match="results"):
        report_from_run_dir(tmp_path)


# ---------------------------------------------------------------------------------------
# read by a person: what could mislead is flagged (issue 12)
# ---------------------------------------------------------------------------------------


def _row_of(data, name):
    return next(s for s in data.scorers if s.name == name)


def test_degenerate_thresholds_are_flagged_and_not_offered_as_a_recommendation():
    # 48 correct, 12 wrong; "flat" is 0.2 or 0.4 regardless of correctness, so F1 is best
    # when every answer is accepted (recall 1, precision 0.8) and the tuner returns the grid's
    # lowest value, 0.0: that keeps the whole calibration split. "sharp" separates the classes
    # perfectly (correct 0.7..0.9, wrong 0.1..0.3): its threshold keeps the correct ones only.
    n = 60
    correct = np.array([True] * 48 + [False] * 12)
    flat = np.where(np.arange(n) % 2 == 0, 0.2, 0.4)
    i = np.arange(n)
    sharp = np.where(correct, 0.7 + 0.2 * (i % 5) / 4, 0.1 + 0.2 * (i % 3) / 2)
    df = pd.DataFrame({"correct": correct, "flat": flat, "sharp": sharp})
    data = build_report_data(df, scorers=["flat", "sharp"], n_boot=20)
    t_flat, t_sharp = _row_of(data, "flat").threshold, _row_of(data, "sharp").threshold
    assert t_flat.threshold == 0.0 and t_flat.fraction_kept == 1.0
    assert t_flat.degenerate == "accepts everything"
    assert 0.3 < t_sharp.threshold <= 0.7 and t_sharp.degenerate == ""
    cells = parse(render_report(data, plots=False))
    assert (
        "degenerate: accepts everything — not a recommendation"
        in cells.cells[("threshold-table", "flat", "note")]
    )
    assert "degenerate" not in cells.cells[("threshold-table", "sharp", "note")]


def test_an_anti_informative_raw_scorer_gets_a_degenerate_threshold():
    # a non-probability scorer (negative values) that is anti-informative: the higher its
    # score, the more likely wrong. The grid runs over the calibration range only, so the
    # best F1 is at its lowest value, which keeps every calibration answer.
    n = 40
    correct = np.array([True, False] * (n // 2))
    anti = np.where(correct, -10.0, -1.0) - 0.1 * np.arange(n) / n
    df = pd.DataFrame({"correct": correct, "anti": anti})
    t = build_report_data(df, scorers=["anti"], n_boot=20).scorers[0].threshold
    assert t.degenerate == "accepts everything"


@pytest.mark.parametrize(
    ("scores", "threshold", "expected"),
    [
        ([0.2, 0.5, 0.9], 0.0, "accepts everything"),
        ([0.2, 0.5, 0.9], 0.2, "accepts everything"),  # at the lowest score: keeps all
        ([0.2, 0.5, 0.9], 0.95, "accepts nothing"),
        ([0.5, 1.0, 1.0], 1.0, "threshold at the top of the score range"),
        ([0.2, 0.5, 0.9], 0.5, ""),
    ],
)
def test_degenerate_threshold_by_hand(scores, threshold, expected):
    from lmuq.evaluation.protocol import degenerate_threshold

    assert degenerate_threshold(np.array(scores), threshold, (0.0, 1.0)) == expected


def _useless_and_good(n: int = 60, seed: int = 4) -> pd.DataFrame:
    """ "flat" is one value for every answer, "tiny" varies by 1e-9 only (as a product of
    many token probabilities does): Platt scaling turns both into the base rate, whose ECE on
    a stratified test split is about 0. "good" is informative; "anti" points the wrong way."""
    rng = np.random.default_rng(seed)
    correct = np.arange(n) % 2 == 0
    good = np.clip(0.35 * correct + 0.65 * rng.random(n), 0, 1)
    return pd.DataFrame(
        {
            "correct": correct,
            "flat": np.full(n, 0.3),
            "tiny": 1e-9 * rng.random(n),
            "good": good,
            "anti": 1 - good,
        }
    )


def test_platt_scaling_to_a_constant_is_flagged_and_never_best_calibrated():
    data = build_report_data(
        _useless_and_good(), scorers=["flat", "tiny", "good", "anti"], n_boot=20
    )
    flat, tiny, good = (_row_of(data, n).calibration for n in ("flat", "tiny", "good"))
    assert flat.platt_constant and tiny.platt_constant and not good.platt_constant
    # the trap: a constant base-rate forecast has (near) zero ECE, lower than a useful scorer's
    assert flat.ece_platt < 0.02 and tiny.ece_platt < 0.02 and good.ece_platt > flat.ece_platt
    assert "constant" in flat.note and "constant" in tiny.note
    assert "negative" in _row_of(data, "anti").calibration.note
    assert data.best_calibrated is not None
    assert data.best_calibrated.name not in ("flat", "tiny")
    page = render_report(data, plots=False)
    cells = parse(page)
    for name in ("flat", "tiny"):
        assert cells.cells[("calibration-table", name, "ece_platt")] == "not meaningful"
    assert cells.cells[("calibration-table", "good", "ece_platt")] == fmt(good.ece_platt)
    line = re.search(r'<p[^>]*id="best-calibrated"[^>]*>(.*?)</p>', page, re.S)
    assert line and data.best_calibrated.name in line.group(1)
    assert "flat" not in line.group(1).split("Not counted")[0]


def test_no_best_calibrated_scorer_when_every_calibration_is_constant():
    data = build_report_data(_useless_and_good(), scorers=["flat", "tiny"], n_boot=20)
    assert data.best_calibrated is None
    page = render_report(data, plots=False)
    line = re.search(r'<p[^>]*id="best-calibrated"[^>]*>(.*?)</p>', page, re.S)
    assert line and "no scorer" in line.group(1)


def _small_n_banner(page: str) -> str:
    m = re.search(r'<div[^>]*id="small-n-warning"[^>]*>(.*?)</div>', page, re.S)
    return re.sub(r"\s+", " ", m.group(1)) if m else ""


def test_four_answers_warn_in_the_header_and_beside_each_number():
    # 2 right, 2 wrong, ranked perfectly: AUROC 1.000 [1.000, 1.000] looks certain but is not
    df = pd.DataFrame({"correct": [1, 1, 0, 0], "good": [0.9, 0.8, 0.2, 0.1]})
    data = build_report_data(df, scorers=["good"], n_boot=50)
    good = data.scorers[0]
    assert good.small_n == "only 4 answers (2 correct, 2 wrong)"
    assert good.small_split != ""
    assert any("4 answers" in w for w in data.small_sample)
    assert data.small_n == good.small_n
    page = render_report(data, plots=False)
    banner = _small_n_banner(page)
    assert "only 4 answers (2 correct, 2 wrong)" in banner and "fewer than 30" in banner
    cells = parse(page)
    assert cells.cells[("scorer-table", "good", "auroc")] == "1.000 [1.000, 1.000]"
    for metric in ("auroc", "prr", "auarc", "ece", "brier"):
        assert ("scorer-table", "good", metric) in cells.warned
    assert 'id="accuracy-value"' in page
    assert re.search(r'id="accuracy-value">[^<]*<span class="small-n"', page)


def test_few_of_one_class_is_small_too_and_enough_answers_are_not():
    rng = np.random.default_rng(0)
    y = np.array([1] * 8 + [0] * 192)  # 200 answers, only 8 correct
    df = pd.DataFrame({"correct": y, "s": np.clip(0.3 * y + 0.7 * rng.random(200), 0, 1)})
    data = build_report_data(df, scorers=["s"], n_boot=20)
    assert data.scorers[0].small_n == "only 8 correct answers (of 200)"
    balanced = df.assign(correct=np.arange(200) % 2)
    data = build_report_data(balanced, scorers=["s"], n_boot=20)
    assert data.scorers[0].small_n == "" and data.scorers[0].small_split == ""
    assert data.small_sample == []
    page = render_report(data, plots=False)
    assert _small_n_banner(page) == "" and 'class="small-n"' not in page


def test_small_splits_mark_only_the_held_out_numbers(data, html):
    # 48 answers: enough for the whole-table metrics, but each split has only 24
    cells = parse(html)
    good = _row_of(data, "good")
    assert good.small_n == "" and "24" in good.small_split
    assert ("scorer-table", "good", "auroc") not in cells.warned
    for key in (
        ("calibration-table", "good", "ece_platt"),
        ("threshold-table", "good", "f1"),
        ("conformal-table", "good", "coverage"),
    ):
        assert key in cells.warned
    assert "Held-out numbers" in _small_n_banner(html)
    assert data.small_n == ""


def _rank_table(n: int = 60, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    correct = np.arange(n) % 2 == 0
    x = np.clip(0.3 * correct + 0.7 * rng.random(n), 0.01, 1.0)
    order = np.argsort(x)
    swapped = x.copy()  # two neighbours in rank swapped: rho = 1 - 12 / (n (n^2 - 1))
    swapped[order[[20, 21]]] = swapped[order[[21, 20]]]
    reversed_top = x.copy()  # the top 10 ranks reversed: rho = 1 - 6 * 330 / (n (n^2 - 1))
    reversed_top[order[-10:]] = x[order[-10:]][::-1]
    cube = x**3
    cube[[3, 9]] = np.nan  # NaN rows are left out pairwise
    return pd.DataFrame(
        {
            "correct": correct,
            "x": x,
            "cube": cube,  # a monotone transform: the same ranking
            "log": np.log(x),
            "swapped": swapped,
            "reversed_top": reversed_top,
            "anti": -x,  # the opposite ranking is not the same evidence for AUROC
            "other": rng.random(n),
        }
    )


def test_spearman_by_hand_sits_either_side_of_the_cut():
    n = 60
    assert 1 - 12 / (n * (n**2 - 1)) >= 0.999 > 1 - 6 * 330 / (n * (n**2 - 1))


def test_scorers_that_rank_identically_are_one_group():
    df = _rank_table()
    names = ["x", "cube", "log", "swapped", "reversed_top", "anti", "other"]
    data = build_report_data(df, scorers=names, n_boot=20)
    (group,) = data.rank_groups
    order = [s.name for s in data.scorers]  # groups list members best AUROC first
    assert group == tuple(sorted(["x", "cube", "log", "swapped"], key=order.index))
    page = render_report(data, plots=False)
    note = re.search(r'<li[^>]*data-rank-group="1"[^>]*>(.*?)</li>', page, re.S)
    assert note
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", note.group(1)))
    assert "these 4 scorers rank the answers identically here: one piece of evidence, not 4" in (
        text
    )
    for name in group:  # the rows stay, annotated
        assert re.search(rf'<tr data-scorer="{name}" data-rank-group="1"', page)
    assert re.search(r'<tr data-scorer="other">', page)


def test_no_rank_groups_without_identical_rankings(data):
    assert data.rank_groups == []


def _many_scorers(n: int = 80, seed: int = 6) -> tuple[pd.DataFrame, list[str]]:
    """17 scorers of decreasing signal, one a copy (squared) of the best, and a baseline."""
    rng = np.random.default_rng(seed)
    correct = np.arange(n) % 2 == 0
    cols = {
        f"s{k:02d}": np.clip(correct * (1 - k / 17) * 0.6 + rng.random(n) * 0.5, 0, 1)
        for k in range(16)
    }
    cols["s00_squared"] = cols["s00"] ** 2
    cols["baseline:short_answer"] = -rng.integers(1, 30, n).astype(float) + 5 * correct
    return pd.DataFrame({"correct": correct, **cols}), list(cols)


def test_curves_show_the_five_best_and_the_baseline_in_distinct_looks(monkeypatch):
    import lmuq.reporting.plots as plots
    from lmuq.reporting.html import plotted_scorers, report_figures

    df, names = _many_scorers()
    data = build_report_data(df, scorers=names, n_boot=20)
    assert len(data.scorers) == 18 and ("s00", "s00_squared") in data.rank_groups
    order = [s.name for s in data.scorers]
    # the five best by AUROC, skipping the baseline and the copy of a scorer already shown
    top = [s for s in order if not s.startswith("baseline:") and s != "s00_squared"][:5]
    assert plotted_scorers(data) == [*top, "baseline:short_answer"]

    drawn = {}

    def spy(fn):
        def wrapper(*args, **kwargs):
            drawn[fn.__name__] = fig = fn(*args, **kwargs)
            return fig

        return wrapper

    for fn in (plots.plot_roc_curves, plots.plot_accuracy_rejection):
        monkeypatch.setattr(plots, fn.__name__, spy(fn))
    figures, _ = report_figures(data)
    for name in ("plot_roc_curves", "plot_accuracy_rejection"):
        lines = drawn[name].axes[0].lines
        labels = [line.get_label() for line in lines]
        assert len(lines) == 7, labels  # 6 scorers and the reference line
        assert any(label.startswith("s00 (+1 ranking identically") for label in labels)
        assert any(label.startswith("baseline:short_answer") for label in labels)
        looks = {(matplotlib.colors.to_hex(x.get_color()), x.get_linestyle()) for x in lines}
        assert len(looks) == 7
    roc = next(f for f in figures if f.title == "ROC curves")
    assert "6 of 18 scorers" in roc.caption and "the Scorers table has all 18" in roc.caption
    assert not roc.wide


def test_render_without_the_report_extra_names_it(data, monkeypatch):
    # jinja2 and markupsafe both absent, as after `pip install lmuq` alone: the error names
    # the extra to install, not a ModuleNotFoundError for markupsafe
    from lmuq.extras import MissingExtraError
    from lmuq.reporting import html as html_module

    html_module._environment.cache_clear()  # a fresh process has built no environment yet
    monkeypatch.setitem(sys.modules, "jinja2", None)
    monkeypatch.setitem(sys.modules, "markupsafe", None)
    with pytest.raises(MissingExtraError, match=r"lmuq\[report\]"):
        render_report(data)
    html_module._environment.cache_clear()


def test_the_best_scorer_is_tested_against_each_other_one_on_the_same_resamples(data, html):
    from lmuq.evaluation import paired_bootstrap

    ranked = [s.name for s in data.scorers if math.isfinite(s.summary.auroc.estimate)]
    best = ranked[0]
    assert [(d.a, d.b) for d in data.paired] == [(best, other) for other in ranked[1:]]
    cells = parse(html)
    assert f"Is {best} really the best?" in cells.headings
    for d in data.paired:
        direct = paired_bootstrap(
            data.scores[best], data.scores[d.b], data.correct, n_boot=N_BOOT, seed=3
        )
        assert (d.estimate, d.low, d.high, d.p_value) == (
            direct.estimate,
            direct.low,
            direct.high,
            direct.p_value,
        )
        auroc_a = next(s for s in data.scorers if s.name == best).summary.auroc.estimate
        auroc_b = next(s for s in data.scorers if s.name == d.b).summary.auroc.estimate
        if d.b != "noisy":  # noisy has NaNs: its difference is on the answers both scored
            assert d.estimate == pytest.approx(auroc_a - auroc_b, abs=1e-12)
        assert cells.cells[("paired-table", d.b, "difference")] == fmt_iv(d)
        p_text = cells.cells[("paired-table", d.b, "p")]
        assert p_text == (f"< {d.p_floor:.2g}" if d.p_value <= d.p_floor else f"{d.p_value:.3f}")
        verdict = cells.cells[("paired-table", d.b, "verdict")]
        assert verdict == (f"{best} is better" if d.low > 0 else "no clear difference")


def test_every_pair_of_scorers_is_tested_on_the_same_resamples(data, html):
    from html import unescape

    from lmuq.evaluation import paired_bootstrap

    ranked = [s.name for s in data.scorers if math.isfinite(s.summary.auroc.estimate)]
    expected = [(a, b) for i, a in enumerate(ranked) for b in ranked[i + 1 :]]
    assert [(d.a, d.b) for d in data.pairwise] == expected
    # the best's row is the best-against-each test itself
    assert data.pairwise[: len(ranked) - 1] == data.paired
    start = html.index('<section id="pairwise">')
    section = html[start : html.index("</section>", start)]
    for d in data.pairwise:
        direct = paired_bootstrap(
            data.scores[d.a], data.scores[d.b], data.correct, n_boot=N_BOOT, seed=3
        )
        assert (d.estimate, d.low, d.high, d.p_value) == (
            direct.estimate,
            direct.low,
            direct.high,
            direct.p_value,
        )
        cell = re.search(
            rf'<tr data-scorer="{re.escape(d.a)}">.*?<td class="num pw (\w+)" '
            rf'data-against="{re.escape(d.b)}" title="([^"]*)">([^<]*)</td>',
            section,
            re.S,
        )
        assert cell is not None, (d.a, d.b)
        kind, title, text = cell.groups()
        title, text = unescape(title), unescape(text)
        want = "better" if d.low > 0 else "worse" if d.high < 0 else "unresolved"
        mark = {"better": "\u25b2", "worse": "\u25bc", "unresolved": "\u00b7"}[want]
        assert kind == want
        assert text == f"{mark} {d.estimate:+.3f}"
        assert fmt_iv(d) in title and f"n = {d.n}" in title


def test_no_pairwise_table_beyond_the_cap(monkeypatch, results):
    import lmuq.evaluation.protocol as protocol

    monkeypatch.setattr(protocol, "PAIRWISE_MAX_SCORERS", 1)
    data = build_report_data(results, scorers=SCORERS, n_boot=N_BOOT, seed=3)
    assert data.pairwise == [] and data.paired  # the best-against-each test stays
    assert 'id="pairwise"' not in render_report(data, plots=False)
