"""The one registry of scorers: every family's declarations, looked up by name.

Families plug in by listing their :class:`~lmuq.scoring.spec.ScorerSpec` s in ``SPECS``
(:mod:`lmuq.scoring.whitebox`, :mod:`lmuq.scoring.internals`, :mod:`lmuq.scoring.blackbox`,
:mod:`lmuq.scoring.judged`, :mod:`lmuq.scoring.longform`);
this module gathers them, so a new family is one module and one line here. Scorers made by
a factory (a judge bound to its own model, a panel) are passed to the scoring engine as
:class:`ScorerSpec` objects and need no registration.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from lmuq.scoring import blackbox, internals, judged, longform, whitebox
from lmuq.scoring.spec import FAMILIES, Family, ScorerSpec

__all__ = ["SCORERS", "get_scorer", "resolve_scorers", "scorer_names", "scorers_of"]

SCORERS: dict[str, ScorerSpec] = {}
for _spec in (*whitebox.SPECS, *internals.SPECS, *blackbox.SPECS, *judged.SPECS, *longform.SPECS):
    if _spec.name in SCORERS:  # pragma: no cover - a declaration bug, caught by the tests
        raise RuntimeError(f"two scorers are named {_spec.name!r}")
    SCORERS[_spec.name] = _spec
del _spec


def scorers_of(family: Family) -> dict[str, ScorerSpec]:
    """The registered scorers of one family, in declaration order."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    return {name: s for name, s in SCORERS.items() if s.family == family}


def scorer_names(family: Family | None = None) -> list[str]:
    """Registered scorer names (of one family), in declaration order."""
    return list(SCORERS if family is None else scorers_of(family))


def get_scorer(name: str, family: Family | None = None) -> ScorerSpec:
    """Look up a scorer by name; an unknown name gets the closest valid ones in the error.

    With ``family``, only that family's scorers are valid (e.g. ``WhiteBoxUQ`` asks for
    white-box scorers).
    """
    if not isinstance(name, str):
        raise TypeError(f"a scorer name must be a str, got {type(name).__name__}: {name!r}")
    valid = SCORERS if family is None else scorers_of(family)
    spec = valid.get(name)
    if spec is not None:
        return spec
    kind = "scorer" if family is None else f"{family} scorer"
    close = difflib.get_close_matches(name, list(valid), n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    other = SCORERS.get(name)
    if other is not None:
        hint = f" ({name!r} is a {other.family} scorer.){hint}"
    raise ValueError(f"unknown {kind} {name!r}.{hint} Choose from: {', '.join(valid)}")


def resolve_scorers(
    scorers: str | ScorerSpec | Sequence[str | ScorerSpec], family: Family | None = None
) -> list[ScorerSpec]:
    """Names and ready specs to specs, validated, duplicates refused."""
    if isinstance(scorers, (str, ScorerSpec)):
        scorers = [scorers]
    if scorers is None or not isinstance(scorers, Sequence):
        raise TypeError(
            f"scorers must be a list of scorer names, got {type(scorers).__name__}; "
            f"for example ['exact_match', 'sequence_probability']"
        )
    specs = []
    for item in scorers:
        if isinstance(item, ScorerSpec):
            if family is not None and item.family != family:
                raise ValueError(f"{item.name} is a {item.family} scorer, not {family}")
            specs.append(item)
        else:
            specs.append(get_scorer(item, family))
    if not specs:
        raise ValueError("no scorers requested: name at least one (see lmuq.scoring.SCORERS)")
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"scorers named twice: {dupes}")
    return specs
