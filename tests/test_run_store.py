"""The run store: atomic, exactly-once, resumable after SIGKILL, safe with two writers."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmuq.generation import generate_sample_sets
from lmuq.scoring import score
from lmuq.storage import (
    REDACTED,
    IncompleteRunError,
    RunMismatchError,
    RunStore,
    SchemaVersionError,
    StoreError,
    generation_from_json,
    generation_to_json,
    redact_settings,
)
from lmuq.storage.resume import generate_with_store, store_callback
from lmuq.types import Generation, SamplingParams
from resume_worker import (
    ANSWER_PARAMS,
    SAMPLE_PARAMS,
    CountingBackend,
    fake_generation,
    prompts,
)

WORKER = Path(__file__).with_name("resume_worker.py")


# ---------------------------------------------------------------------------- helpers


def _dump(ss) -> tuple:
    return (ss.prompt, ss.answer.to_dict(), [g.to_dict() for g in ss.samples], ss.params)


def _stored_keys(path: Path, run_id: str) -> list[tuple[int, str, int]]:
    """Every stored (row, kind, idx) of a run, read straight from the file (read-only)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return conn.execute(
                "SELECT row_index, kind, idx FROM generations WHERE run_id = ? "
                "ORDER BY row_index, kind, idx",
                (run_id,),
            ).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def _all_keys(n: int, m: int) -> set[tuple[int, str, int]]:
    return {(r, "answer", 0) for r in range(n)} | {
        (r, "sample", j) for r in range(n) for j in range(m)
    }


def _spawn(*args: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(proc: subprocess.Popen, ready, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"worker exited ({proc.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def _integrity_ok(path: Path) -> bool:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _gen(text: str, error: str | None = None) -> Generation:
    return Generation(text=text, logprobs=[-0.5], error=error)


@pytest.fixture
def store(tmp_path):
    with RunStore(tmp_path / "runs.sqlite") as s:
        yield s


# ---------------------------------------------------------------------------- records


def test_generation_json_round_trip_is_exact_including_nonfinite_logprobs():
    gen = Generation(
        text="Paris",
        logprobs=[-0.1, -math.inf, -1e-300],
        token_ids=(5, 6, 7),
        tokens=("Par", "is", "</s>"),
        top_logprobs=[[-0.1, -2.0], [-math.inf, -math.inf], [-1e-300, math.nan]],
        top_token_ids=[[5, 9], [6, 1], [7, 2]],
        finish_reason="stop",
        params=SamplingParams(temperature=0.7, top_k=40, seed=3),
    )
    back = generation_from_json(generation_to_json(gen))
    np.testing.assert_array_equal(back.logprobs, gen.logprobs)
    np.testing.assert_array_equal(back.top_logprobs, gen.top_logprobs)  # NaN == NaN here
    assert back.top_logprobs[1, 0] == -math.inf and math.isnan(back.top_logprobs[2, 1])
    np.testing.assert_array_equal(back.top_token_ids, gen.top_token_ids)
    assert back.top_token_ids.dtype == np.int64
    assert (back.text, back.token_ids, back.tokens) == ("Paris", (5, 6, 7), ("Par", "is", "</s>"))
    assert back.params == gen.params and back.finish_reason == "stop" and back.error is None
    failed = generation_from_json(generation_to_json(Generation(text="", error="timeout")))
    assert failed.error == "timeout" and failed.logprobs is None


def test_settings_secrets_are_redacted_and_never_reach_the_file(tmp_path):
    settings = {
        "model": "gpt-x",
        "api_key": "SECRET-1",
        "max_new_tokens": 32,
        "tokenizer": "tok-name",
        "headers": {"Authorization": "Bearer SECRET-2", "Accept": "json"},
        "hf_token": "SECRET-3",
        "clientSecret": "SECRET-4",
        "db_password": "SECRET-5",
        "params": SamplingParams(temperature=0.5),
    }
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as store:
        run = store.open_or_create_run("r", settings, ["q"])
        stored = store.settings(run)
        # A later session with a different key resumes the same run.
        assert store.open_or_create_run("r", {**settings, "api_key": "SECRET-9"}, ["q"]) == "r"
    assert stored["api_key"] == stored["hf_token"] == stored["clientSecret"] == REDACTED
    assert stored["db_password"] == stored["headers"]["Authorization"] == REDACTED
    assert stored["headers"]["Accept"] == "json"
    assert (stored["max_new_tokens"], stored["tokenizer"]) == (32, "tok-name")
    assert stored["params"]["temperature"] == 0.5
    for file in tmp_path.iterdir():
        assert b"SECRET" not in file.read_bytes(), file
    with pytest.raises(TypeError, match=r"settings\.obj"):
        redact_settings({"obj": object()})


def test_open_or_create_run_resumes_same_run_and_lists_differences(store):
    settings = {"temperature": 1.0, "model": "m"}
    run = store.open_or_create_run("exp", settings, ["a", "b"], [{"gold": "x"}, None])
    assert store.open_or_create_run("exp", dict(settings), ["a", "b"]) == run
    assert [(r.run_id, r.num_prompts) for r in store.runs()] == [("exp", 2)]
    assert store.load_extras(run) == [{"gold": "x"}, None]
    with pytest.raises(RunMismatchError) as info:
        store.open_or_create_run("exp", {"temperature": 0.5, "seed": 1, "model": "m"}, ["a", "b"])
    assert info.value.differences == [
        "seed: given 1, not stored",
        "temperature: stored 1.0, given 0.5",
    ]
    with pytest.raises(RunMismatchError, match="row 1: stored prompt 'b', given 'c'"):
        store.open_or_create_run("exp", settings, ["a", "c"])
    with pytest.raises(RunMismatchError, match="number of prompts: stored 2, given 3"):
        store.open_or_create_run("exp", settings, ["a", "b", "z"])
    with pytest.raises(StoreError, match="already exists"):
        store.create_run(settings, ["a"], run_id="exp")
    other = store.create_run(settings, ["q"])
    assert other != run and store.has_run(other)


def test_a_write_that_fails_midway_leaves_nothing_behind(store):
    # The second extra cannot be stored as JSON: the run row and first prompt roll back too.
    with pytest.raises(TypeError):
        store.create_run({}, ["a", "b"], [{"gold": 1}, {"gold": object()}], run_id="r")
    assert not store.has_run("r") and store.runs() == []
    assert store.create_run({}, ["a", "b"], run_id="r") == "r"  # no transaction left open


def test_upsert_never_duplicates_and_a_success_is_never_replaced_by_a_failure(store):
    run = store.create_run({}, ["p0", "p1"], run_id="r")
    store.record_generation(run, 0, "answer", 0, _gen("first"))
    # A second success never replaces the first (issue 10: two processes' outputs agree).
    store.record_generation(run, 0, "answer", 0, _gen("retried"))
    store.record_generation(run, 0, "answer", 0, _gen("", error="late failure"))
    store.record_generation(run, 1, "answer", 0, _gen("", error="boom"))
    assert store.missing_generations(run, 0) == [(1, "answer", 0)]  # failures are redone
    assert store.missing_generations(run, 0, include_failed=False) == []
    store.record_generation(run, 1, "answer", 0, _gen("fixed"))
    assert _stored_keys(store.path, run) == [(0, "answer", 0), (1, "answer", 0)]
    assert [ss.answer.text for ss in store.load_sample_sets(run, 0)] == ["first", "fixed"]
    with pytest.raises(IndexError, match=r"rows 0\.\.1"):
        store.record_generation(run, 2, "answer", 0, _gen("x"))
    with pytest.raises(ValueError, match="answer has idx 0"):
        store.record_generation(run, 0, "answer", 1, _gen("x"))
    with pytest.raises(ValueError, match="kind must be"):
        store.record_generation(run, 0, "samples", 0, _gen("x"))  # type: ignore[arg-type]


def test_missing_generations_and_loading_an_incomplete_run_names_what_is_missing(store):
    run = store.create_run({}, ["p0", "p1", "p2"], run_id="r")
    store.record_generations(
        run,
        [
            (0, "answer", 0, _gen("a0")),
            (0, "sample", 0, _gen("s00")),
            (0, "sample", 1, _gen("s01")),
            (1, "sample", 1, _gen("s11")),
            (2, "answer", 0, _gen("a2")),
            (2, "sample", 0, _gen("", error="rate limited")),
        ],
    )
    expected = [(1, "answer", 0), (1, "sample", 0), (2, "sample", 1)]
    assert store.missing_generations(run, 2, include_failed=False) == expected
    assert store.missing_generations(run, 2) == sorted([*expected, (2, "sample", 0)])
    with pytest.raises(IncompleteRunError, match="lacks 3 generation") as info:
        store.load_sample_sets(run, 2)
    assert info.value.missing == expected
    store.record_generations(run, [(r, k, i, _gen(f"{r}{k}{i}")) for r, k, i in expected])
    sets = store.load_sample_sets(run, 2)
    assert [s.text for s in sets[0].samples] == ["s00", "s01"]
    assert sets[2].samples[0].error == "rate limited"  # failures load as they are
    assert [len(s) for s in store.load_sample_sets(run, 1)] == [1, 1, 1]
    info_row = store.runs()[0]
    assert (info_row.num_generations, info_row.num_failed) == (9, 1)


def test_a_newer_schema_or_a_foreign_file_is_refused(tmp_path):
    path = tmp_path / "runs.sqlite"
    RunStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaVersionError, match="schema version 99; this lmuq reads"):
        RunStore(path)
    foreign = tmp_path / "other.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(SchemaVersionError, match="not an lmuq run store"):
        RunStore(foreign)
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, just some text" * 100)
    with pytest.raises(SchemaVersionError, match="not an lmuq run store"):
        RunStore(text)


def test_threads_of_one_process_share_a_store(store):
    run = store.create_run({}, prompts(40), run_id="r")
    errors: list[BaseException] = []

    def work(rows: range) -> None:
        try:
            for r in rows:
                store.record_generation(run, r, "answer", 0, _gen(f"a{r}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(range(i, 40, 4),)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [ss.answer.text for ss in store.load_sample_sets(run, 0)] == [f"a{r}" for r in range(40)]


# ---------------------------------------------------------------------------- scores, export


def _scored_run(store: RunStore):
    texts = prompts(4)
    backend = CountingBackend(fail_prompts=[texts[2]])
    sets = generate_with_store(
        backend, store, "scored", texts, 2, ANSWER_PARAMS, SAMPLE_PARAMS, chunk_size=3
    )
    scorers = ["normalized_probability", "mean_token_negentropy", "predictive_entropy_mc"]
    return sets, score(sets, scorers, on_error="nan")


def test_scores_round_trip_from_a_uqresult(store):
    _, result = _scored_run(store)
    assert store.record_scores("scored", result) == 4 * 3
    df = store.load_scores("scored")
    assert list(df["row"]) == [0, 1, 2, 3] and list(df["prompt"]) == result.columns["prompt"]
    for column in [
        *result.scorers,
        "perplexity",
        "mean_token_entropy_nats",
        "predictive_entropy_mc_nats",
    ]:
        np.testing.assert_array_equal(df[column].to_numpy(float), result.columns[column])
    assert math.isnan(df.loc[2, "normalized_probability"])  # the failed row
    assert list(df["score_errors"]) == result.columns["score_errors"]
    assert "generation failed" in df.loc[2, "score_errors"]["normalized_probability"]
    long = store.load_scores("scored", wide=False)
    assert len(long) == 12 and set(long["scorer"]) == set(result.scorers)
    # Re-recording replaces, never duplicates.
    store.record_scores("scored", result)
    assert len(store.load_scores("scored", wide=False)) == 12
    with pytest.raises(ValueError, match="result row 0 has prompt"):
        store.record_scores("scored", result, rows=[1, 0, 2, 3])


def test_export_jsonl_csv_parquet(store, tmp_path):
    texts = prompts(3)
    extras = [{"gold": "0", "prompt": "clash"}, {"gold": "2"}, {"gold": "4", "aliases": ["4"]}]
    store.create_run({"m": 1}, texts, extras, run_id="ex")
    backend = CountingBackend()
    sets = generate_with_store(backend, store, "ex", texts, 2, ANSWER_PARAMS, SAMPLE_PARAMS)
    store.record_score("ex", 0, "conf", 0.25, raw={"conf_raw": 7.0})
    store.record_score("ex", 1, "conf", math.nan, error="bad input")
    store.record_labels("ex", [True, False, None])
    assert store.load_labels("ex") == [True, False, None]
    store.record_labels("ex", {2: True})
    assert store.load_labels("ex") == [True, False, True]

    lines = store.export("ex", tmp_path / "out.jsonl").read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    assert [r["row"] for r in recs] == [0, 1, 2]
    assert recs[0]["answer"]["logprobs"] == sets[0].answer.logprobs.tolist()
    assert [s["text"] for s in recs[1]["samples"]] == sets[1].sample_texts
    assert (recs[0]["conf"], recs[0]["conf_raw"], recs[1]["conf"]) == (0.25, 7.0, None)
    assert recs[1]["score_errors"] == {"conf": "bad input"}
    assert (recs[0]["gold"], recs[0]["extra_prompt"], recs[0]["prompt"]) == ("0", "clash", texts[0])
    assert [r["correct"] for r in recs] == [True, False, True]

    csv = pd.read_csv(store.export("ex", tmp_path / "out.csv"))
    assert list(csv["prompt"]) == texts and list(csv["correct"]) == [True, False, True]
    assert json.loads(csv.loc[2, "sampled_responses"]) == sets[2].sample_texts
    assert csv.loc[0, "conf"] == 0.25 and math.isnan(csv.loc[2, "conf"])

    pq = pd.read_parquet(store.export("ex", tmp_path / "out.parquet"))
    assert list(pq["sampled_responses"][1]) == sets[1].sample_texts
    assert list(pq["response"]) == [s.answer.text for s in sets]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out")) == [
        "out.csv",
        "out.jsonl",
        "out.parquet",
    ]
    with pytest.raises(ValueError, match=r"\.jsonl, \.csv or \.parquet"):
        store.export("ex", tmp_path / "out.xlsx")


# ---------------------------------------------------------------------------- resume


def test_failed_generations_are_stored_returned_and_retried_on_resume(store):
    texts = prompts(4)
    flaky = CountingBackend(fail_prompts=[texts[1]])
    sets = generate_with_store(flaky, store, "r", texts, 2, ANSWER_PARAMS, SAMPLE_PARAMS)
    assert sets[1].answer.error == "boom" and all(s.failed for s in sets[1].samples)
    assert store.runs()[0].num_failed == 3
    healthy = CountingBackend()
    sets = generate_with_store(healthy, store, "r", texts, 2, ANSWER_PARAMS, SAMPLE_PARAMS)
    assert healthy.asked() == [
        (texts[1], "answer", 0),
        (texts[1], "sample", 0),
        (texts[1], "sample", 1),
    ]
    assert not any(g.failed for ss in sets for g in (ss.answer, *ss.samples))
    # Asking for more samples draws only the new index.
    more = CountingBackend()
    sets = generate_with_store(more, store, "r", None, 3, ANSWER_PARAMS, SAMPLE_PARAMS)
    assert [(k, n) for _, k, n in more.requests] == [("sample", 1)]
    assert more.generated == 4 and all(len(ss) == 3 for ss in sets)


def test_resume_refuses_other_prompts_or_sampling_parameters(store):
    texts = prompts(2)
    generate_with_store(CountingBackend(), store, "r", texts, 1, ANSWER_PARAMS, SAMPLE_PARAMS)
    hotter = SamplingParams(temperature=1.5, max_new_tokens=8, seed=0)
    with pytest.raises(RunMismatchError, match=r"sample_params\.temperature: stored 1.0"):
        generate_with_store(CountingBackend(), store, "r", texts, 1, ANSWER_PARAMS, hotter)
    with pytest.raises(RunMismatchError, match="row 1"):
        generate_with_store(
            CountingBackend(), store, "r", [texts[0], "other"], 1, ANSWER_PARAMS, SAMPLE_PARAMS
        )
    with pytest.raises(KeyError, match="pass prompts="):
        generate_with_store(CountingBackend(), store, "new", None, 1)


def test_store_callback_records_each_result_as_it_arrives(store):
    texts = prompts(3)
    store.create_run({}, texts, run_id="r")
    on_result = store_callback(store, "r", rows=[2, 0], kind="sample", idxs=[3, 4])
    on_result(0, 1, fake_generation(texts[2], "sample", 1, SAMPLE_PARAMS))
    assert _stored_keys(store.path, "r") == [(2, "sample", 4)]
    on_result(1, 0, fake_generation(texts[0], "sample", 0, SAMPLE_PARAMS))
    assert _stored_keys(store.path, "r") == [(0, "sample", 3), (2, "sample", 4)]


def test_sigkill_mid_call_then_resume_calls_the_llm_only_for_missing_rows(tmp_path):
    n, m, chunk = 10, 3, 2
    path, log = tmp_path / "runs.sqlite", tmp_path / "calls.log"
    # Calls alternate answers/samples per chunk of 2 rows; call 5 (chunk 3's answers) hangs.
    proc = _spawn("generate", path, "run", n, m, chunk, log, 5)
    _wait_for(proc, lambda: log.exists() and "blocked 5" in log.read_text(), "call 5")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    calls = log.read_text().splitlines()
    assert "end 4" in calls and "end 5" not in calls  # four calls done, the fifth in flight
    # Every finished call is stored, the one in flight is not: rows 0-3 complete.
    assert set(_stored_keys(path, "run")) == _all_keys(4, m)
    assert _integrity_ok(path)

    texts = prompts(n)
    with RunStore(path) as store:
        missing = store.missing_generations("run", m)
        assert set(missing) == _all_keys(n, m) - _all_keys(4, m)
        backend = CountingBackend()
        sets = generate_with_store(
            backend, store, "run", texts, m, ANSWER_PARAMS, SAMPLE_PARAMS, chunk_size=chunk
        )
        row_of = {p: i for i, p in enumerate(texts)}
        asked = [(row_of[p], k, j) for p, k, j in backend.asked()]
        assert backend.generated == len(missing) == (n - 4) * (1 + m)
        assert sorted(asked) == sorted(missing)  # each missing one once, nothing else
        again = CountingBackend()
        resumed_again = generate_with_store(
            again, store, "run", texts, m, ANSWER_PARAMS, SAMPLE_PARAMS
        )
        assert [_dump(s) for s in resumed_again] == [_dump(s) for s in sets]
        assert again.generated == 0

    keys = _stored_keys(path, "run")
    assert len(keys) == len(set(keys)) == n * (1 + m)  # every row exactly once
    assert set(keys) == _all_keys(n, m)
    uninterrupted = generate_sample_sets(
        CountingBackend(),
        texts,
        m,
        answer_params=ANSWER_PARAMS,
        sample_params=SAMPLE_PARAMS,
        progress=False,
    )
    assert [_dump(s) for s in sets] == [_dump(s) for s in uninterrupted]


def test_sigkill_at_an_arbitrary_moment_leaves_whole_calls_and_resumes(tmp_path):
    n, m = 8, 2
    path, log = tmp_path / "runs.sqlite", tmp_path / "calls.log"
    proc = _spawn("generate", path, "run", n, m, 1, log, 0, 0.03)
    _wait_for(proc, lambda: len(_stored_keys(path, "run")) >= 3, "three stored generations")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert _integrity_ok(path)
    stored = _stored_keys(path, "run")
    for row in range(n):  # a call's results are all stored or none are
        assert sum(1 for r, k, _ in stored if r == row and k == "sample") in (0, m)
    texts = prompts(n)
    with RunStore(path) as store:
        backend = CountingBackend()
        sets = generate_with_store(
            backend, store, "run", texts, m, ANSWER_PARAMS, SAMPLE_PARAMS, chunk_size=1
        )
    assert backend.generated == n * (1 + m) - len(stored)
    keys = _stored_keys(path, "run")
    assert len(keys) == len(set(keys)) and set(keys) == _all_keys(n, m)
    uninterrupted = generate_sample_sets(
        CountingBackend(),
        texts,
        m,
        answer_params=ANSWER_PARAMS,
        sample_params=SAMPLE_PARAMS,
        progress=False,
    )
    assert [_dump(s) for s in sets] == [_dump(s) for s in uninterrupted]


def test_two_processes_write_one_store_without_locking_errors(tmp_path):
    path, go = tmp_path / "runs.sqlite", tmp_path / "go"
    a = _spawn("write", path, "shared", 0, 20, 40, go, "own-a")
    b = _spawn("write", path, "shared", 20, 40, 40, go, "own-b")
    with RunStore(path) as store:
        for proc in (a, b):
            _wait_for(
                proc,
                lambda: store.has_run("own-a") and store.has_run("own-b"),
                "both workers to open their runs",
            )
        go.touch()  # both start writing at once
        results = [p.communicate(timeout=120) for p in (a, b)]
        for proc, (out, err) in zip((a, b), results, strict=True):
            assert proc.returncode == 0, err
            assert "locked" not in err and out.strip() == "written"
        keys = _stored_keys(path, "shared")
        assert len(keys) == len(set(keys)) == 40 * 3
        assert set(keys) == _all_keys(40, 2)
        assert len(store.load_scores("shared", wide=False)) == 40
        assert sorted(r.run_id for r in store.runs()) == ["own-a", "own-b", "shared"]
        assert [r.num_generations for r in store.runs() if r.run_id.startswith("own")] == [10, 10]
    assert _integrity_ok(path)


# ---------------------------------------------------------------------------- two processes


def test_two_processes_resuming_one_run_split_the_work(tmp_path):
    """issue 10: both used to call the LLM for every row (2x the cost)."""
    n, m = 12, 2
    path = tmp_path / "runs.sqlite"
    with RunStore(path) as store:  # the run exists before either starts
        store.create_run({"m": m}, prompts(n), run_id="run")
    logs, go = [tmp_path / "a.log", tmp_path / "b.log"], tmp_path / "go"
    procs = [_spawn("generate", path, "run", n, m, 1, log, 0, 0.05, go) for log in logs]
    for proc in procs:  # both started (a loaded machine may start one seconds later)
        _wait_for(proc, lambda: len(list(tmp_path.glob("go.ready.*"))) == 2, "both workers")
    go.touch()
    outs = [p.communicate(timeout=180) for p in procs]
    for proc, (_, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err
    generated = [int(out.split()[-1]) for out, _ in outs]
    # every cell drawn exactly once between them, and both did part of the work
    assert sum(generated) == n * (1 + m)
    assert all(g > 0 for g in generated)
    keys = _stored_keys(path, "run")
    assert len(keys) == len(set(keys)) == n * (1 + m)
    with RunStore(path) as store:
        assert not store.missing_generations("run", m)


def test_a_row_drawn_elsewhere_between_the_read_and_the_claim_is_not_drawn_again(store):
    """The CI race of issue 10's test: the other process finished a row and released it
    after this one read what is missing and before it claimed the row."""
    n, m = 3, 2
    texts = prompts(n)
    store.create_run({}, texts, run_id="run")
    real_claim = store.claim_rows
    finished_elsewhere: list[int] = []

    def claim_after_another_finished(run_id, rows, owner, **kwargs):
        if not finished_elsewhere:  # the other process completes the first free row
            row = rows[0]
            finished_elsewhere.append(row)
            store.record_generations(
                run_id,
                [(row, "answer", 0, _gen("theirs"))]
                + [(row, "sample", j, _gen(f"theirs {j}")) for j in range(m)],
            )
        return real_claim(run_id, rows, owner, **kwargs)

    store.claim_rows = claim_after_another_finished
    backend = CountingBackend()
    sets = generate_with_store(
        backend, store, "run", texts, m, ANSWER_PARAMS, SAMPLE_PARAMS, chunk_size=1
    )
    assert finished_elsewhere == [0]
    assert backend.generated == (n - 1) * (1 + m)  # row 0 is never asked for
    assert all(texts[0] not in prompts_ for prompts_, _, _ in backend.requests)
    assert sets[0].answer.text == "theirs"
    assert [g.text for g in sets[0].samples] == ["theirs 0", "theirs 1"]
    assert not store.missing_generations("run", m)


def test_missing_generations_of_some_rows(store):
    store.create_run({}, prompts(4), run_id="r")
    store.record_generations("r", [(1, "answer", 0, _gen("a")), (2, "sample", 0, _gen("s"))])
    assert store.missing_generations("r", 1, rows=[2, 1, 9]) == [(1, "sample", 0), (2, "answer", 0)]
    assert store.missing_generations("r", 1, rows=[]) == []
    assert store.missing_generations("r", 1, rows=[3]) == [(3, "answer", 0), (3, "sample", 0)]


def test_a_killed_processes_leases_free_themselves_at_once(store):
    run = store.create_run({}, prompts(3), run_id="r")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    with sqlite3.connect(store.path) as conn:  # leases left by a gone and a live process
        conn.execute(
            "INSERT INTO leases VALUES (?, 0, 'gone', ?, ?, ?)",
            (run, socket.gethostname(), pid, time.time() + 600),
        )
        conn.execute(
            "INSERT INTO leases VALUES (?, 1, 'alive', ?, ?, ?)",
            (run, socket.gethostname(), os.getpid(), time.time() + 600),
        )
    assert store.claim_rows(run, [0, 1, 2], "me") == [0, 2]  # row 1's holder still runs
    assert store.claim_rows(run, [0, 1, 2], "other") == []  # mine now, and 'alive''s
    store.release_rows(run, [0], "me")
    assert store.claim_rows(run, [0, 1, 2], "other", limit=1) == [0]


def test_a_version_1_store_is_upgraded_in_place(tmp_path):
    path = tmp_path / "v1.sqlite"
    with RunStore(path) as store:
        store.create_run({}, ["q"], run_id="r")
    with sqlite3.connect(path) as conn:  # make it look like lmuq 0.1 wrote it
        conn.execute("DROP TABLE leases")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with RunStore(path) as store:
        assert store.claim_rows("r", [0], "me") == [0]
        assert store.load_prompts("r") == ["q"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
            "2",
        )
