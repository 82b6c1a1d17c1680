"""Long answers as units: sentences with their spans, claims read from an LLM's reply,
and the prompts of long-form UQ (decomposition presets, refinement, claim questions).

Pure text functions; nothing here calls a model. The LLM calls go through the statistics
layer (a decomposer is a judge whose replies are drawn once and cached).
"""

from lmuq.claims.parse import (
    ClaimSpan,
    ParsedClaims,
    align_claims,
    drop_prompt_echoes,
    parse_claims,
    parse_listed,
)
from lmuq.claims.prompts import (
    DECOMPOSITION_PROMPTS,
    DecompositionPrompt,
    claim_answer_prompt,
    claim_merge_prompt,
    claim_question_prompt,
    refinement_prompt,
    resolve_decomposition_prompt,
)
from lmuq.claims.sentences import Span, split_sentences

__all__ = [
    "DECOMPOSITION_PROMPTS",
    "ClaimSpan",
    "DecompositionPrompt",
    "ParsedClaims",
    "Span",
    "align_claims",
    "claim_answer_prompt",
    "claim_merge_prompt",
    "claim_question_prompt",
    "drop_prompt_echoes",
    "parse_claims",
    "parse_listed",
    "refinement_prompt",
    "resolve_decomposition_prompt",
    "split_sentences",
]
