"""UQLM's ``structured_response`` / ``output_extractor`` on ``BlackBoxUQ``: a LangChain
model is called through ``with_structured_output`` and the extractor's text is the
response; the settings of each call (the sampling temperature) reach the model."""

from __future__ import annotations

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel

from lmuq import BlackBoxUQ
from lmuq.backends import RetryPolicy
from lmuq.backends.fake import FakeBackend
from lmuq.backends.langchain import LangChainBackend
from lmuq.types import SamplingParams


class Answer(BaseModel):
    answer: str
    confidence: float


class StructuredChat(BaseChatModel):
    """Structured replies only: 'Paris' below temperature 1, 'Lyon' at 1 or above."""

    temperature: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "structured-fake"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        raise AssertionError("plain generation is not used with structured_response")

    def with_structured_output(self, schema, **kwargs):
        assert schema is Answer
        city = "Paris" if self.temperature < 1 else "Lyon"
        return RunnableLambda(lambda messages: Answer(answer=city, confidence=0.9))


def test_blackbox_generates_through_the_structured_model():
    bbuq = BlackBoxUQ(
        llm=StructuredChat(temperature=0.0),
        scorers=["exact_match"],
        structured_response=Answer,
        output_extractor=lambda r: r.answer,
    )
    result = bbuq.generate_and_score_sync(["Capital of France?"], num_responses=3)
    assert result.columns["response"] == ["Paris"]
    assert result.columns["sampled_responses"] == [["Lyon", "Lyon", "Lyon"]]
    assert result.columns["exact_match"] == [0.0]


def test_langchain_backend_applies_the_extractor():
    backend = LangChainBackend(
        StructuredChat(), structured_response=Answer, output_extractor=lambda r: r.answer
    )
    rows = backend.generate(["q?"], SamplingParams(temperature=0.2), 2)
    assert [g.text for g in rows[0]] == ["Paris", "Paris"]
    bad = LangChainBackend(StructuredChat(), structured_response=Answer, output_extractor=str)
    assert bad.generate(["q?"], SamplingParams(temperature=0.2))[0][0].text.startswith("answer=")
    nonstr = LangChainBackend(
        StructuredChat(),
        structured_response=Answer,
        output_extractor=lambda r: r.confidence,
        retry=RetryPolicy(max_retries=0),
    )
    row = nonstr.generate(["q?"], SamplingParams(temperature=0.2))[0][0]
    assert row.failed and "expected str" in row.error


def test_both_or_neither_and_langchain_only():
    with pytest.raises(ValueError, match="`output_extractor` must also be specified"):
        BlackBoxUQ(structured_response=Answer)
    with pytest.raises(ValueError, match="`structured_response` must also be specified"):
        BlackBoxUQ(output_extractor=lambda r: r.answer)
    with pytest.raises(TypeError, match="LangChain chat model"):
        BlackBoxUQ(
            llm=FakeBackend({}), structured_response=Answer, output_extractor=lambda r: r.answer
        )
