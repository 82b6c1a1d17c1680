"""Scoring on Ray Data equals the local path, row by row, on a local Ray instance.

The actors must import ``nli_fakes`` (for the RuleNLI factory): it is shipped to them with
``runtime_env={"py_modules": [...]}``, since ``tests/`` is not on the workers' path.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import ray

import nli_fakes
from lmuq.app.score_file import score_jsonl
from lmuq.compat.uqlm import BlackBoxUQ
from lmuq.distributed.ray_scoring import (
    BatchScorer,
    EmbedderFactory,
    score_dataset_on_ray,
    score_jsonl_on_ray,
    score_records_on_ray,
)
from lmuq.scoring import score
from lmuq.scoring.whitebox import WHITEBOX_SCORERS
from lmuq.statistics.embeddings import DEFAULT_SENTENCE_MODEL_NAME, SentenceEmbedder
from lmuq.storage.embedding_cache import PersistentEmbeddingCache
from lmuq.types import Generation, SampleSet
from nli_fakes import RuleNLI, build_tiny_nli_model

EXACT = ["exact_match", "rouge_l", "semantic_negentropy", "noncontradiction"]
WHITE = ["normalized_probability", "predictive_entropy_mc"]
SCORERS = [*EXACT, "cosine_sim", *WHITE]
RAW = ["semantic_entropy_nats", "num_semantic_sets", "perplexity", "predictive_entropy_mc_nats"]
BLACKBOX_KWARGS = {"equivalence": "normalized_match", "nli_factory": RuleNLI}

POOL = [
    "Paris",
    "paris.",
    "Paris is the capital of France",
    "Lyon",
    "Marseille is the capital",
    "The answer is 42",
    "42",
    "It is 7",
    "I think it is 7 or so",
    "Berlin",
    "Ünïcödé answer",
]


def _records(n: int = 40) -> list[dict]:
    rng = random.Random(7)
    rows = []
    for i in range(n):
        samples = [rng.choice(POOL) for _ in range(2 + i % 4)]
        rec = {
            "id": i,
            "prompt": f"Question {i}: what is it?",
            "response": rng.choice(POOL),
            "sampled_responses": samples,
            "logprobs": [round(-rng.random(), 6) for _ in range(1 + i % 3)],
            # Every fifth row has no sample log-probs: predictive_entropy_mc is NaN there.
            "sampled_logprobs": None
            if i % 5 == 0
            else [[round(-rng.random(), 6) for _ in range(2)] for _ in samples],
        }
        rows.append(rec)
    return rows


def _sets(records: list[dict]) -> list[SampleSet]:
    out = []
    for rec in records:
        lps = rec.get("sampled_logprobs")
        samples = [
            Generation(s, logprobs=None if lps is None else lps[j])
            for j, s in enumerate(rec["sampled_responses"])
        ]
        out.append(
            SampleSet(rec["prompt"], Generation(rec["response"], logprobs=rec["logprobs"]), samples)
        )
    return out


def _local(records: list[dict], embedder: SentenceEmbedder) -> dict[str, list]:
    """The local path: one BlackBoxUQ over all rows, white-box scorers apart."""
    sets = _sets(records)
    black = [s for s in SCORERS if s not in WHITEBOX_SCORERS]
    bb = BlackBoxUQ(
        scorers=black,
        use_best=False,
        equivalence="normalized_match",
        nli_model=RuleNLI(),
        embedder=embedder,
    )
    cols = dict(bb.score_sample_sets(sets).columns)
    white = score(sets, WHITE, on_error="nan").columns
    errors = [{**a, **b} for a, b in zip(cols["score_errors"], white["score_errors"], strict=True)]
    cols.update(white)
    cols["score_errors"] = errors
    return cols


def _assert_close(got, want, atol: float, what: str) -> None:
    got = np.array([math.nan if v is None else v for v in got], dtype=np.float64)
    want = np.array([math.nan if v is None else v for v in want], dtype=np.float64)
    np.testing.assert_allclose(got, want, rtol=0, atol=atol, equal_nan=True, err_msg=what)


def _assert_matches_local(df: pd.DataFrame, local: dict[str, list]) -> None:
    for name in [*EXACT, *WHITE, *RAW]:
        _assert_close(df[name].tolist(), local[name], 1e-9, name)
    _assert_close(df["cosine_sim"].tolist(), local["cosine_sim"], 1e-5, "cosine_sim")
    assert [json.loads(e) for e in df["score_errors"]] == local["score_errors"]


@pytest.fixture(scope="module")
def ray_local():
    ctx = ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"py_modules": [str(Path(nli_fakes.__file__))]},
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ctx
    ray.shutdown()


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder()


def test_ray_scores_equal_local_scores_row_by_row(ray_local, embedder, tmp_path):
    records = _records()
    local = _local(records, embedder)
    # The data exercises what it should: NaN scores with reasons, several clusters.
    assert sum(math.isnan(v) for v in local["predictive_entropy_mc"]) == 8
    assert len(set(local["num_semantic_sets"])) > 2
    cache_path = tmp_path / "emb.sqlite3"
    df = score_records_on_ray(
        records,
        SCORERS,
        blackbox_kwargs={
            **BLACKBOX_KWARGS,
            "embedder_factory": EmbedderFactory(cache_path=str(cache_path)),
        },
        batch_size=8,
        concurrency=2,
        num_cpus_per_actor=0.5,
    )
    assert df["id"].tolist() == list(range(40))  # input order kept
    _assert_matches_local(df, local)
    assert df["score_errors"][0] != "{}" and json.loads(df["score_errors"][1]) == {}
    # Pass-through and list columns survive the round trip.
    assert df["prompt"].tolist() == [r["prompt"] for r in records]
    assert [list(s) for s in df["sampled_responses"]] == [r["sampled_responses"] for r in records]
    assert [list(v) for v in df["logprobs"]] == [r["logprobs"] for r in records]
    # Every actor flushed its persistent embeddings: all distinct texts are on disk.
    distinct = {t for r in records for t in (r["response"], *r["sampled_responses"])}
    with PersistentEmbeddingCache(cache_path) as cache:
        assert cache.count(DEFAULT_SENTENCE_MODEL_NAME) == len(distinct)


def test_dataset_input_stays_lazy_and_streams(ray_local, embedder):
    records = _records(24)
    ds = ray.data.from_items(records)
    scored = score_dataset_on_ray(
        ds, EXACT, blackbox_kwargs=BLACKBOX_KWARGS, batch_size=5, concurrency=1
    )
    assert isinstance(scored, ray.data.Dataset)
    rows = []
    for batch in scored.iter_batches(batch_size=7, batch_format="pandas"):
        rows.extend(batch.to_dict("records"))
    local = _local(records, embedder)
    assert [r["id"] for r in rows] == list(range(24))
    for name in EXACT:
        _assert_close([r[name] for r in rows], local[name], 1e-9, name)


def test_jsonl_round_trip_equals_local_score_jsonl(ray_local, tmp_path):
    """score_jsonl_on_ray writes what score_jsonl writes, with a real (tiny) HF NLI model."""
    nli_dir = build_tiny_nli_model(tmp_path / "nli")
    records = _records()
    records[3]["response"] = "42"  # a numeric-looking string must stay a string
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    scorers = ["exact_match", "noncontradiction", "semantic_negentropy", *WHITE]
    local_out = tmp_path / "local.jsonl"
    score_jsonl(src, local_out, scorers, nli_model=str(nli_dir), progress=False)
    local = [json.loads(line) for line in local_out.read_text("utf-8").splitlines()]

    out = score_jsonl_on_ray(
        src,
        tmp_path / "ray_out",
        scorers,
        blackbox_kwargs={"nli_model_name": str(nli_dir)},
        batch_size=8,
        concurrency=2,
        num_cpus_per_actor=0.5,
    )
    files = sorted(out.glob("*.json*"))
    assert files
    got = [json.loads(line) for f in files for line in f.read_text("utf-8").splitlines()]
    got.sort(key=lambda r: r["id"])
    assert [r["id"] for r in got] == list(range(40))
    assert got[3]["response"] == "42"
    assert got[0]["sampled_logprobs"] is None and got[0]["predictive_entropy_mc"] is None
    for name in [*scorers, "semantic_entropy_nats", "num_semantic_sets"]:
        # HF NLI batches differ between the paths (padding): agree to float noise.
        _assert_close([r[name] for r in got], [r[name] for r in local], 1e-5, name)
    assert [json.loads(r["score_errors"]) for r in got] == [r["score_errors"] for r in local]
    assert [r["sampled_responses"] for r in got] == [r["sampled_responses"] for r in local]

    with pytest.raises(FileExistsError):
        score_jsonl_on_ray(src, out, scorers, blackbox_kwargs={"nli_model_name": str(nli_dir)})


def test_parquet_output(ray_local, tmp_path):
    src = tmp_path / "in.jsonl"
    records = _records(12)
    src.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    out = score_jsonl_on_ray(
        src,
        tmp_path / "pq",
        ["exact_match", "rouge_l"],
        output_format="parquet",
        batch_size=4,
        concurrency=1,
    )
    df = pd.concat(pd.read_parquet(f) for f in sorted(out.glob("*.parquet"))).sort_values("id")
    scorer = BatchScorer(["exact_match", "rouge_l"])
    want = scorer(pd.DataFrame(records))
    _assert_close(df["exact_match"].tolist(), want["exact_match"].tolist(), 1e-12, "exact")
    _assert_close(df["rouge_l"].tolist(), want["rouge_l"].tolist(), 1e-12, "rouge")
    assert df["exact_match"].dtype == np.float64


def test_a_pool_holding_every_cpu_is_refused(ray_local):
    # 2 actors x 1 CPU on a 2-CPU instance would starve the read/write tasks forever.
    with pytest.raises(ValueError, match="wait forever"):
        score_dataset_on_ray(_records(4), ["exact_match"], concurrency=2, num_cpus_per_actor=1)
    ds = score_dataset_on_ray(
        _records(4), ["exact_match"], concurrency=2, num_cpus_per_actor=1, check_resources=False
    )
    assert isinstance(ds, ray.data.Dataset)  # built, never run


# ------------------------------------------------------------------ without Ray workers


def test_batch_scorer_bounds_its_in_memory_caches():
    records = _records(10)
    bounded = BatchScorer(EXACT, {**BLACKBOX_KWARGS}, cache_limit=0)
    unbounded = BatchScorer(EXACT, {**BLACKBOX_KWARGS}, cache_limit=None)
    a = bounded(pd.DataFrame(records))
    b = unbounded(pd.DataFrame(records))
    assert bounded.cache_info()["nli_cached"] == 0
    assert unbounded.cache_info()["nli_cached"] > 0
    pd.testing.assert_frame_equal(a, b)
    # A second batch after clearing still scores the same.
    pd.testing.assert_frame_equal(bounded(pd.DataFrame(records)), b)


def test_batch_scorer_reports_bad_rows_by_id():
    rec = _records(2)
    rec[1]["sampled_responses"] = []
    with pytest.raises(ValueError, match=r"id=1.*sampled_responses"):
        BatchScorer(["exact_match"])(pd.DataFrame(rec))


def test_batch_scorer_writes_what_score_jsonl_writes_with_use_best(tmp_path):
    records = _records(12)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    scorers = ["exact_match", "semantic_negentropy", "normalized_probability"]
    score_jsonl(
        src,
        tmp_path / "out.jsonl",
        scorers,
        equivalence="normalized_match",
        use_best=True,
        progress=False,
    )
    want = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text("utf-8").splitlines()]
    got = BatchScorer(scorers, {"equivalence": "normalized_match", "use_best": True})(
        pd.DataFrame(records)
    )
    assert got["response"].tolist() == [r["response"] for r in records]  # input's own stays
    assert got["best_response"].tolist() == [w["best_response"] for w in want]
    assert got["best_response"].tolist() != got["response"].tolist()
    assert set(want[0]) - {"score_errors"} <= set(got.columns)
    for name in [*scorers, "num_semantic_sets", "semantic_entropy_nats", "perplexity"]:
        _assert_close(got[name].tolist(), [w[name] for w in want], 1e-12, name)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"scorers": ["nope"]}, ValueError),
        ({"blackbox_kwargs": {"nli_factory": RuleNLI, "nli_model": RuleNLI()}}, ValueError),
        ({"blackbox_kwargs": {"nli_factory": "not callable"}}, TypeError),
        ({"blackbox_kwargs": {"equivalence": "bogus"}}, ValueError),
        ({"blackbox_kwargs": {"llm": object()}}, ValueError),
        ({"concurrency": 0}, ValueError),
        ({"batch_size": 0}, ValueError),
    ],
)
def test_options_are_checked_on_the_driver(kwargs, error):
    args = {"scorers": ["exact_match"], **kwargs}
    with pytest.raises(error):
        score_dataset_on_ray([{"response": "a", "sampled_responses": ["a"]}], **args)
