"""BlackBoxUQ with real components: a tiny real NLI model, MiniLM, BERTScore, LangChain."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from lmuq import BlackBoxUQ
from lmuq.statistics.bertscore import BERTScorer
from lmuq.statistics.embeddings import SentenceEmbedder
from nli_fakes import build_tiny_nli_model


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny_nli(tmp_path_factory):
    # Label order shuffled relative to MNLI: the code must read it from config.id2label.
    return build_tiny_nli_model(
        tmp_path_factory.mktemp("nli"), label_names=("NEUTRAL", "CONTRADICTION", "ENTAILMENT")
    )


@pytest.fixture(scope="module")
def embedder():
    return SentenceEmbedder()


RESPONSES = ["Paris is the capital.", "It is Lyon.", "Paris"]
SAMPLES = [
    ["The capital is Paris.", "Paris.", "Marseille is the capital."],
    ["Lyon.", "It is Lyon.", "Nice"],
    ["Paris", "Paris", "Paris"],
]


def test_tiny_hf_nli_model_runs_each_distinct_pair_once(tiny_nli):
    bb = BlackBoxUQ(
        scorers=["noncontradiction", "semantic_negentropy", "eigv", "luq"],
        nli_model_name=str(tiny_nli),
        use_best=False,
    )
    res = bb.score(RESPONSES, SAMPLES)
    for name in ("noncontradiction", "semantic_negentropy", "eigv", "luq"):
        values = np.array(res.columns[name])
        assert np.all((values >= 0) & (values <= 1)), name
    model = bb.statistics.nli.model  # the HFNLIModel behind the cache
    assert model.label_order == (2, 0, 1)  # entailment, neutral, contradiction indices
    assert model.pairs_run == len(bb.statistics.nli)  # every pair computed once
    assert model.forward_passes < model.pairs_run / 3  # batched, not pair by pair
    before = model.pairs_run
    again = bb.score(RESPONSES, SAMPLES)
    assert model.pairs_run == before  # all cached
    assert again.columns["noncontradiction"] == res.columns["noncontradiction"]


def test_cosine_sim_equals_definition_and_encodes_each_text_once(embedder):
    bb = BlackBoxUQ(scorers=["cosine_sim"], use_best=False, embedder=embedder)
    calls, encoded = embedder.encode_calls, embedder.texts_encoded
    res = bb.score(RESPONSES, SAMPLES)
    distinct = {t for r, s in zip(RESPONSES, SAMPLES, strict=True) for t in (r, *s)}
    assert embedder.texts_encoded - encoded == len(distinct)
    assert embedder.encode_calls - calls == 1  # one pass for every row
    e = embedder.encode([RESPONSES[0], *SAMPLES[0]]).astype(float)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    expected = np.mean((e[1:] @ e[0] + 1) / 2)
    assert res.columns["cosine_sim"][0] == pytest.approx(expected, abs=1e-6)
    assert res.columns["cosine_sim"][2] == pytest.approx(1.0, abs=1e-6)  # identical texts


def test_bert_score_is_the_mean_f1():
    scorer = BERTScorer()
    bb = BlackBoxUQ(scorers=["bert_score"], use_best=False, bertscorer=scorer)
    res = bb.score(RESPONSES[:1], SAMPLES[:1])
    f1 = scorer.f1(SAMPLES[0], [RESPONSES[0]] * 3)
    assert res.columns["bert_score"][0] == pytest.approx(float(np.mean(f1)))


def test_default_sentence_transformer_id_resolves_offline():
    bb = BlackBoxUQ(scorers=["cosine_sim"], use_best=False)
    res = bb.score(["a cat"], [["a cat", "a kitten"]])
    assert 0.5 < res.columns["cosine_sim"][0] <= 1.0


# ---------------------------------------------------------------- LangChain


def _chat_model_class():
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    class EchoChat(BaseChatModel):
        """Answers '<last word of prompt> @<temperature>', with OpenAI-style log-probs."""

        temperature: float = 0.7

        @property
        def _llm_type(self) -> str:
            return "echo"

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            prompt = messages[-1].content
            if "FAIL" in prompt:
                raise RuntimeError("provider error 500")
            text = f"{prompt.split()[-1]} @{self.temperature}"
            lp = {
                "content": [
                    {
                        "token": w,
                        "logprob": -0.5,
                        "top_logprobs": [
                            {"token": w, "logprob": -0.5},
                            {"token": "x", "logprob": -1.5},
                        ],
                    }
                    for w in text.split()
                ]
            }
            msg = AIMessage(
                content=text, response_metadata={"logprobs": lp, "finish_reason": "stop"}
            )
            return ChatResult(generations=[ChatGeneration(message=msg)])

    return EchoChat


def test_generate_and_score_with_a_langchain_model_keeps_rows_and_the_users_model():
    llm = _chat_model_class()(temperature=0.7)
    bb = BlackBoxUQ(llm=llm, scorers=["exact_match_raw"], use_best=False, sampling_temperature=1.3)
    prompts = ["say alpha", "say FAIL", "say gamma"]
    res = asyncio.run(bb.generate_and_score(prompts, num_responses=3, show_progress_bars=False))
    assert llm.temperature == 0.7  # not mutated
    assert res.columns["prompt"] == prompts
    assert res.columns["response"][0] == "alpha @0.7"  # answer at the model's own temperature
    assert res.columns["sampled_responses"][0] == ["alpha @1.3"] * 3  # samples at 1.3
    assert res.columns["response"][2] == "gamma @0.7"
    assert math.isnan(res.columns["exact_match_raw"][1])
    assert "provider error 500" in res.columns["score_errors"][1]["exact_match_raw"]
    gen = res.sample_sets[0].answer
    assert gen.logprobs.tolist() == [-0.5, -0.5] and gen.top_logprobs.shape == (2, 2)


def test_sync_twin_gives_the_same_result():
    llm = _chat_model_class()(temperature=0.0)
    bb = BlackBoxUQ(
        llm=llm, scorers=["exact_match_raw"], use_best=False, sampling_temperature=0.0001
    )
    a = bb.generate_and_score_sync(["say x", "say y"], num_responses=2, show_progress_bars=False)
    b = asyncio.run(
        bb.generate_and_score(["say x", "say y"], num_responses=2, show_progress_bars=False)
    )
    assert a.columns["response"] == b.columns["response"]
    assert a.columns["exact_match_raw"] == b.columns["exact_match_raw"]


def test_generate_without_llm_is_a_clear_error():
    with pytest.raises(ValueError, match="no llm"):
        BlackBoxUQ(scorers=["exact_match"]).generate_and_score_sync(["q"])


@pytest.mark.model
def test_generate_and_score_with_the_embedded_model(backend):
    bb = BlackBoxUQ(llm=backend, scorers=["exact_match", "rouge_l"], use_best=False)
    res = bb.generate_and_score_sync(
        ["What is the capital of France? Answer with just the name."],
        num_responses=2,
        show_progress_bars=False,
    )
    assert "Paris" in res.columns["response"][0]
    assert len(res.columns["sampled_responses"][0]) == 2
    assert 0.0 <= res.columns["rouge_l"][0] <= 1.0
