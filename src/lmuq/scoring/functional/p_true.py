"""P(True) as pure functions: the self-evaluation prompt, and the confidence read from the
option log-probabilities.

Kadavath et al. 2022, "Language Models (Mostly) Know What They Know": the model sees its own
answer (optionally with brainstormed samples) and a two-way choice "(A) True / (B) False";
the confidence is

    P(True) = p(A) / (p(A) + p(B)) = σ(log p(A) − log p(B)),

computed in log space from the log-probabilities of the two option continuations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from lmuq.constants import LOGPROB_TOLERANCE
from lmuq.types import check_str

__all__ = [
    "P_FALSE_OPTIONS",
    "P_TRUE_OPTIONS",
    "p_true_from_first_token",
    "p_true_from_logprobs",
    "p_true_prompt",
    "p_true_prompt_uqlm",
]

#: The option continuations P(True) reads by default: the letter of the "(A) True" choice
#: and the word itself, and likewise for "(B) False".
P_TRUE_OPTIONS: tuple[str, ...] = ("A", "True")
P_FALSE_OPTIONS: tuple[str, ...] = ("B", "False")


def p_true_prompt(question: str, answer: str, samples: Sequence[str] | None = None) -> str:
    """The P(True) self-evaluation prompt of Kadavath et al. 2022 (Sec. 3).

    ::

        Question: {question}
        Here are some brainstormed ideas:        <- only when samples are given
        {sample 1}
        ...
        Possible answer: {answer}
        Is the possible answer:
         (A) True
         (B) False
        The possible answer is:

    With ``samples`` (the paper's "brainstormed" answers, which they found improve
    self-evaluation), each sample is listed on its own line (internal whitespace, including
    newlines, collapsed to single spaces). An empty list is the same as ``None``.
    """
    check_str(question, "question")
    check_str(answer, "answer")
    lines = [f"Question: {question.strip()}"]
    if samples is not None:
        if isinstance(samples, str):
            raise TypeError("samples must be a sequence of str, not a single str")
        ideas = [" ".join(check_str(s, f"samples[{j}]").split()) for j, s in enumerate(samples)]
        if ideas:
            lines.append("Here are some brainstormed ideas:")
            lines.extend(ideas)
    lines += [
        f"Possible answer: {answer.strip()}",
        "Is the possible answer:",
        " (A) True",
        " (B) False",
        "The possible answer is:",
    ]
    return "\n".join(lines)


def _option_key(token: str) -> str:
    """A token's text with whitespace and enclosing punctuation removed: ``" (A)"`` → ``A``."""
    return token.strip().lstrip("([").rstrip(")].:,").strip()


def _matches(token: str, options: Sequence[str]) -> bool:
    key = _option_key(token)
    for opt in options:
        target = _option_key(opt)
        # Single letters are case-sensitive: " a" is far more often the English article.
        if (key == target) if len(target) == 1 else (key.lower() == target.lower()):
            return True
    return False


def p_true_from_logprobs(
    option_logprobs: Mapping[str, float],
    *,
    true_options: Sequence[str] = P_TRUE_OPTIONS,
    false_options: Sequence[str] = P_FALSE_OPTIONS,
    missing_logprob: float | None = None,
) -> float:
    """P(True) = p(True) / (p(True) + p(False)), from the option continuations' log-probs.

    Args:
        option_logprobs: continuation text → log-probability, e.g. the first generated
            token's top-k (``{" A": -0.3, " B": -1.6, " The": -3.0}``) or teacher-forced
            log-probs of the two options. Keys are matched after stripping whitespace and
            enclosing punctuation (``" A"``, ``"A"``, ``"(A"``, ``"A)"`` all read as ``A``);
            single-letter options match case-sensitively (``" a"`` is the article, not the
            option), word options case-insensitively (``"true"`` = ``"True"``). Keys that
            match neither side (``" The"``) are ignored. Several keys on one side are
            distinct tokens, i.e. disjoint events, so their probabilities add:
            log p(True) = logsumexp over the matching keys.
        true_options / false_options: which continuations count for each side; by default
            the letter and the word of Kadavath et al.'s choices, ``("A", "True")`` and
            ``("B", "False")``.
        missing_logprob: the log-probability given to a side with no matching key. ``None``
            (default) gives it probability zero, so P(True) is 1.0 when only True-side keys
            are present and 0.0 when only False-side ones are. With top-k log-probs, pass
            the smallest top-k log-prob: an absent option can be at most that likely, so
            the result is the least extreme value consistent with the top-k.

    Computed in log space as σ(ℓ_T − ℓ_F), so it is exact even when both log-probs are very
    negative. Raises ``ValueError`` when neither side is present, when both have
    probability zero, or on NaN / positive log-probs.
    """
    if isinstance(option_logprobs, (str, bytes)) or not isinstance(option_logprobs, Mapping):
        raise TypeError("option_logprobs must be a mapping of continuation text to log-prob")
    if set(map(_option_key, true_options)) & set(map(_option_key, false_options)):
        raise ValueError(f"true_options {true_options} and false_options {false_options} overlap")
    sides: dict[bool, float | None] = {True: None, False: None}
    for token, value in option_logprobs.items():
        check_str(token, "an option_logprobs key")
        lp = float(value)
        if math.isnan(lp):
            raise ValueError(f"log-prob of {token!r} is NaN")
        if lp > LOGPROB_TOLERANCE:
            raise ValueError(
                f"log-prob of {token!r} is {lp:.4g} > 0: pass log-probabilities, not "
                "probabilities or logits"
            )
        lp = min(lp, 0.0)
        for side, options in ((True, true_options), (False, false_options)):
            if _matches(token, options):
                prev = sides[side]
                sides[side] = lp if prev is None else float(np.logaddexp(prev, lp))
    if sides[True] is None and sides[False] is None:
        raise ValueError(
            f"neither a True option {tuple(true_options)} nor a False option "
            f"{tuple(false_options)} is among the continuations {sorted(option_logprobs)}"
        )
    if missing_logprob is not None and not float(missing_logprob) <= 0.0:
        raise ValueError(f"missing_logprob must be a log-probability <= 0, got {missing_logprob}")
    fill = -math.inf if missing_logprob is None else float(missing_logprob)
    lt = fill if sides[True] is None else sides[True]
    lf = fill if sides[False] is None else sides[False]
    if lt == -math.inf and lf == -math.inf:
        raise ValueError("both options have probability zero; P(True) is undefined")
    d = lt - lf  # P(True) = σ(d), evaluated without overflow
    if d >= 0:
        return 1.0 / (1.0 + math.exp(-d))
    e = math.exp(d)
    return e / (1.0 + e)


def p_true_from_first_token(
    token: str,
    logprob: float,
    *,
    true_options: Sequence[str] = P_TRUE_OPTIONS,
    false_options: Sequence[str] = P_FALSE_OPTIONS,
) -> float:
    """P(True) read from the first *generated* token alone: p when it is a True option,
    1 − p when it is a False option (p = exp(``logprob``)).

    An approximation for models that return only the chosen token's log-prob (no top-k
    with token ids): it equals p(True) / (p(True) + p(False)) when the two options hold all
    the probability mass, and otherwise credits the unchosen option with everything the
    chosen one lacks. UQLM's ``p_true`` reads its True/False reply this way. Tokens are
    matched as in :func:`p_true_from_logprobs`.

    Raises ``ValueError`` when the token is neither option, or on a NaN / positive log-prob.
    """
    check_str(token, "token")
    lp = float(logprob)
    if math.isnan(lp) or lp > LOGPROB_TOLERANCE:
        raise ValueError(f"logprob must be a log-probability <= 0, got {logprob!r}")
    p = math.exp(min(lp, 0.0))
    if _matches(token, true_options):
        return p
    if _matches(token, false_options):
        return 1.0 - p
    raise ValueError(
        f"the first generated token {token!r} is neither a True option {tuple(true_options)} "
        f"nor a False option {tuple(false_options)}"
    )


def p_true_prompt_uqlm(question: str, answer: str, samples: Sequence[str] | None = None) -> str:
    """UQLM 0.6's P(True) prompt, for reproducing its ``p_true``: the question, the distinct
    proposed answers when the answer and samples differ, the proposed answer, and a request
    to reply with one word, True or False (read with options ``"True"`` / ``"False"``)."""
    check_str(question, "question")
    check_str(answer, "answer")
    lines = [f"Question: {question}"]
    distinct = list(dict.fromkeys([*(samples or []), answer]))
    if samples and len(distinct) > 1:
        lines.append("Here are some possible answers:")
        lines.extend(distinct)
    lines.append(f"Proposed Answer: {answer}")
    lines.append(
        "Is the proposed answer to the question true or false? Answer with only one word "
        "true/false."
    )
    lines.append("True or False:")
    return "\n".join(lines)
