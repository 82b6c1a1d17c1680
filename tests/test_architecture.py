"""The house rules, checked: one registry behind the docs, declared ranges that hold.

* the README's scorer tables are exactly what the registry writes;
* every registered scorer, on random inputs, gives a confidence in [0, 1] (or NaN with a
  reason) and raw values inside its declared ``raw_range``;
* every family's declarations are in the one registry, under unique names.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

from lmuq.backends import FakeBackend
from lmuq.scoring import (
    SCORERS,
    ScoringContext,
    blackbox,
    internals,
    judged,
    longform,
    score,
    scorers_of,
    whitebox,
)
from lmuq.scoring.catalogue import markdown_table, update_tables
from lmuq.scoring.spec import FAMILIES
from lmuq.types import Generation, ModelInternals, SampleSet
from nli_fakes import RuleNLI

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_scorer_tables_are_generated_from_the_registry():
    text = README.read_text(encoding="utf-8")
    for family in FAMILIES:
        assert f"<!-- scorers:{family} -->\n{markdown_table(family)}<!-- /scorers -->" in text
    assert update_tables(text) == text, (
        "README.md's scorer tables differ from the registry: run "
        "`python -m lmuq.scoring.catalogue README.md`"
    )


def test_every_family_is_registered_once():
    declared = [
        *whitebox.SPECS,
        *internals.SPECS,
        *blackbox.SPECS,
        *judged.SPECS,
        *longform.SPECS,
    ]
    assert [s.name for s in declared] == list(SCORERS)
    assert len(set(SCORERS)) == len(SCORERS)
    assert {s.family for s in declared} == set(FAMILIES)
    for family in FAMILIES:
        assert all(s.family == family for s in scorers_of(family).values())


# --------------------------------------------------------------------------- random inputs


class HashEmbedder:
    """Deterministic pseudo-embeddings: a text's hash seeds a 16-dim Gaussian vector."""

    name = "hash-embedder"

    def encode(self, texts):
        rows = []
        for t in texts:
            seed = int.from_bytes(hashlib.blake2b(t.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).normal(size=16)
            rows.append(v / np.linalg.norm(v))
        return np.array(rows).reshape(len(rows), 16)


class OverlapBERTScorer:
    """BERTScore stand-in: token-overlap F1 in [0, 1]."""

    def f1(self, candidates, references):
        out = []
        for c, r in zip(candidates, references, strict=True):
            a, b = set(c.lower().split()), set(r.lower().split())
            out.append(0.0 if not a or not b else 2 * len(a & b) / (len(a) + len(b)))
        return np.array(out)


class SignedBLEURT:
    """BLEURT stand-in whose raw values leave [0, 1] (as BLEURT-20's can)."""

    def score(self, candidates, references):
        return np.array(
            [1.3 if c == r else -0.4 for c, r in zip(candidates, references, strict=True)]
        )


WORDS = ["Paris", "Lyon", "the", "capital", "is", "France", "42", "7", "Rome", "maybe"]


# A token id is its word's index in WORDS: decode_token reads it back.
def _decode(token_id: int) -> str:
    return WORDS[token_id]


def _generation(rng: np.random.Generator) -> Generation:
    n_tok = int(rng.integers(1, 6))
    k = 4
    logits = rng.normal(scale=3.0, size=(n_tok, 50))
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    top = -np.sort(-logp, axis=1)[:, :k]
    top_ids = np.array([rng.permutation(len(WORDS))[:k] for _ in range(n_tok)])
    pick = rng.integers(0, k, size=n_tok)
    chosen = top[np.arange(n_tok), pick]
    ids = top_ids[np.arange(n_tok), pick]
    tokens = tuple(("" if t == 0 else " ") + WORDS[i] for t, i in enumerate(ids))
    return Generation(
        "".join(tokens),
        logprobs=chosen,
        token_ids=tuple(int(i) for i in ids),
        tokens=tokens,
        top_logprobs=top,
        top_token_ids=top_ids,
        internals=_internals(rng, n_tok),
    )


def _internals(rng: np.random.Generator, n_tok: int, layers: int = 6, heads: int = 3):
    """Random model internals: attention weights in (0, 1], a prompt of 4 positions."""
    return ModelInternals(
        token_attention=rng.uniform(1e-6, 1.0, size=(layers, heads, n_tok - 1)),
        prompt_log_attention=np.log(rng.uniform(1e-6, 1.0, size=(layers, heads, 4))).sum(-1),
        embedding=rng.normal(size=8),
        embedding_layer=layers // 2,
    )


def _random_sets(seed: int, n: int = 25) -> list[SampleSet]:
    rng = np.random.default_rng(seed)
    sets = []
    for i in range(n):
        m = int(rng.integers(2, 6))
        answer = _generation(rng)
        # about a third of the samples repeat the answer, so agreement varies
        samples = [answer if rng.random() < 0.35 else _generation(rng) for _ in range(m)]
        sets.append(SampleSet(f"question {i}?", answer, samples))
    return sets


def _judge_reply(prompt: str, params, j: int) -> str:
    h = hashlib.blake2b(prompt.encode()).digest()[0]
    return ["Confidence: 0.8", "Correct", "Incorrect", "35%", "Partially correct", "no idea"][h % 6]


@pytest.mark.parametrize(
    ("seed", "similarity"), [(0, "embedding"), (1, "embedding"), (2, "embedding"), (0, "nli")]
)
def test_every_scorer_stays_in_its_declared_range(seed, similarity):
    from lmuq.statistics.nli_cache import CachedNLI

    ctx = ScoringContext(
        nli=CachedNLI(RuleNLI()),
        embedder=HashEmbedder(),
        bertscorer=OverlapBERTScorer(),
        bleurt=SignedBLEURT(),
        judge=FakeBackend(_judge_reply),
        decode_token=_decode,
        similarity=similarity,
    )
    # p_true needs top-k token ids: the judge's reply has none, so it is NaN with a reason.
    result = score(_random_sets(seed), list(SCORERS), ctx, on_error="nan")
    for name, spec in SCORERS.items():
        values = np.array(result.columns[name], dtype=float)
        finite = values[np.isfinite(values)]
        assert np.all((finite >= 0.0) & (finite <= 1.0)), (name, finite)
        for i, v in enumerate(values):
            if math.isnan(v):
                assert name in result.columns["score_errors"][i], (name, i)
        lo, hi = spec.raw_range
        for col in spec.raw_columns:
            raw = np.array(result.columns[col], dtype=float)
            raw = raw[np.isfinite(raw) | np.isinf(raw)]
            assert np.all((raw >= lo) & (raw <= hi)), (name, col, raw.min(), raw.max())
    # the white-box and black-box scorers are defined on every one of these inputs
    for name in [*scorers_of("white-box"), *scorers_of("black-box")]:
        assert not any(math.isnan(v) for v in result.columns[name]), name
    for name in ("verbalized_confidence", "llm_judge"):  # some replies read, some not
        finite = [v for v in result.columns[name] if not math.isnan(v)]
        assert 0 < len(finite) < len(result.columns[name]), name
