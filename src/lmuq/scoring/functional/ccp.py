"""Claim-conditioned probability, CCP (Fadeeva et al. 2024), as pure functions.

Fadeeva, E., Rubashevskii, A., Shelmanov, A., Petrakov, S., Li, H., Mubarak, H., Tsymbalov,
E., Kuzmin, G., Panchenko, A., Baldwin, T., Nakov, P. and Panov, M. (2024). "Fact-Checking
the Output of Large Language Models via Token-Level Uncertainty Quantification". Findings of
ACL 2024, arXiv:2403.04696.

A token's probability mixes two uncertainties: *what* to claim and *how* to say it. CCP
keeps only the first. At step j the model's top-k alternatives x_j^1..x_j^k (the generated
token x_j among them) are each compared with x_j by an NLI model: an alternative that
entails the original says the same thing another way, one that contradicts it makes a
different claim, and a neutral one (an unrelated word) is left out:

    CCP(x_j) = Σ_{k: NLI(x_j, x_j^k) = e} p(x_j^k | x_<j)
               / Σ_{k: NLI(x_j, x_j^k) ∈ {e, c}} p(x_j^k | x_<j)

where the generated token itself always counts as entailment. The response-level (claim-
level) score is the product over the tokens, CCP(y) = Π_j CCP(x_j), computed here as the
sum of logs.

How lmuq's scorer builds the NLI inputs: the answer's prefix ending in the generated token
against the same prefix ending in the alternative, so that the NLI judges whether
*replacing the token changes the claim so far*; LM-Polygraph's sequence-level ``CCP`` (0.7)
compares the two token strings alone, stripped of punctuation. The label of a pair is
read in both directions and combined as LM-Polygraph 0.7 does
(:func:`combine_directions`); :func:`token_ccp_log` takes any labels, so a one-direction
variant is ``token_ccp_log`` on the forward labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp

from lmuq.constants import CONTRADICTION, ENTAILMENT, LOGPROB_TOLERANCE, NEUTRAL

__all__ = ["claim_conditioned_log_probability", "combine_directions", "token_ccp_log"]

_LABELS = (ENTAILMENT, NEUTRAL, CONTRADICTION)


def combine_directions(forward: int, backward: int) -> int:
    """One NLI label from NLI(original → alternative) and NLI(alternative → original).

    As LM-Polygraph 0.7's ``CCP``: equal labels give that label; entailment one way and
    contradiction the other give neutral (the model contradicts itself); otherwise the
    entailment or contradiction that is present wins over neutral.
    """
    for label in (forward, backward):
        if label not in _LABELS:
            raise ValueError(f"labels must be NLI label indices {_LABELS}, got {label!r}")
    if forward == backward:
        return forward
    pair = {forward, backward}
    if pair == {ENTAILMENT, CONTRADICTION}:
        return NEUTRAL
    return ENTAILMENT if ENTAILMENT in pair else CONTRADICTION


def token_ccp_log(
    alternative_logprobs: np.ndarray | Sequence[float],
    labels: np.ndarray | Sequence[int],
) -> float:
    """log CCP(x_j) for one step.

    Args:
        alternative_logprobs: ``(k,)``, log p of each alternative; entry 0 is the generated
            token. Alternatives with −inf contribute nothing.
        labels: ``(k,)``, the NLI label (``lmuq.constants.ENTAILMENT`` / ``NEUTRAL`` /
            ``CONTRADICTION``) of premise = original, hypothesis = alternative; entry 0 is
            ignored (the generated token counts as entailment).

    Returns:
        log CCP(x_j) ∈ [−∞, 0]; 0 when no alternative contradicts.

    Raises:
        ValueError: on mismatched lengths, an unknown label, NaN or positive log-probs, or
            when the entailing and contradicting alternatives have no probability at all.
    """
    lp = np.asarray(alternative_logprobs, dtype=np.float64)
    lab = np.asarray(labels)
    if lp.ndim != 1 or lp.size == 0 or lab.shape != lp.shape:
        raise ValueError(
            f"alternative_logprobs and labels must be 1-D of the same non-zero length, got "
            f"{lp.shape} and {lab.shape}"
        )
    if np.isnan(lp).any() or (lp > LOGPROB_TOLERANCE).any():
        raise ValueError("alternative_logprobs must be log-probabilities (<= 0, not NaN)")
    if not np.isin(lab[1:], _LABELS).all():
        raise ValueError(f"labels must be NLI label indices {_LABELS}, got {lab.tolist()}")
    lp = np.minimum(lp, 0.0)
    entail = np.ones(lp.size, dtype=bool)
    entail[1:] = lab[1:] == ENTAILMENT
    kept = entail.copy()
    kept[1:] |= lab[1:] == CONTRADICTION
    log_entail = logsumexp(lp[entail])
    log_kept = logsumexp(lp[kept])
    if not np.isfinite(log_kept):
        raise ValueError(
            "the generated token and the alternatives that entail or contradict it all have "
            "probability 0: CCP is undefined"
        )
    return float(min(0.0, log_entail - log_kept))


def claim_conditioned_log_probability(
    steps: Sequence[tuple[np.ndarray | Sequence[float], np.ndarray | Sequence[int]]],
) -> float:
    """log CCP(y) = Σ_j log CCP(x_j) over the response's tokens (Fadeeva et al. 2024).

    Args:
        steps: one ``(alternative_logprobs, labels)`` pair per token, as for
            :func:`token_ccp_log`.

    Returns:
        log CCP(y) ∈ [−∞, 0]; exp of it is the confidence, −it the surprisal in nats.
    """
    if len(steps) == 0:
        raise ValueError("CCP needs at least one token")
    return float(sum(token_ccp_log(lp, lab) for lp, lab in steps))
