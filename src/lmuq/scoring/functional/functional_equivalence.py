"""Functional equivalence of programs from their outcomes on the same test inputs.

Each program's behaviour is its outcome vector: per test input, ``("ok", repr(result))``
or ``("error", why)`` (see :mod:`lmuq.grading.code_sandbox`). Two programs are
functionally equivalent when their outcome vectors are identical — the same value, or the
same exception type, on every input — and neither gave *no answer* (failed to load, ran
out of time or memory, crashed): a program with no answer is equivalent to nothing, as
"no answer counts as disagreement". Equivalence so defined is transitive, so the programs
fall into classes (functional clusters). With the answer y and samples ỹ_1..ỹ_m, n = m + 1:

* functional equivalence rate = (1/m) Σ_j [y ≡ ỹ_j];
* functional negentropy = 1 − H / log n, H = −Σ_C (|C|/n) log(|C|/n) over the classes;
* functional sets confidence = (n − k) / (n − 1), k classes.

These are UQLM's CodeGenUQ scores with its LLM-judged equivalence replaced by execution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "NO_ANSWER_PREFIXES",
    "equivalent",
    "functional_clusters",
    "functional_equivalence_rate",
    "functional_negentropy",
    "functional_sets_confidence",
]

#: Error reasons that mean the program gave no answer at all.
NO_ANSWER_PREFIXES = ("load:", "timeout", "killed", "crashed", "unreadable")

Outcomes = Sequence[tuple[str, str]]


def _answered(o: Outcomes) -> bool:
    return len(o) > 0 and not any(
        kind == "error" and why.startswith(NO_ANSWER_PREFIXES) for kind, why in o
    )


def equivalent(a: Outcomes, b: Outcomes) -> bool:
    """Whether two programs behaved identically on every input and both answered."""
    return len(a) == len(b) and _answered(a) and _answered(b) and list(a) == list(b)


def functional_clusters(programs: Sequence[Outcomes]) -> list[list[int]]:
    """The classes of functionally equivalent programs, by first member, in order; a
    program with no answer is a class of its own."""
    clusters: list[list[int]] = []
    for i, o in enumerate(programs):
        for c in clusters:
            if equivalent(programs[c[0]], o):
                c.append(i)
                break
        else:
            clusters.append([i])
    return clusters


def functional_equivalence_rate(programs: Sequence[Outcomes]) -> float:
    """Share of the samples (programs[1:]) equivalent to the answer (programs[0])."""
    if len(programs) < 2:
        raise ValueError("need the answer and at least one sample")
    return sum(equivalent(programs[0], o) for o in programs[1:]) / (len(programs) - 1)


def functional_negentropy(programs: Sequence[Outcomes]) -> float:
    """1 − H / log n over the functional classes (1 for a single program)."""
    n = len(programs)
    if n == 0:
        raise ValueError("no programs")
    if n == 1:
        return 1.0
    h = -sum(len(c) / n * math.log(len(c) / n) for c in functional_clusters(programs))
    return 1.0 - h / math.log(n)


def functional_sets_confidence(programs: Sequence[Outcomes]) -> float:
    """(n − k) / (n − 1) with k functional classes (1 for a single program)."""
    n = len(programs)
    if n == 0:
        raise ValueError("no programs")
    return 1.0 if n == 1 else (n - len(functional_clusters(programs))) / (n - 1)
