"""Judged-scorer orchestrators: fake backends for the logic, the embedded model for P(True)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np
import pytest

from lmuq.backends.base import GenerationBackend
from lmuq.scoring.functional.llm_judge import judge_prompt
from lmuq.scoring.functional.p_true import p_true_prompt
from lmuq.scoring.functional.verbalized_confidence import verbalized_confidence_prompt
from lmuq.types import Generation, SamplingParams
from lmuq.uq.judged import (
    JudgedScore,
    LLMJudge,
    LLMPanel,
    PTrueScorer,
    VerbalizedConfidenceScorer,
)

# --------------------------------------------------------------------------- fakes

Reply = str | Generation | Exception


class FakeBackend:
    """A GenerationBackend whose reply to a prompt is chosen by a substring of the prompt.

    ``replies`` maps a substring (e.g. the question) to the text to return, a ready
    :class:`Generation`, or an exception to raise for that prompt.
    """

    def __init__(self, replies: dict[str, Reply], name: str = "fake") -> None:
        self.replies = replies
        self._name = name
        self.calls: list[tuple[list[str], SamplingParams, int]] = []

    @property
    def name(self) -> str:
        return self._name

    def _reply(self, prompt: str) -> Generation:
        for key, reply in self.replies.items():
            if key in prompt:
                if isinstance(reply, Exception):
                    raise reply
                return reply if isinstance(reply, Generation) else Generation(text=reply)
        raise KeyError(f"no canned reply for {prompt!r}")

    def generate(
        self,
        prompts: Sequence[str],
        params: SamplingParams,
        n: int = 1,
        *,
        progress: Callable[[int], object] | None = None,
    ) -> list[list[Generation]]:
        self.calls.append((list(prompts), params, n))
        return [[self._reply(p) for _ in range(n)] for p in prompts]


class AsyncFakeBackend(FakeBackend):
    def __init__(self, replies: dict[str, Reply]) -> None:
        super().__init__(replies, name="async-fake")
        self.async_calls = 0

    async def agenerate(self, prompts, params, n=1, *, progress=None):
        self.async_calls += 1
        await asyncio.sleep(0)
        return self.generate(prompts, params, n)


def _topk_gen(pairs: list[tuple[int, float]], text: str = "x") -> Generation:
    """A one-token generation whose first step's top-k is ``pairs`` (token id, prob)."""
    ids = np.array([[t for t, _ in pairs]])
    lps = np.log(np.array([[p for _, p in pairs]]))
    return Generation(
        text=text,
        logprobs=lps[:, 0],
        token_ids=(pairs[0][0],),
        top_logprobs=lps,
        top_token_ids=ids,
    )


VOCAB = {0: " A", 1: " B", 2: " The", 3: "A", 4: "(B", 5: " a"}

Q = ["What is the capital of France?", "What is 2+2?", "Who wrote Hamlet?"]
A = ["Paris", "5", "Shakespeare"]


def test_fake_backends_implement_the_protocol():
    assert isinstance(FakeBackend({}), GenerationBackend)
    assert isinstance(ForcedBackend(), GenerationBackend)


# --------------------------------------------------------------------------- verbalised


def test_verbalized_confidence_scores_prompts_and_greedy_params():
    backend = FakeBackend({"France": "Confidence: 0.8", "2+2": "80%", "Hamlet": "0.8."})
    scorer = VerbalizedConfidenceScorer(backend)
    assert scorer.score(Q, A) == pytest.approx([0.8, 0.8, 0.8], abs=1e-12)
    prompts, params, n = backend.calls[0]
    assert prompts == [verbalized_confidence_prompt(q, a) for q, a in zip(Q, A, strict=True)]
    assert params.temperature == 0 and params.greedy and n == 1


def test_unreadable_reply_is_nan_on_its_own_row_with_reason():
    backend = FakeBackend({"France": "0.9", "2+2": "I have no idea", "Hamlet": "Confidence: .3"})
    scorer = VerbalizedConfidenceScorer(backend)
    details = scorer.score_details(Q, A)
    assert details[0].value == 0.9
    assert math.isnan(details[1].value)
    assert "I have no idea" in details[1].error
    assert details[1].output == "I have no idea"
    assert details[2].value == pytest.approx(0.3, abs=1e-12)
    assert details[2].error is None
    with pytest.warns(RuntimeWarning, match=r"1 of 3 rows.*row 1"):
        values = scorer.score(Q, A)
    assert values[0] == 0.9 and math.isnan(values[1]) and values[2] == pytest.approx(0.3)


def test_failed_generation_row_stays_aligned():
    failed = Generation(text="", finish_reason="error", error="rate limited")
    backend = FakeBackend({"France": "Correct", "2+2": failed, "Hamlet": "Incorrect"})
    details = LLMJudge(backend, scale="binary").score_details(Q, A)
    assert details[0].value == 1.0
    assert math.isnan(details[1].value) and "rate limited" in details[1].error
    assert details[2].value == 0.0


def test_backend_that_raises_is_retried_prompt_by_prompt():
    backend = FakeBackend(
        {"France": "Correct", "2+2": RuntimeError("server error 500"), "Hamlet": "Incorrect"}
    )
    details = LLMJudge(backend, scale="ternary").score_details(Q, A)
    assert details[0].value == 1.0
    assert math.isnan(details[1].value)
    assert details[1].error == "judge call failed: RuntimeError: server error 500"
    assert details[2].value == 0.0
    # One batched call that failed, then one call per prompt.
    assert [len(c[0]) for c in backend.calls] == [3, 1, 1, 1]


def test_backend_breaking_the_row_contract_raises():
    class Short(FakeBackend):
        def generate(self, prompts, params, n=1, *, progress=None):
            return super().generate(prompts, params, n)[:-1]

    with pytest.raises(ValueError, match="2 rows for 3 prompts"):
        LLMJudge(Short({"": "Correct"})).score(Q, A)


def test_input_validation():
    scorer = VerbalizedConfidenceScorer(FakeBackend({"": "0.5"}))
    with pytest.raises(ValueError, match="match one to one"):
        scorer.score(Q, A[:2])
    with pytest.raises(ValueError, match="empty"):
        scorer.score([], [])
    with pytest.raises(TypeError, match="single str"):
        scorer.score("q", "a")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"answers\[1\]"):
        scorer.score(Q, ["a", 2, "c"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="GenerationBackend"):
        VerbalizedConfidenceScorer(object())
    with pytest.raises(ValueError, match="scale"):
        LLMJudge(FakeBackend({}), scale="stars")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- LLM judge


def test_llm_judge_scales_and_references():
    backend = FakeBackend(
        {
            "France": '{"score": 0.9}',
            "2+2": "Score: 10%",
            "Hamlet": "Score: 1",
        }
    )
    judge = LLMJudge(backend, scale="continuous")
    refs = ["Paris", "4", "Shakespeare"]
    assert judge.score(Q, A, references=refs) == pytest.approx([0.9, 0.1, 1.0], abs=1e-12)
    prompts = backend.calls[0][0]
    assert prompts == [
        judge_prompt(q, a, reference=r, scale="continuous")
        for q, a, r in zip(Q, A, refs, strict=True)
    ]
    assert backend.calls[0][1].temperature == 0


def test_llm_judge_default_is_ternary():
    backend = FakeBackend(
        {"France": "Correct", "2+2": "Partially correct", "Hamlet": "Verdict: incorrect"}
    )
    judge = LLMJudge(backend)
    assert judge.scale == "ternary"
    assert judge.score(Q, A) == [1.0, 0.5, 0.0]
    with pytest.raises(ValueError, match="references"):
        judge.score(Q, A, references=["only one"])


# --------------------------------------------------------------------------- panel


def test_panel_aggregates_and_ignores_failed_judges():
    j1 = FakeBackend({"France": "Correct", "2+2": "Incorrect", "Hamlet": "banana"}, "j1")
    j2 = FakeBackend({"France": "Partially correct", "2+2": "Incorrect", "Hamlet": "Hmm"}, "j2")
    j3 = FakeBackend({"France": "Correct", "2+2": "Correct", "Hamlet": "???"}, "j3")
    expected = {
        "mean": [2.5 / 3, 1 / 3],
        "median": [1.0, 0.0],
        "min": [0.5, 0.0],
        "max": [1.0, 1.0],
    }
    for how, (first, second) in expected.items():
        panel = LLMPanel([j1, j2, LLMJudge(j3, scale="ternary")], aggregate=how)
        details = panel.score_details(Q, A)
        assert details[0].value == pytest.approx(first, abs=1e-12)
        assert details[1].value == pytest.approx(second, abs=1e-12)
        # Every judge failed to give a verdict on row 2: NaN, each reason kept.
        assert math.isnan(details[2].value)
        assert "judge 0" in details[2].error and "judge 2" in details[2].error
        assert [d.value for d in details[0].judges] == [1.0, 0.5, 1.0]


def test_panel_mixes_judge_kinds_and_passes_references():
    judge_backend = FakeBackend({"France": "Yes", "2+2": "No"})
    vc_backend = FakeBackend({"France": "Confidence: 0.6", "2+2": "Confidence: 0.2"})
    panel = LLMPanel(
        [LLMJudge(judge_backend, scale="binary"), VerbalizedConfidenceScorer(vc_backend)],
        aggregate="mean",
    )
    values = panel.score(Q[:2], A[:2], references=["Paris", "4"])
    assert values == pytest.approx([0.8, 0.1], abs=1e-12)
    assert "Reference answer: Paris" in judge_backend.calls[0][0][0]
    assert "Reference" not in vc_backend.calls[0][0][0]


def test_panel_validation():
    with pytest.raises(ValueError, match="at least one"):
        LLMPanel([])
    with pytest.raises(ValueError, match="aggregate"):
        LLMPanel([FakeBackend({})], aggregate="mode")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"judges\[0\]"):
        LLMPanel([42])


def test_async_twins_use_agenerate_and_match_sync():
    replies = {"France": "Correct", "2+2": "Incorrect", "Hamlet": "Partially correct"}
    backend = AsyncFakeBackend(replies)
    judge = LLMJudge(backend)
    assert asyncio.run(judge.ascore(Q, A)) == [1.0, 0.0, 0.5]
    assert backend.async_calls == 1
    vc = VerbalizedConfidenceScorer(AsyncFakeBackend({"": "Confidence: 0.4"}))
    panel = LLMPanel([judge, vc], aggregate="max")
    assert asyncio.run(panel.ascore(Q, A)) == pytest.approx([1.0, 0.4, 0.5], abs=1e-12)
    # A sync-only backend still works from async code (in a worker thread).
    sync_only = LLMJudge(FakeBackend(replies))
    assert asyncio.run(sync_only.ascore(Q, A)) == [1.0, 0.0, 0.5]


def test_async_failure_stays_on_its_row():
    backend = AsyncFakeBackend({"France": "Correct", "2+2": ValueError("bad"), "Hamlet": "No"})
    details = asyncio.run(LLMJudge(backend, scale="binary").ascore_details(Q, A))
    assert details[0].value == 1.0
    assert math.isnan(details[1].value) and "ValueError: bad" in details[1].error
    assert details[2].value == 0.0


# --------------------------------------------------------------------------- P(True), top-k


def test_p_true_top_logprobs_hand_values():
    backend = FakeBackend(
        {
            # p(" A") = 0.6, p(" B") = 0.2 -> 0.75
            "France": _topk_gen([(0, 0.6), (1, 0.2), (2, 0.1)]),
            # " A" 0.1 and "A" 0.2 both count for A; "(B" 0.1 for B -> 0.3 / 0.4 = 0.75;
            # " a" (the article) is not option A.
            "2+2": _topk_gen([(2, 0.5), (3, 0.2), (0, 0.1), (4, 0.1), (5, 0.05)]),
            # p(B) = 0.7, p(A) = 0.1 -> 0.125
            "Hamlet": _topk_gen([(1, 0.7), (0, 0.1)]),
        }
    )
    scorer = PTrueScorer(backend, decode=VOCAB.__getitem__)
    assert scorer.method == "top_logprobs"
    assert scorer.score(Q, A) == pytest.approx([0.75, 0.75, 0.125], abs=1e-12)
    prompts, params, _ = backend.calls[0]
    assert prompts == [p_true_prompt(q, a) for q, a in zip(Q, A, strict=True)]
    assert params.greedy


def test_p_true_top_logprobs_one_option_missing():
    gen = _topk_gen([(2, 0.5), (0, 0.2), (5, 0.1)])  # only " A" among the top-3
    backend = FakeBackend({"": gen})
    # "bound": B gets the smallest top-k prob (0.1) -> 0.2 / 0.3.
    bound = PTrueScorer(backend, decode=VOCAB.__getitem__).score(Q[:1], A[:1])
    assert bound == pytest.approx([2 / 3], abs=1e-12)
    zero = PTrueScorer(backend, decode=VOCAB.__getitem__, topk_missing="zero")
    assert zero.score(Q[:1], A[:1]) == [1.0]


def test_p_true_top_logprobs_nan_with_reason():
    no_option = _topk_gen([(2, 0.8), (5, 0.1)])
    no_topk = Generation(text="A", logprobs=[-0.1])
    failed = Generation(text="", error="timeout")
    backend = FakeBackend({"France": no_option, "2+2": no_topk, "Hamlet": failed})
    details = PTrueScorer(backend, decode=VOCAB.__getitem__).score_details(Q, A)
    assert all(math.isnan(d.value) for d in details)
    assert "neither" in details[0].error
    assert "no top-k" in details[1].error
    assert "timeout" in details[2].error
    # Without a decoder the ids cannot be read.
    nodecode = PTrueScorer(FakeBackend({"": _topk_gen([(0, 0.5)])})).score_details(Q[:1], A[:1])
    assert math.isnan(nodecode[0].value) and "decode" in nodecode[0].error


def test_p_true_samples_go_into_the_prompt():
    backend = FakeBackend({"": _topk_gen([(0, 0.5), (1, 0.5)])})
    scorer = PTrueScorer(backend, decode=VOCAB.__getitem__)
    samples = [["Paris", "Lyon"], ["4"], ["Marlowe", "Shakespeare"]]
    assert scorer.score(Q, A, samples) == pytest.approx([0.5] * 3, abs=1e-12)
    assert backend.calls[0][0] == [
        p_true_prompt(q, a, s) for q, a, s in zip(Q, A, samples, strict=True)
    ]
    assert "Here are some brainstormed ideas:\nParis\nLyon\n" in backend.calls[0][0][0]
    with pytest.raises(ValueError, match="one list of str per question"):
        scorer.score(Q, A, samples[:2])


# --------------------------------------------------------------------------- P(True), forced


class _Tok:
    """Maps a continuation text to token ids: "A" -> [10], " A" -> [11], "B" -> [20], ..."""

    ids: ClassVar[dict[str, list[int]]] = {
        "A": [10],
        " A": [11],
        "B": [20],
        " B": [21],
        " True": [30, 31],
    }

    def __call__(self, text, add_special_tokens=True):
        assert add_special_tokens is False
        return {"input_ids": list(self.ids[text])}

    def decode(self, ids):
        return {v[0]: k for k, v in self.ids.items()}[ids[0]]


class ForcedBackend:
    """A backend with ``score_tokens``: fixed per-token log-probs, optional chat template."""

    name = "forced"
    lps: ClassVar[dict[int, float]] = {
        10: math.log(0.3),
        11: math.log(0.6),
        20: math.log(0.1),
        21: math.log(0.2),
    }

    def __init__(self, chat: bool = False, fail_on: str | None = None) -> None:
        self.tokenizer = _Tok()
        self.chat = chat
        self.fail_on = fail_on
        self.scored: list[tuple[str, list[int]]] = []

    def format_prompt(self, prompt: str) -> str:
        return f"<user>{prompt}</user>\n<assistant>\n" if self.chat else prompt

    def score_tokens(self, prompt, token_ids):
        if self.fail_on is not None and self.fail_on in prompt:
            raise RuntimeError("CUDA out of memory")
        self.scored.append((prompt, list(token_ids)))
        return np.array([self.lps[t] for t in token_ids])

    def generate(self, prompts, params, n=1, *, progress=None):
        raise AssertionError("teacher-forced P(True) must not generate")


def test_p_true_teacher_forced_plain_prompt_uses_leading_space():
    backend = ForcedBackend(chat=False)
    scorer = PTrueScorer(backend)
    assert scorer.method == "teacher_forced"
    # The prompt ends in "is:" -> continuations " A" (0.6) and " B" (0.2) -> 0.75.
    assert scorer.score(Q[:1], A[:1]) == pytest.approx([0.75], abs=1e-12)
    prompt = p_true_prompt(Q[0], A[0])
    assert backend.scored == [(prompt, [11]), (prompt, [21])]


def test_p_true_teacher_forced_chat_template_no_space():
    backend = ForcedBackend(chat=True)
    # The templated prompt ends in a newline -> "A" (0.3) and "B" (0.1) -> 0.75.
    details = PTrueScorer(backend).score_details(Q[:2], A[:2])
    assert [d.value for d in details] == pytest.approx([0.75, 0.75], abs=1e-12)
    assert [ids for _, ids in backend.scored] == [[10], [20], [10], [20]]
    assert details[0].output is None and details[0].prompt == p_true_prompt(Q[0], A[0])


def test_p_true_teacher_forced_multi_token_option_and_failure_row():
    class Words(ForcedBackend):
        lps: ClassVar[dict[int, float]] = {
            **ForcedBackend.lps,
            30: math.log(0.5),
            31: math.log(0.5),
        }

    # " True" is two tokens: p = 0.5 * 0.5 = 0.25; " B" = 0.2 -> 0.25 / 0.45.
    scorer = PTrueScorer(Words(fail_on="2+2"), true_option="True")
    details = scorer.score_details(Q, A)
    assert details[0].value == pytest.approx(0.25 / 0.45, abs=1e-12)
    assert math.isnan(details[1].value) and "CUDA out of memory" in details[1].error
    assert details[2].value == pytest.approx(0.25 / 0.45, abs=1e-12)
    assert asyncio.run(scorer.ascore(Q[:1], A[:1])) == pytest.approx([0.25 / 0.45])


def test_p_true_options_validation():
    with pytest.raises(TypeError, match="score_tokens"):
        PTrueScorer(FakeBackend({}), method="teacher_forced")
    with pytest.raises(ValueError, match="method"):
        PTrueScorer(FakeBackend({}), method="exact")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="differ"):
        PTrueScorer(FakeBackend({}), true_option="A", false_option=" A")
    with pytest.raises(ValueError, match="topk_missing"):
        PTrueScorer(FakeBackend({}), topk_missing="ignore")  # type: ignore[arg-type]


def test_judged_score_defaults():
    row = JudgedScore(0.5)
    assert row.error is None and row.output is None and row.judges == ()


# --------------------------------------------------------------------------- real model


@pytest.mark.model
def test_p_true_with_the_embedded_model(backend, default_model):
    tokenizer, _ = default_model
    scorer = PTrueScorer(backend)
    assert scorer.method == "teacher_forced"
    questions = ["What is the capital of France?", "What is the capital of Japan?"]
    right, wrong = ["Paris", "Tokyo"], ["Banana", "London"]
    values = scorer.score(questions * 2, right + wrong)
    assert all(0.0 < v < 1.0 for v in values)
    for q, r, w, pr, pw in zip(questions, right, wrong, values[:2], values[2:], strict=True):
        # A 135M model need not rank these correctly; only the values are checked.
        print(f"{q} P(True | {r}) = {pr:.3f}   P(True | {w}) = {pw:.3f}")

    # Recompute P(True) directly from the backend's teacher-forced log-probs (one right and
    # one wrong answer; each forward pass is slow on a shared CPU).
    ids_a = tokenizer("A", add_special_tokens=False)["input_ids"]
    ids_b = tokenizer("B", add_special_tokens=False)["input_ids"]
    for row in (0, 2):
        prompt = p_true_prompt(questions[row % 2], (right + wrong)[row])
        assert backend.format_prompt(prompt).endswith("\n")  # chat template: no leading space
        la = float(np.sum(backend.score_tokens(prompt, ids_a)))
        lb = float(np.sum(backend.score_tokens(prompt, ids_b)))
        expected = math.exp(la) / (math.exp(la) + math.exp(lb))
        assert values[row] == pytest.approx(expected, abs=1e-9)


@pytest.mark.model
def test_p_true_top_logprobs_with_the_embedded_model(default_model):
    from lmuq.backends.transformers import TransformersBackend

    tokenizer, model = default_model
    # The whole vocabulary as the top-k: both options are always present, so the top-k
    # reading must equal P over every token whose text is an option ("A", " A", "(A", ...).
    full = TransformersBackend(model, tokenizer, top_logprobs=len(tokenizer), batch_size=2)
    scorer = PTrueScorer(full, method="top_logprobs")
    details = scorer.score_details(["What is the capital of France?"], ["Paris"])
    greedy = SamplingParams(temperature=0.0, max_new_tokens=1)
    gen = full.generate([details[0].prompt], greedy)[0][0]
    probs = {"A": 0.0, "B": 0.0}
    for tid, lp in zip(gen.top_token_ids[0], gen.top_logprobs[0], strict=True):
        text = tokenizer.decode([int(tid)]).strip().lstrip("([").rstrip(")].:,").strip()
        if text in probs:
            probs[text] += math.exp(lp)
    assert details[0].error is None
    assert details[0].value == pytest.approx(probs["A"] / (probs["A"] + probs["B"]), abs=1e-9)
