"""Sentence embeddings and BERTScore with the packaged all-MiniLM-L6-v2, fully offline."""

from __future__ import annotations

import os

# Nothing may touch the Hugging Face hub: everything loads from the package folder.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import pytest

from lmuq.statistics.bertscore import BERTScorer
from lmuq.statistics.embeddings import (
    DEFAULT_SENTENCE_MODEL_NAME,
    SentenceEmbedder,
    default_sentence_model_path,
    resolve_model_source,
)

PARAPHRASE = ("The cat sat on the mat.", "A cat was sitting on the mat.")
UNRELATED = "Quantum chromodynamics describes the strong interaction between quarks."

PAIRS = [
    ("The cat sat on the mat.", "A cat was sitting on the mat."),
    ("Paris", "The capital of France is Paris."),
    ("Paris.", "paris"),
    ("It is 42", "The answer is forty-two."),
    ("  I think the answer is Berlin, but I am not sure. ", "Berlin."),
    ("yes", "no"),
]


@pytest.fixture(scope="module")
def embedder():
    return SentenceEmbedder(device="cpu")


@pytest.fixture(scope="module")
def scorer():
    return BERTScorer(device="cpu")


# --------------------------------------------------------------------------- model location


def test_default_model_path_is_the_packaged_minilm():
    path = default_sentence_model_path()
    assert (path / "config.json").is_file()
    assert (path / "model.safetensors").is_file()
    assert (path / "modules.json").is_file()
    source, name = resolve_model_source(None)
    assert source == str(path)
    assert name == DEFAULT_SENTENCE_MODEL_NAME
    # The hub ids of the packaged model resolve to it too, so they work offline.
    assert resolve_model_source("all-MiniLM-L6-v2") == (source, name)
    assert resolve_model_source(DEFAULT_SENTENCE_MODEL_NAME) == (source, name)


def test_missing_paths_raise_file_not_found(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_model_source(missing)
    with pytest.raises(FileNotFoundError):
        resolve_model_source("./no/such/model")
    with pytest.raises(FileNotFoundError):
        SentenceEmbedder(str(missing))
    with pytest.raises(FileNotFoundError):
        BERTScorer(missing)
    # An owner/name string is a hub id, not a path: passed on unchanged.
    assert resolve_model_source("org/model") == ("org/model", "org/model")


# --------------------------------------------------------------------------- sentence embeddings


def test_embeddings_shape_dtype_norm_and_order(embedder):
    texts = [PARAPHRASE[0], UNRELATED, PARAPHRASE[1]]
    emb = embedder.encode(texts)
    assert emb.shape == (3, 384)
    assert emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # Order follows the input, whatever is cached.
    again = embedder.encode([PARAPHRASE[1], PARAPHRASE[0]])
    np.testing.assert_array_equal(again, emb[[2, 0]])
    assert embedder.encode([]).shape == (0, 384)
    assert embedder.name == DEFAULT_SENTENCE_MODEL_NAME


def test_paraphrase_similar_unrelated_not(embedder):
    a, b, c = embedder.encode([*PARAPHRASE, UNRELATED])
    assert float(a @ b) > 0.8
    assert float(a @ c) < 0.3
    assert float(b @ c) < 0.3


def test_embeddings_dedupe_and_cache_counters(embedder):
    texts_before, calls_before = embedder.texts_encoded, embedder.encode_calls
    first = embedder.encode(["dedupe a", "dedupe b", "dedupe a"])
    np.testing.assert_array_equal(first[0], first[2])
    embedder.encode(["dedupe b", "dedupe c"])
    assert embedder.texts_encoded - texts_before == 3
    assert embedder.encode_calls - calls_before == 2
    # Everything cached: no model call at all.
    embedder.encode(["dedupe c", "dedupe a"])
    assert embedder.encode_calls - calls_before == 2


def test_shared_cache_between_embedders(embedder):
    embedder.encode(["shared x", "shared y"])
    second = SentenceEmbedder(device="cpu", cache=embedder.cache)
    second.encode(["shared y", "shared x"])
    assert second.encode_calls == 0
    assert second.texts_encoded == 0
    second.clear_cache()  # the same model name: clears the shared dict
    assert len(embedder.cache) == 0
    embedder.encode(["shared x"])
    assert len(embedder.cache) == 1


def test_encode_type_errors(embedder):
    with pytest.raises(TypeError, match="single str"):
        embedder.encode("hello")
    with pytest.raises(TypeError):
        embedder.encode(["hello", 3])
    with pytest.raises(ValueError, match="batch_size"):
        SentenceEmbedder(batch_size=0)


# --------------------------------------------------------------------------- BERTScore


def test_bertscore_default_layer_is_middle(scorer):
    assert scorer.layer == scorer.model.config.num_hidden_layers // 2 == 3
    assert scorer.name == DEFAULT_SENTENCE_MODEL_NAME


def test_bertscore_identical_texts(scorer):
    texts = ["The capital of France is Paris.", "42", "yes"]
    p, r, f = scorer.score(texts, texts)
    np.testing.assert_allclose(p, 1.0, atol=1e-5)
    np.testing.assert_allclose(r, 1.0, atol=1e-5)
    np.testing.assert_allclose(f, 1.0, atol=1e-5)


def test_bertscore_precision_recall_swap_and_f1_symmetric(scorer):
    cands = [c for c, _ in PAIRS]
    refs = [r for _, r in PAIRS]
    p_ab, r_ab, f_ab = scorer.score(cands, refs)
    p_ba, r_ba, f_ba = scorer.score(refs, cands)
    np.testing.assert_allclose(p_ab, r_ba, atol=1e-7)
    np.testing.assert_allclose(r_ab, p_ba, atol=1e-7)
    np.testing.assert_allclose(f_ab, f_ba, atol=1e-7)
    np.testing.assert_array_equal(scorer.f1(cands, refs), f_ab)
    # F1 is the harmonic mean of P and R.
    np.testing.assert_allclose(f_ab, 2 * p_ab * r_ab / (p_ab + r_ab))
    assert np.all((f_ab > 0) & (f_ab <= 1 + 1e-6))


def test_bertscore_paraphrase_beats_unrelated(scorer):
    f = scorer.f1([PARAPHRASE[0], PARAPHRASE[0]], [PARAPHRASE[1], UNRELATED])
    assert f[0] > f[1]


def test_bertscore_empty_text_scores_zero(scorer):
    p, r, f = scorer.score(["", "   ", "Paris"], ["Paris", "Paris", ""])
    np.testing.assert_array_equal(f, 0.0)
    np.testing.assert_array_equal(p, 0.0)
    np.testing.assert_array_equal(r, 0.0)
    assert scorer.token_embeddings("").shape == (0, 384)


def test_bertscore_token_embeddings_exclude_special_tokens(scorer):
    emb = scorer.token_embeddings("hello world")
    assert emb.shape == (2, 384)  # [CLS] and [SEP] are not content tokens
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_bertscore_caches_each_distinct_text(scorer):
    texts_before, passes_before = scorer.texts_encoded, scorer.forward_passes
    answer = "cache check: Lyon"
    samples = [
        "cache check: Paris",
        "cache check: Lyon ",
        " cache check: Lyon",
        "cache check: Paris",
    ]
    scorer.f1([answer] * len(samples), samples)
    # Surrounding whitespace is stripped, so there are two distinct texts.
    assert scorer.texts_encoded - texts_before == 2
    assert scorer.forward_passes - passes_before == 1
    scorer.f1(samples, [answer] * len(samples))
    assert scorer.texts_encoded - texts_before == 2
    assert scorer.forward_passes - passes_before == 1


def test_bertscore_argument_errors(scorer):
    with pytest.raises(ValueError, match="length"):
        scorer.score(["a", "b"], ["a"])
    with pytest.raises(TypeError, match="single str"):
        scorer.score("a", ["a"])
    with pytest.raises(ValueError, match="layer"):
        BERTScorer(layer=7, device="cpu")


def test_bertscore_without_special_token_targets():
    strict = BERTScorer(device="cpu", match_special_tokens=False)
    f = strict.f1(["Paris is nice", "Paris."], ["Paris is nice", "paris"])
    assert f[0] == pytest.approx(1.0, abs=1e-5)
    assert 0.0 < f[1] < 1.0


def test_bertscore_matches_bert_score_package(scorer):
    import bert_score

    cands = [c for c, _ in PAIRS] + ["x " * 600]  # the last one is cut at 512 tokens
    refs = [r for _, r in PAIRS] + ["x y"]
    p_ref, r_ref, f_ref = bert_score.score(
        cands,
        refs,
        model_type=str(default_sentence_model_path()),
        num_layers=scorer.layer,
        idf=False,
        rescale_with_baseline=False,
        device="cpu",
        batch_size=4,
    )
    p, r, f = scorer.score(cands, refs)
    np.testing.assert_allclose(p, p_ref.numpy(), atol=1e-4)
    np.testing.assert_allclose(r, r_ref.numpy(), atol=1e-4)
    np.testing.assert_allclose(f, f_ref.numpy(), atol=1e-4)
