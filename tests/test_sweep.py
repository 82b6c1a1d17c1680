"""The sampling sweep: AUROC per setting on both splits, the choice made on calibration only,
its JSON file, and its section in the HTML report (issue 15)."""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser

import numpy as np
import pytest
from click.testing import CliRunner

from lmuq.app.cli import cli
from lmuq.app.run_folder import read_sweep, report_from_run_dir
from lmuq.evaluation.sweep import SamplingSweep, sampling_sweep, setting_label

# questions 0-3 calibrate, 4-7 are held out; 1 = right
CORRECT = [1, 1, 0, 0, 1, 1, 0, 0]
MASK = [True] * 4 + [False] * 4
A = (1.0, None)
B = (0.5, 0.9)
SCORES = {
    # s1: calibration perfectly ordered (1.0); held out: right {0.9, 0.2} vs wrong {0.8, 0.1}
    # -> 3 of 4 pairs ordered = 0.75.  s2: calibration 1.0; held out all tied = 0.5.
    A: {
        "s1": [0.9, 0.8, 0.1, 0.2, 0.9, 0.2, 0.8, 0.1],
        "s2": [0.5, 0.6, 0.4, 0.3, 0.5, 0.5, 0.5, 0.5],
        "ref": [0.7, 0.6, 0.5, 0.4, 0.7, 0.6, 0.5, 0.4],
    },
    # B is reversed on calibration (0.0, 0.0) and perfect held out (1.0, 1.0): the choice
    # must still be A, since it is made on the calibration split alone.
    B: {
        "s1": [0.1, 0.2, 0.9, 0.8, 0.9, 0.8, 0.1, 0.2],
        "s2": [0.3, 0.4, 0.5, 0.6, 0.6, 0.5, 0.4, 0.3],
        "ref": [0.7, 0.6, 0.5, 0.4, 0.7, 0.6, 0.5, 0.4],
    },
}


def make(**kw) -> SamplingSweep:
    args = dict(scorers=["s1", "s2"], reference=["ref"], samples=5, n_boot=50)
    args.update(kw)
    return sampling_sweep(SCORES, CORRECT, MASK, **args)


def test_auroc_per_split_by_hand_and_the_choice_is_made_on_calibration():
    sweep = make(samples_equal_to_answer={A: 0.15, B: 0.6})
    a, b = sweep.settings
    assert (a.label, b.label) == ("T=1, full vocabulary", "T=0.5, top-p 0.9")
    assert a.auroc["s1"].calibration == 1.0 and a.auroc["s1"].held_out == 0.75
    assert a.auroc["s2"].calibration == 1.0 and a.auroc["s2"].held_out == 0.5
    assert b.auroc["s1"].calibration == 0.0 and b.auroc["s1"].held_out == 1.0
    assert b.auroc["s2"].calibration == 0.0 and b.auroc["s2"].held_out == 1.0
    assert a.mean_calibration_auroc == 1.0 and a.mean_held_out_auroc == 0.625
    assert b.mean_calibration_auroc == 0.0 and b.mean_held_out_auroc == 1.0
    # the reference is shown but not averaged: ref is perfect and would lift B's mean
    assert b.auroc["ref"].calibration == 1.0
    assert sweep.chosen == a.label
    assert (sweep.questions, sweep.calibration_questions, sweep.held_out_questions) == (8, 4, 4)
    assert sweep.accuracy == 0.5 and sweep.samples == 5
    assert a.samples_equal_to_answer == 0.15 and math.isnan(a.seconds)
    iv = a.auroc["s1"]
    assert iv.held_out_low <= iv.held_out <= iv.held_out_high


def test_a_tie_goes_to_the_first_setting():
    same = {A: SCORES[A], B: SCORES[A]}
    sweep = sampling_sweep(same, CORRECT, MASK, scorers=["s1"], samples=5, n_boot=20)
    assert sweep.chosen == "T=1, full vocabulary"
    swapped = {B: SCORES[A], A: SCORES[A]}
    sweep = sampling_sweep(swapped, CORRECT, MASK, scorers=["s1"], samples=5, n_boot=20)
    assert sweep.chosen == "T=0.5, top-p 0.9"


def test_labels():
    assert setting_label(0.7, 0.9) == "T=0.7, top-p 0.9"
    assert setting_label(1.0, None) == "T=1, full vocabulary"
    assert setting_label(1.0, 1.0) == "T=1, full vocabulary"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scores": {}}, "at least one setting"),
        ({"scorers": []}, "at least one sample-based scorer"),
        ({"scorers": ["s1", "nope"]}, "no scores for 'nope'"),
        ({"correct": [1, 1, 1, 1, 1, 1, 0, 0]}, "calibration split needs both"),
        ({"mask": [True] * 8}, "held-out split needs both"),
        ({"mask": [True] * 7}, "one length"),
        ({"scores": {A: {**SCORES[A], "s1": [0.5]}}}, "has 1 values for 8 questions"),
    ],
)
def test_bad_inputs_say_what_to_fix(kwargs, match):
    scores = kwargs.pop("scores", SCORES)
    correct = kwargs.pop("correct", CORRECT)
    mask = kwargs.pop("mask", MASK)
    args = dict(scorers=["s1", "s2"], samples=5, n_boot=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sampling_sweep(scores, correct, mask, **args)


def test_json_round_trip_keeps_every_number_and_writes_nan_as_null(tmp_path):
    sweep = make(seconds={A: 12.5})
    data = sweep.to_dict()
    text = json.dumps(data, allow_nan=False)  # strict JSON: NaN became null
    assert data["settings"][1]["seconds"] is None
    back = SamplingSweep.from_dict(json.loads(text))
    assert back.settings[0].auroc == sweep.settings[0].auroc
    assert back.chosen == sweep.chosen and back.settings[0].seconds == 12.5
    assert math.isnan(back.settings[1].seconds)
    path = tmp_path / "sweep.json"
    path.write_text(text, encoding="utf-8")
    assert read_sweep(path).settings[1].auroc == sweep.settings[1].auroc


def test_a_file_that_is_not_a_sweep_is_refused_by_name(tmp_path):
    path = tmp_path / "sweep.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="is not JSON"):
        read_sweep(path)
    data = make().to_dict()
    del data["chosen"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="missing field 'chosen'"):
        read_sweep(path)
    data = make().to_dict()
    data["chosen"] = "T=9, top-p 0.1"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"chosen setting 'T=9, top-p 0\.1' is not one of"):
        read_sweep(path)


class _SweepCells(HTMLParser):
    """Text of each sweep-table cell, keyed by (row's data-scorer or data-row, data-setting)."""

    def __init__(self):
        super().__init__()
        self.cells: dict[tuple[str, str], str] = {}
        self._in_table = False
        self._row = None
        self._cell = None
        self._text: list[str] = []
        self.chosen_heads: list[str] = []
        self._head = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "sweep-table":
            self._in_table = True
        elif self._in_table and tag == "tr":
            self._row = a.get("data-scorer") or a.get("data-row")
        elif self._in_table and tag == "td" and "data-setting" in a:
            self._cell, self._text = a["data-setting"], []
        elif self._in_table and tag == "th" and a.get("data-chosen") == "1":
            self._head, self._text = True, []

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_table = False
        elif tag == "td" and self._cell is not None:
            self.cells[(self._row, self._cell)] = " ".join(" ".join(self._text).split())
            self._cell = None
        elif tag == "th" and self._head:
            self.chosen_heads.append("".join(self._text))
            self._head = False

    def handle_data(self, data):
        if self._cell is not None or self._head:
            self._text.append(data)


def _demo_folder(folder, n: int = 40) -> None:
    rng = np.random.default_rng(0)
    correct = rng.random(n) < 0.5
    rows = [
        {
            "question": f"q{i}",
            "response": "a",
            "correct": bool(c),
            "sequence_probability": float(c) * 0.5 + rng.random() * 0.5,
            "response_tokens": 3,
        }
        for i, c in enumerate(correct)
    ]
    (folder / "results.csv").write_text(
        "question,response,correct,sequence_probability,response_tokens\n"
        + "".join(
            f"{r['question']},{r['response']},{r['correct']},{r['sequence_probability']},3\n"
            for r in rows
        ),
        encoding="utf-8",
    )
    run = {
        "model": "m",
        "evaluated": ["sequence_probability"],
        "config": {"n_boot": 20, "seed": 0, "sample_temperature": 0.5, "sample_top_p": 0.9},
    }
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")


def test_the_report_shows_the_sweep_from_the_run_folder_escaped(tmp_path):
    _demo_folder(tmp_path)
    sweep = make(samples_equal_to_answer={A: 0.15, B: 0.6})
    data = sweep.to_dict()
    data["notes"] = {"dataset": "<script>alert(1)</script>"}
    (tmp_path / "sweep.json").write_text(json.dumps(data), encoding="utf-8")
    page = report_from_run_dir(tmp_path, plots=False).read_text(encoding="utf-8")
    assert '<section id="sweep">' in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    parser = _SweepCells()
    parser.feed(page)
    cells = parser.cells
    a, b = "T=1, full vocabulary", "T=0.5, top-p 0.9"
    assert cells[("s1", a)].startswith("0.750") and cells[("s1", a)].endswith("cal. 1.000")
    assert cells[("s2", b)].startswith("1.000") and cells[("s2", b)].endswith("cal. 0.000")
    assert cells[("mean", a)] == "0.625 cal. 1.000"
    assert cells[("mean", b)] == "1.000 cal. 0.000"
    assert cells[("repeats", a)] == "0.15" and cells[("repeats", b)] == "0.60"
    assert ("ref", a) in cells
    assert parser.chosen_heads == [f"{a} (chosen)"]
    assert f'Chosen: <strong data-metric="chosen">{a}</strong>' in page
    # the run's own setting, from its config
    assert "This run drew its samples at T=0.5, top-p 0.9." in page


def test_no_sweep_no_section_and_the_cli_takes_one(tmp_path):
    _demo_folder(tmp_path)
    page = report_from_run_dir(tmp_path, plots=False).read_text(encoding="utf-8")
    assert 'id="sweep"' not in page
    sweep_file = tmp_path / "elsewhere.json"
    sweep_file.write_text(json.dumps(make().to_dict()), encoding="utf-8")
    out = tmp_path / "r.html"
    res = CliRunner().invoke(
        cli, ["report", str(tmp_path), "-o", str(out), "--sweep", str(sweep_file)]
    )
    assert res.exit_code == 0, res.output
    assert '<section id="sweep">' in out.read_text(encoding="utf-8")
    sweep_file.write_text("[]", encoding="utf-8")
    res = CliRunner().invoke(cli, ["report", str(tmp_path), "--sweep", str(sweep_file)])
    assert res.exit_code != 0
    assert "error:" in res.output and "a sampling sweep is a JSON object" in res.output
