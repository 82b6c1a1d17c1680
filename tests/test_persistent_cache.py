"""Persistent NLI and embedding caches: shared across objects and processes, LRU-bounded."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import types
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from lmuq.scoring import score
from lmuq.scoring.context import ScoringContext
from lmuq.statistics import embeddings as embeddings_module
from lmuq.statistics.nli_cache import CachedNLI
from lmuq.statistics.nli_view import NLIView
from lmuq.storage import (
    ContentHash,
    PersistentCachedNLI,
    PersistentEmbeddingCache,
    PersistentNLICache,
    default_stats_dir,
    embedding_key,
)
from lmuq.types import Generation, SampleSet
from nli_fakes import RuleNLI

WORKER = Path(__file__).with_name("resume_worker.py")
PAIR_BYTES = 16 + 1 + 3 * 8  # key + model name "m" + three float64


def _probs(i: float) -> np.ndarray:
    return np.array([i / 10, 0.5 - i / 10, 0.5])


def test_default_location_is_under_the_lmuq_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LMUQ_CACHE_DIR", str(tmp_path))
    assert default_stats_dir() == tmp_path / "stats"
    with PersistentNLICache() as cache:
        assert cache.path == tmp_path / "stats" / "nli.sqlite3"
    with PersistentEmbeddingCache() as cache:
        assert cache.path == tmp_path / "stats" / "embeddings.sqlite3"


def test_nli_pairs_are_computed_once_and_served_after_reopening(tmp_path):
    path = tmp_path / "nli.sqlite3"
    model = RuleNLI()
    nli = PersistentCachedNLI(model, PersistentNLICache(path))
    premises = ["Paris", "Paris", "It is 4", "Paris"]
    hypotheses = ["paris.", "Berlin is nice", "It is 5", "paris."]
    first = nli.predict_proba(premises, hypotheses)
    assert model.pairs_run == 3 and (nli.misses, nli.hits) == (3, 1)  # a repeat is a hit
    np.testing.assert_array_equal(first, RuleNLI().predict_proba(premises, hypotheses))
    assert nli.get("Paris", "paris.") is not None and nli.get("paris.", "Paris") is None
    nli.cache.close()

    fresh_model = RuleNLI()
    reopened = PersistentCachedNLI(fresh_model, PersistentNLICache(path))
    again = reopened.predict_proba(premises, hypotheses)
    np.testing.assert_array_equal(again, first)
    assert fresh_model.pairs_run == 0 and (reopened.hits, reopened.misses) == (4, 0)
    assert reopened.cache.stats().hits == 4 and len(reopened) == 3
    # A model with another name shares nothing.
    other = PersistentCachedNLI(RuleNLI(name="other-nli"), reopened.cache)
    other.predict_proba(["Paris"], ["paris."])
    assert other.misses == 1 and reopened.cache.stats().entries == 4
    reopened.clear()  # this model's entries only
    assert len(reopened) == 0 and len(other) == 1


def _sets() -> list[SampleSet]:
    def gen(t: str) -> Generation:
        return Generation(text=t, logprobs=[-0.2])

    rows = [
        ("Capital of France?", "Paris", ["Paris.", "paris", "Lyon is in France", "Berlin"]),
        ("What is 2 + 2?", "It is 4", ["It is 4.", "It is 5", "It is 4", "4"]),
    ]
    return [SampleSet(q, gen(a), [gen(s) for s in samples]) for q, a, samples in rows]


def test_nli_adapter_drives_the_nli_scorers_like_cached_nli(tmp_path):
    scorers = ["semantic_negentropy", "noncontradiction", "luq"]
    expected = score(_sets(), scorers, ScoringContext(nli=CachedNLI(RuleNLI())))
    path = tmp_path / "nli.sqlite3"
    model = RuleNLI()
    got = score(
        _sets(), scorers, ScoringContext(nli=PersistentCachedNLI(model, PersistentNLICache(path)))
    )
    assert got.columns == expected.columns
    assert model.pairs_run > 0
    # A later run (a new process would be the same: only the file is shared) computes nothing.
    model2 = RuleNLI()
    cache2 = PersistentNLICache(path)
    again = score(_sets(), scorers, ScoringContext(nli=PersistentCachedNLI(model2, cache2)))
    assert again.columns == expected.columns and model2.pairs_run == 0
    view = NLIView(PersistentCachedNLI(model2, cache2), question="Q?", compute=True)
    np.testing.assert_array_equal(view("Paris", "Berlin"), RuleNLI.rule("Q? Paris", "Q? Berlin"))
    assert model2.pairs_run == 1


def test_lru_eviction_keeps_the_recently_used_entries_within_max_bytes(tmp_path):
    path = tmp_path / "nli.sqlite3"
    cache = PersistentNLICache(path, max_bytes=3 * PAIR_BYTES, memory_bytes=0)
    for i, name in enumerate("abc"):
        cache.put("m", name, "h", _probs(i))
    assert (cache.stats().entries, cache.stats().bytes) == (3, 3 * PAIR_BYTES)
    np.testing.assert_array_equal(cache.get("m", "a", "h"), _probs(0))  # a: recently used
    cache.put("m", "d", "h", _probs(3))  # evicts b, the least recently used
    stats = cache.stats()
    assert (stats.entries, stats.bytes) == (3, 3 * PAIR_BYTES) and stats.bytes <= stats.max_bytes
    cache.put("m", "e", "h", _probs(4))  # now c is the oldest
    with PersistentNLICache(path, max_bytes=3 * PAIR_BYTES) as other:
        present = {n for n in "abcde" if other.get("m", n, "h") is not None}
    assert present == {"a", "d", "e"}
    # One entry larger than the bound is not kept.
    tiny = PersistentNLICache(tmp_path / "tiny.sqlite3", max_bytes=PAIR_BYTES - 1)
    tiny.put("m", "a", "h", _probs(0))
    assert tiny.stats().entries == 0


def test_clear_empties_the_file_and_shrinks_it(tmp_path):
    cache = PersistentEmbeddingCache(tmp_path / "emb.sqlite3", flush_every=10_000)
    rng = np.random.default_rng(0)
    for i in range(1500):
        cache[("m1" if i % 2 else "m2", f"text {i}")] = rng.normal(size=64)
    cache.flush()
    before = cache.stats()
    assert before.entries == 1500 and before.bytes == 1500 * (16 + 2 + 64 * 4)
    cache.clear("m1")
    assert cache.count("m1") == 0 and cache.count("m2") == 750
    assert ("m1", "text 1") not in cache and ("m2", "text 0") in cache
    cache.clear()
    after = cache.stats()
    assert (after.entries, after.bytes, len(cache)) == (0, 0, 0)
    assert after.file_bytes < before.file_bytes / 4


def test_embedding_cache_is_a_mapping_keyed_by_content_hash(tmp_path):
    path = tmp_path / "emb.sqlite3"
    cache = PersistentEmbeddingCache(path)
    cache[("m", "hello")] = np.array([1.0, 2.0, 3.0])
    value = cache[("m", "hello")]
    assert value.dtype == np.float32 and not value.flags.writeable
    np.testing.assert_array_equal(value, [1, 2, 3])
    assert ("m", "hello") in cache and ("m", "bye") not in cache and ("x", "hello") not in cache
    assert (cache.hits, cache.misses) == (1, 2)
    assert cache.get(("m", "bye"), "default") == "default" and "junk" not in cache
    with pytest.raises(KeyError):
        cache[("m", "bye")]
    assert list(cache) == [("m", embedding_key("hello"))]
    assert isinstance(next(iter(cache))[1], ContentHash)
    cache.close()
    reopened = PersistentEmbeddingCache(path)
    np.testing.assert_array_equal(reopened[("m", "hello")], [1, 2, 3])
    del reopened[next(iter(reopened))]
    assert len(reopened) == 0
    with pytest.raises(ValueError, match="1-D"):
        reopened[("m", "2d")] = np.zeros((2, 2))
    # Texts are stored as hashes only.
    reopened[("m", "a very distinctive sentence")] = np.ones(2)
    reopened.close()
    assert b"distinctive" not in path.read_bytes()


class _FakeSentenceTransformer:
    """Stands in for sentence_transformers.SentenceTransformer: 4-d vectors from a hash."""

    encoded: ClassVar[list[str]] = []

    def __init__(self, source: str, device: str | None = None) -> None:
        self.source = source

    def get_embedding_dimension(self) -> int:
        return 4

    def encode(self, texts, batch_size, show_progress_bar, convert_to_numpy):
        type(self).encoded.extend(texts)
        return np.array([[len(t), sum(map(ord, t)) % 7, 1.0, 2.0] for t in texts])


def _embedder(monkeypatch, cache):
    fake = types.SimpleNamespace(SentenceTransformer=_FakeSentenceTransformer)
    monkeypatch.setattr(embeddings_module, "require", lambda *a, **k: fake)
    monkeypatch.setattr(embeddings_module, "resolve_model_source", lambda m: ("src", "fake-st"))
    return embeddings_module.SentenceEmbedder(cache=cache)


def test_sentence_embedder_uses_the_persistent_cache_across_objects(tmp_path, monkeypatch):
    _FakeSentenceTransformer.encoded = []
    path = tmp_path / "emb.sqlite3"
    texts = ["Paris", "Berlin", "Paris", "Rome"]
    first = _embedder(monkeypatch, PersistentEmbeddingCache(path))
    out = first.encode(texts)
    assert _FakeSentenceTransformer.encoded == ["Paris", "Berlin", "Rome"]
    first.cache.close()

    second = _embedder(monkeypatch, PersistentEmbeddingCache(path))
    np.testing.assert_array_equal(second.encode(texts), out)
    assert second.encode_calls == 0 and len(_FakeSentenceTransformer.encoded) == 3
    second.encode(["Madrid"])
    assert _FakeSentenceTransformer.encoded[-1] == "Madrid"
    second.clear_cache()  # iterates the keys and deletes this model's
    assert len(second.cache) == 0


def test_buffered_embeddings_reach_the_file_when_the_process_exits(tmp_path):
    path = tmp_path / "emb.sqlite3"
    done = subprocess.run(
        [sys.executable, str(WORKER), "embed", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "embedded 3"  # still buffered when the script ended
    with PersistentEmbeddingCache(path) as cache:
        assert len(cache) == 3
        np.testing.assert_array_equal(cache[("emb-model", "text 2")], np.full(4, 2.5))


def test_a_newer_schema_or_another_kind_of_cache_is_refused(tmp_path):
    path = tmp_path / "nli.sqlite3"
    PersistentNLICache(path).close()
    with pytest.raises(ValueError, match=r"holds <f8 arrays, not <f4"):
        PersistentEmbeddingCache(path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    with pytest.raises(ValueError, match="schema version 7"):
        PersistentNLICache(path)
    with pytest.raises(ValueError, match="max_bytes"):
        PersistentNLICache(tmp_path / "x.sqlite3", max_bytes=0)


def test_two_cache_objects_write_one_file_concurrently(tmp_path):
    path = tmp_path / "nli.sqlite3"
    caches = [PersistentNLICache(path, memory_bytes=0) for _ in range(2)]
    errors: list[BaseException] = []

    def work(cache: PersistentNLICache, tag: str) -> None:
        try:
            for i in range(100):
                cache.put("m", f"{tag}{i}", "h", _probs(i % 5))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(c, t)) for c, t in zip(caches, "xy", strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert caches[0].stats().entries == 200 and caches[0].stats().bytes == 200 * PAIR_BYTES
    np.testing.assert_array_equal(caches[0].get("m", "y42", "h"), _probs(2))
