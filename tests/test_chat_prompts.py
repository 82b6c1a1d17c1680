"""Chat-message prompts (LangChain ``BaseMessage`` lists, role dicts, tuples) wherever a
prompt is accepted: converted once at the draw path into a ``ChatPrompt`` (a str that
carries its messages), sent as messages by the chat backends."""

from __future__ import annotations

import pickle

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from lmuq import BlackBoxUQ, UQEnsemble, WhiteBoxUQ, draw
from lmuq.backends.fake import FakeBackend
from lmuq.backends.openai_compat import OpenAICompatibleBackend
from lmuq.chat import ChatPrompt, as_prompt, chat_messages
from lmuq.types import Generation

MESSAGES = [
    SystemMessage(content="Answer in one word."),
    HumanMessage(content="Capital of France?"),
]


SEEN: list = []


class RecordingChat(BaseChatModel):
    @property
    def _llm_type(self) -> str:
        return "recording"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        SEEN.append([(m.type, m.content) for m in messages])
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="Paris"))])


def test_as_prompt_accepts_the_three_message_forms():
    for form in (
        MESSAGES,
        [
            {"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": "Capital of France?"},
        ],
        [("system", "Answer in one word."), ("human", "Capital of France?")],
    ):
        p = as_prompt(form)
        assert isinstance(p, ChatPrompt) and isinstance(p, str)
        assert p == "system: Answer in one word.\nuser: Capital of France?"
        assert p.messages[1] == {"role": "user", "content": "Capital of France?"}
    assert as_prompt([HumanMessage(content="Hi?")]) == "Hi?"  # a lone user message
    assert as_prompt("plain") == "plain"
    again = pickle.loads(pickle.dumps(as_prompt(MESSAGES)))
    assert again.messages == as_prompt(MESSAGES).messages
    with pytest.raises(ValueError, match="role"):
        as_prompt([("tool", "x")])
    with pytest.raises(ValueError, match="empty"):
        as_prompt([])


def test_chat_messages_keep_a_message_lists_own_system_message():
    p = as_prompt(MESSAGES)
    assert chat_messages(p, "ignored") == [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert chat_messages("Q?", "S") == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "Q?"},
    ]
    backend = OpenAICompatibleBackend("http://localhost:1", model="m", system_prompt="S")
    assert backend._messages(p)[0]["content"] == "Answer in one word."


def test_blackbox_with_a_langchain_model_sends_the_messages():
    SEEN.clear()
    bbuq = BlackBoxUQ(llm=RecordingChat(), scorers=["exact_match"], system_prompt="ignored")
    result = bbuq.generate_and_score_sync([MESSAGES], num_responses=2)
    assert result.columns["exact_match"] == [1.0]
    assert SEEN[0] == [
        ("system", "Answer in one word."),
        ("human", "Capital of France?"),
    ]
    assert result.columns["prompt"] == ["system: Answer in one word.\nuser: Capital of France?"]


def test_whitebox_ensemble_and_draw_take_message_prompts():
    got = []

    def respond(prompt, params, j):
        got.append(prompt.messages if isinstance(prompt, ChatPrompt) else prompt)
        return Generation("Paris", logprobs=[-0.5])

    fake = FakeBackend(respond)
    sets = draw(fake, [[("user", "Capital of France?")]], 1)
    assert sets[0].prompt == "Capital of France?"
    wb = WhiteBoxUQ(llm=fake, scorers=["sequence_probability"])
    assert wb.generate_and_score_sync([MESSAGES]).columns["sequence_probability"][0] == (
        pytest.approx(0.6065306597126334)  # exp(-0.5)
    )
    uqe = UQEnsemble(llm=fake, scorers=["exact_match"])
    assert uqe.generate_and_score_sync([MESSAGES], num_responses=2).columns["exact_match"] == [1.0]
    # draw: the answer and one sample; then every call of WhiteBoxUQ and UQEnsemble
    assert got[:2] == [({"role": "user", "content": "Capital of France?"},)] * 2
    assert len(got) == 2 + 1 + 3
    assert all(g[0] == {"role": "system", "content": "Answer in one word."} for g in got[2:])


def test_score_forms_take_message_prompts_too():
    bbuq = BlackBoxUQ(scorers=["exact_match"])
    got = bbuq.score(["Paris"], [["Paris", "Lyon"]], prompts=[MESSAGES])
    assert got.columns["prompt"] == ["system: Answer in one word.\nuser: Capital of France?"]
    assert got.columns["exact_match"] == [0.5]
    wb = WhiteBoxUQ(scorers=["sequence_probability"])
    res = wb.score(
        logprobs_results=[[{"token": "P", "logprob": -0.5}]],
        prompts=[MESSAGES],
        responses=["Paris"],
    )
    assert res.columns["prompt"][0].messages == as_prompt(MESSAGES).messages
