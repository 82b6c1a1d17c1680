"""Verbalised confidence as pure functions: the prompt, and the probability read from the reply.

Xiong et al. 2024, "Can LLMs Express Their Uncertainty? An Empirical Evaluation of Confidence
Elicitation in LLMs" (ICLR 2024): the model is asked to state how likely the answer is to be
correct, and the number is read from its text by the rules of
:mod:`lmuq.scoring.functional.stated_numbers`.
"""

from __future__ import annotations

from lmuq.scoring.functional.stated_numbers import CONFIDENCE_CUE, pick_number
from lmuq.types import check_str

__all__ = ["parse_verbalized_confidence", "verbalized_confidence_prompt"]


def verbalized_confidence_prompt(question: str, answer: str) -> str:
    """Ask the model for its confidence that ``answer`` is correct (Xiong et al. 2024).

    The reply format asked for is ``Confidence: <probability between 0.0 and 1.0>``;
    :func:`parse_verbalized_confidence` also reads percentages and fractions.
    """
    check_str(question, "question")
    check_str(answer, "answer")
    return (
        f"Question: {question.strip()}\n"
        f"Proposed answer: {answer.strip()}\n"
        "How likely is the proposed answer to be correct? Give your confidence as a "
        "probability between 0.0 and 1.0. Reply only in this format:\n"
        "Confidence: <number between 0.0 and 1.0>"
    )


def parse_verbalized_confidence(text: str) -> float | None:
    """Read a stated confidence from ``text`` as a probability in [0, 1], or ``None``.

    Follows the number-reading rules in the module docstring. Examples: ``"Confidence:
    0.8"`` → 0.8, ``"0.8."`` → 0.8, ``"Confidence: .9"`` → 0.9, ``"confidence = 1"`` → 1.0,
    ``"80%"`` / ``"90 %"`` / ``"I am 75 percent sure"`` → 0.8 / 0.9 / 0.75, ``"8/10"`` →
    0.8, ``"Confidence: 85"`` → 0.85, ``"The answer 1912 is correct with confidence 0.7"``
    → 0.7; ``"150%"``, ``"Confidence: 1.5"``, ``"Confidence: -0.2"``, ``"Confidence: 7"``
    (ambiguous) and text with no usable number → ``None``.
    """
    check_str(text, "text")
    return pick_number(text, CONFIDENCE_CUE)[1]
