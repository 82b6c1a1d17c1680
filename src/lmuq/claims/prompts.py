"""The prompts of long-form UQ: claim extraction presets, refinement, claim questions.

Every decomposition preset asks for one claim per line starting with ``###`` (and
``### NONE`` when there is none), the format :func:`lmuq.claims.parse_claims` reads first.
The presets are named for the papers whose instructions they follow; the wording and the
examples are lmuq's own:

* ``"zhang_2025"`` — Zhang et al. 2025, *Atomic Calibration of LLMs in Long-Form
  Generations* (arXiv:2410.13246): sentence by sentence into "subject + verb + object"
  atomic facts, no pronouns as subjects (UQLM's default);
* ``"farquhar_2024"`` — Farquhar et al. 2024, *Detecting hallucinations in large language
  models using semantic entropy* (Nature 630): list the specific factual propositions,
  completely, one per bullet; zero-shot, so claims are coarser and may keep pronouns;
* ``"mohri_2024"`` — Mohri & Hashimoto 2024, *Language Models with Conformal Factuality
  Guarantees* (ICML): small, independent, non-overlapping claims;
* ``"jiang_2024"`` — Jiang et al. 2024, *Graph-based Uncertainty Metrics for Long-form
  Language Model Outputs* (arXiv:2410.20783): the smallest standalone facts without
  semantic repetition (what a claim graph wants: no duplicate nodes).

A callable ``(response) -> prompt`` can replace any preset.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = [
    "DECOMPOSITION_PROMPTS",
    "DecompositionPrompt",
    "claim_answer_prompt",
    "claim_merge_prompt",
    "claim_question_prompt",
    "refinement_prompt",
    "resolve_decomposition_prompt",
]

#: A decomposition prompt: the response to decompose -> the prompt to send.
DecompositionPrompt = Callable[[str], str]

_FORMAT = (
    "Write each claim on its own line, starting with ###. Write nothing else. If the text "
    "states no fact at all, write ### NONE."
)

_EXAMPLE_ATOMIC = """Text: Marie Curie, born in Warsaw in 1867, won two Nobel Prizes.
### Marie Curie was born in Warsaw.
### Marie Curie was born in 1867.
### Marie Curie won two Nobel Prizes.

Text: The Danube flows through Vienna. It ends in the Black Sea.
### The Danube flows through Vienna.
### The Danube ends in the Black Sea.

Text: Thanks, happy to help!
### NONE"""


def zhang_2025_prompt(response: str) -> str:
    """Atomic facts, sentence by sentence (Zhang et al. 2025)."""
    return (
        "Break the text below into atomic facts. Go through it sentence by sentence and "
        "split each sentence into facts that each state exactly one thing, usually as "
        "subject + verb + object (use 'is' when the sentence has no verb). Every fact must "
        "stand on its own: never use a pronoun (he, she, it, they, this) as the subject; "
        f"repeat the name instead. {_FORMAT}\n\n{_EXAMPLE_ATOMIC}\n\nText: {response}\n"
    )


def farquhar_2024_prompt(response: str) -> str:
    """The specific factual propositions, completely (Farquhar et al. 2024; zero-shot)."""
    return (
        "List the specific factual propositions in the text below. Be complete: leave no "
        "factual claim out. Give each claim as a separate sentence. "
        f"{_FORMAT}\n\nText: {response}\n"
    )


def mohri_2024_prompt(response: str) -> str:
    """Small, independent, non-overlapping claims (Mohri & Hashimoto 2024)."""
    return (
        "Break the text below into a set of small, independent claims that do not overlap: "
        "no two claims may state the same thing, and each must be as small as possible. "
        f"{_FORMAT}\n\n{_EXAMPLE_ATOMIC}\n\nText: {response}\n"
    )


def jiang_2024_prompt(response: str) -> str:
    """The smallest standalone facts, without semantic repetition (Jiang et al. 2024)."""
    return (
        "Deconstruct the text below into the smallest possible standalone, self-contained "
        "facts, without semantic repetition: if two sentences say the same thing, keep one "
        f"fact for it. {_FORMAT}\n\n{_EXAMPLE_ATOMIC}\n\nText: {response}\n"
    )


#: The named decomposition presets.
DECOMPOSITION_PROMPTS: dict[str, DecompositionPrompt] = {
    "zhang_2025": zhang_2025_prompt,
    "farquhar_2024": farquhar_2024_prompt,
    "mohri_2024": mohri_2024_prompt,
    "jiang_2024": jiang_2024_prompt,
}


def resolve_decomposition_prompt(prompt: str | DecompositionPrompt) -> DecompositionPrompt:
    """A preset name or a callable ``(response) -> prompt`` as the callable."""
    if callable(prompt):
        return prompt
    if isinstance(prompt, str):
        try:
            return DECOMPOSITION_PROMPTS[prompt]
        except KeyError:
            raise ValueError(
                f"unknown claim decomposition prompt {prompt!r}: choose one of "
                f"{', '.join(DECOMPOSITION_PROMPTS)} or pass a callable (response) -> prompt"
            ) from None
    raise TypeError(
        "the claim decomposition prompt must be a preset name or a callable (response) -> "
        f"prompt, got {type(prompt).__name__}"
    )


def refinement_prompt(claims: Sequence[str], question: str | None = None) -> str:
    """Ask for an answer rebuilt from the kept claims only (uncertainty-aware decoding,
    Jiang et al. 2024): every claim used, nothing added, redundant claims stated once."""
    facts = "\n".join(f"- {c}" for c in claims)
    asked = f"The facts answer this question: {question}\n\n" if question else ""
    return (
        f"{asked}Write one coherent paragraph that states the facts below. Use every fact, "
        "misrepresent none and add no information that is not in them; when two facts say "
        "the same thing, state it once. Let the length follow the number of facts. Write "
        f"only the paragraph.\n\nFacts:\n{facts}\n"
    )


def claim_question_prompt(claim: str, num_questions: int = 1) -> str:
    """Ask for questions whose answer is the claim (claim-QA, after Farquhar et al. 2024's
    long-form semantic entropy): one question per line starting with ``###``."""
    if num_questions == 1:
        return (
            "Write one specific question whose only correct answer is the fact below, "
            "without giving the answer away. Write only the question.\n\n"
            f"Fact: {claim}\n"
        )
    return (
        f"Write {num_questions} different specific questions that the fact below answers, "
        "each with a short, well-defined answer contained in the fact, without giving the "
        "answer away. Write each question on its own line starting with ###.\n\n"
        f"Fact: {claim}\n"
    )


def claim_answer_prompt(claim_question: str, original_question: str | None = None) -> str:
    """Ask a claim's question, in the context of the original prompt, for a short answer."""
    about = (
        f'We are answering this question: "{original_question}".\n\n' if original_question else ""
    )
    return (
        f"{about}Consider only the following question and answer it in as few words as "
        f"possible (a name, a place, a number):\n\n{claim_question}\n"
    )


def claim_merge_prompt(master: Sequence[str], new: Sequence[str]) -> str:
    """Ask which of ``new`` claims state something none of ``master`` states (the claim
    union of Jiang et al. 2024's claim graph); the reply lists them, one per ``- `` line."""
    known = "\n".join(f"- {c}" for c in master)
    fresh = "\n".join(f"- {c}" for c in new)
    return (
        "Below are a list of known claims and a list of new claims. Copy every new claim "
        "whose meaning is not already stated by a known claim, one per line starting with "
        "'- '. Copy nothing else; if every new claim is already known, write NONE.\n\n"
        f"Known claims:\n{known}\n\nNew claims:\n{fresh}\n"
    )
