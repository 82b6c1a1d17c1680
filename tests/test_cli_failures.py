"""The CLI when things go wrong: failed generations, broken stores, Ctrl-C and SIGKILL.

Each failure is one line starting with ``error:`` and a non-zero exit, never a traceback;
a run whose generations failed says how many, exits 1 and leaves the failed rows out of
every metric; a run killed at any moment resumes drawing only what is not stored, with no
sample drawn twice (issue 10).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmuq.app.cli import main
from lmuq.app.job import PROMPT_TEMPLATE
from lmuq.datasets import load_questions
from openai_server import FakeOpenAIServer


@pytest.fixture
def srv():
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


def _run_args(srv, out: Path, *extra: str, n: int = 5, m: int = 2) -> list[str]:
    return [
        "run",
        "--base-url",
        srv.base_url,
        "--model",
        "fake",
        "-n",
        str(n),
        "-m",
        str(m),
        "--n-boot",
        "20",
        "--no-blackbox",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


def _prompts(n: int) -> list[str]:
    return [PROMPT_TEMPLATE.format(question=q.question) for q in load_questions("capitals", n=n)]


def test_a_run_whose_generations_failed_says_so_exits_1_and_leaves_them_out(srv, tmp_path, capsys):
    bad = _prompts(5)[1]
    srv.fail("400", match=bad, times=100)  # a 400 is not retried: 3 generations fail
    code = main(_run_args(srv, tmp_path / "out"))
    captured = capsys.readouterr()
    assert code == 1
    assert "error: 3 of 15 generations failed" in captured.err
    assert "--allow-partial" in captured.err and "Traceback" not in captured.err
    assert "(4 questions, 1 left out (answer failed))" in captured.out
    with open(tmp_path / "out" / "summary.csv", encoding="utf-8") as fh:
        summary = {r["scorer"]: r for r in csv.DictReader(fh)}
    assert summary["sequence_probability"]["n_scored"] == "4"
    assert summary["baseline:short_answer"]["n_scored"] == "4"  # not 5 with a 0-token row
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["generations"] == {"total": 15, "failed": 3} and run["rows_left_out"] == 1
    srv.reset()
    srv.fail("400", match=bad, times=100)
    assert main(_run_args(srv, tmp_path / "out2", "--allow-partial")) == 0


@pytest.mark.parametrize("what", ["empty", "garbled", "foreign"])
def test_a_broken_store_is_one_error_line(srv, tmp_path, capsys, what):
    store = tmp_path / "runs.sqlite"
    if what == "empty":
        store.write_bytes(b"")
    elif what == "garbled":
        store.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    else:
        with sqlite3.connect(store) as conn:
            conn.execute("CREATE TABLE t (x)")
    for args in (
        _run_args(srv, tmp_path / "out", "--store", str(store)),
        ["export", str(store)],
    ):
        code = main(args)
        err = capsys.readouterr().err
        assert code == 2, (args[0], err)
        assert err.startswith("error: ") and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    assert srv.count() == 0  # nothing was generated against a store that cannot hold it
    if what == "empty":
        assert store.read_bytes() == b""  # not silently re-initialised


def test_export_of_an_unknown_run_names_the_runs_there(srv, tmp_path, capsys):
    store = tmp_path / "runs.sqlite"
    assert main(_run_args(srv, tmp_path / "out", "--store", str(store), n=2)) == 0
    capsys.readouterr()
    assert main(["export", str(store), "nope", "-o", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no run 'nope'") and "its runs: run-" in err
    assert main(["export", str(store)]) == 0
    table = capsys.readouterr().out
    assert "run-" in table and "generations" in table and "RunInfo(" not in table


# --------------------------------------------------------------------------- interrupted


def _spawn_run(srv, tmp_path: Path, store: Path, n: int, m: int) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "lmuq",
        *_run_args(srv, tmp_path / "out", "--store", str(store), "--batch-size", "2", n=n, m=m),
    ]
    # A shell's background job (`pytest ... &`) starts with SIGINT ignored, and a child
    # inherits that: give the child Python's usual Ctrl-C, which these tests send.
    return subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _stored(store: Path) -> list[tuple[int, str, int, str]]:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
            rows = conn.execute(
                "SELECT row_index, kind, idx, data FROM generations WHERE error IS NULL"
            ).fetchall()
    except sqlite3.OperationalError:
        return []
    return [(r, k, i, json.loads(d)["text"]) for r, k, i, d in rows]


def _wait_until(proc: subprocess.Popen, ready, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended ({proc.returncode}) too early:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("timed out")
        time.sleep(0.02)


def test_ctrl_c_says_what_was_saved_and_the_same_command_resumes(srv, tmp_path):
    srv.latency = 0.15
    store = tmp_path / "runs.sqlite"
    proc = _spawn_run(srv, tmp_path, store, n=6, m=2)
    _wait_until(proc, lambda: len(_stored(store)) >= 4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "error: interrupted: " in err and "generations are saved in" in err
    assert "run the same command again" in err and "Traceback" not in err
    saved = len(_stored(store))
    before = len(srv.requests)
    srv.latency = 0.0
    proc = _spawn_run(srv, tmp_path, store, n=6, m=2)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert len(_stored(store)) == 6 * 3
    asked = sum(r.body.get("n", 1) for r in srv.requests[before:])
    assert asked == 6 * 3 - saved  # only the missing ones were drawn


def test_sigkill_at_several_moments_then_resume_draws_every_cell_once(srv, tmp_path):
    """The must-show of issue 10: a seeded server that ignores ``n`` (so every sample is
    its own call), calls in flight when the process dies, and resumes: every cell stored
    exactly once, the model re-called only for cells not stored (plus what was in flight),
    and no sample text or seed twice in any row."""
    n, m = 6, 3
    cells = n * (1 + m)
    srv.n_mode = "ignore"
    srv.latency = 0.1
    store = tmp_path / "runs.sqlite"
    kills = 0
    for at in (3, 9, 15):
        proc = _spawn_run(srv, tmp_path, store, n=n, m=m)
        _wait_until(proc, lambda at=at: len(_stored(store)) >= at)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        kills += 1
    srv.latency = 0.0
    proc = _spawn_run(srv, tmp_path, store, n=n, m=m)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    stored = _stored(store)
    keys = [(r, k, i) for r, k, i, _ in stored]
    assert len(keys) == len(set(keys)) == cells  # every cell exactly once
    for row in range(n):
        texts = [t for r, k, _, t in stored if r == row and k == "sample"]
        seeds = [t.rsplit("s=", 1)[1] for t in texts]
        assert len(set(texts)) == m and sorted(seeds) == [str(j) for j in range(m)], texts
    # answered requests beyond the cells are at most what was in flight at each kill
    answered = srv.count(fault=None)
    assert cells <= answered <= cells + kills * 2 * 2  # 2 calls in flight, n ignored


def test_failed_samples_are_redrawn_with_their_own_seeds(srv, tmp_path, capsys):
    """issue 10 #2: a resume asked for the missing samples counting seeds from 0 again, so
    they repeated stored samples' seeds (and texts) on a seeded server that ignores n."""
    srv.n_mode = "ignore"
    first = _prompts(4)[2]
    srv.fail("400", match=first, times=2)  # the answer and the first sample call fail
    store = tmp_path / "runs.sqlite"
    assert main(_run_args(srv, tmp_path / "out", "--store", str(store), n=4, m=3)) == 1
    capsys.readouterr()
    assert main(_run_args(srv, tmp_path / "out", "--store", str(store), n=4, m=3)) == 0
    for row in range(4):
        texts = [t for r, k, _, t in _stored(store) if r == row and k == "sample"]
        assert sorted(t.rsplit("s=", 1)[1] for t in texts) == ["0", "1", "2"], texts


def test_a_resume_against_the_same_model_elsewhere_continues_the_same_run(tmp_path, capsys):
    """issue 10 #13: the run id was keyed on the server URL (its port)."""
    store = tmp_path / "runs.sqlite"
    a = FakeOpenAIServer().start()
    try:
        assert main(_run_args(a, tmp_path / "out", "--store", str(store), n=3)) == 0
    finally:
        a.stop()
    b = FakeOpenAIServer().start()  # another port
    try:
        assert b.port != a.port
        assert main(_run_args(b, tmp_path / "out", "--store", str(store), n=3)) == 0
        assert b.count() == 0  # everything came from the store
    finally:
        b.stop()
    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)


def test_credentials_in_the_base_url_reach_no_file_or_output(srv, tmp_path, capsys):
    """issue 10 #3 (the app's side): run.json, the report, the store and stdout."""
    secret = "Pa55-w0rd-XYZ"
    url = srv.base_url.replace("http://", f"http://alice:{secret}@")
    store = tmp_path / "runs.sqlite"
    args = _run_args(srv, tmp_path / "out", "--store", str(store), n=2)
    args[args.index("--base-url") + 1] = url
    assert main(args) == 0
    printed = capsys.readouterr()
    assert secret not in printed.out + printed.err
    for path in [*(tmp_path / "out").iterdir(), *tmp_path.glob("runs.sqlite*")]:
        assert secret.encode() not in path.read_bytes(), path


def test_no_progress_also_hides_the_hugging_face_bars(monkeypatch):
    """transformers draws its own "Loading weights" bar on every model load; --no-progress
    (a log file, CI) must not get it."""
    import huggingface_hub.utils as hub_utils
    import transformers.utils.logging as tf_logging

    from lmuq.app.cli import _progress

    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    assert _progress({"no_progress": False}) is True
    assert "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ
    try:
        assert _progress({"no_progress": True}) is False
        assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
        assert hub_utils.are_progress_bars_disabled()
        assert not tf_logging.is_progress_bar_enabled()
    finally:
        hub_utils.enable_progress_bars()
        tf_logging.enable_progress_bar()
