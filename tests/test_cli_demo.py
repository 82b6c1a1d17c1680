"""``lmuq demo`` end to end on the embedded model (small settings), and the example script."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lmuq.app.cli import main
from lmuq.app.config import DemoConfig
from lmuq.app.job import EMBEDDING_WHITEBOX, INTERNALS_WHITEBOX, NLI_WHITEBOX, whitebox_scorers_for
from lmuq.datasets import load_questions
from lmuq.grading.extraction import extract_answer
from lmuq.scoring.functional.consistency import normalize_answer
from lmuq.uq.whitebox import DEFAULT_WHITEBOX_SCORERS

pytestmark = pytest.mark.model
ROOT = Path(__file__).resolve().parents[1]


def test_demo_writes_results_and_prints_the_table(tmp_path, capsys, lmuq_cache):
    out = tmp_path / "out"
    code = main(
        [
            "demo",
            "-n",
            "8",
            "-m",
            "2",
            "--n-boot",
            "50",
            "--max-new-tokens",
            "12",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "AUROC" in printed and "PRR" in printed and "Accuracy" in printed
    for name in DEFAULT_WHITEBOX_SCORERS:
        assert name in printed
    with open(out / "results.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8 and len({r["id"] for r in rows}) == 8
    assert {"question", "response", "correct", *DEFAULT_WHITEBOX_SCORERS} <= set(rows[0])
    nested = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(nested) == 8
    first = nested[0]
    assert len(first["samples"]) == 2 and first["answer"]["logprobs"]
    assert len(first["answer"]["logprobs"]) == len(first["answer"]["tokens"])
    assert (out / "results.parquet").exists()
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["num_samples"] == 2
    assert run["sample_set_params"]["sample_params"]["temperature"] == 0.5
    assert run["sample_set_params"]["sample_params"]["top_p"] == 0.9
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        summary = list(csv.DictReader(fh))
    assert {r["scorer"] for r in summary} >= set(DEFAULT_WHITEBOX_SCORERS)
    # with the embedder loaded for the black-box scorers, CoCoA and SAR run too, and with a
    # local model the scorers that read its internals
    assert {r["scorer"] for r in summary} >= {*EMBEDDING_WHITEBOX, *INTERNALS_WHITEBOX}
    assert run["config"]["scorers"] == [
        *DEFAULT_WHITEBOX_SCORERS,
        *INTERNALS_WHITEBOX,
        *EMBEDDING_WHITEBOX,
    ]
    for name in (*EMBEDDING_WHITEBOX, *INTERNALS_WHITEBOX):
        values = [float(r[name]) for r in rows]
        assert all(0.0 <= v <= 1.0 for v in values), name  # and defined on every row
    # the internals stay out of the results file (the run store keeps them)
    assert "internals" not in first["answer"] and "internals" not in first["samples"][0]
    # the consistency scorers compared the extracted answers: exact match by its definition
    assert run["scoring_metadata"]["extracted_answers"] is True
    questions = {q.id: q for q in load_questions("capitals")}
    for row, rec in zip(rows, nested, strict=True):
        q = questions[row["id"]]
        assert row["extracted_answer"] == (extract_answer(row["response"], q) or "")
        texts = [rec["answer"]["text"], *(s["text"] for s in rec["samples"])]
        found = [extract_answer(t, q) for t in texts]
        answer, samples = found[0], found[1:]
        expected = (
            0.0
            if answer is None
            else sum(
                s is not None and normalize_answer(s) == normalize_answer(answer) for s in samples
            )
            / len(samples)
        )
        assert float(row["exact_match"]) == pytest.approx(expected)
    for r in summary:
        if r["auroc"] not in ("", "nan"):
            assert 0.0 <= float(r["auroc"]) <= 1.0


def test_default_scorers_follow_the_models_the_job_loads():
    free = tuple(DEFAULT_WHITEBOX_SCORERS)
    local = (*free, *INTERNALS_WHITEBOX)  # a local model gives its internals
    assert whitebox_scorers_for(DemoConfig()) == (*local, *EMBEDDING_WHITEBOX)
    assert whitebox_scorers_for(DemoConfig(blackbox=False)) == local
    with_nli = whitebox_scorers_for(DemoConfig(nli_model="some/nli"))
    assert with_nli == (*local, *EMBEDDING_WHITEBOX, *NLI_WHITEBOX)
    assert whitebox_scorers_for(DemoConfig(scorers=("sar",))) == ("sar",)
    served = DemoConfig(base_url="http://127.0.0.1:9/v1", model="m", blackbox=False)
    assert whitebox_scorers_for(served) == free


def test_demo_bad_model_path_is_a_clear_error(tmp_path, capsys):
    code = main(["demo", "-n", "2", "--model", str(tmp_path / "missing"), "--no-progress"])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_demo_rejects_bad_flags(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "-n", "0"])
    with pytest.raises(SystemExit):
        main(["demo", "--dataset", "nope"])
    assert "invalid" in capsys.readouterr().err.lower()


def test_luq_tutorial_example_runs(lmuq_cache):
    env = {**os.environ, "LMUQ_CACHE_DIR": lmuq_cache}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "luq_tutorial.py")],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "predictive entropy:" in proc.stdout
    value = float(proc.stdout.split("predictive entropy:")[1].split()[0])
    assert 0.0 <= value <= 2.31  # log 10 nats for 10 samples


def test_uqlm_blackbox_example_runs(tmp_path, lmuq_cache):
    env = {**os.environ, "LMUQ_CACHE_DIR": lmuq_cache, "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "uqlm_blackbox_demo.py"),
            "--n",
            "6",
            "--num-responses",
            "2",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Baseline accuracy:" in proc.stdout
    for scorer in ("semantic_negentropy", "exact_match", "cosine_sim"):
        assert f"{scorer}: threshold" in proc.stdout
        assert (tmp_path / f"accuracy_{scorer}.png").stat().st_size > 1000
