"""A per-prompt view of the shared NLI pair cache.

NLI-based scorers are pure functions of a *lookup*: ``view(premise, hypothesis)`` returns
the (entailment, neutral, contradiction) probabilities. The same scorer code runs in two
modes:

* ``compute=True``: a missing pair is computed on the spot (simple, one pair at a time);
* ``compute=False``: a missing pair raises
  :class:`~lmuq.statistics.missing.MissingStatistics` naming the cache, so that the scoring
  engine batches the pairs of every prompt into one call (see :mod:`lmuq.statistics.missing`):
  only the pairs the scorers need are ever run, and each at most once (the cache
  de-duplicates across prompts and scorers).

Identical texts are never sent to the model: a text entails itself.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from lmuq.statistics.missing import MissingStatistics
from lmuq.statistics.nli import condition_on_question
from lmuq.statistics.nli_cache import CachedNLI

__all__ = ["SELF_ENTAILMENT", "NLIView"]

SELF_ENTAILMENT = np.array([1.0, 0.0, 0.0])
SELF_ENTAILMENT.flags.writeable = False


class NLIView:
    """NLI lookups for one prompt, optionally conditioned on the question.

    With ``question`` set, both texts are prefixed with it before they reach the model
    (Farquhar et al. 2024 condition DeBERTa on the question this way), joined by
    ``separator``.
    """

    def __init__(
        self,
        cache: CachedNLI,
        question: str | None = None,
        compute: bool = True,
        separator: str = " ",
    ) -> None:
        self.cache = cache
        self.question = question
        self.compute = compute
        self.separator = separator

    def _key(self, text: str) -> str:
        if not self.question:
            return text
        return condition_on_question(self.question, text, separator=self.separator)

    def __call__(self, premise: str, hypothesis: str) -> np.ndarray:
        if premise == hypothesis:
            return SELF_ENTAILMENT
        p, h = self._key(premise), self._key(hypothesis)
        got = self.cache.get(p, h)
        if got is None:
            if not self.compute:
                raise MissingStatistics(self.cache, [(p, h)])
            got = self.cache.predict_proba([p], [h])[0]
        return got

    def known(self, premise: str, hypothesis: str) -> np.ndarray | None:
        """The pair's probabilities when they are available now, else None; never computes
        and never raises (planners use it to see which verdicts are already settled)."""
        if premise == hypothesis:
            return SELF_ENTAILMENT
        return self.cache.get(self._key(premise), self._key(hypothesis))

    def prefetch(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Make sure every pair is available (or raise ``MissingStatistics`` listing all the
        missing ones at once, when not computing)."""
        keys = [(self._key(a), self._key(b)) for a, b in pairs if a != b]
        missing = list(dict.fromkeys(k for k in keys if self.cache.get(*k) is None))
        if not missing:
            return
        if not self.compute:
            raise MissingStatistics(self.cache, missing)
        self.cache.fill(missing)

    def matrix(self, texts: list[str]) -> np.ndarray:
        """The full (n, n, 3) array over ``texts`` (diagonal = self-entailment)."""
        self.prefetch((a, b) for a in texts for b in texts)
        return np.stack([np.stack([self(a, b) for b in texts]) for a in texts])
