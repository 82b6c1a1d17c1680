from __future__ import annotations

import csv
import json
import math
import os

import numpy as np
import pytest

from lmuq.evaluation import auroc
from lmuq.evaluation.summary import format_summary, summarize_scores
from lmuq.storage.files import write_jsonl, write_table


def test_jsonl_is_one_object_per_line_with_nonfinite_as_null(tmp_path):
    path = write_jsonl(
        [{"a": 1.5, "b": math.nan, "c": [-math.inf, 2.0], "d": np.float64(0.25), "e": "x\ny"}],
        tmp_path / "r.jsonl",
    )
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == {"a": 1.5, "b": None, "c": [None, 2.0], "d": 0.25, "e": "x\ny"}


def test_table_csv_encodes_lists_as_json_and_parquet_keeps_them(tmp_path):
    rows = [
        {"id": "q1", "samples": ["a", "b, c"], "score": 0.5},
        {"id": "q2", "samples": [], "score": math.nan},
    ]
    paths = write_table(rows, tmp_path / "t")
    assert [p.suffix for p in paths] == [".csv", ".parquet"]
    with open(paths[0], newline="", encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert json.loads(got[0]["samples"]) == ["a", "b, c"] and got[1]["score"] == ""
    import pandas as pd

    df = pd.read_parquet(paths[1])
    assert list(df["samples"][0]) == ["a", "b, c"] and math.isnan(df["score"][1])


def test_failed_write_leaves_no_partial_file(tmp_path):
    class Boom:
        pass

    target = tmp_path / "r.jsonl"
    with pytest.raises(TypeError):
        write_jsonl([{"ok": 1}, {"bad": Boom()}], target)
    assert not target.exists() and os.listdir(tmp_path) == []


def test_summary_matches_direct_metrics_and_drops_nan_scores():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    good = y + rng.normal(0, 0.7, 80)
    with_nan = good.copy()
    with_nan[:5] = np.nan
    rows = summarize_scores({"good": good, "gappy": with_nan}, y, n_boot=100, seed=1)
    by = {r.name: r for r in rows}
    assert by["good"].auroc.estimate == pytest.approx(auroc(good, y))
    assert by["good"].n_scored == 80 and by["gappy"].n_scored == 75
    assert by["gappy"].auroc.estimate == pytest.approx(auroc(with_nan[5:], y[5:]))
    assert by["good"].auroc.low <= by["good"].auroc.estimate <= by["good"].auroc.high
    table = format_summary(rows)
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["scorer", "AUROC"] and len(lines) == 3
    iv = by["good"].auroc
    good_line = next(line for line in lines if line.startswith("good "))
    assert f"{iv.estimate:.3f} [{iv.low:.3f}, {iv.high:.3f}]" in good_line
    assert good_line.split()[-1] == "80" and "gappy" in table


def test_summary_single_class_is_reported_not_crashed():
    rows = summarize_scores({"s": [0.1, 0.5, 0.9]}, [1, 1, 1], n_boot=20)
    assert math.isnan(rows[0].auroc.estimate)
    assert "n/a" in format_summary(rows)


def test_summary_rejects_length_mismatch():
    with pytest.raises(ValueError, match="3 values for 2 labels"):
        summarize_scores({"s": [0.1, 0.2, 0.3]}, [0, 1])
