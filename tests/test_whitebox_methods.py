"""The white-box methods that also read a model: semantic density, CoCoA, SAR, CCP.

Every expected value is worked out by hand from the papers' definitions (the arithmetic is
in the comments), on deterministic fakes: NLI probabilities from a table, and embeddings
whose pairwise cosines are chosen (a vector is built from the cosine it must have with a
unit axis).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmuq.scoring import ScoringContext
from lmuq.scoring.functional import similarity as SimF
from lmuq.statistics.nli_cache import CachedNLI
from nli_fakes import TableNLI

LOG = math.log
ENT, NEU, CON = (0.8, 0.15, 0.05), (0.1, 0.8, 0.1), (0.05, 0.05, 0.9)


def approx(x: float):
    return pytest.approx(x, rel=1e-12, abs=1e-15)


class FixedEmbedder:
    """Embeddings looked up in a table (an unknown text is a KeyError); records each call."""

    name = "fixed"

    def __init__(self, table: dict[str, list[float]]) -> None:
        dim = max(len(v) for v in table.values())
        self.table = {t: np.pad(np.asarray(v, float), (0, dim - len(v))) for t, v in table.items()}
        self.calls: list[list[str]] = []

    def encode(self, texts):
        texts = list(texts)
        self.calls.append(texts)
        return np.array([self.table[t] for t in texts]).reshape(len(texts), -1)


def axis(i: int, dim: int = 6) -> list[float]:
    v = [0.0] * dim
    v[i] = 1.0
    return v


def at_cosine(c: float, i: int, j: int, dim: int = 6) -> list[float]:
    """A unit vector with cosine c to axis i, in the plane of axes i and j."""
    v = [0.0] * dim
    v[i], v[j] = c, math.sqrt(1.0 - c * c)
    return v


def nli_ctx(table, **kw) -> ScoringContext:
    # default=None: a pair the scorer was not expected to ask for is a KeyError
    return ScoringContext(nli=CachedNLI(TableNLI(table, default=None)), **kw)


# ======================================================================= shared pieces


def test_similarity_functions_by_hand():
    # cos((1, 0), (3, 4)) = 3/5; cos((1, 0), (−1, 1)) = −1/√2 → clipped to 0
    got = SimF.clipped_cosine([[1, 0], [1, 0], [0, 0]], [[3, 4], [-1, 1], [1, 0]])
    assert got == pytest.approx([0.6, 0.0, 0.0])  # a zero vector has no direction: 0
    assert SimF.nli_similarity([ENT], [NEU]) == pytest.approx([(0.8 + 0.1) / 2])


def test_context_validates_the_new_options():
    with pytest.raises(ValueError, match="similarity"):
        ScoringContext(similarity="cross-encoder")
    with pytest.raises(TypeError, match="decode_token"):
        ScoringContext(decode_token="tokenizer")
